// The network probe's client: connects to a `NetworkProbeServer` (another node's agent, or one
// on this node) and runs the configured tests. Protocol: NetworkControlProtocol.swift.
import Foundation
import Synchronization
import Glibc

/// Measures the network path to a `NetworkProbeServer`: TCP throughput with one and several
/// streams in both directions, round-trip latency percentiles, and optionally UDP loss and
/// jitter. Throughput is measured where the data is received (the server reports its side).
public struct NetworkProbe: Sendable {
    public var configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Runs every configured test. `progress` is called on one of the probe's threads, about once
    /// per `interval` and at the start and end of every test; it should return quickly.
    /// Throws `NetworkProbeError` (naming the server and the
    /// reason), or `CancellationError` if the task is cancelled (the connections are closed and
    /// the server ends its side of the test).
    public func run(progress: @escaping @Sendable (NetworkProgress) -> Void = { _ in }) async throws -> NetworkResult {
        try configuration.validate()
        let session = NetClientSession(configuration: configuration, progress: progress)
        return try await withTaskCancellationHandler {
            try await netRunBlocking { try session.run() }
        } onCancel: {
            session.cancellation.cancel()
        }
    }

}

/// One test of a run; `plan` lists a configuration's tests in the order they run.
enum NetPlannedTest: Sendable {
    case rtt(NetworkProbe.RTTTest)
    case tcp(streams: Int, direction: NetworkDirection)
    case udp(NetworkProbe.UDPTest, NetworkDirection)

    static func plan(_ configuration: NetworkProbe.Configuration) -> [NetPlannedTest] {
        var tests: [NetPlannedTest] = []
        if let rtt = configuration.rtt { tests.append(.rtt(rtt)) }
        for streams in configuration.streams {
            for direction in configuration.directions { tests.append(.tcp(streams: streams, direction: direction)) }
        }
        if let udp = configuration.udp {
            for direction in udp.directions { tests.append(.udp(udp, direction)) }
        }
        return tests
    }

    func seconds(_ configuration: NetworkProbe.Configuration) -> Double {
        switch self {
        case .rtt(let test): test.duration
        case .tcp: configuration.duration
        case .udp(let test, _): test.duration
        }
    }

    var label: String {
        switch self {
        case .rtt: "rtt"
        case .tcp(let streams, let direction): "tcp \(streams) stream\(streams == 1 ? "" : "s") \(direction)"
        case .udp(_, let direction): "udp \(direction)"
        }
    }
}

/// One client run: a control connection and the tests on it.
final class NetClientSession: @unchecked Sendable {
    let configuration: NetworkProbe.Configuration
    let progress: @Sendable (NetworkProgress) -> Void
    let cancellation = NetCancellation()
    let factory: NetSocketFactory
    /// "host:port" as configured: how errors name the server.
    let peer: String
    private let plan: [NetPlannedTest]
    private let plannedSeconds: Double
    private var doneSeconds = 0.0
    private var testNumber = 0

    init(configuration: NetworkProbe.Configuration, progress: @escaping @Sendable (NetworkProgress) -> Void) {
        self.configuration = configuration
        self.progress = progress
        factory = NetSocketFactory(networkNamespace: configuration.networkNamespace)
        peer = NetAddress.describe(host: configuration.host, port: configuration.port)
        plan = NetPlannedTest.plan(configuration)
        plannedSeconds = plan.reduce(0) { $0 + $1.seconds(configuration) }
    }

    private var connectTimeout: UInt64 { netNanoseconds(configuration.connectTimeout) }

    // MARK: errors

