import Foundation

/// Reads one probe's options from a profile section, with the profile's key names in errors,
/// and refuses keys the probe does not know (a typo must not silently run the default).
struct ProbeOptions {
    let probe: String
    let options: [String: ProfileValue]
    private(set) var used: Set<String> = []

    init(probe: String, _ settings: ProbeSettings) {
        self.probe = probe
        self.options = settings.options
    }

    private func error(_ key: String, _ reason: String) -> BurnInSetupError {
        BurnInSetupError(probe: probe, key: "\(probe).\(key)", reason: reason)
    }

    mutating func number(_ key: String, range: ClosedRange<Double>) throws(BurnInSetupError) -> Double? {
        used.insert(key)
        guard let value = options[key] else { return nil }
        guard let number = value.double, number.isFinite else { throw error(key, "must be a number") }
        guard range.contains(number) else { throw error(key, "must be \(Self.show(range.lowerBound))...\(Self.show(range.upperBound)) (got \(Self.show(number)))") }
        return number
    }

    mutating func integer(_ key: String, range: ClosedRange<Int>) throws(BurnInSetupError) -> Int? {
        used.insert(key)
        guard let value = options[key] else { return nil }
        guard case .int(let number) = value else { throw error(key, "must be a whole number") }
        guard range.contains(number) else { throw error(key, "must be \(range.lowerBound)...\(range.upperBound) (got \(number))") }
        return number
    }

    mutating func bool(_ key: String) throws(BurnInSetupError) -> Bool? {
        used.insert(key)
        guard let value = options[key] else { return nil }
        guard case .bool(let flag) = value else { throw error(key, "must be true or false") }
        return flag
    }

    mutating func string(_ key: String) throws(BurnInSetupError) -> String? {
        used.insert(key)
        guard let value = options[key] else { return nil }
        guard case .string(let text) = value else { throw error(key, "must be a string") }
        return text
    }

    /// A list of names (or a single name), each one of `allowed`.
    mutating func names<T: RawRepresentable>(_ key: String, of type: T.Type, allowed: [T]) throws(BurnInSetupError) -> [T]?
    where T.RawValue == String {
        used.insert(key)
        guard let value = options[key] else { return nil }
        let items: [ProfileValue]
        if case .list(let list) = value { items = list } else { items = [value] }
        var result: [T] = []
        for item in items {
            guard case .string(let name) = item, let parsed = T(rawValue: name) else {
                throw error(key, "must list names among \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            result.append(parsed)
        }
        if result.isEmpty { throw error(key, "must not be empty") }
        return result
    }

    /// A list of whole numbers (or one), each in `range`.
    mutating func integers(_ key: String, range: ClosedRange<Int>) throws(BurnInSetupError) -> [Int]? {
        used.insert(key)
        guard let value = options[key] else { return nil }
        let items: [ProfileValue]
        if case .list(let list) = value { items = list } else { items = [value] }
        var result: [Int] = []
        for item in items {
            guard case .int(let number) = item, range.contains(number) else {
                throw error(key, "must be a whole number or a list of them, each \(range.lowerBound)...\(range.upperBound)")
            }
            result.append(number)
        }
        if result.isEmpty { throw error(key, "must not be empty") }
        return result
    }

    /// A list of non-empty strings (or one).
    mutating func stringList(_ key: String) throws(BurnInSetupError) -> [String]? {
        used.insert(key)
        guard let value = options[key] else { return nil }
        let items: [ProfileValue]
        if case .list(let list) = value { items = list } else { items = [value] }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item, !text.isEmpty else { throw error(key, "must be a string or a list of strings") }
            result.append(text)
        }
        if result.isEmpty { throw error(key, "must not be empty") }
        return result
    }

    /// A size in bytes: a number, or a string with a binary suffix (`512KiB`, `64MiB`, `4GiB`,
    /// also `K`, `M`, `G`, `T`). `percentOf` allows `"25%"` of that many bytes.
    mutating func size(_ key: String, range: ClosedRange<UInt64>, percentOf: UInt64? = nil) throws(BurnInSetupError) -> UInt64? {
        used.insert(key)
        guard let value = options[key] else { return nil }
        let bytes: UInt64
        switch value {
        case .int(let number) where number >= 0: bytes = UInt64(number)
        case .string(let text):
            if text.hasSuffix("%"), let percentOf {
                guard let percent = Double(text.dropLast().trimmingCharacters(in: .whitespaces)), percent > 0, percent <= 100 else {
                    throw error(key, "a percentage must be in (0, 100] (got \"\(text)\")")
                }
                bytes = UInt64(Double(percentOf) * percent / 100)
            } else if let parsed = Self.parseSize(text) {
                bytes = parsed
            } else {
                throw error(key, "must be a size like 4096, \"64MiB\" or \"4GiB\"\(percentOf != nil ? ", or a percentage like \"25%\"" : "") (got \"\(text)\")")
            }
        default: throw error(key, "must be a size like 4096 or \"64MiB\"")
        }
        guard range.contains(bytes) else {
            throw error(key, "must be \(Units.format(Double(range.lowerBound), "B"))...\(Units.format(Double(range.upperBound), "B")) (got \(Units.format(Double(bytes), "B")))")
        }
        return bytes
    }

    /// Refuses every option that was not read.
    func finish() throws(BurnInSetupError) {
        let unknown = Set(options.keys).subtracting(used).sorted()
        guard let first = unknown.first else { return }
        throw error(first, "unknown option of the \(probe) probe (it has: \(used.sorted().joined(separator: ", ")))")
    }

    /// `4096`, `64K`, `64KiB`, `1.5G`, `2TiB` (powers of 1024).
    static func parseSize(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let suffix = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard let number = Double(digits), number >= 0 else { return nil }
        let scale: Double
        switch suffix {
        case "", "b": scale = 1
        case "k", "kib", "kb": scale = 1024
        case "m", "mib", "mb": scale = 1024 * 1024
        case "g", "gib", "gb": scale = 1024 * 1024 * 1024
        case "t", "tib", "tb": scale = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = number * scale
        guard bytes < 1.8e19 else { return nil }
        return UInt64(bytes)
    }

    private static func show(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// A profile or target the probe cannot run with: which probe, which key, and why. Reported
/// before anything runs.
public struct BurnInSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    public var probe: String
    /// `probe.option`, or `target` / `server` for the command line's inputs.
    public var key: String
    public var reason: String

    public init(probe: String, key: String, reason: String) {
        self.probe = probe
        self.key = key
        self.reason = reason
    }

    public var description: String { "\(key): \(reason)" }
}
