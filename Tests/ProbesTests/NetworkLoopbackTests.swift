import Foundation
import Glibc
@testable import Probes
import Synchronization
import Testing

/// Server and client in this process on the loopback interface.
@Suite("Network probe on loopback", .serialized)
struct NetworkLoopbackTests {
    @Test func everyTestOnIPv4() async throws {
        let progress = Mutex<[NetworkProgress]>([])
        let result = try await withNetworkServer { server in
            var configuration = NetworkProbe.Configuration(
                host: "127.0.0.1", port: server.port, streams: [1, 4], directions: [.clientToServer, .serverToClient, .bidirectional],
                duration: 1, interval: 0.25, rtt: .init(duration: 0.5),
                udp: .init(bitsPerSecond: 50_000_000, datagramSize: 1400, duration: 1, directions: [.clientToServer, .serverToClient]))
            configuration.connectTimeout = 5
            return try await NetworkProbe(configuration: configuration).run { update in progress.withLock { $0.append(update) } }
        }
        #expect(result.serverAddress.hasPrefix("127.0.0.1:"))
        #expect(result.protocolVersion == 1)
        #expect(result.finishedAt > result.startedAt)

        // TCP: both sides counted the same bytes, at a loopback's rate.
        #expect(result.tcp.map { "\($0.streams) \($0.direction)" } == [
            "1 client-to-server", "1 server-to-client", "1 bidirectional",
            "4 client-to-server", "4 server-to-client", "4 bidirectional",
        ])
        for test in result.tcp {
            let up = test.direction != .serverToClient
            let down = test.direction != .clientToServer
            #expect((test.clientToServer != nil) == up)
            #expect((test.serverToClient != nil) == down)
            if up { checkNetworkTransfer(test.clientToServer, streams: test.streams, measuredBy: .server, duration: 1, minimumBitsPerSecond: 1e8) }
            if down { checkNetworkTransfer(test.serverToClient, streams: test.streams, measuredBy: .client, duration: 1, minimumBitsPerSecond: 1e8) }
        }

        // RTT: ordered percentiles of plausible loopback round trips.
        let rtt = try #require(result.rtt)
        let l = rtt.latency
        #expect(l.count > 100)
        #expect(rtt.roundTripsPerSecond > 100)
        #expect(l.minimum > 0 && l.minimum <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.maximum)
        #expect(l.p50 < 10_000, "loopback p50 \(l.p50) µs")

        // UDP: the rate asked for, nothing lost, duplicated or reordered on loopback.
        #expect(result.udp.map(\.direction) == [.clientToServer, .serverToClient])
        #expect(result.udp.map(\.measuredBy) == [.server, .client])
        for udp in result.udp {
            let expected = 50_000_000.0 / (1400 * 8)
            #expect(abs(Double(udp.packetsSent) - expected) < expected * 0.1, "\(udp.packetsSent) datagrams sent")
            #expect(abs(udp.sentBitsPerSecond - 50e6) < 5e6)
            #expect(udp.packetsReceived + udp.packetsLost == udp.packetsSent)
            #expect(udp.lossPercent < 5, "\(udp.direction): \(udp.lossPercent)% lost")
            #expect(udp.duplicates == 0)
            #expect(udp.outOfOrder == 0)
            #expect(udp.jitterMicroseconds >= 0 && udp.jitterMicroseconds < 10_000)
            #expect(udp.intervals.reduce(0) { $0 + $1.bytes } == udp.packetsReceived * 1400)
            #expect(abs(udp.bitsPerSecond - 50e6) < 10e6, "\(udp.bitsPerSecond) bit/s received")
        }

        // Progress: one test after the other, the fraction never going back, ending at 1.
        let updates = progress.withLock { $0 }
        #expect(updates.first?.fraction == 0)
        #expect(updates.last?.fraction == 1)
        #expect(updates.map(\.fraction) == updates.map(\.fraction).sorted())
        #expect(updates.map(\.testNumber) == updates.map(\.testNumber).sorted())
        #expect(updates.allSatisfy { $0.testCount == 9 })
        #expect(updates.contains { $0.test == "tcp 4 streams bidirectional" && ($0.currentRate ?? 0) > 0 })

        // The result is what the JSON report embeds.
        let decoded = try JSONDecoder().decode(NetworkResult.self, from: JSONEncoder().encode(result))
        #expect(decoded.tcp.map(\.bitsPerSecond) == result.tcp.map(\.bitsPerSecond))
        #expect(decoded.configuration == result.configuration)
    }

    @Test func ipv6LoopbackWithFixedSocketBuffersAndNoReceiveSpin() async throws {
        let result = try await withNetworkServer(.init(host: "::1", port: 0)) { server in
            var configuration = networkQuickConfiguration("::1", port: server.port, directions: [.serverToClient, .clientToServer])
            configuration.socketBufferSize = 256 << 10
            configuration.receiveSpinMicroseconds = 0
            return try await NetworkProbe(configuration: configuration).run()
        }
        #expect(result.serverAddress.hasPrefix("[::1]:"))
        checkNetworkTransfer(result.tcp.first?.serverToClient, streams: 1, measuredBy: .client, duration: 0.5, minimumBitsPerSecond: 1e8)
        checkNetworkTransfer(result.tcp.last?.clientToServer, streams: 1, measuredBy: .server, duration: 0.5, minimumBitsPerSecond: 1e8)
    }

    @Test func aSecondClientIsRefusedWhileATestRuns() async throws {
        let log = NetworkServerLog()
        try await withNetworkServer(log: log) { server in
            // Client A: a long test in both directions; wait until its data flows.
            let (flowing, flowingContinuation) = AsyncStream.makeStream(of: Void.self)
            var long = networkQuickConfiguration(port: server.port, streams: [2], directions: [.bidirectional], duration: 60)
            long.interval = 0.1
            let a = Task {
                try await NetworkProbe(configuration: long).run { if ($0.currentRate ?? 0) > 0 { flowingContinuation.yield() } }
            }
            for await _ in flowing { break }

            // Client B is refused, and told who is being served.
            let b = NetworkProbe(configuration: networkQuickConfiguration(port: server.port))
            let error = await #expect(throws: NetworkProbeError.self) { try await b.run() }
            guard case .busy(let peer, let message)? = error else {
                Issue.record("expected busy, got \(String(describing: error))")
                a.cancel()
                return
            }
            #expect(peer == "127.0.0.1:\(server.port)")
            #expect(message.contains("a test for 127.0.0.1:") && message.contains("one test at a time"), "\(message)")
            #expect("\(error!)".contains("busy"))

            // Cancelling A stops it long before its 60 s.
            let cancelled = netNow()
            a.cancel()
            await #expect(throws: CancellationError.self) { try await a.value }
            #expect(Double(netNow() - cancelled) / 1e9 < 10)

            // Once the server has ended A's session, the next client is served.
            let ended = await log.waitFor { $0.contains("session ended") || $0.hasSuffix(": done") }
            #expect(ended != nil)
            let c = try await NetworkProbe(configuration: networkQuickConfiguration(port: server.port, duration: 0.2)).run()
            #expect((c.tcp.first?.clientToServer?.bytesReceived ?? 0) > 0)
        }
        #expect(log.lines.withLock { $0 }.contains { $0.contains("refused: busy with 127.0.0.1:") })
    }

    @Test func stoppingTheServerEndsATestWithAClearError() async throws {
        let server = try NetworkProbeServer(configuration: .init(host: "127.0.0.1", port: 0))
        let serving = Task { try await server.run() }
        let (flowing, flowingContinuation) = AsyncStream.makeStream(of: Void.self)
        var long = networkQuickConfiguration(port: server.port, directions: [.bidirectional], duration: 60)
        long.interval = 0.1
        let client = Task {
            try await NetworkProbe(configuration: long).run { if ($0.currentRate ?? 0) > 0 { flowingContinuation.yield() } }
        }
        for await _ in flowing { break }
        let stopped = netNow()
        serving.cancel()
        try await serving.value
        let error = await #expect(throws: NetworkProbeError.self) { try await client.value }
        guard case .connectionLost(let peer, let during, _)? = error else {
            Issue.record("expected connectionLost, got \(String(describing: error))")
            return
        }
        #expect(peer == "127.0.0.1:\(server.port)")
        #expect(during.contains("tcp 1 stream bidirectional"))
        #expect(Double(netNow() - stopped) / 1e9 < 10)
    }

    @Test func aClosedPortIsReportedAsRefused() async throws {
        // A bound socket that does not listen holds the port, so nothing else can take it.
        let address = try #require(try NetAddress.resolve("127.0.0.1", port: 0).first)
        let holder = try netBind(NetSocketFactory(), address, type: Int32(SOCK_STREAM.rawValue))
        defer { holder.close() }
        let port = try #require(holder.localAddress?.port)
        let probe = NetworkProbe(configuration: networkQuickConfiguration(port: port))
        let error = await #expect(throws: NetworkProbeError.self) { try await probe.run() }
        #expect(error == .connectionRefused(peer: "127.0.0.1:\(port)"))
        #expect("\(error!)".contains("connection to 127.0.0.1:\(port) refused"))
    }

    @Test func aPeerThatNeverAnswersTimesOut() async throws {
        // Listening but never accepting: the kernel completes the handshake, nobody answers.
        let address = try #require(try NetAddress.resolve("127.0.0.1", port: 0).first)
        let listener = try netBind(NetSocketFactory(), address, type: Int32(SOCK_STREAM.rawValue))
        defer { listener.close() }
        #expect(listen(listener.fd, 4) == 0)
        let port = try #require(listener.localAddress?.port)
        var configuration = networkQuickConfiguration(port: port)
        configuration.connectTimeout = 0.3
        let started = netNow()
        let error = await #expect(throws: NetworkProbeError.self) { try await NetworkProbe(configuration: configuration).run() }
        guard case .timeout(let peer, let during, let seconds)? = error else {
            Issue.record("expected a timeout, got \(String(describing: error))")
            return
        }
        #expect(peer == "127.0.0.1:\(port)")
        #expect(during.contains("welcome"))
        #expect(seconds == 0.3)
        #expect(Double(netNow() - started) / 1e9 < 5)
    }

    @Test func somethingElseOnThePortIsAProtocolMismatch() async throws {
        let fake = try NetworkFakePeer { socket in
            let banner = Array("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".utf8)
            try? banner.withUnsafeBytes { try socket.sendAll($0) }
        }
        let error = await #expect(throws: NetworkProbeError.self) {
            try await NetworkProbe(configuration: networkQuickConfiguration(port: fake.port)).run()
        }
        guard case .protocolMismatch(let peer, let reason)? = error else {
            Issue.record("expected a protocol mismatch, got \(String(describing: error))")
            return
        }
        #expect(peer == "127.0.0.1:\(fake.port)")
        #expect(reason.contains("SSH-"), "\(reason)")
    }

    @Test func versionsAreCheckedBothWays() async throws {
        // A newer server: the client names both versions.
        let newer = try NetworkFakePeer { socket in
            _ = try? socket.receiveFrame(deadline: netNow() + 5_000_000_000)
            try? socket.send(.welcome(NetWelcome(protocol: NetProtocol.name, version: 2, software: "nodeagent-netprobe 2")))
        }
        let error = await #expect(throws: NetworkProbeError.self) {
            try await NetworkProbe(configuration: networkQuickConfiguration(port: newer.port)).run()
        }
        #expect(error == .versionMismatch(peer: "127.0.0.1:\(newer.port)", localVersion: 1, peerVersion: 2))
        #expect("\(error!)".contains("version 2, this side speaks version 1"))

        // A newer client: the real server refuses it, naming its version.
        try await withNetworkServer { server in
            let address = try #require(try NetAddress.resolve("127.0.0.1", port: server.port).first)
            let socket = try NetSocketFactory().connect(to: [address], timeout: 5_000_000_000)
            defer { socket.close() }
            try socket.send(.hello(NetHello(protocol: NetProtocol.name, version: 99, software: "future")))
            let answer = try socket.receiveFrame(deadline: netNow() + 5_000_000_000)
            guard case .refused(let refusal)? = answer else {
                Issue.record("expected a refusal, got \(String(describing: answer))")
                return
            }
            #expect(refusal.reason == .version)
            #expect(refusal.version == 1)
            #expect(refusal.message.contains("version 1"))
        }
    }

    @Test func theServerEnforcesItsLimits() async throws {
        try await withNetworkServer(.init(host: "127.0.0.1", port: 0, maximumStreams: 2)) { server in
            let error = await #expect(throws: NetworkProbeError.self) {
                try await NetworkProbe(configuration: networkQuickConfiguration(port: server.port, streams: [4])).run()
            }
            guard case .refused(_, let reason)? = error else {
                Issue.record("expected a refusal, got \(String(describing: error))")
                return
            }
            #expect(reason.contains("4 streams") && reason.contains("1...2"))

            // A receive spin beyond the limit, from a client that does not check it first.
            let address = try #require(try NetAddress.resolve("127.0.0.1", port: server.port).first)
            let socket = try NetSocketFactory().connect(to: [address], timeout: 5_000_000_000)
            defer { socket.close() }
            try socket.send(.hello(NetHello(protocol: NetProtocol.name, version: NetProtocol.version, software: "test")))
            guard case .welcome? = try socket.receiveFrame(deadline: netNow() + 5_000_000_000) else {
                Issue.record("no welcome")
                return
            }
            try socket.send(.request(NetTestRequest(kind: .tcp, direction: .clientToServer, streams: 1, duration: 1, messageSize: 1 << 17,
                                                    interval: 1, receiveSpinMicroseconds: 20_000)))
            let answer = try socket.receiveFrame(deadline: netNow() + 5_000_000_000)
            guard case .refused(let refusal)? = answer else {
                Issue.record("expected a refusal, got \(String(describing: answer))")
                return
            }
            #expect(refusal.message.contains("receive spin of 20000 µs") && refusal.message.contains("0...10000"), "\(refusal.message)")
        }
    }

    @Test func aReceiverCountsEveryByteUntilTheSenderCloses() async throws {
        // 3 MiB in uneven writes, then EOF: the nonblocking receive loop counts all of it.
        let total = 3 << 20
        let fake = try NetworkFakePeer { socket in
            let chunk = [UInt8](repeating: 0xA5, count: 40_000)
            var left = total
            while left > 0 {
                let count = min(left, chunk.count)
                try? chunk[0..<count].withUnsafeBytes { try socket.sendAll($0) }
                left -= count
            }
        }
        let address = try #require(try NetAddress.resolve("127.0.0.1", port: fake.port).first)
        let socket = try NetSocketFactory().connect(to: [address], timeout: 5_000_000_000)
        defer { socket.close() }
        try socket.setTimeouts(10_000_000_000)
        let live = NetLiveCounter()
        let outcome = NetWorker.tcpReceive(socket, bufferSize: 128 << 10, spin: 50_000, reference: netNow(), interval: 1_000_000_000,
                                           live: live, cancellation: NetCancellation())
        #expect(outcome.error == nil)
        #expect(outcome.bytesReceived == UInt64(total))
        #expect(live.load() == UInt64(total))
        #expect(outcome.buckets.reduce(0, +) == UInt64(total))
    }

    @Test(arguments: [0, 50_000] as [UInt64])
    func aSilentSenderTimesTheReceiverOut(spin: UInt64) async throws {
        // The peer connects and sends nothing; the receive timeout ends the wait with a reason.
        let fake = try NetworkFakePeer { socket in
            _ = try? socket.waitReadable(deadline: netNow() + 20_000_000_000)
        }
        let address = try #require(try NetAddress.resolve("127.0.0.1", port: fake.port).first)
        let socket = try NetSocketFactory().connect(to: [address], timeout: 5_000_000_000)
        defer { socket.close() }
        try socket.setTimeouts(300_000_000)
        #expect(socket.receiveTimeout == 300_000_000)
        let started = netNow()
        let outcome = NetWorker.tcpReceive(socket, bufferSize: 64 << 10, spin: spin, reference: started, interval: 1_000_000_000,
                                           live: NetLiveCounter(), cancellation: NetCancellation())
        let waited = Double(netNow() - started) / 1e9
        #expect(outcome.error == "no data for too long")
        #expect(outcome.bytesReceived == 0)
        #expect(waited >= 0.29 && waited < 10, "waited \(waited) s")
    }

    @Test func cancellingEndsAReceiverThatIsWaiting() async throws {
        let fake = try NetworkFakePeer { socket in
            _ = try? socket.waitReadable(deadline: netNow() + 20_000_000_000)
        }
        let address = try #require(try NetAddress.resolve("127.0.0.1", port: fake.port).first)
        let socket = try NetSocketFactory().connect(to: [address], timeout: 5_000_000_000)
        defer { socket.close() }
        try socket.setTimeouts(60_000_000_000)
        let cancellation = NetCancellation()
        cancellation.register(socket)
        let slot = NetSlot<NetStreamOutcome>()
        let worker = try NetThread {
            slot.set(NetWorker.tcpReceive(socket, bufferSize: 64 << 10, spin: 50_000, reference: netNow(), interval: 1_000_000_000,
                                          live: NetLiveCounter(), cancellation: cancellation))
        }
        try await Task.sleep(for: .milliseconds(200))
        let cancelled = netNow()
        cancellation.cancel()
        worker.join()
        #expect(Double(netNow() - cancelled) / 1e9 < 5)
        let outcome = try #require(slot.get())
        #expect(outcome.bytesReceived == 0)
    }

    @Test func cancellationStopsTheServerAndFreesItsPort() async throws {
        let server = try NetworkProbeServer(configuration: .init(host: "127.0.0.1", port: 0))
        let log = NetworkServerLog()
        let task = Task { try await server.run(log: { log.append($0) }) }
        _ = await log.waitFor { $0.hasPrefix("listening on") }
        task.cancel()
        try await task.value
        #expect(log.lines.withLock { $0 }.last == "stopped")
        // Nothing listens any more: binding the port again works, and connecting is refused.
        let address = try #require(try NetAddress.resolve("127.0.0.1", port: server.port).first)
        let again = try netBind(NetSocketFactory(), address, type: Int32(SOCK_STREAM.rawValue))
        again.close()
        let error = await #expect(throws: NetworkProbeError.self) {
            try await NetworkProbe(configuration: networkQuickConfiguration(port: server.port)).run()
        }
        #expect(error == .connectionRefused(peer: "127.0.0.1:\(server.port)"))
    }

    @Test func commandLineClient() async throws {
        #expect(await NetworkProbeCommandLine.main([]) == 2)
        #expect(await NetworkProbeCommandLine.main(["client"]) == 2)
        #expect(await NetworkProbeCommandLine.main(["client", "127.0.0.1", "--streams", "x"]) == 2)
        #expect(await NetworkProbeCommandLine.main(["client", "127.0.0.1", "--bogus", "1"]) == 2)
        try await withNetworkServer { server in
            let status = await NetworkProbeCommandLine.main([
                "client", "127.0.0.1", "--port", "\(server.port)", "--streams", "2", "--directions", "server-to-client",
                "--duration", "0.3", "--rtt-duration", "0.2", "--udp", "10M", "--udp-duration", "0.3",
            ])
            #expect(status == 0)
        }
    }
}

/// A TCP listener on 127.0.0.1 that serves one connection with `serve` on a thread, then closes.
final class NetworkFakePeer: Sendable {
    let port: UInt16
    private let listener: NetSocket
    private let thread: NetThread

    init(_ serve: @escaping @Sendable (NetSocket) -> Void) throws {
        let address = try #require(try NetAddress.resolve("127.0.0.1", port: 0).first)
        let listener = try netBind(NetSocketFactory(), address, type: Int32(SOCK_STREAM.rawValue))
        guard listen(listener.fd, 4) == 0 else { throw NetIOError.system("listen", errno) }
        self.listener = listener
        port = listener.localAddress?.port ?? 0
        thread = try NetThread {
            let fd = accept(listener.fd, nil, nil)
            guard fd >= 0 else { return }
            let socket = NetSocket(fd: fd, peer: "client")
            serve(socket)
            // Let the client read everything before the connection goes.
            socket.shutdown(Int32(SHUT_WR))
            _ = try? socket.waitReadable(deadline: netNow() + 5_000_000_000)
            socket.close()
        }
    }

    deinit {
        listener.shutdown()
        thread.join()
        listener.close()
    }
}