    /// Turns a plumbing error into one that names the server and what was going on.
    private func failure(_ error: any Error, during: String, waited: UInt64 = 0) -> any Error {
        if cancellation.isCancelled { return CancellationError() }
        switch error {
        case let error as NetworkProbeError: return error
        case NetIOError.timedOut: return NetworkProbeError.timeout(peer: peer, during: during, seconds: Double(waited) / 1e9)
        case NetIOError.garbage(let what): return NetworkProbeError.protocolMismatch(peer: peer, reason: what)
        case NetIOError.closed: return NetworkProbeError.connectionLost(peer: peer, during: during, reason: "the server closed the connection")
        case NetIOError.system(_, let code) where code == ECONNREFUSED: return NetworkProbeError.connectionRefused(peer: peer)
        default: return NetworkProbeError.connectionLost(peer: peer, during: during, reason: "\(error)")
        }
    }

    private func connect(to address: NetAddress, during: String) throws -> NetSocket {
        do {
            let socket = try factory.connect(to: [address], timeout: connectTimeout, cancellation: cancellation)
            cancellation.register(socket)
            return socket
        } catch NetIOError.system(_, let code) where code != ECONNREFUSED && code != ETIMEDOUT {
            if cancellation.isCancelled { throw CancellationError() }
            throw NetworkProbeError.unreachable(peer: peer, reason: "\(during): \(netErrorText(code))")
        } catch {
            throw failure(error, during: during, waited: connectTimeout)
        }
    }

    private func release(_ socket: NetSocket) {
        cancellation.unregister(socket)
        socket.close()
    }

    /// The next frame, which must arrive before `wait` nanoseconds pass; `refused` and `failed`
    /// frames become errors.
    private func expect(_ control: NetSocket, wait: UInt64, during: String) throws -> NetFrame {
        let frame: NetFrame?
        do {
            frame = try control.receiveFrame(deadline: netNow() + wait)
        } catch {
            throw failure(error, during: during, waited: wait)
        }
        switch frame {
        case nil:
            if cancellation.isCancelled { throw CancellationError() }
            throw NetworkProbeError.connectionLost(peer: peer, during: during, reason: "the server closed the control connection")
        case .refused(let refusal)?:
            switch refusal.reason {
            case .busy: throw NetworkProbeError.busy(peer: peer, message: refusal.message)
            case .version: throw NetworkProbeError.versionMismatch(peer: peer, localVersion: NetProtocol.version, peerVersion: refusal.version)
            case .protocol: throw NetworkProbeError.protocolMismatch(peer: peer, reason: refusal.message)
            case .limits, .invalid: throw NetworkProbeError.refused(peer: peer, reason: refusal.message)
            }
        case .failed(let reason)?:
            throw NetworkProbeError.connectionLost(peer: peer, during: during, reason: "the server reports: \(reason)")
        case let frame?:
            return frame
        }
    }

    private func send(_ frame: NetFrame, on control: NetSocket, during: String) throws {
        do { try control.send(frame) } catch { throw failure(error, during: during) }
    }

    // MARK: progress

    private func report(_ test: NetPlannedTest, elapsed: Double, rate: Double?) {
        let fraction = plannedSeconds > 0 ? min(1, (doneSeconds + min(elapsed, test.seconds(configuration))) / plannedSeconds) : 1
        progress(NetworkProgress(test: test.label, testNumber: testNumber, testCount: plan.count, fraction: fraction, currentRate: rate))
    }

    /// Waits for `workers`, reporting progress every interval from `live` (per second; ×8 for bytes).
    private func wait(for workers: NetWorkers, test: NetPlannedTest, start: UInt64, live: NetLiveCounter, bits: Bool) {
        var last = (time: start, count: live.load())
        workers.wait(tick: netNanoseconds(configuration.interval)) {
            let now = netNow()
            let count = live.load()
            let rate = now > last.time ? Double(count &- last.count) / (Double(now - last.time) / 1e9) * (bits ? 8 : 1) : nil
            last = (now, count)
            report(test, elapsed: Double(now - start) / 1e9, rate: rate)
        }
    }

    // MARK: the run

