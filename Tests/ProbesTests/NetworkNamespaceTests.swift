import Foundation
import Glibc
@testable import Probes
import Testing
import TestSupport

/// The probe across a real link: two network namespaces of the test's own joined by a veth pair
/// (10.200.N.1/30 and .2/30), the server's sockets in one and the client's in the other (the
/// probe's `networkNamespace` option: sockets are created on a thread that entered the
/// namespace with setns(2)). The link is impaired with `tc netem` (5 ms delay each way, 1% loss)
/// where the kernel has netem; otherwise with a `tbf` rate limit of 200 Mbit/s on the client's
/// side and an iptables rule in the server's namespace that drops 1% of UDP datagrams. Both
/// namespaces (and with them the veth pair, qdiscs and rules) are deleted afterwards, also when
/// the test fails. No traffic leaves the two namespaces.
@Suite("Network probe across network namespaces", .serialized)
struct NetworkNamespaceTests {
    static let ip = "/usr/sbin/ip"
    static let tc = "/usr/sbin/tc"
    static let iptables = "/usr/sbin/iptables"

    static let unavailable: String? = {
        if getuid() != 0 { return "not root" }
        if !FileManager.default.isExecutableFile(atPath: ip) { return "\(ip) is missing (iproute2)" }
        if !FileManager.default.isExecutableFile(atPath: tc) { return "\(tc) is missing (iproute2)" }
        return nil
    }()

    /// Two namespaces joined by a veth pair; `remove()` deletes both.
    struct Link {
        let server: String
        let client: String
        let serverDevice: String
        let clientDevice: String
        let serverAddress: String
        let clientAddress: String

        static func make() throws -> Link {
            let tag = String(format: "%06x", UInt32.random(in: 0..<0x100_0000))
            let subnet = Int.random(in: 0...255)
            let link = Link(
                server: "na-test-\(tag)s", client: "na-test-\(tag)c", serverDevice: "na\(tag)s", clientDevice: "na\(tag)c",
                serverAddress: "10.200.\(subnet).1", clientAddress: "10.200.\(subnet).2")
            do {
                try run(ip, ["netns", "add", link.server])
                try run(ip, ["netns", "add", link.client])
                // Both ends are created inside the namespaces: the host's namespace never sees them.
                try run(ip, ["link", "add", link.serverDevice, "netns", link.server, "type", "veth", "peer", "name", link.clientDevice, "netns", link.client])
                try run(ip, ["-n", link.server, "addr", "add", "\(link.serverAddress)/30", "dev", link.serverDevice])
                try run(ip, ["-n", link.client, "addr", "add", "\(link.clientAddress)/30", "dev", link.clientDevice])
                for (namespace, device) in [(link.server, link.serverDevice), (link.client, link.clientDevice)] {
                    try run(ip, ["-n", namespace, "link", "set", "lo", "up"])
                    try run(ip, ["-n", namespace, "link", "set", device, "up"])
                }
            } catch {
                link.remove()
                throw error
            }
            return link
        }

        func path(_ namespace: String) -> String { "/run/netns/\(namespace)" }

        func remove() {
            for namespace in [server, client] { _ = try? execute(NetworkNamespaceTests.ip, ["netns", "del", namespace]) }
        }
    }

    enum Impairment: String {
        case netem
        case tbfAndIptables
    }

    @Test(.enabled(if: unavailable == nil, "needs root, ip and tc")) func acrossAVethPair() async throws {
        let link = try Link.make()
        defer {
            link.remove()
            let left = (try? run(Self.ip, ["netns", "list"])) ?? ""
            #expect(!left.contains(link.server) && !left.contains(link.client), "namespaces left behind: \(left)")
        }

        // Impair the link: netem if the kernel has it, else a rate limit and UDP drops.
        let impairment: Impairment
        if (try? run(Self.tc, ["-n", link.client, "qdisc", "add", "dev", link.clientDevice, "root", "netem", "delay", "5ms", "loss", "1%"])) != nil {
            try run(Self.tc, ["-n", link.server, "qdisc", "add", "dev", link.serverDevice, "root", "netem", "delay", "5ms", "loss", "1%"])
            impairment = .netem
        } else {
            try run(Self.tc, ["-n", link.client, "qdisc", "add", "dev", link.clientDevice, "root", "tbf", "rate", "200mbit", "burst", "64kb", "latency", "50ms"])
            try #require(FileManager.default.isExecutableFile(atPath: Self.iptables), "no netem in this kernel and no iptables for the fallback")
            try run(Self.ip, ["netns", "exec", link.server, Self.iptables, "-A", "INPUT", "-p", "udp", "-m", "statistic", "--mode", "random",
                              "--probability", "0.01", "-j", "DROP"])
            impairment = .tbfAndIptables
        }

        let configuration = NetworkProbeServer.Configuration(host: link.serverAddress, port: 0, networkNamespace: link.path(link.server))
        let result = try await withNetworkServer(configuration) { server in
            // The listening socket lives in the server's namespace, not in the host's.
            let inside = try run(Self.ip, ["netns", "exec", link.server, "ss", "-Htln"])
            #expect(inside.contains("\(link.serverAddress):\(server.port)"), "\(inside)")
            let outside = try run("/usr/bin/ss", ["-Htln"])
            #expect(!outside.contains("\(link.serverAddress):\(server.port)"))

            let client = NetworkProbe.Configuration(
                host: link.serverAddress, port: server.port, streams: [1], directions: [.clientToServer], duration: 2,
                interval: 0.5, rtt: .init(duration: 1),
                udp: .init(bitsPerSecond: 20_000_000, datagramSize: 1200, duration: 2, directions: [.clientToServer]),
                networkNamespace: link.path(link.client))
            return try await NetworkProbe(configuration: client).run()
        }
        #expect(result.serverAddress.hasPrefix("\(link.serverAddress):"))

        let tcp = try #require(result.tcp.first?.clientToServer)
        checkNetworkTransfer(tcp, streams: 1, measuredBy: .server, duration: 2, minimumBitsPerSecond: 1e6)
        let latency = try #require(result.rtt?.latency)
        #expect(latency.p50 <= latency.p90 && latency.p90 <= latency.p99 && latency.p99 <= latency.p999 && latency.p999 <= latency.maximum)
        let udp = try #require(result.udp.first)
        #expect(udp.packetsSent > 3000)
        #expect(udp.duplicates == 0)

        switch impairment {
        case .netem:
            // 5 ms each way: every round trip takes at least 10 ms.
            #expect(latency.minimum >= 9_500, "min \(latency.minimum) µs")
            #expect(latency.p50 >= 9_500 && latency.p50 < 30_000, "p50 \(latency.p50) µs")
            // 1% of the datagrams dropped on the client's side.
            #expect(udp.lossPercent > 0.2 && udp.lossPercent < 3, "\(udp.lossPercent)% lost")
        case .tbfAndIptables:
            // 200 Mbit/s on the wire is about 190 of TCP payload.
            #expect(tcp.bitsPerSecond > 120e6 && tcp.bitsPerSecond < 205e6, "\(tcp.bitsPerSecond / 1e6) Mbit/s through a 200 Mbit/s limit")
            #expect(latency.p50 < 5_000, "p50 \(latency.p50) µs on an unimpaired veth")
            // iptables dropped 1% of the datagrams at the server.
            #expect(udp.lossPercent > 0.2 && udp.lossPercent < 3, "\(udp.lossPercent)% lost")
            #expect(udp.packetsLost > 0)
        }
    }
}
