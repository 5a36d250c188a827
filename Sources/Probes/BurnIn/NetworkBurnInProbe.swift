// The network probe as a burn-in runs it (docs/BURNIN.md, probe options).
import Foundation
import Glibc

/// `[network]`: duration, streams, directions, message_size, receive_spin_us, rtt, rtt_duration, udp,
/// udp_rate, udp_duration, server, connect_timeout. The peer (`--server`) wins over `server`.
public struct NetworkBurnInProbe: BurnInProbe {
    public let name = "network"
    public init() {}

    func configuration(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) -> NetworkProbe.Configuration {
        var o = ProbeOptions(probe: name, settings)
        let configured = try o.string("server")
        let duration = try o.number("duration", range: 0.1...86_400)
        let streams = try o.integers("streams", range: 1...1024)
        let directions = try o.names("directions", of: NetworkDirection.self, allowed: NetworkDirection.allCases)
        let messageSize = try o.size("message_size", range: 1...(16 << 20))
        let spin = try o.integer("receive_spin_us", range: 0...NetworkProbe.maximumReceiveSpinMicroseconds)
        let rtt = try o.bool("rtt")
        let rttDuration = try o.number("rtt_duration", range: 0.1...3600)
        let udp = try o.bool("udp")
        let udpRate = try o.number("udp_rate", range: 1000...400e9)
        let udpDuration = try o.number("udp_duration", range: 0.1...86_400)
        let timeout = try o.number("connect_timeout", range: 0.1...600)
        try o.finish()
        guard let peer = context.networkPeer ?? configured, !peer.isEmpty else {
            throw BurnInSetupError(
                probe: name, key: "server",
                reason: "no network peer (--server HOST[:PORT] of `nodeagent burnin net-server` on another node)")
        }
        let (host, port) = try Self.parsePeer(peer)
        var c = NetworkProbe.Configuration(host: host, port: port)
        if let duration { c.duration = duration }
        if let streams {
            // The single-stream figure is always worth having next to the parallel one.
            c.streams = Array(Set(streams + [1])).sorted()
        }
        c.directions = directions ?? [.clientToServer, .serverToClient]
        if let messageSize { c.messageSize = Int(messageSize) }
        if let spin { c.receiveSpinMicroseconds = spin }
        if rtt == false {
            c.rtt = nil
        } else if let rttDuration {
            c.rtt = NetworkProbe.RTTTest(duration: rttDuration)
        }
        if udp == true || udpRate != nil {
            var test = NetworkProbe.UDPTest()
            if let udpRate { test.bitsPerSecond = udpRate }
            if let udpDuration { test.duration = udpDuration }
            c.udp = test
        }
        if let timeout { c.connectTimeout = timeout }
        do {
            try c.validate()
        } catch {
            throw BurnInSetupError(probe: name, key: "network", reason: "\(error)")
        }
        return c
    }