    func run() throws -> NetworkResult {
        let started = Date()
        let addresses: [NetAddress]
        do {
            addresses = try NetAddress.resolve(configuration.host, port: configuration.port)
        } catch {
            throw NetworkProbeError.resolution(host: configuration.host, reason: "\(error)")
        }
        let control: NetSocket
        do {
            control = try factory.connect(to: addresses, timeout: connectTimeout, cancellation: cancellation)
        } catch NetIOError.system(_, let code) where code != ECONNREFUSED && code != ETIMEDOUT {
            if cancellation.isCancelled { throw CancellationError() }
            throw NetworkProbeError.unreachable(peer: peer, reason: netErrorText(code))
        } catch {
            throw failure(error, during: "connecting", waited: connectTimeout)
        }
        cancellation.register(control)
        defer { release(control) }
        try? control.setNoDelay()
        guard let serverAddress = control.peerAddress else {
            throw NetworkProbeError.connectionLost(peer: peer, during: "connecting", reason: "the connection closed at once")
        }

        try send(.hello(NetHello(protocol: NetProtocol.name, version: NetProtocol.version, software: NetProtocol.name)), on: control, during: "the hello")
        let welcome: NetWelcome
        switch try expect(control, wait: connectTimeout, during: "waiting for the server's welcome (is it a nodeagent network probe server?)") {
        case .welcome(let value): welcome = value
        case let other: throw NetworkProbeError.protocolMismatch(peer: peer, reason: "it answered the hello with \(other.name)")
        }
        guard welcome.protocol == NetProtocol.name else {
            throw NetworkProbeError.protocolMismatch(peer: peer, reason: "it speaks \(welcome.protocol)")
        }
        guard welcome.version == NetProtocol.version else {
            throw NetworkProbeError.versionMismatch(peer: peer, localVersion: NetProtocol.version, peerVersion: welcome.version)
        }

        var result = NetworkResult(
            server: peer, serverAddress: serverAddress.description, serverSoftware: welcome.software, protocolVersion: welcome.version,
            startedAt: started, finishedAt: started, configuration: configuration, rtt: nil, tcp: [], udp: [])
        for test in plan {
            testNumber += 1
            if cancellation.isCancelled { throw CancellationError() }
            report(test, elapsed: 0, rate: nil)
            switch test {
            case .rtt(let rtt):
                result.rtt = try runRTT(rtt, test: test, control: control, server: serverAddress)
            case .tcp(let streams, let direction):
                result.tcp.append(try runTCP(streams: streams, direction: direction, test: test, control: control, server: serverAddress))
            case .udp(let udp, let direction):
                result.udp.append(try runUDP(udp, direction: direction, test: test, control: control, server: serverAddress))
            }
            report(test, elapsed: test.seconds(configuration), rate: nil)
            doneSeconds += test.seconds(configuration)
        }
        try? control.send(.bye)
        result.finishedAt = Date()
        return result
    }

    /// Sends the request and waits for `ready`.
    private func request(_ request: NetTestRequest, control: NetSocket, during: String) throws -> NetReady {
        try send(.request(request), on: control, during: during)
        switch try expect(control, wait: connectTimeout, during: "\(during): waiting for the server to get ready") {
        case .ready(let ready): return ready
        case let other: throw NetworkProbeError.protocolMismatch(peer: peer, reason: "it answered a test request with \(other.name)")
        }
    }

    private func expectStart(_ control: NetSocket, during: String) throws {
        let wait = connectTimeout + NetProtocol.handshakeTimeout
        switch try expect(control, wait: wait, during: "\(during): waiting for the start") {
        case .start: return
        case let other: throw NetworkProbeError.protocolMismatch(peer: peer, reason: "expected start, got \(other.name)")
        }
    }

    /// The server's counts, which come once its side of the test is over: at once for tests whose
    /// end this side waited for, after up to `sending` more nanoseconds when the server sends.
    private func expectResult(_ control: NetSocket, during: String, sending: UInt64 = 0) throws -> NetServerReport {
        let wait: UInt64 = sending + 120_000_000_000
        switch try expect(control, wait: wait, during: "\(during): waiting for the server's counts") {
        case .result(let report): return report
        case let other: throw NetworkProbeError.protocolMismatch(peer: peer, reason: "expected result, got \(other.name)")
        }
    }

