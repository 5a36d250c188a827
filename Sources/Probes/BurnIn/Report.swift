public import Foundation

/// A burn-in report. Its JSON form is the stable schema documented in docs/BURNIN.md
/// (`schema` = "nodeagent.burnin.report/1"); new fields may be added, none renamed or removed
/// without a new schema version.
public struct BurnInReport: Sendable, Codable, Equatable {
    public static let schemaVersion = "nodeagent.burnin.report/1"

    public var schema = BurnInReport.schemaVersion
    public var host: HostIdentity
    /// The profile's name (`quick`, `standard`, `soak`, or a file's `name`).
    public var profile: String
    public var started: Date
    public var finished: Date
    /// Stopped early (Ctrl-C, cancelled task): the probes that ran are reported as they ended.
    public var interrupted: Bool
    public var verdict: Verdict
    public var checks: [CheckResult]
    public var probes: [ProbeOutcome]

    public init(
        host: HostIdentity, profile: String, started: Date, finished: Date, interrupted: Bool, checks: [CheckResult],
        probes: [ProbeOutcome]
    ) {
        self.host = host
        self.profile = profile
        self.started = started
        self.finished = finished
        self.interrupted = interrupted
        self.checks = checks
        self.probes = probes
        verdict = CheckEvaluator.overall(checks, interrupted: interrupted)
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> BurnInReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let report = try decoder.decode(BurnInReport.self, from: data)
        guard report.schema == schemaVersion else {
            throw ReportError(reason: "schema \(report.schema) is not \(schemaVersion)")
        }
        return report
    }

    /// The summary an admin reads in a terminal: one line per check, PASS/FAIL/WARN/SKIP and why.
    public func summaryTable() -> String {
        var lines = ["burn-in \(profile) on \(host.hostname): \(verdict.rawValue)" + (interrupted ? " (interrupted)" : "")]
        let width = max(12, checks.map(\.check.count).max() ?? 0)
        for check in checks {
            lines.append("  \(check.verdict.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(check.check.padding(toLength: width, withPad: " ", startingAt: 0))  \(check.reason)")
        }
        for probe in probes where probe.status != .completed {
            lines.append("  (\(probe.probe): \(probe.status.rawValue)\(probe.reason.isEmpty ? "" : ": \(probe.reason)"))")
        }
        return lines.joined(separator: "\n")
    }
}

public struct ReportError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// What makes two hosts "identical hardware" for a fleet baseline.
public struct HostIdentity: Sendable, Codable, Equatable {
    public var hostname: String
    public var cpuModel: String
    public var logicalCpus: Int
    public var memoryBytes: UInt64
    public var kernel: String
    /// Models of the disks the burn-in used, when known.
    public var diskModels: [String]

    public init(hostname: String, cpuModel: String, logicalCpus: Int, memoryBytes: UInt64, kernel: String, diskModels: [String] = []) {
        self.hostname = hostname
        self.cpuModel = cpuModel
        self.logicalCpus = logicalCpus
        self.memoryBytes = memoryBytes
        self.kernel = kernel
        self.diskModels = diskModels
    }

    /// Same CPU model and count, memory within 1% (firmware reservations vary), same disks.
    public func sameHardware(as other: HostIdentity) -> Bool {
        cpuModel == other.cpuModel && logicalCpus == other.logicalCpus
            && abs(Double(memoryBytes) - Double(other.memoryBytes)) <= 0.01 * Double(max(memoryBytes, 1))
            && diskModels == other.diskModels
    }

    /// This host, read from /proc and uname.
    public static func current() -> HostIdentity {
        var name = [UInt8](repeating: 0, count: 256)
        let hostname = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }, as: UTF8.self) : ""
        var system = utsname()
        let kernel =
            uname(&system) == 0 ? withUnsafeBytes(of: system.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } : ""
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? ""
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kib = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { UInt64($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return HostIdentity(
            hostname: hostname, cpuModel: model, logicalCpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryBytes: kib * 1024,
            kernel: kernel)
    }
}
