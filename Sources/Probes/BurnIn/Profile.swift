import Foundation
import SafeTOML
import TOMLKit

/// A burn-in profile: which probes run with which settings, and the checks that decide PASS,
/// WARN or FAIL. Written in TOML (docs/BURNIN.md); `quick`, `standard` and `soak` are built in.
public struct BurnInProfile: Sendable, Equatable {
    public static let probeOrder = ["health", "cpu", "memory", "disk", "network"]

    public var name: String
    public var description: String
    /// Settings per probe, by probe name; a probe without a section does not run.
    public var probes: [String: ProbeSettings]
    public var checks: [Check]

    /// The probes to run, in the order they run.
    public var enabledProbes: [String] { Self.probeOrder.filter { probes[$0]?.enabled == true } }
}

/// One probe's section of a profile: `enabled` and its options as written.
public struct ProbeSettings: Sendable, Equatable {
    public var enabled: Bool
    public var options: [String: ProfileValue]

    public init(enabled: Bool = true, options: [String: ProfileValue] = [:]) {
        self.enabled = enabled
        self.options = options
    }
}

/// A TOML value of a probe option.
public enum ProfileValue: Sendable, Equatable {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case list([ProfileValue])

    public var double: Double? {
        switch self {
        case .int(let v): Double(v)
        case .double(let v): v
        default: nil
        }
    }
}

/// A profile that cannot be used: the source, the key and the reason.
public struct ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var source: String
    public var key: String?
    public var reason: String

    public var description: String { key.map { "\(source): \($0): \(reason)" } ?? "\(source): \(reason)" }
}

extension BurnInProfile {
    /// The built-in profiles, by name.
    public static let builtIn: [String: String] = [
        "quick": BuiltInProfiles.quick, "standard": BuiltInProfiles.standard, "soak": BuiltInProfiles.soak,
    ]

    /// A built-in profile by name, or a TOML file by path.
    public static func load(_ nameOrPath: String) throws(ProfileError) -> BurnInProfile {
        if let text = builtIn[nameOrPath] { return try parse(text, source: "built-in profile \(nameOrPath)") }
        let text: String
        do {
            text = try String(contentsOfFile: nameOrPath, encoding: .utf8)
        } catch {
            throw ProfileError(
                source: nameOrPath, key: nil,
                reason: "not a built-in profile (\(builtIn.keys.sorted().joined(separator: ", "))) and not a readable file: \(error.localizedDescription)")
        }
        return try parse(text, source: nameOrPath)
    }

    /// Parses a profile. Unknown probes, unknown check keys and wrong types are refused.
    public static func parse(_ text: String, source: String) throws(ProfileError) -> BurnInProfile {
        let table: TOMLTable
        do {
            table = try SafeTOML.table(text)
        } catch let error as TOMLSyntax.Problem {
            throw ProfileError(source: source, key: nil, reason: error.description)
        } catch let error as TOMLParseError {
            throw ProfileError(source: source, key: nil, reason: "not valid TOML at line \(error.source.begin.line): \(error.description)")
        } catch {
            throw ProfileError(source: source, key: nil, reason: "not valid TOML: \(error)")
        }
        func fail(_ key: String, _ reason: String) -> ProfileError { ProfileError(source: source, key: key, reason: reason) }
        var profile = BurnInProfile(name: "", description: "", probes: [:], checks: [])
        for key in table.keys.sorted() {
            let value = table[key]!
            switch key {
            case "name":
                guard let name = value.string, !name.isEmpty else { throw fail(key, "must be a non-empty string") }
                profile.name = name
            case "description":
                guard let description = value.string else { throw fail(key, "must be a string") }
                profile.description = description
            case "check":
                guard let array = value.array else { throw fail(key, "must be an array of tables ([[check]])") }
                for (index, element) in array.enumerated() {
                    guard let check = element.table else { throw fail("check[\(index)]", "must be a table") }
                    profile.checks.append(try parseCheck(check, key: "check[\(index)]", fail: fail))
                }
            case _ where probeOrder.contains(key):
                guard let section = value.table else { throw fail(key, "must be a table ([\(key)])") }
                var settings = ProbeSettings()
                for option in section.keys.sorted() {
                    let optionValue = section[option]!
                    if option == "enabled" {
                        guard let enabled = optionValue.bool else { throw fail("\(key).enabled", "must be true or false") }
                        settings.enabled = enabled
                    } else {
                        settings.options[option] = try convert(optionValue, key: "\(key).\(option)", fail: fail)
                    }
                }
                profile.probes[key] = settings
            default:
                throw fail(key, "unknown key (a profile has name, description, [\(probeOrder.joined(separator: "], ["))] and [[check]])")
            }
        }
        if profile.name.isEmpty { throw fail("name", "required") }
        for (index, check) in profile.checks.enumerated() {
            let probe = String(check.metric.prefix { $0 != "." })
            guard probeOrder.contains(probe), check.metric.contains(".") else {
                throw fail("check[\(index)].metric", "must name a measurement of a probe, e.g. disk.seq_write.throughput (got \"\(check.metric)\")")
            }
        }
        return profile
    }

    private static func parseCheck(
        _ table: TOMLTable, key: String, fail: (String, String) -> ProfileError
    ) throws(ProfileError) -> Check {
        var check = Check(metric: "")
        for name in table.keys.sorted() {
            let value = table[name]!
            func number() throws(ProfileError) -> Double {
                guard let number = value.double ?? value.int.map(Double.init) else { throw fail("\(key).\(name)", "must be a number") }
                return number
            }
            switch name {
            case "metric":
                guard let metric = value.string else { throw fail("\(key).metric", "must be a string") }
                check.metric = metric
            case "min": check.min = try number()
            case "max": check.max = try number()
            case "warn_below": check.warnBelow = try number()
            case "warn_above": check.warnAbove = try number()
            case "min_baseline_ratio":
                let ratio = try number()
                guard ratio > 0 && ratio <= 1 else { throw fail("\(key).\(name)", "must be in (0, 1], e.g. 0.9 (got \(ratio))") }
                check.minBaselineRatio = ratio
            default:
                throw fail("\(key).\(name)", "unknown key (metric, min, max, warn_below, warn_above, min_baseline_ratio)")
            }
        }
        if check.metric.isEmpty { throw fail("\(key).metric", "required") }
        return check
    }

    private static func convert(_ value: any TOMLValueConvertible, key: String, fail: (String, String) -> ProfileError) throws(ProfileError) -> ProfileValue {
        if let v = value.bool { return .bool(v) }
        if let v = value.int { return .int(v) }
        if let v = value.double { return .double(v) }
        if let v = value.string { return .string(v) }
        if let array = value.array {
            var values: [ProfileValue] = []
            for (index, element) in array.enumerated() { values.append(try convert(element, key: "\(key)[\(index)]", fail: fail)) }
            return .list(values)
        }
        throw fail(key, "must be a number, string, boolean or array")
    }
}