    // MARK: TCP throughput

    private func runTCP(streams: Int, direction: NetworkDirection, test: NetPlannedTest, control: NetSocket, server: NetAddress) throws -> NetworkTCPResult {
        let during = test.label
        let ready = try request(NetTestRequest(
            kind: .tcp, direction: direction, streams: streams, duration: configuration.duration, messageSize: configuration.messageSize,
            socketBufferSize: configuration.socketBufferSize, interval: configuration.interval,
            receiveSpinMicroseconds: configuration.receiveSpinMicroseconds), control: control, during: during)
        var roles: [NetStreamRole] = []
        if direction != .serverToClient { roles.append(.upload) }
        if direction != .clientToServer { roles.append(.download) }
        var sockets: [(role: NetStreamRole, index: Int, socket: NetSocket)] = []
        defer { for entry in sockets { release(entry.socket) } }
        for role in roles {
            for index in 0..<streams {
                let socket = try connect(to: server, during: "\(during): opening data connection \(index)")
                sockets.append((role, index, socket))
                if let size = configuration.socketBufferSize { try? socket.setBufferSizes(size) }
                try? socket.setTimeouts(netNanoseconds(configuration.duration) + 60_000_000_000)
                try send(.stream(NetStreamHello(cookie: ready.cookie, role: role, index: index)), on: socket, during: during)
            }
        }
        try expectStart(control, during: during)
        let reference = netNow()
        let live = NetLiveCounter()
        let workers = NetWorkers()
        let deadline = reference + netNanoseconds(configuration.duration)
        let interval = netNanoseconds(configuration.interval)
        let size = configuration.messageSize
        let spin = UInt64(configuration.receiveSpinMicroseconds) * 1000
        var slots: [(role: NetStreamRole, index: Int, slot: NetSlot<NetStreamOutcome>)] = []
        for (role, index, socket) in sockets {
            let slot = NetSlot<NetStreamOutcome>()
            slots.append((role, index, slot))
            let cancellation = self.cancellation
            do {
                try workers.spawn {
                    if role == .upload {
                        slot.set(NetWorker.tcpSend(socket, messageSize: size, deadline: deadline, drainTimeout: 60_000_000_000, live: live,
                                                   cancellation: cancellation))
                    } else {
                        slot.set(NetWorker.tcpReceive(socket, bufferSize: size, spin: spin, reference: reference, interval: interval,
                                                      live: live, cancellation: cancellation))
                    }
                }
            } catch {
                cancellation.cancel()
                workers.wait()
                throw error
            }
        }
        wait(for: workers, test: test, start: reference, live: live, bits: true)
        if cancellation.isCancelled { throw CancellationError() }
        let report = try expectResult(control, during: during)
        let local = slots.map { (role: $0.role, index: $0.index, outcome: $0.slot.get() ?? NetStreamOutcome(error: "the worker did not report")) }
        if let bad = local.first(where: { $0.outcome.error != nil }) {
            throw NetworkProbeError.connectionLost(peer: peer, during: "\(during), stream \(bad.index)", reason: bad.outcome.error!)
        }
        if let bad = report.streams.first(where: { $0.error != nil }) {
            throw NetworkProbeError.connectionLost(peer: peer, during: "\(during), stream \(bad.index)", reason: "the server reports: \(bad.error!)")
        }
        let seconds = { (ns: UInt64?) in ns.map { Double($0 &- reference) / 1e9 } }
        var result = NetworkTCPResult(streams: streams, direction: direction, duration: configuration.duration, messageSize: size)
        if roles.contains(.upload) {
            let senders = local.filter { $0.role == .upload }
            let receivers = report.streams.filter { $0.role == .upload }
            result.clientToServer = Self.transfer(
                measuredBy: .server,
                streams: (0..<streams).map { index in
                    let sender = senders.first { $0.index == index }?.outcome
                    let receiver = receivers.first { $0.index == index }
                    return (index, sender?.bytesSent ?? 0, receiver?.bytesReceived ?? 0, receiver?.firstByte, receiver?.lastByte, sender?.retransmits)
                },
                buckets: report.receivedBuckets, interval: configuration.interval)
        }
        if roles.contains(.download) {
            let senders = report.streams.filter { $0.role == .download }
            let receivers = local.filter { $0.role == .download }
            result.serverToClient = Self.transfer(
                measuredBy: .client,
                streams: (0..<streams).map { index in
                    let sender = senders.first { $0.index == index }
                    let receiver = receivers.first { $0.index == index }?.outcome
                    return (index, sender?.bytesSent ?? 0, receiver?.bytesReceived ?? 0, seconds(receiver?.firstByte), seconds(receiver?.lastByte), sender?.retransmits)
                },
                buckets: NetworkMath.sumBuckets(receivers.map(\.outcome.buckets)), interval: configuration.interval)
        }
        return result
    }