    /// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address.
    static func parsePeer(_ text: String) throws(BurnInSetupError) -> (String, UInt16) {
        func bad(_ reason: String) -> BurnInSetupError { BurnInSetupError(probe: "network", key: "server", reason: "\"\(text)\": \(reason)") }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad("unclosed [") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, NetworkProbeServer.defaultPort) }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), port > 0 else { throw bad("the port must be 1...65535") }
            return (host, port)
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1 {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard !parts[0].isEmpty else { throw bad("no host") }
            guard let port = UInt16(parts[1]), port > 0 else { throw bad("the port must be 1...65535") }
            return (String(parts[0]), port)
        }
        guard !text.isEmpty else { throw bad("no host") }
        return (text, NetworkProbeServer.defaultPort)
    }

    public func validate(_ settings: ProbeSettings, context: BurnInContext) throws(BurnInSetupError) {
        do {
            _ = try configuration(settings, context: context)
        } catch where error.key == "server" && context.networkPeer == nil && settings.options["server"] == nil {
            return  // skipped when it runs, not an error
        }
    }

    public func run(
        _ settings: ProbeSettings, context: BurnInContext, progress: @escaping @Sendable (BurnInProgress) -> Void
    ) async -> ProbeOutcome {
        let started = Date()
        let configuration: NetworkProbe.Configuration
        do {
            configuration = try self.configuration(settings, context: context)
        } catch {
            if error.key == "server" && context.networkPeer == nil && settings.options["server"] == nil {
                return ProbeOutcome(probe: name, status: .skipped, reason: error.reason, started: started, seconds: 0)
            }
            return BurnInProbes.failed(name, started: started, error.description)
        }
        let tests = Double(configuration.streams.count * configuration.directions.count)
        let total = tests * configuration.duration + (configuration.rtt?.duration ?? 0)
            + Double(configuration.udp?.directions.count ?? 0) * (configuration.udp?.duration ?? 0)
        let begin = Date()
        do {
            let result = try await NetworkProbe(configuration: configuration).run { p in
                progress(
                    BurnInProgress(
                        probe: "network", step: p.description, fraction: min(1, Date().timeIntervalSince(begin) / max(total, 1)), rate: ""))
            }
            return Self.outcome(result, started: started)
        } catch is CancellationError {
            return ProbeOutcome(probe: name, status: .interrupted, reason: "interrupted", started: started, seconds: Date().timeIntervalSince(started))
        } catch {
            return BurnInProbes.failed(name, started: started, "\(configuration.host):\(configuration.port): \(error)")
        }
    }

    static func outcome(_ result: NetworkResult, started: Date) -> ProbeOutcome {
        var measurements: [Metric] = []
        var series: [Series] = []
        func best(_ direction: NetworkDirection, streams: Int? = nil) -> NetworkTCPResult? {
            result.tcp.filter { $0.direction == direction && (streams == nil || $0.streams == streams) }.max { $0.streams < $1.streams }
        }
        if let t = best(.clientToServer) {
            measurements.append(Metric("network.tcp.throughput", t.bitsPerSecond / 8, unit: "B/s"))
            if let transfer = t.clientToServer {
                if let r = transfer.retransmits { measurements.append(Metric("network.tcp.retransmits", Double(r), unit: "count", higherIsBetter: false)) }
                series.append(
                    Series(
                        name: "network.tcp.throughput (\(t.streams) streams, client to server)", unit: "B/s",
                        points: transfer.intervals.map { .init(t: $0.end, value: $0.bitsPerSecond / 8) }))
            }
        }
        if let t = best(.serverToClient) {
            measurements.append(Metric("network.tcp_reverse.throughput", t.bitsPerSecond / 8, unit: "B/s"))
            if let transfer = t.serverToClient {
                series.append(
                    Series(
                        name: "network.tcp_reverse.throughput (\(t.streams) streams, server to client)", unit: "B/s",
                        points: transfer.intervals.map { .init(t: $0.end, value: $0.bitsPerSecond / 8) }))
            }
        }
        if let t = best(.clientToServer, streams: 1) { measurements.append(Metric("network.tcp_single.throughput", t.bitsPerSecond / 8, unit: "B/s")) }
        if let t = best(.bidirectional) { measurements.append(Metric("network.tcp_bidir.throughput", t.bitsPerSecond / 8, unit: "B/s")) }
        var distributions: [Distribution] = []
        if let rtt = result.rtt {
            let l = rtt.latency
            for (suffix, value) in [("p50", l.p50), ("p90", l.p90), ("p99", l.p99), ("p999", l.p999), ("max", l.maximum)] {
                measurements.append(Metric("network.rtt.latency_\(suffix)", value, unit: "us", higherIsBetter: false))
            }
            distributions.append(
                Distribution(
                    name: "round-trip time by percentile", unit: "us",
                    bars: l.distribution.enumerated().filter { $0.offset % max(1, l.distribution.count / 24) == 0 }.map {
                        .init(label: String(format: "%.3g%%", $0.element.percentile), value: $0.element.microseconds)
                    }))
        }
        distributions.append(
            Distribution(
                name: "TCP throughput per test", unit: "B/s",
                bars: result.tcp.map { .init(label: "\($0.streams)× \($0.direction.rawValue)", value: $0.bitsPerSecond / 8) }))
        var findings: [Finding] = []
        if !result.udp.isEmpty {
            let loss = result.udp.map(\.lossPercent).max() ?? 0
            let jitter = result.udp.map(\.jitterMicroseconds).max() ?? 0
            measurements.append(Metric("network.udp.loss", loss, unit: "%", higherIsBetter: false))
            measurements.append(Metric("network.udp.jitter", jitter, unit: "us", higherIsBetter: false))
            for udp in result.udp where udp.sentBitsPerSecond < udp.targetBitsPerSecond * 0.9 {
                findings.append(
                    Finding(
                        .warn, kind: "udp-rate",
                        "the sender reached \(Units.format(udp.sentBitsPerSecond, "bit/s")) of the \(Units.format(udp.targetBitsPerSecond, "bit/s")) asked",
                        location: udp.direction.rawValue))
            }
        }
        return BurnInProbes.outcome(
            "network", started: started, interrupted: false, reason: "against \(result.serverAddress) (\(result.serverSoftware))",
            measurements: measurements, findings: findings, series: series, distributions: distributions, detail: .network(result))
    }
}
