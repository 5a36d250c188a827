// POSIX plumbing of the network probe: a monotonic clock, joinable threads, sockets (optionally
// created inside a network namespace), and the blocking I/O the probe's workers use.
//
// Every blocking call runs on a thread of the probe's own (never on Swift's cooperative pool,
// which has one thread per core here). Workers are stopped by `shutdown(2)` on their sockets, which
// wakes a blocked `recv`, `send` or `accept`; a socket is closed only by its owner, after its
// workers have been joined, so a descriptor number is never reused under a running worker.
import Foundation
import Synchronization

import Glibc

// MARK: - Clock

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always)
func netNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Sleeps until the monotonic clock reaches `deadline` (nanoseconds), or returns at once.
func netSleep(until deadline: UInt64) {
    var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

/// Seconds (a configuration value) to nanoseconds, saturating.
func netNanoseconds(_ seconds: Double) -> UInt64 {
    guard seconds > 0 else { return 0 }
    let ns = seconds * 1e9
    return ns >= 1.8e19 ? UInt64.max / 2 : UInt64(ns)
}

func netErrorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

// MARK: - Threads

/// A joinable POSIX thread running a closure.
final class NetThread: @unchecked Sendable {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private var handle = pthread_t()
    private let joined = Atomic<Bool>(false)

    /// Starts `body` on a new thread. Fails only if the system refuses a thread.
    init(_ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let status = pthread_create(&handle, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard status == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw NetIOError.system("pthread_create", status)
        }
    }

    /// Waits for the thread to finish (once; later calls return at once).
    func join() {
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_join(handle, nil)
    }

    /// Lets the thread finish on its own.
    func detach() {
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_detach(handle)
    }

    deinit { detach() }
}

/// Runs blocking work on a thread of its own and awaits its result.
func netRunBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        do {
            let thread = try NetThread {
                continuation.resume(with: Result { try body() })
            }
            thread.detach()
        } catch {
            continuation.resume(throwing: error)
        }
    }
}

/// Workers run on threads of their own; the owner waits for all of them, waking every `tick`
/// nanoseconds to report progress.
final class NetWorkers: @unchecked Sendable {
    private let condition = NSCondition()
    private var running = 0
    private var threads: [NetThread] = []

    func spawn(_ body: @escaping @Sendable () -> Void) throws {
        condition.lock()
        running += 1
        condition.unlock()
        do {
            let thread = try NetThread { [self] in
                body()
                condition.lock()
                running -= 1
                condition.broadcast()
                condition.unlock()
            }
            threads.append(thread)
        } catch {
            condition.lock()
            running -= 1
            condition.unlock()
            throw error
        }
    }

    /// Waits until every worker has returned, calling `onTick` every `tick` nanoseconds meanwhile.
    func wait(tick: UInt64 = 0, onTick: () -> Void = {}) {
        condition.lock()
        var nextTick = tick > 0 ? netNow() + tick : UInt64.max
        while running > 0 {
            if tick == 0 {
                condition.wait()
                continue
            }
            let now = netNow()
            if now >= nextTick {
                condition.unlock()
                onTick()
                condition.lock()
                nextTick += tick
                if nextTick < now { nextTick = now + tick }
                continue
            }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(nextTick - now) / 1e9))
        }
        condition.unlock()
        for thread in threads { thread.join() }
        threads.removeAll()
    }
}

/// A flag set once to stop everything, with the sockets to shut down when it is.
///
/// Shutting a socket down does not stop a receiver by itself: Linux keeps accepting data after
/// `shutdown(SHUT_RD)`, so a reader whose peer keeps sending would read on. The data loops check
/// `isCancelled` (one relaxed atomic load) after every call.
final class NetCancellation: @unchecked Sendable {
    private let state = Mutex<(cancelled: Bool, sockets: [ObjectIdentifier: NetSocket])>((false, [:]))
    private let flag = Atomic<Bool>(false)

    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Shuts down every registered socket (now and later ones at registration).
    func cancel() {
        flag.store(true, ordering: .relaxed)
        let sockets = state.withLock { state -> [NetSocket] in
            state.cancelled = true
            return Array(state.sockets.values)
        }
        for socket in sockets { socket.shutdown() }
    }