    /// One direction's figures from its streams: (index, bytes sent, bytes received, first and
    /// last byte in seconds from the start on the receiver's clock, retransmits).
    static func transfer(measuredBy: NetworkEndpoint, streams: [(Int, UInt64, UInt64, Double?, Double?, UInt64?)], buckets: [UInt64], interval: Double) -> NetworkTransfer {
        var results: [NetworkStreamResult] = []
        var first = Double.infinity
        var last = -Double.infinity
        var retransmits: UInt64? = nil
        for (index, sent, received, firstByte, lastByte, retrans) in streams {
            let span = (firstByte != nil && lastByte != nil) ? lastByte! - firstByte! : 0
            if let firstByte { first = min(first, firstByte) }
            if let lastByte { last = max(last, lastByte) }
            if let retrans { retransmits = (retransmits ?? 0) + retrans }
            results.append(NetworkStreamResult(index: index, bytesSent: sent, bytesReceived: received, seconds: span,
                                               bitsPerSecond: NetworkMath.bitsPerSecond(bytes: received, seconds: span), retransmits: retrans))
        }
        let seconds = last > first ? last - first : 0
        let received = results.reduce(0) { $0 + $1.bytesReceived }
        return NetworkTransfer(
            measuredBy: measuredBy, bytesSent: results.reduce(0) { $0 + $1.bytesSent }, bytesReceived: received, seconds: seconds,
            bitsPerSecond: NetworkMath.bitsPerSecond(bytes: received, seconds: seconds), retransmits: retransmits, streams: results,
            intervals: NetworkMath.intervals(buckets: buckets, interval: interval, end: last.isFinite ? last : 0))
    }

    // MARK: round trips

    private func runRTT(_ rtt: NetworkProbe.RTTTest, test: NetPlannedTest, control: NetSocket, server: NetAddress) throws -> NetworkRTTResult {
        let during = test.label
        let ready = try request(NetTestRequest(
            kind: .rtt, direction: .clientToServer, streams: 1, duration: rtt.duration, messageSize: rtt.messageSize,
            socketBufferSize: nil, interval: configuration.interval), control: control, during: during)
        let socket = try connect(to: server, during: "\(during): opening the echo connection")
        defer { release(socket) }
        try? socket.setNoDelay()
        try send(.stream(NetStreamHello(cookie: ready.cookie, role: .echo, index: 0)), on: socket, during: during)
        try expectStart(control, during: during)
        let live = NetLiveCounter()
        let workers = NetWorkers()
        let slot = NetSlot<NetWorker.RTTOutcome>()
        let start = netNow()
        try workers.spawn { slot.set(NetWorker.rttPing(socket, test: rtt, live: live)) }
        wait(for: workers, test: test, start: start, live: live, bits: false)
        if cancellation.isCancelled { throw CancellationError() }
        let report = try expectResult(control, during: during)
        let outcome = slot.get() ?? NetWorker.RTTOutcome(error: "the worker did not report")
        if let error = outcome.error { throw NetworkProbeError.connectionLost(peer: peer, during: during, reason: error) }
        if let error = report.streams.first?.error { throw NetworkProbeError.connectionLost(peer: peer, during: during, reason: "the server reports: \(error)") }
        return NetworkRTTResult(
            messageSize: rtt.messageSize, interval: rtt.interval, seconds: outcome.seconds,
            roundTripsPerSecond: outcome.seconds > 0 ? Double(outcome.roundTrips) / outcome.seconds : 0,
            latency: outcome.recorder.summary)
    }

