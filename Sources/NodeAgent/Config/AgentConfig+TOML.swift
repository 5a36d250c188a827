import Foundation
import SafeTOML
import TOMLKit

extension AgentConfig {
    /// Parses TOML text. Every key is checked: unknown keys, wrong types and values out of
    /// range are refused with the key and the reason.
    static func parse(_ text: String, file: String) throws(ConfigError) -> AgentConfig {
        let root: TOMLTable
        do {
            root = try SafeTOML.table(text)
        } catch let error as TOMLSyntax.Problem {
            throw ConfigError(file: file, key: nil, reason: error.description)
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
        if var section = try reader.section("api") {
            config.api.unixSocket = try section.string("unix_socket", default: config.api.unixSocket) { path in
                path.hasPrefix("/") && path.utf8.count < 108 && !path.contains("\0")
                    ? nil : "must be an absolute path shorter than 108 bytes (the limit of a unix socket address)"
            }
            config.api.unixSocketMode = try section.int("unix_socket_mode", default: config.api.unixSocketMode, in: 0o600...0o777)
            config.api.tcpListen = try section.string("tcp_listen", default: config.api.tcpListen) { address in
                address.isEmpty || HostAndPort(address) != nil ? nil : "must be HOST:PORT, e.g. \"0.0.0.0:7443\" or \"[::]:7443\""
            }
            let isPath: (String) -> String? = { $0.isEmpty || $0.hasPrefix("/") ? nil : "must be an absolute path" }
            config.api.tlsCertificate = try section.string("tls_certificate", default: config.api.tlsCertificate, check: isPath)
            config.api.tlsKey = try section.string("tls_key", default: config.api.tlsKey, check: isPath)
            config.api.tlsClientCA = try section.string("tls_client_ca", default: config.api.tlsClientCA, check: isPath)
            config.api.allowedClients = try section.strings("allowed_clients", default: config.api.allowedClients) { identity in
                (1...255).contains(identity.utf8.count) && !identity.contains(where: { $0.isWhitespace || $0.isNewline })
                    ? nil : "must be 1 to 255 characters without spaces"
            }
            config.api.maxConcurrentStreams = try section.int(
                "max_concurrent_streams", default: config.api.maxConcurrentStreams, in: 1...65_536)
            try section.finish()
        }
        if var section = try reader.section("tasks") {
            config.tasks.guestConcurrency = try section.int("guest_concurrency", default: config.tasks.guestConcurrency, in: 1...256)
            config.tasks.volumeConcurrency = try section.int("volume_concurrency", default: config.tasks.volumeConcurrency, in: 1...256)
            config.tasks.cgroupConcurrency = try section.int("cgroup_concurrency", default: config.tasks.cgroupConcurrency, in: 1...256)
            config.tasks.burninConcurrency = try section.int("burnin_concurrency", default: config.tasks.burninConcurrency, in: 1...16)
            config.tasks.maxAttempts = try section.int("max_attempts", default: config.tasks.maxAttempts, in: 1...100)
            config.tasks.retryBaseDelay = try section.seconds("retry_base_delay", default: config.tasks.retryBaseDelay, in: 0.01...3600)
            config.tasks.retryMaxDelay = try section.seconds("retry_max_delay", default: config.tasks.retryMaxDelay, in: 0.01...86_400)
            config.tasks.retentionHours = try section.seconds("retention_hours", default: config.tasks.retentionHours, in: 0.01...87_600)
            config.tasks.drainTimeout = try section.seconds("drain_timeout", default: config.tasks.drainTimeout, in: 0...3600)
            try section.finish()
        }
        if var section = try reader.section("events") {
            config.events.retainCount = try section.int("retain_count", default: config.events.retainCount, in: 100...10_000_000)
            config.events.retentionHours = try section.seconds("retention_hours", default: config.events.retentionHours, in: 0.01...87_600)
            config.events.stateReportInterval = try section.seconds(
                "state_report_interval", default: config.events.stateReportInterval, in: 1...86_400)
            try section.finish()
        }
        if var section = try reader.section("burnin") {
            config.burnin.netServerListen = try section.string("net_server_listen", default: config.burnin.netServerListen) { address in
                address.isEmpty || HostAndPort(address) != nil ? nil : "must be HOST:PORT, e.g. \"0.0.0.0:5301\" or \"[::]:5301\""
            }
            config.burnin.netServerMaxStreams = try section.int(
                "net_server_max_streams", default: config.burnin.netServerMaxStreams, in: 1...1024)
            config.burnin.netServerMaxDuration = try section.seconds(
                "net_server_max_duration", default: config.burnin.netServerMaxDuration, in: 1...86_400)
            try section.finish()
        }
        if var section = try reader.section("log") {
            config.log.level = try section.string("level", default: config.log.level) { level in
                LogLevelName.level(level) != nil ? nil : "must be one of \(LogLevelName.names.joined(separator: ", "))"
            }
            try section.finish()
        }
        try reader.finish()
        if !config.api.tcpListen.isEmpty {
            // TLS material must be complete: half a TLS set-up is a misconfiguration, not plaintext.
            let tls = [("tls_certificate", config.api.tlsCertificate), ("tls_key", config.api.tlsKey), ("tls_client_ca", config.api.tlsClientCA)]
            if let missing = tls.first(where: { $0.1.isEmpty }) {
                throw ConfigError(
                    file: file, key: "api.\(missing.0)",
                    reason: "required with api.tcp_listen: the TCP listener always uses mutual TLS (plaintext only with serve --insecure)")
            }
            if config.api.allowedClients.isEmpty {
                throw ConfigError(
                    file: file, key: "api.allowed_clients",
                    reason: "required with api.tcp_listen: list the client certificate identities (CN or SAN) that may call the agent")
            }
        }
        if config.tasks.retryMaxDelay < config.tasks.retryBaseDelay {
            throw ConfigError(file: file, key: "tasks.retry_max_delay", reason: "must not be less than tasks.retry_base_delay")
        }
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

    mutating func strings(_ key: String, default value: [String], check: (String) -> String?) throws(ConfigError) -> [String] {
        seen.insert(key)
        guard let raw = table[key] else { return value }
        guard let array = raw.array else { throw error(key, "must be an array of strings, not \(raw.type)") }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else { throw error("\(key)[\(index)]", "must be a string, not \(element.type)") }
            if let problem = check(string) { throw error("\(key)[\(index)]", "\(problem) (got \"\(string)\")") }
            result.append(string)
        }
        return result
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
