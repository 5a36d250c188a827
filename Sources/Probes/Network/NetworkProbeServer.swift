// The network probe's server side (`nodeagent burnin net-server`): listens on one TCP port and
// serves one client's tests at a time. Protocol: NetworkControlProtocol.swift.
import Foundation
import Synchronization
import Glibc

/// A network probe server. Creating one binds and listens at once (so the port is known and a
/// client may connect right away); `run()` serves until its task is cancelled.
///
/// It serves one client at a time: a second client that connects while a run is in progress is
/// refused with a message naming the client being served (`NetworkProbeError.busy`).
public struct NetworkProbeServer: Sendable {
    /// The default TCP (and UDP) port, next to iperf3's 5201.
    public static let defaultPort: UInt16 = 5301

    /// Where and how to listen.
    public struct Configuration: Sendable, Codable, Equatable {
        /// Address to listen on (a name or numeric address); nil: every address, IPv6 and IPv4.
        public var host: String?
        /// TCP port; 0 picks a free one (see `NetworkProbeServer.port`).
        public var port: UInt16
        /// Most parallel streams per direction a client may ask for.
        public var maximumStreams: Int
        /// Longest test in seconds a client may ask for.
        public var maximumDuration: Double
        /// A network namespace to open the server's sockets in (a file such as `/run/netns/NAME`);
        /// nil: the process's own. Needs CAP_SYS_ADMIN.
        public var networkNamespace: String?

        public init(host: String? = nil, port: UInt16 = NetworkProbeServer.defaultPort, maximumStreams: Int = 128,
                    maximumDuration: Double = 3600, networkNamespace: String? = nil) {
            self.host = host
            self.port = port
            self.maximumStreams = maximumStreams
            self.maximumDuration = maximumDuration
            self.networkNamespace = networkNamespace
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            self.init(
                host: try c.decodeIfPresent(String.self, forKey: .host),
                port: try c.decodeIfPresent(UInt16.self, forKey: .port) ?? d.port,
                maximumStreams: try c.decodeIfPresent(Int.self, forKey: .maximumStreams) ?? d.maximumStreams,
                maximumDuration: try c.decodeIfPresent(Double.self, forKey: .maximumDuration) ?? d.maximumDuration,
                networkNamespace: try c.decodeIfPresent(String.self, forKey: .networkNamespace))
        }
    }

    private let core: NetServerCore

    /// Binds and listens. Throws `NetworkProbeError.socket` (address in use, no such address,
    /// namespace not found, ...) or `.resolution`.
    public init(configuration: Configuration = Configuration()) throws {
        core = try NetServerCore(configuration: configuration)
    }

    /// The TCP port listened on (the one picked when configured with 0).
    public var port: UInt16 { core.boundAddress.port }

    /// The address listened on, "host:port" ("[::]:5301" for every address).
    public var address: String { core.boundAddress.description }

    /// Serves clients until the calling task is cancelled, then stops every test in progress,
    /// closes the listening socket and returns. `log` receives one line per event (a client
    /// connected, a test and its result, a refusal). A server runs once.
    public func run(log: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        let core = self.core
        try await withTaskCancellationHandler {
            try await netRunBlocking { try core.serve(log: log) }
        } onCancel: {
            core.stop()
        }
    }
}

/// The server's state and threads.
final class NetServerCore: @unchecked Sendable {
    let configuration: NetworkProbeServer.Configuration
    let factory: NetSocketFactory
    let listener: NetSocket
    let boundAddress: NetAddress
    let cancellation = NetCancellation()

    /// Guards everything below.
    private let condition = NSCondition()
    private var activeClient: String?
    private var pending: Pending?
    private var connections = 0
    private var served = false

    /// A test waiting for its data connections.
    private struct Pending {
        var cookie: String
        var expected: [NetStreamRole: Int]
        var arrived: [(hello: NetStreamHello, socket: NetSocket)] = []
        var total: Int { expected.values.reduce(0, +) }
    }