    // MARK: UDP

    private func runUDP(_ udp: NetworkProbe.UDPTest, direction: NetworkDirection, test: NetPlannedTest, control: NetSocket, server: NetAddress) throws -> NetworkUDPResult {
        let during = test.label
        let ready = try request(NetTestRequest(
            kind: .udp, direction: direction, streams: 1, duration: udp.duration, messageSize: udp.datagramSize, socketBufferSize: nil,
            interval: configuration.interval, bitsPerSecond: udp.bitsPerSecond, datagramSize: udp.datagramSize), control: control, during: during)
        guard let port = ready.udpPort, let cookie = UInt64(ready.cookie, radix: 16) else {
            throw NetworkProbeError.protocolMismatch(peer: peer, reason: "its UDP test has no port or cookie")
        }
        var target = server
        target.port = port
        let socket: NetSocket
        do {
            socket = NetSocket(fd: try factory.socket(family: target.family, type: Int32(SOCK_DGRAM.rawValue)), peer: target.description)
        } catch {
            throw NetworkProbeError.socket(address: "UDP", reason: "\(error)")
        }
        cancellation.register(socket)
        defer { release(socket) }
        guard target.withSockaddr({ Glibc.connect(socket.fd, $0, $1) }) == 0 else {
            throw NetworkProbeError.unreachable(peer: target.description, reason: "UDP connect: \(netErrorText(errno))")
        }
        let duration = netNanoseconds(udp.duration)
        let live = NetLiveCounter()
        let workers = NetWorkers()

        if direction == .clientToServer {
            try expectStart(control, during: during)
            let start = netNow()
            let slot = NetSlot<(NetSenderDone, String?)>()
            let cancellation = self.cancellation
            try workers.spawn {
                slot.set(NetWorker.udpSend(socket, cookie: cookie, datagramSize: udp.datagramSize, bitsPerSecond: udp.bitsPerSecond,
                                           start: start, duration: duration, live: live, cancellation: cancellation))
            }
            wait(for: workers, test: test, start: start, live: live, bits: true)
            if cancellation.isCancelled { throw CancellationError() }
            guard let (done, error) = slot.get() else { throw NetworkProbeError.connectionLost(peer: peer, during: during, reason: "the sender did not report") }
            if let error { throw NetworkProbeError.connectionLost(peer: peer, during: during, reason: error) }
            try send(.senderDone(done), on: control, during: during)
            let report = try expectResult(control, during: during)
            guard let r = report.udp, let distinct = r.distinct else {
                throw NetworkProbeError.protocolMismatch(peer: peer, reason: "its UDP result has no receiver counts")
            }
            let span = (r.firstArrival != nil && r.lastArrival != nil) ? r.lastArrival! - r.firstArrival! : 0
            return Self.udpResult(
                udp, direction: direction, measuredBy: .server, sent: done, distinct: distinct, duplicates: r.duplicates ?? 0,
                outOfOrder: r.outOfOrder ?? 0, jitterNanoseconds: r.jitterNanoseconds ?? 0, distinctBytes: r.distinctBytes ?? 0,
                seconds: span, buckets: report.receivedBuckets, interval: configuration.interval, end: r.lastArrival ?? 0)
        }

        // Server to client: say hello (so the server learns this socket's address, also through
        // NAT) until the server starts; receive until it is done and the stragglers are in.
        socket.growReceiveBuffer(8 << 20)
        let started = NetMoment()
        let cancellation = self.cancellation
        let greeter = NetWorkers()
        try greeter.spawn {
            let hello = NetWorker.payload(NetProtocol.udpHeader)
            defer { hello.deallocate() }
            NetWorker.writeHeader(hello, cookie: cookie, sequence: NetProtocol.udpHelloSequence, time: netNow())
            while started.load() == 0 && !cancellation.isCancelled {
                _ = Glibc.send(socket.fd, hello.baseAddress!, NetProtocol.udpHeader, Int32(MSG_NOSIGNAL))
                let next = netNow() + 100_000_000
                while started.load() == 0 && netNow() < next && !cancellation.isCancelled { netSleep(until: min(next, netNow() + 10_000_000)) }
            }
        }
        // The receiver runs before the start, so that it stamps the first datagrams as they come.
        let reference = netNow()
        let senderDone = NetMoment()
        let slot = NetSlot<NetWorker.UDPReceiveOutcome>()
        let interval = netNanoseconds(configuration.interval)
        try workers.spawn {
            slot.set(NetWorker.udpReceive(socket, cookie: cookie, reference: reference, interval: interval, senderDone: senderDone,
                                          hardDeadline: reference + duration + 120_000_000_000, live: live, cancellation: cancellation))
        }
        defer {
            started.set()
            greeter.wait()
            senderDone.set()
            workers.wait()
        }
        try expectStart(control, during: during)
        started.set()
        let report = try expectResult(control, during: during, sending: duration)
        senderDone.set()
        wait(for: workers, test: test, start: reference, live: live, bits: true)
        if cancellation.isCancelled { throw CancellationError() }
        guard let done = report.udp?.sent else { throw NetworkProbeError.protocolMismatch(peer: peer, reason: "its UDP result has no sender counts") }
        let outcome = slot.get() ?? NetWorker.UDPReceiveOutcome(error: "the receiver did not report")
        if let error = outcome.error { throw NetworkProbeError.connectionLost(peer: peer, during: during, reason: error) }
        let seconds = { (ns: UInt64?) in ns.map { Double($0 &- reference) / 1e9 } }
        let s = outcome.statistics
        let span = (outcome.first != nil && outcome.last != nil) ? Double(outcome.last! - outcome.first!) / 1e9 : 0
        return Self.udpResult(
            udp, direction: direction, measuredBy: .client, sent: done, distinct: s.distinct, duplicates: s.duplicates, outOfOrder: s.outOfOrder,
            jitterNanoseconds: s.jitter, distinctBytes: outcome.distinctBytes, seconds: span, buckets: outcome.buckets,
            interval: configuration.interval, end: seconds(outcome.last) ?? 0)
    }

