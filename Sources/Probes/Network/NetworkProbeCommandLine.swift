// A small command line over the network probe, for the benchmark (Benchmarks/network/run.sh)
// and for trying it by hand. `nodeagent burnin net-server` is the agent's own entry point.
import Foundation
import Glibc

/// `server` and `client` subcommands over `NetworkProbeServer` and `NetworkProbe`.
///
///     server [--bind HOST] [--port PORT] [--netns PATH] [--quiet]
///     client HOST [--port PORT] [--streams 1,4] [--directions client-to-server,server-to-client,bidirectional]
///                 [--duration S] [--message-size BYTES] [--buffer BYTES] [--interval S] [--receive-spin-us N]
///                 [--rtt-duration S | --no-rtt] [--rtt-interval S] [--rtt-size BYTES]
///                 [--udp BITS_PER_SECOND] [--udp-size BYTES] [--udp-duration S] [--udp-directions LIST]
///                 [--timeout S] [--netns PATH] [--json] [--progress]
///
/// Sizes and rates take k, M, G suffixes (powers of 1000 for rates, 1024 for sizes).
public enum NetworkProbeCommandLine {
    /// Runs a subcommand; `arguments` are those after the program name. Returns the exit status:
    /// 0 done, 1 the probe failed (the reason is on stderr), 2 bad arguments.
    public static func main(_ arguments: [String]) async -> Int32 {
        guard let command = arguments.first else {
            emit(usage, to: STDERR_FILENO)
            return 2
        }
        do {
            var options = try Options(Array(arguments.dropFirst()))
            switch command {
            case "server": return try await server(&options)
            case "client": return try await client(&options)
            case "-h", "--help", "help":
                emit(usage)
                return 0
            default: throw UsageError("unknown subcommand \(command)")
            }
        } catch let error as UsageError {
            emit("error: \(error.text)\n\(usage)", to: STDERR_FILENO)
            return 2
        } catch is CancellationError {
            emit("cancelled\n", to: STDERR_FILENO)
            return 1
        } catch {
            emit("error: \(error)\n", to: STDERR_FILENO)
            return 1
        }
    }

    static let usage = """
        usage: server [--bind HOST] [--port PORT] [--netns PATH] [--quiet]
               client HOST [--port PORT] [--streams 1,4] [--directions client-to-server,server-to-client,bidirectional]
                           [--duration S] [--message-size BYTES] [--buffer BYTES] [--interval S] [--receive-spin-us N]
                           [--rtt-duration S | --no-rtt] [--rtt-interval S] [--rtt-size BYTES]
                           [--udp BITS_PER_SECOND] [--udp-size BYTES] [--udp-duration S] [--udp-directions LIST]
                           [--timeout S] [--netns PATH] [--json] [--progress]

        """

    // MARK: server

    private static func server(_ options: inout Options) async throws -> Int32 {
        var configuration = NetworkProbeServer.Configuration()
        configuration.host = options.value("--bind")
        configuration.port = try options.number("--port").map { UInt16($0) } ?? configuration.port
        configuration.networkNamespace = options.value("--netns")
        let quiet = options.flag("--quiet")
        try options.finish(positional: 0)
        let server = try NetworkProbeServer(configuration: configuration)
        emit("listening on \(server.address)\n")
        let task = Task {
            try await server.run(log: { line in if !quiet { emit("\(line)\n", to: STDERR_FILENO) } })
        }
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        try await task.value
        return 0
    }

    // MARK: client