    init(configuration: NetworkProbeServer.Configuration) throws {
        self.configuration = configuration
        factory = NetSocketFactory(networkNamespace: configuration.networkNamespace)
        let label = NetAddress.describe(host: configuration.host ?? "*", port: configuration.port)
        var candidates: [NetAddress]
        do {
            candidates = try NetAddress.resolve(configuration.host ?? "::", port: configuration.port, passive: true)
            if configuration.host == nil {
                candidates += try NetAddress.resolve("0.0.0.0", port: configuration.port, passive: true)
            }
        } catch {
            throw NetworkProbeError.resolution(host: configuration.host ?? "*", reason: "\(error)")
        }
        var lastError: any Error = NetIOError.garbage("no address")
        for address in candidates {
            do {
                let socket = try netBind(factory, address, type: Int32(SOCK_STREAM.rawValue))
                guard Glibc.listen(socket.fd, 128) == 0 else {
                    let code = errno
                    socket.close()
                    throw NetIOError.system("listen", code)
                }
                listener = socket
                boundAddress = socket.localAddress ?? address
                return
            } catch {
                lastError = error
            }
        }
        throw NetworkProbeError.socket(address: label, reason: "\(lastError)")
    }

    func stop() {
        cancellation.cancel()
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    // MARK: accepting

    func serve(log: @escaping @Sendable (String) -> Void) throws {
        condition.lock()
        guard !served else {
            condition.unlock()
            throw NetworkProbeError.socket(address: boundAddress.description, reason: "this server has already run")
        }
        served = true
        condition.unlock()
        cancellation.register(listener)
        defer {
            cancellation.unregister(listener)
            listener.close()
        }
        log("listening on \(boundAddress)")
        while !cancellation.isCancelled {
            var address = NetAddress()
            address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    netAccept(listener.fd, $0, &address.length)
                }
            }
            if fd < 0 {
                let code = errno
                if cancellation.isCancelled { break }
                switch code {
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    log("accept: \(netErrorText(code)); retrying")
                    netSleep(until: netNow() + 100_000_000)
                    continue
                default:
                    throw NetworkProbeError.socket(address: boundAddress.description, reason: "accept: \(netErrorText(code))")
                }
            }
            let socket = NetSocket(fd: fd, peer: address.description)
            condition.lock()
            connections += 1
            condition.unlock()
            do {
                let thread = try NetThread { [self] in
                    handle(socket, log: log)
                    condition.lock()
                    connections -= 1
                    condition.broadcast()
                    condition.unlock()
                }
                thread.detach()
            } catch {
                condition.lock()
                connections -= 1
                condition.unlock()
                socket.close()
                log("\(socket.peer): cannot start a thread: \(error)")
            }
        }
        // Stopped: every connection's socket has been shut down; wait for their threads.
        condition.lock()
        while connections > 0 { condition.wait() }
        condition.unlock()
        log("stopped")
    }

    private func refuse(_ socket: NetSocket, _ reason: NetRefusal.Reason, _ message: String) {
        try? socket.send(.refused(NetRefusal(reason: reason, message: message, version: NetProtocol.version)))
    }

    /// A new connection: read its first frame and act on it.
    private func handle(_ socket: NetSocket, log: @escaping @Sendable (String) -> Void) {
        cancellation.register(socket)
        var handedOver = false
        defer {
            if !handedOver {
                cancellation.unregister(socket)
                socket.close()
            }
        }
        let frame: NetFrame?
        do {
            frame = try socket.receiveFrame(deadline: netNow() + NetProtocol.handshakeTimeout, maximum: NetProtocol.maximumFirstFrame)
        } catch NetIOError.garbage(let what) {
            log("\(socket.peer): not a network probe client (\(what))")
            refuse(socket, .protocol, "this is a nodeagent network probe server (protocol \(NetProtocol.name) version \(NetProtocol.version))")
            return
        } catch {
            log("\(socket.peer): no hello: \(error)")
            return
        }
        switch frame {
        case nil:
            return
        case .hello(let hello)?:
            guard hello.protocol == NetProtocol.name else {
                refuse(socket, .protocol, "expected protocol \(NetProtocol.name), got \(hello.protocol)")
                return
            }
            guard hello.version == NetProtocol.version else {
                log("\(socket.peer): refused: it speaks protocol version \(hello.version), this server \(NetProtocol.version)")
                refuse(socket, .version, "this server speaks protocol version \(NetProtocol.version), the client \(hello.version)")
                return
            }
            condition.lock()
            if let active = activeClient {
                condition.unlock()
                log("\(socket.peer): refused: busy with \(active)")
                refuse(socket, .busy, "a test for \(active) is running; this server runs one test at a time")
                return
            }
            activeClient = socket.peer
            condition.unlock()
            log("\(socket.peer): connected (\(hello.software))")
            var ending = "done"
            do {
                try serveSession(socket, log: log)
            } catch {
                ending = "session ended: \(error)"
            }
            // Free the server before saying so.
            condition.lock()
            activeClient = nil
            let leftovers = pending?.arrived ?? []
            pending = nil
            condition.unlock()
            for (_, stray) in leftovers {
                cancellation.unregister(stray)
                stray.close()
            }
            log("\(socket.peer): \(ending)")
        case .stream(let hello)?:
            condition.lock()
            if var test = pending, test.cookie == hello.cookie,
               hello.index >= 0, hello.index < test.expected[hello.role, default: 0],
               !test.arrived.contains(where: { $0.hello.role == hello.role && $0.hello.index == hello.index }) {
                test.arrived.append((hello, socket))
                pending = test
                handedOver = true
                condition.broadcast()
            }
            condition.unlock()
            if !handedOver {
                refuse(socket, .invalid, "no test is waiting for this data connection")
            }
        case let other?:
            refuse(socket, .protocol, "a connection must start with hello or stream, not \(other.name)")
        }
    }

    // MARK: a client's session

    private func serveSession(_ control: NetSocket, log: @escaping @Sendable (String) -> Void) throws {
        try control.send(.welcome(NetWelcome(protocol: NetProtocol.name, version: NetProtocol.version, software: NetProtocol.name)))
        while true {
            guard let frame = try control.receiveFrame(deadline: netNow() + NetProtocol.idleTimeout) else { return }
            switch frame {
            case .bye:
                return
            case .request(let request):
                if let problem = check(request) {
                    log("\(control.peer): refused a test: \(problem)")
                    try control.send(.refused(NetRefusal(reason: .limits, message: problem, version: NetProtocol.version)))
                    continue
                }
                log("\(control.peer): \(describe(request))")
                do {
                    switch request.kind {
                    case .tcp, .rtt: try runStreams(request, control: control, log: log)
                    case .udp: try runUDP(request, control: control, log: log)
                    }
                } catch let failure as NetTestFailure {
                    log("\(control.peer): test failed: \(failure.reason)")
                    try control.send(.failed(failure.reason))
                }
            default:
                try? control.send(.failed("unexpected \(frame.name) frame between tests"))
                return
            }
        }
    }

    private func describe(_ request: NetTestRequest) -> String {
        switch request.kind {
        case .tcp: "tcp \(request.streams) stream(s) \(request.direction) for \(request.duration) s"
        case .rtt: "rtt for \(request.duration) s"
        case .udp: "udp \(request.direction) at \(request.bitsPerSecond ?? 0) bit/s for \(request.duration) s"
        }
    }

    private func check(_ request: NetTestRequest) -> String? {
        if request.streams < 1 || request.streams > configuration.maximumStreams {
            return "\(request.streams) streams asked for; this server allows 1...\(configuration.maximumStreams)"
        }
        if !(request.duration > 0) || request.duration > configuration.maximumDuration {
            return "a \(request.duration) s test asked for; this server allows up to \(configuration.maximumDuration) s"
        }
        if request.messageSize < 1 || request.messageSize > 16 << 20 { return "message size \(request.messageSize) out of range" }
        if !(request.interval >= 0.01) { return "interval \(request.interval) s is too short" }
        if let spin = request.receiveSpinMicroseconds, !(0...NetworkProbe.maximumReceiveSpinMicroseconds).contains(spin) {
            return "a receive spin of \(spin) µs asked for; this server allows 0...\(NetworkProbe.maximumReceiveSpinMicroseconds)"
        }
        if request.kind == .udp {
            guard let rate = request.bitsPerSecond, rate >= 1000, rate <= 1e12,
                  let size = request.datagramSize, (32...65507).contains(size), request.direction != .bidirectional else {
                return "invalid UDP parameters"
            }
        }
        return nil
    }

    private static func cookie() -> String {
        String(format: "%016llx%016llx", UInt64.random(in: 0...UInt64.max), UInt64.random(in: 0...UInt64.max))
    }

    /// A TCP throughput or RTT test.
    private func runStreams(_ request: NetTestRequest, control: NetSocket, log: @escaping @Sendable (String) -> Void) throws {
        let cookie = Self.cookie()
        var expected: [NetStreamRole: Int] = [:]
        switch (request.kind, request.direction) {
        case (.rtt, _): expected[.echo] = 1
        case (_, .clientToServer): expected[.upload] = request.streams
        case (_, .serverToClient): expected[.download] = request.streams
        case (_, .bidirectional):
            expected[.upload] = request.streams
            expected[.download] = request.streams
        }
        condition.lock()
        pending = Pending(cookie: cookie, expected: expected)
        condition.unlock()
        try control.send(.ready(NetReady(cookie: cookie, udpPort: nil)))

        // Wait for every data connection.
        let deadline = Date(timeIntervalSinceNow: Double(NetProtocol.handshakeTimeout) / 1e9)
        condition.lock()
        while let test = pending, test.arrived.count < test.total, !cancellation.isCancelled {
            if !condition.wait(until: deadline) { break }
        }
        let test = pending!
        pending = nil
        condition.unlock()
        let sockets = test.arrived
        defer {
            for (_, socket) in sockets {
                cancellation.unregister(socket)
                socket.close()
            }
        }
        guard sockets.count == test.total else {
            throw NetTestFailure(reason: "only \(sockets.count) of \(test.total) data connections arrived within \(NetProtocol.handshakeTimeout / 1_000_000_000) s")
        }
        for (hello, socket) in sockets {
            if hello.role == .echo { try? socket.setNoDelay() }
            if let size = request.socketBufferSize { try? socket.setBufferSizes(size) }
            try? socket.setTimeouts(netNanoseconds(request.duration) + 60_000_000_000)
        }

        try control.send(.start)
        let reference = netNow()
        let live = NetLiveCounter()
        let workers = NetWorkers()
        var slots: [(NetStreamHello, NetSlot<NetStreamOutcome>)] = []
        let interval = netNanoseconds(request.interval)
        let sendDeadline = reference + netNanoseconds(request.duration)
        let size = request.messageSize
        let spin = UInt64(request.receiveSpinMicroseconds ?? NetworkProbe.defaultReceiveSpinMicroseconds) * 1000
        let cancellation = self.cancellation
        for (hello, socket) in sockets {
            let slot = NetSlot<NetStreamOutcome>()
            slots.append((hello, slot))
            try workers.spawn {
                switch hello.role {
                case .upload:
                    slot.set(NetWorker.tcpReceive(socket, bufferSize: size, spin: spin, reference: reference, interval: interval, live: live,
                                                  cancellation: cancellation))
                case .download:
                    slot.set(NetWorker.tcpSend(socket, messageSize: size, deadline: sendDeadline, drainTimeout: 60_000_000_000, live: live,
                                               cancellation: cancellation))
                case .echo:
                    slot.set(NetWorker.rttEcho(socket, cancellation: cancellation))
                }
            }
        }
        workers.wait()
        if cancellation.isCancelled { throw NetTestFailure(reason: "the server is stopping") }

        let seconds = { (ns: UInt64?) in ns.map { Double($0 &- reference) / 1e9 } }
        var reports: [NetStreamReport] = []
        var buckets: [[UInt64]] = []
        for (hello, slot) in slots {
            let outcome = slot.get() ?? NetStreamOutcome(error: "the worker did not report")
            reports.append(NetStreamReport(
                role: hello.role, index: hello.index, bytesSent: outcome.bytesSent, bytesReceived: outcome.bytesReceived,
                firstByte: seconds(outcome.firstByte), lastByte: seconds(outcome.lastByte), retransmits: outcome.retransmits,
                error: outcome.error))
            if hello.role == .upload { buckets.append(outcome.buckets) }
        }
        reports.sort { ($0.role.rawValue, $0.index) < ($1.role.rawValue, $1.index) }
        let received = reports.filter { $0.role == .upload }.reduce(0) { $0 + $1.bytesReceived }
        log("\(control.peer): received \(received) bytes, sent \(reports.filter { $0.role == .download }.reduce(0) { $0 + $1.bytesSent })")
        try control.send(.result(NetServerReport(streams: reports, receivedBuckets: NetworkMath.sumBuckets(buckets), udp: nil)))
    }

    /// A UDP test.
    private func runUDP(_ request: NetTestRequest, control: NetSocket, log: @escaping @Sendable (String) -> Void) throws {
        guard var local = control.localAddress else { throw NetTestFailure(reason: "getsockname failed on the control connection") }
        local.port = boundAddress.port
        let udp: NetSocket
        do {
            udp = try netBind(factory, local, type: Int32(SOCK_DGRAM.rawValue))
        } catch {
            local.port = 0
            do {
                udp = try netBind(factory, local, type: Int32(SOCK_DGRAM.rawValue))
            } catch {
                throw NetTestFailure(reason: "cannot bind a UDP socket on \(local.host): \(error)")
            }
        }
        cancellation.register(udp)
        defer {
            cancellation.unregister(udp)
            udp.close()
        }
        udp.growReceiveBuffer(8 << 20)
        let cookieValue = UInt64.random(in: 1...UInt64.max)
        let cookie = String(cookieValue, radix: 16)
        let port = udp.localAddress?.port ?? local.port
        try control.send(.ready(NetReady(cookie: cookie, udpPort: port)))
        let size = request.datagramSize ?? 1400
        let rate = request.bitsPerSecond ?? 1e8
        let duration = netNanoseconds(request.duration)

        if request.direction == .clientToServer {
            // The receiver runs before the start, so that it stamps the first datagrams as they come.
            let senderDone = NetMoment()
            let reference = netNow()
            let workers = NetWorkers()
            let slot = NetSlot<NetWorker.UDPReceiveOutcome>()
            let interval = netNanoseconds(request.interval)
            let live = NetLiveCounter()
            let cancellation = self.cancellation
            try workers.spawn {
                slot.set(NetWorker.udpReceive(udp, cookie: cookieValue, reference: reference, interval: interval, senderDone: senderDone,
                                              hardDeadline: reference + duration + 120_000_000_000, live: live, cancellation: cancellation))
            }
            defer {
                senderDone.set()
                workers.wait()
            }
            try control.send(.start)
            let frame = try control.receiveFrame(deadline: netNow() + duration + 60_000_000_000)
            guard case .senderDone = frame else {
                throw NetTestFailure(reason: "expected senderDone, got \(frame?.name ?? "the end of the connection")")
            }
            senderDone.set()
            workers.wait()
            let outcome = slot.get() ?? NetWorker.UDPReceiveOutcome(error: "the receiver did not report")
            if let error = outcome.error { throw NetTestFailure(reason: "UDP receiver: \(error)") }
            let s = outcome.statistics
            let seconds = { (ns: UInt64?) in ns.map { Double($0 &- reference) / 1e9 } }
            log("\(control.peer): udp received \(s.distinct) datagrams, \(s.duplicates) duplicates, \(s.outOfOrder) out of order")
            try control.send(.result(NetServerReport(streams: [], receivedBuckets: outcome.buckets, udp: NetUDPReport(
                received: s.received, distinct: s.distinct, duplicates: s.duplicates, outOfOrder: s.outOfOrder,
                jitterNanoseconds: s.jitter, distinctBytes: outcome.distinctBytes,
                firstArrival: seconds(outcome.first), lastArrival: seconds(outcome.last), sent: nil))))
        } else {
            // Learn the client's UDP address from its hello datagrams, then send to it.
            let deadline = netNow() + NetProtocol.handshakeTimeout
            var buffer = [UInt8](repeating: 0, count: 2048)
            var found = false
            while !found && !cancellation.isCancelled {
                do { try udp.waitReadable(deadline: deadline) } catch { break }
                var from = NetAddress()
                from.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let count = withUnsafeMutablePointer(to: &from.storage) { address in
                    address.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udp.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT), $0, &from.length) }
                }
                if count < 0 && cancellation.isCancelled { break }
                guard count >= NetProtocol.udpHeader else { continue }
                let header = buffer.withUnsafeBytes { (UInt64(bigEndian: $0.load(fromByteOffset: 0, as: UInt64.self)), UInt64(bigEndian: $0.load(fromByteOffset: 8, as: UInt64.self))) }
                guard header.0 == cookieValue, header.1 == NetProtocol.udpHelloSequence else { continue }
                guard from.withSockaddr({ Glibc.connect(udp.fd, $0, $1) }) == 0 else {
                    throw NetTestFailure(reason: "cannot connect the UDP socket to \(from): \(netErrorText(errno))")
                }
                found = true
            }
            guard found else {
                throw NetTestFailure(reason: "no UDP hello from the client within \(NetProtocol.handshakeTimeout / 1_000_000_000) s (is UDP to port \(port) blocked?)")
            }
            try control.send(.start)
            let start = netNow()
            let (done, error) = NetWorker.udpSend(udp, cookie: cookieValue, datagramSize: size, bitsPerSecond: rate, start: start, duration: duration,
                                                  live: NetLiveCounter(), cancellation: cancellation)
            if let error { throw NetTestFailure(reason: "UDP sender: \(error)") }
            log("\(control.peer): udp sent \(done.packets) datagrams")
            try control.send(.result(NetServerReport(streams: [], receivedBuckets: [], udp: NetUDPReport(sent: done))))
        }
    }
}

/// A test that failed in a way the client should hear about (sent as `failed`).
struct NetTestFailure: Error {
    var reason: String
}