    static func udpResult(_ udp: NetworkProbe.UDPTest, direction: NetworkDirection, measuredBy: NetworkEndpoint, sent: NetSenderDone,
                          distinct: UInt64, duplicates: UInt64, outOfOrder: UInt64, jitterNanoseconds: Double, distinctBytes: UInt64,
                          seconds: Double, buckets: [UInt64], interval: Double, end: Double) -> NetworkUDPResult {
        let lost = sent.packets > distinct ? sent.packets - distinct : 0
        return NetworkUDPResult(
            direction: direction, measuredBy: measuredBy, targetBitsPerSecond: udp.bitsPerSecond,
            sentBitsPerSecond: NetworkMath.bitsPerSecond(bytes: sent.bytes, seconds: sent.seconds), datagramSize: udp.datagramSize,
            duration: udp.duration, packetsSent: sent.packets, packetsReceived: distinct, packetsLost: lost,
            lossPercent: sent.packets > 0 ? Double(lost) / Double(sent.packets) * 100 : 0, duplicates: duplicates, outOfOrder: outOfOrder,
            jitterMicroseconds: jitterNanoseconds / 1000, bitsPerSecond: NetworkMath.bitsPerSecond(bytes: distinctBytes, seconds: seconds),
            seconds: seconds, intervals: NetworkMath.intervals(buckets: buckets, interval: interval, end: end))
    }
}