    private static func client(_ options: inout Options) async throws -> Int32 {
        guard let host = options.positional.first else { throw UsageError("client needs the server's HOST") }
        var c = NetworkProbe.Configuration(host: host)
        if let port = try options.number("--port") { c.port = UInt16(port) }
        if let list = options.value("--streams") {
            c.streams = try list.split(separator: ",").map { guard let n = Int($0) else { throw UsageError("bad --streams \(list)") }; return n }
        }
        if let list = options.value("--directions") { c.directions = try directions(list) }
        if let value = try options.seconds("--duration") { c.duration = value }
        if let value = try options.size("--message-size") { c.messageSize = value }
        if let value = try options.size("--buffer") { c.socketBufferSize = value }
        if let value = try options.seconds("--interval") { c.interval = value }
        if let value = try options.number("--receive-spin-us") { c.receiveSpinMicroseconds = value }
        if let value = try options.seconds("--timeout") { c.connectTimeout = value }
        c.networkNamespace = options.value("--netns")
        if options.flag("--no-rtt") { c.rtt = nil }
        if let value = try options.seconds("--rtt-duration") { c.rtt = c.rtt ?? .init(); c.rtt?.duration = value }
        if let value = try options.seconds("--rtt-interval") { c.rtt = c.rtt ?? .init(); c.rtt?.interval = value }
        if let value = try options.size("--rtt-size") { c.rtt = c.rtt ?? .init(); c.rtt?.messageSize = value }
        if let value = try options.rate("--udp") { c.udp = .init(bitsPerSecond: value) }
        if let value = try options.size("--udp-size") { c.udp = c.udp ?? .init(); c.udp?.datagramSize = value }
        if let value = try options.seconds("--udp-duration") { c.udp = c.udp ?? .init(); c.udp?.duration = value }
        if let list = options.value("--udp-directions") { c.udp = c.udp ?? .init(); c.udp?.directions = try directions(list) }
        let json = options.flag("--json")
        let showProgress = options.flag("--progress")
        try options.finish(positional: 1)
        do { try c.validate() } catch let error as NetworkProbeError { throw UsageError("\(error)") }

        let probe = NetworkProbe(configuration: c)
        let task = Task {
            try await probe.run(progress: { if showProgress { emit("\($0)\n", to: STDERR_FILENO) } })
        }
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        let result = try await task.value
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            emit(String(decoding: try encoder.encode(result), as: UTF8.self) + "\n")
        } else {
            emit(summary(result))
        }
        return 0
    }

    private static func directions(_ list: String) throws -> [NetworkDirection] {
        try list.split(separator: ",").map {
            guard let direction = NetworkDirection(rawValue: String($0)) else {
                throw UsageError("unknown direction \($0) (client-to-server, server-to-client, bidirectional)")
            }
            return direction
        }
    }

    /// The human-readable report of a run.
    public static func summary(_ result: NetworkResult) -> String {
        var out = "server \(result.server) (\(result.serverAddress), \(result.serverSoftware) protocol \(result.protocolVersion))\n"
        if let rtt = result.rtt {
            let l = rtt.latency
            out += String(format: "rtt: %d-byte messages, %llu round trips in %.2f s: p50 %.1f µs, p90 %.1f, p99 %.1f, p99.9 %.1f, max %.1f\n",
                          rtt.messageSize, l.count, rtt.seconds, l.p50, l.p90, l.p99, l.p999, l.maximum)
        }
        if !result.tcp.isEmpty {
            out += "test                                  measured at      Gbit/s        bytes sent    bytes received  retransmits\n"
            for test in result.tcp {
                for (name, transfer) in [("client-to-server", test.clientToServer), ("server-to-client", test.serverToClient)] {
                    guard let t = transfer else { continue }
                    let label = "tcp \(test.streams)×\(test.direction == .bidirectional ? "bidirectional " : "")\(name)"
                    out += label.padding(toLength: 38, withPad: " ", startingAt: 0)
                        + t.measuredBy.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + String(format: "%10.3f %17llu %17llu %12@\n", t.bitsPerSecond / 1e9, t.bytesSent, t.bytesReceived,
                                 t.retransmits.map(String.init) ?? "-")
                }
            }
        }
        for u in result.udp {
            out += String(format: "udp %@: target %.1f Mbit/s, sent %.1f, received %.1f; %llu sent, %llu lost (%.3f%%), %llu out of order, %llu duplicates, jitter %.1f µs\n",
                          u.direction.rawValue, u.targetBitsPerSecond / 1e6, u.sentBitsPerSecond / 1e6, u.bitsPerSecond / 1e6,
                          u.packetsSent, u.packetsLost, u.lossPercent, u.outOfOrder, u.duplicates, u.jitterMicroseconds)
        }
        return out
    }

    /// Writes straight to a descriptor (no stdio buffering, so lines appear at once under a pipe).
    private static func emit(_ text: String, to fd: Int32 = STDOUT_FILENO) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }

    // MARK: options

    struct UsageError: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    private struct Options {
        var named: [String: String] = [:]
        var flags: Set<String> = []
        var positional: [String] = []
        static let flagNames: Set<String> = ["--quiet", "--no-rtt", "--json", "--progress"]

        init(_ arguments: [String]) throws {
            var index = 0
            while index < arguments.count {
                let argument = arguments[index]
                if Self.flagNames.contains(argument) {
                    flags.insert(argument)
                } else if argument.hasPrefix("--") {
                    guard index + 1 < arguments.count else { throw UsageError("\(argument) needs a value") }
                    named[argument] = arguments[index + 1]
                    index += 1
                } else {
                    positional.append(argument)
                }
                index += 1
            }
        }

        mutating func value(_ name: String) -> String? { named.removeValue(forKey: name) }
        mutating func flag(_ name: String) -> Bool { flags.remove(name) != nil }

        mutating func number(_ name: String) throws -> Int? {
            guard let text = value(name) else { return nil }
            guard let number = Int(text), number >= 0, number <= 65535 else { throw UsageError("bad \(name) \(text)") }
            return number
        }

        mutating func seconds(_ name: String) throws -> Double? {
            guard let text = value(name) else { return nil }
            guard let number = Double(text) else { throw UsageError("bad \(name) \(text)") }
            return number
        }

        mutating func size(_ name: String) throws -> Int? {
            guard let text = value(name) else { return nil }
            guard let number = Self.scaled(text, base: 1024), number < Double(Int.max) else { throw UsageError("bad \(name) \(text)") }
            return Int(number)
        }

        mutating func rate(_ name: String) throws -> Double? {
            guard let text = value(name) else { return nil }
            guard let number = Self.scaled(text, base: 1000) else { throw UsageError("bad \(name) \(text)") }
            return number
        }

        static func scaled(_ text: String, base: Double) -> Double? {
            let multipliers: [Character: Double] = ["k": base, "K": base, "m": base * base, "M": base * base, "g": base * base * base, "G": base * base * base]
            if let last = text.last, let multiplier = multipliers[last] {
                return Double(text.dropLast()).map { $0 * multiplier }
            }
            return Double(text)
        }

        func finish(positional expected: Int) throws {
            if let extra = named.keys.sorted().first ?? flags.sorted().first { throw UsageError("unknown option \(extra)") }
            if positional.count != expected { throw UsageError("unexpected argument \(positional.dropFirst(expected).first ?? "")") }
        }
    }
}