    func register(_ socket: NetSocket) {
        let cancelled = state.withLock { state -> Bool in
            state.sockets[ObjectIdentifier(socket)] = socket
            return state.cancelled
        }
        if cancelled { socket.shutdown() }
    }

    func unregister(_ socket: NetSocket) {
        _ = state.withLock { $0.sockets.removeValue(forKey: ObjectIdentifier(socket)) }
    }
}

// MARK: - Errors of the plumbing

/// What a system call or the wire did wrong; turned into a `NetworkProbeError` naming the peer
/// and the phase by the caller.
enum NetIOError: Error, CustomStringConvertible {
    case system(String, Int32)
    case timedOut
    case closed
    case garbage(String)

    var description: String {
        switch self {
        case .system(let call, let code): "\(call): \(netErrorText(code))"
        case .timedOut: "timed out"
        case .closed: "the connection was closed by the peer"
        case .garbage(let what): what
        }
    }
}

// MARK: - Addresses

/// A socket address (IPv4 or IPv6).
struct NetAddress: Sendable, CustomStringConvertible {
    var storage = sockaddr_storage()
    var length = socklen_t(0)

    var family: Int32 { Int32(storage.ss_family) }

    var port: UInt16 {
        get {
            withUnsafeBytes(of: storage) { raw in
                family == AF_INET6
                    ? UInt16(bigEndian: raw.load(fromByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_port)!, as: UInt16.self))
                    : UInt16(bigEndian: raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!, as: UInt16.self))
            }
        }
        set {
            let offset = family == AF_INET6
                ? MemoryLayout<sockaddr_in6>.offset(of: \.sin6_port)! : MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue.bigEndian, toByteOffset: offset, as: UInt16.self) }
        }
    }

    /// The numeric host, without brackets.
    var host: String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let status = withUnsafePointer(to: storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard status == 0 else { return "?" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// "host:port", with brackets around an IPv6 host.
    var description: String { NetAddress.describe(host: host, port: port) }

    static func describe(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Every address of `host` (a name or a numeric address; nil: the wildcard) for `port`.
    static func resolve(_ host: String?, port: UInt16, passive: Bool = false) throws -> [NetAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        var status = getaddrinfo(host, String(port), &hints, &list)
        if status != 0 && !passive {
            // AI_ADDRCONFIG hides ::1 and 127.0.0.1 in a namespace whose only interface is loopback.
            hints.ai_flags = passive ? AI_PASSIVE : 0
            status = getaddrinfo(host, String(port), &hints, &list)
        }
        guard status == 0, let first = list else {
            throw NetIOError.garbage(String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var result: [NetAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let address = info.pointee.ai_addr, info.pointee.ai_family == AF_INET || info.pointee.ai_family == AF_INET6 {
                var entry = NetAddress()
                entry.length = info.pointee.ai_addrlen
                withUnsafeMutableBytes(of: &entry.storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(info.pointee.ai_addrlen)))
                }
                result.append(entry)
            }
            cursor = info.pointee.ai_next
        }
        return result
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}

// MARK: - Sockets

/// Creates sockets, inside a network namespace when one is named (a file such as
/// `/run/netns/NAME`, as `ip netns add` makes): a thread of its own enters the namespace
/// (`setns(2)`, which affects only the calling thread), creates the socket and ends. A socket
/// belongs to the namespace it was created in for the rest of its life, whichever thread uses it.
struct NetSocketFactory: Sendable {
    var networkNamespace: String?

    func socket(family: Int32, type: Int32) throws -> Int32 {
        let kind = type | Int32(SOCK_CLOEXEC.rawValue)
        guard let path = networkNamespace else {
            let fd = Glibc.socket(family, kind, 0)
            guard fd >= 0 else { throw NetIOError.system("socket", errno) }
            return fd
        }
        let result = Mutex<Result<Int32, NetIOError>>(.failure(.garbage("not run")))
        let thread = try NetThread {
            result.withLock { $0 = NetSocketFactory.socketInNamespace(path: path, family: family, type: kind) }
        }
        thread.join()
        return try result.withLock { $0 }.get()
    }

    private typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    private static let cloneNewNet: Int32 = 0x4000_0000

    private static func socketInNamespace(path: String, family: Int32, type: Int32) -> Result<Int32, NetIOError> {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
            return .failure(.garbage("setns(2) is not available in this C library"))
        }
        let nsfd = open(path, O_RDONLY | O_CLOEXEC)
        guard nsfd >= 0 else { return .failure(.system("open \(path)", errno)) }
        defer { close(nsfd) }
        guard unsafeBitCast(symbol, to: SetNS.self)(nsfd, cloneNewNet) == 0 else {
            return .failure(.system("setns \(path)", errno))
        }
        let fd = Glibc.socket(family, type, 0)
        guard fd >= 0 else { return .failure(.system("socket", errno)) }
        return .success(fd)
    }

    /// A TCP connection to the first address of `addresses` that answers within `timeout` each.
    func connect(to addresses: [NetAddress], timeout: UInt64, cancellation: NetCancellation? = nil) throws -> NetSocket {
        var lastError = NetIOError.garbage("no address")
        for address in addresses {
            let fd = try socket(family: address.family, type: Int32(SOCK_STREAM.rawValue))
            let socket = NetSocket(fd: fd, peer: address.description)
            cancellation?.register(socket)
            do {
                try socket.connect(address, timeout: timeout)
                cancellation?.unregister(socket)
                return socket
            } catch let error as NetIOError {
                cancellation?.unregister(socket)
                socket.close()
                lastError = error
            }
        }
        throw lastError
    }
}

/// A socket descriptor with its peer's name. `shutdown` may be called from any thread at any
/// time; `close` only by the owner once no thread uses the socket.
final class NetSocket: @unchecked Sendable {
    let fd: Int32
    let peer: String
    private let open = Mutex(true)

    init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
    }

    deinit { close() }

    func close() {
        open.withLock { open in
            if open {
                open = false
                _ = Glibc.close(fd)
            }
        }
    }

    func shutdown(_ how: Int32 = Int32(SHUT_RDWR)) {
        open.withLock { open in
            if open { _ = Glibc.shutdown(fd, how) }
        }
    }

    // MARK: options

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) throws {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw NetIOError.system("setsockopt(\(name))", errno)
        }
    }

    func intOption(_ level: Int32, _ name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) == 0 ? value : nil
    }

    func setNoDelay() throws { try setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1) }

    /// Sets both socket buffers (which turns off the kernel's autotuning of them).
    func setBufferSizes(_ bytes: Int) throws {
        let value = Int32(clamping: bytes)
        try setOption(SOL_SOCKET, SO_SNDBUF, value)
        try setOption(SOL_SOCKET, SO_RCVBUF, value)
    }

    /// Asks for a large receive buffer: beyond net.core.rmem_max when allowed (CAP_NET_ADMIN).
    func growReceiveBuffer(_ bytes: Int) {
        let value = Int32(clamping: bytes)
        if (try? setOption(SOL_SOCKET, SO_RCVBUFFORCE, value)) == nil {
            try? setOption(SOL_SOCKET, SO_RCVBUF, value)
        }
    }

    /// A timeout on blocking receives and sends (0: none), so that a peer that vanishes without a
    /// word (a cut link) cannot hold a worker for the kernel's retransmission timeout.
    func setTimeouts(_ nanoseconds: UInt64) throws {
        var tv = timeval(tv_sec: Int(nanoseconds / 1_000_000_000), tv_usec: Int(nanoseconds % 1_000_000_000 / 1000))
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            guard setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw NetIOError.system("setsockopt(\(option))", errno)
            }
        }
    }

    /// The receive timeout `setTimeouts` set, in nanoseconds (0: none).
    var receiveTimeout: UInt64 {
        var tv = timeval()
        var length = socklen_t(MemoryLayout<timeval>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &length) == 0 else { return 0 }
        return UInt64(max(tv.tv_sec, 0)) * 1_000_000_000 + UInt64(max(tv.tv_usec, 0)) * 1000
    }

    /// Segments the kernel retransmitted on this TCP connection (TCP_INFO), if it tells.
    var retransmits: UInt64? {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return nil }
        return UInt64(info.tcpi_total_retrans)
    }

    var localAddress: NetAddress? {
        var address = NetAddress()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &address.length) }
        }
        return status == 0 ? address : nil
    }

    var peerAddress: NetAddress? {
        var address = NetAddress()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &address.length) }
        }
        return status == 0 ? address : nil
    }

    // MARK: connecting

    /// A non-blocking connect bounded by `timeout` nanoseconds; the socket is blocking afterwards.
    func connect(_ address: NetAddress, timeout: UInt64) throws {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        let status = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if status == 0 { return }
        guard errno == EINPROGRESS || errno == EINTR else { throw NetIOError.system("connect", errno) }
        let deadline = netNow() + timeout
        while true {
            let now = netNow()
            guard now < deadline else { throw NetIOError.timedOut }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, Int32(min((deadline - now) / 1_000_000 + 1, 60_000)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw NetIOError.system("poll", errno)
            }
            if ready == 0 { continue }
            break
        }
        guard let code = intOption(SOL_SOCKET, SO_ERROR) else { throw NetIOError.system("getsockopt(SO_ERROR)", errno) }
        guard code == 0 else { throw NetIOError.system("connect", code) }
    }

    // MARK: I/O

    /// Sends every byte (blocking).
    func sendAll(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let sent = Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                throw NetIOError.system("send", errno)
            }
            offset += sent
        }
    }

    /// Waits until the socket is readable or `deadline` (monotonic nanoseconds; 0: forever) passes.
    func waitReadable(deadline: UInt64) throws {
        guard deadline > 0 else { return }
        while true {
            let now = netNow()
            guard now < deadline else { throw NetIOError.timedOut }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(min((deadline - now) / 1_000_000 + 1, 60_000)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw NetIOError.system("poll", errno) }
        }
    }

    /// Reads exactly `buffer.count` bytes. Returns false if the peer closed before the first one.
    @discardableResult
    func receiveExactly(_ buffer: UnsafeMutableRawBufferPointer, deadline: UInt64) throws -> Bool {
        var offset = 0
        while offset < buffer.count {
            try waitReadable(deadline: deadline)
            let count = Glibc.recv(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw NetIOError.timedOut }
                throw NetIOError.system("recv", errno)
            }
            if count == 0 {
                if offset == 0 { return false }
                throw NetIOError.closed
            }
            offset += count
        }
        return true
    }
}

/// accept4(2) with SOCK_CLOEXEC (looked up at run time: Swift's Glibc module does not import it),
/// else accept(2) and FD_CLOEXEC.
func netAccept(_ listener: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>) -> Int32 {
    typealias Accept4 = @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32
    if let symbol = netAccept4 {
        return unsafeBitCast(symbol, to: Accept4.self)(listener, address, length, Int32(SOCK_CLOEXEC.rawValue))
    }
    let fd = accept(listener, address, length)
    if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return fd
}

private nonisolated(unsafe) let netAccept4 = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "accept4")

/// Binds a socket of `type` to `address` (SO_REUSEADDR; an IPv6 wildcard also takes IPv4).
func netBind(_ factory: NetSocketFactory, _ address: NetAddress, type: Int32) throws -> NetSocket {
    let fd = try factory.socket(family: address.family, type: type)
    let socket = NetSocket(fd: fd, peer: address.description)
    do {
        try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        if address.family == AF_INET6 { try? socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else { throw NetIOError.system("bind", errno) }
    } catch {
        socket.close()
        throw error
    }
    return socket
}
