import Foundation
import TOMLKit

extension AgentConfig {
    /// Parses TOML text. Every key is checked: unknown keys, wrong types and values out of
    /// range are refused with the key and the reason.
    static func parse(_ text: String, file: String) throws(ConfigError) -> AgentConfig {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(
                file: file, key: nil,
                reason: "not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigError(file: file, key: nil, reason: "not valid TOML: \(error)")
        }
        var config = AgentConfig()
        var reader = TableReader(table: root, prefix: "", file: file)
        if var section = try reader.section("libvirt") {
            config.libvirt.uri = try section.string("uri", default: config.libvirt.uri) { uri in
                uri.contains(":") && !uri.contains(where: \.isWhitespace) ? nil : "must be a libvirt URI such as qemu:///system"
            }
            config.libvirt.keepaliveInterval = try section.int("keepalive_interval", default: config.libvirt.keepaliveInterval, in: 0...3600)
            config.libvirt.keepaliveCount = try section.int("keepalive_count", default: config.libvirt.keepaliveCount, in: 1...100)
            config.libvirt.callTimeout = try section.seconds("call_timeout", default: config.libvirt.callTimeout, in: 1...3600)
            config.libvirt.reconnectMaxDelay = try section.seconds("reconnect_max_delay", default: config.libvirt.reconnectMaxDelay, in: 1...3600)
            try section.finish()
        }
        if var section = try reader.section("guests") {
            config.guests.shutdownGrace = try section.seconds("shutdown_grace", default: config.guests.shutdownGrace, in: 0...86_400)
            config.guests.shutdownRetryInterval = try section.seconds(
                "shutdown_retry_interval", default: config.guests.shutdownRetryInterval, in: 1...3600)
            config.guests.owner = try section.string("owner", default: config.guests.owner) { owner in
                (1...64).contains(owner.count) && owner.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
                    ? nil : "must be 1 to 64 characters of A-Z a-z 0-9 . _ -"
            }
            try section.finish()
        }
        if var section = try reader.section("cgroups") {
            config.cgroups.root = try section.string("root", default: config.cgroups.root) { root in
                root == "auto" || (root.hasPrefix("/") && !root.contains("\0")) ? nil : "must be \"auto\" or an absolute path"
            }
            try section.finish()
        }
        if var section = try reader.section("agent") {
            config.agent.stateDirectory = try section.string("state_dir", default: config.agent.stateDirectory) { path in
                path.isEmpty || path.contains("\0") ? "must be a directory path" : nil
            }
            try section.finish()
        }
        try reader.finish()
        return config
    }
}

/// Reads typed keys out of one TOML table and refuses whatever is left over.
private struct TableReader {
    let table: TOMLTable
    let prefix: String
    let file: String
    private var seen: Set<String> = []

    init(table: TOMLTable, prefix: String, file: String) {
        self.table = table
        self.prefix = prefix
        self.file = file
    }

    private func error(_ key: String, _ reason: String) -> ConfigError {
        ConfigError(file: file, key: prefix + key, reason: reason)
    }

    mutating func section(_ key: String) throws(ConfigError) -> TableReader? {
        seen.insert(key)
        guard let value = table[key] else { return nil }
        guard let sub = value.table else { throw error(key, "must be a table ([\(prefix + key)])") }
        return TableReader(table: sub, prefix: prefix + key + ".", file: file)
    }

    mutating func string(_ key: String, default value: String, check: (String) -> String?) throws(ConfigError) -> String {
        seen.insert(key)
        guard let raw = table[key] else { return value }
        guard let string = raw.string else { throw error(key, "must be a string, not \(raw.type)") }
        if let problem = check(string) { throw error(key, "\(problem) (got \"\(string)\")") }
        return string
    }

    mutating func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        seen.insert(key)
        guard let raw = table[key] else { return value }
        guard let int = raw.int else { throw error(key, "must be an integer, not \(raw.type)") }
        guard range.contains(int) else { throw error(key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(int))") }
        return int
    }

    /// A duration in seconds, written as an integer or a float.
    mutating func seconds(_ key: String, default value: Double, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        seen.insert(key)
        guard let raw = table[key] else { return value }
        guard let seconds = raw.double ?? raw.int.map(Double.init) else {
            throw error(key, "must be a number of seconds, not \(raw.type)")
        }
        guard range.contains(seconds) else {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound) seconds (got \(seconds))")
        }
        return seconds
    }

    /// Refuses keys nobody asked for: a typo must not silently fall back to a default.
    func finish() throws(ConfigError) {
        if let unknown = table.keys.sorted().first(where: { !seen.contains($0) }) {
            throw error(unknown, "unknown key")
        }
    }
}
