import CLibvirt
import Dispatch
import Foundation
import Synchronization

/// A connection to a libvirt driver (`test:///default`, `qemu:///system`,
/// `qemu+unix:///system?socket=...`, ...) that stays usable across daemon restarts.
///
/// Every libvirt call runs on a dispatch queue of its own, never on Swift's cooperative pool,
/// and is bounded by `ConnectionOptions.callTimeout`. When the daemon goes away (close callback,
/// keepalive, or a failed call on a dead socket) the connection reports `.disconnected`, callers
/// get `LibvirtError` with kind `.notConnected` at once, and it is reopened in the background
/// with exponential backoff; domain-event callbacks are registered again on every open.
public final class Connection: Sendable {
    /// The URI this connection opens.
    public let uri: String
    public let options: ConnectionOptions

    private let state = Mutex(State())
    let queue = DispatchQueue(label: "libvirt.calls", attributes: .concurrent)
    /// The call timeouts (`ConnectionOptions.callTimeout`) of the calls in flight.
    let deadlines = CallDeadlines(label: "libvirt.deadlines")

    /// Where the connection stands. Read it through `status`.
    public enum Status: Sendable, Equatable {
        case idle
        case connected(generation: Int)
        case down(reason: String)
        case closed
    }

    private struct State: Sendable {
        var handle: Handle?
        var status: Status = .idle
        var generation = 0
        var lastFailure = "not opened yet"
        var subscribers: [Int: AsyncStream<ConnectionEvent>.Continuation] = [:]
        var nextSubscriber = 0
        var reconnecting: Task<Void, Never>?
    }

    public init(uri: String, options: ConnectionOptions = ConnectionOptions()) {
        self.uri = uri
        self.options = options
    }

    deinit {
        let (handle, reconnecting, subscribers) = state.withLock {
            ($0.handle, $0.reconnecting, $0.subscribers.values)
        }
        reconnecting?.cancel()
        subscribers.forEach { $0.finish() }
        if let handle { queue.async { Self.release(handle) } }
    }

    /// Opens a connection and waits for it.
    public static func open(
        _ uri: String, options: ConnectionOptions = ConnectionOptions()
    ) async throws(LibvirtError) -> Connection {
        let connection = Connection(uri: uri, options: options)
        try await connection.connect()
        return connection
    }

    public var status: Status { state.withLock { $0.status } }

    /// How many event streams are being consumed.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Opens the connection if it is not open. On failure the error is thrown and, if
    /// `options.reconnect` is set, reopening goes on in the background.
    public func connect() async throws(LibvirtError) {
        let current = state.withLock { $0.status }
        switch current {
        case .connected: return
        case .closed:
            throw LibvirtError(kind: .closed, call: "virConnectOpen", message: "closed by its owner", target: uri)
        case .idle, .down: break
        }
        do {
            try await attemptOpen()
        } catch {
            if options.reconnect { startReconnecting() }
            throw error
        }
    }

    /// Closes the connection for good: stops reconnecting, ends every event stream.
    public func close() {
        let (handle, reconnecting, subscribers) = state.withLock { s in
            s.status = .closed
            defer {
                s.handle = nil
                s.reconnecting = nil
                s.subscribers = [:]
            }
            return (s.handle, s.reconnecting, Array(s.subscribers.values))
        }
        reconnecting?.cancel()
        subscribers.forEach { $0.finish() }
        if let handle { queue.async { Self.release(handle) } }
    }

    /// Events in order: connection state changes and domain lifecycle events from every
    /// connection generation. The stream ends when the connection is closed or the consumer stops.
    public func events() -> AsyncStream<ConnectionEvent> {
        let (stream, continuation) = AsyncStream<ConnectionEvent>.makeStream()
        let id: Int? = state.withLock { s in
            if s.status == .closed { return nil }
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = continuation
            return s.nextSubscriber
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    // MARK: - Calls

    /// Runs `body` with the live `virConnectPtr` on the call queue. The pointer is valid for the
    /// duration of `body` only (a reference is held for it).
    func withConnection<T: Sendable>(
        _ call: String, target: String = "",
        _ body: @escaping @Sendable (OpaquePointer) throws(LibvirtError) -> T
    ) async throws(LibvirtError) -> T {
        let handle = try acquire(call: call, target: target)
        return try await runBlocking(call: call, target: target) { () throws(LibvirtError) -> T in
            defer { virConnectClose(handle.pointer) }
            do throws(LibvirtError) {
                return try body(handle.pointer)
            } catch {
                if error.isConnectionFailure || virConnectIsAlive(handle.pointer) == 0 {
                    self.lost(generation: handle.generation, reason: .callFailed, message: error.message)
                }
                throw error
            }
        }
    }

    /// Takes a reference on the current handle or fails with `.notConnected`/`.closed`.
    private func acquire(call: String, target: String) throws(LibvirtError) -> Handle {
        let result: Result<Handle, LibvirtError> = state.withLock { s in
            if let handle = s.handle {
                virConnectRef(handle.pointer)
                return .success(handle)
            }
            if s.status == .closed {
                return .failure(LibvirtError(kind: .closed, call: call, message: "closed by its owner", target: target))
            }
            return .failure(
                LibvirtError(
                    kind: .notConnected, call: call,
                    message: "no connection to \(uri): \(s.lastFailure)", target: target))
        }
        return try result.get()
    }

    /// Runs a blocking closure on the call queue, bounded by the call timeout.
    /// `late` receives a successful result that arrived after the caller timed out, so that
    /// it can be released (an opened connection, say) instead of leaking.
    func runBlocking<T: Sendable>(
        call: String, target: String, late: @escaping @Sendable (T) -> Void = { _ in },
        _ body: @escaping @Sendable () throws(LibvirtError) -> T
    ) async throws(LibvirtError) -> T {
        let once = ResumeOnce<T>()
        let timeout = options.callTimeout
        let queue = self.queue
        let uri = self.uri
        let deadlines = self.deadlines
        do {
            return try await withCheckedThrowingContinuation { continuation in
                once.install(continuation)
                let ticket = timeout.map { timeout in
                    deadlines.add(timeout: timeout) {
                        _ = once.resume(
                            with: .failure(
                                LibvirtError(
                                    kind: .timeout, call: call,
                                    message: "no answer from \(uri) within \(timeout)", target: target)))
                    }
                }
                queue.async {
                    let result = Result { () throws(LibvirtError) -> T in try body() }
                    if let ticket { deadlines.remove(ticket) }
                    if !once.resume(with: result.mapError { $0 as any Error }), case .success(let value) = result {
                        late(value)
                    }
                }
            }
        } catch let error as LibvirtError {
            throw error
        } catch {
            throw LibvirtError(kind: .call, call: call, message: "\(error)", target: target)
        }
    }

    // MARK: - Opening and losing

    private func attemptOpen() async throws(LibvirtError) {
        LibvirtRuntime.ensureStarted()
        let uri = self.uri
        let options = self.options
        let box = CallbackBox(connection: self)
        let pointer = try await runBlocking(
            call: "virConnectOpen", target: uri,
            late: { Self.release(Handle(pointer: $0.raw, generation: 0, box: box)) }
        ) { () throws(LibvirtError) -> RawPointer in
            RawPointer(try Self.openBlocking(uri: uri, options: options, box: box))
        }.raw
        let installed: (Int, [AsyncStream<ConnectionEvent>.Continuation])? = state.withLock { s in
            guard s.status != .closed else { return nil }
            s.generation += 1
            box.generation.store(s.generation, ordering: .relaxed)
            s.handle = Handle(pointer: pointer, generation: s.generation, box: box)
            s.status = .connected(generation: s.generation)
            return (s.generation, Array(s.subscribers.values))
        }
        guard let (generation, subscribers) = installed else {
            let orphan = Handle(pointer: pointer, generation: 0, box: box)
            queue.async { Self.release(orphan) }
            throw LibvirtError(kind: .closed, call: "virConnectOpen", message: "closed while opening", target: uri)
        }
        for subscriber in subscribers { subscriber.yield(.connected(generation: generation)) }
    }

    /// Opens the connection and registers keepalive, the close callback and domain events.
    private static func openBlocking(
        uri: String, options: ConnectionOptions, box: CallbackBox
    ) throws(LibvirtError) -> OpaquePointer {
        let opened = options.readOnly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri)
        guard let pointer = opened else {
            throw LibvirtError.last(call: options.readOnly ? "virConnectOpenReadOnly" : "virConnectOpen", target: uri)
        }
        do throws(LibvirtError) {
            if options.keepAliveInterval > 0,
                virConnectSetKeepAlive(pointer, options.keepAliveInterval, options.keepAliveCount) < 0
            {
                // Drivers living inside the client library (test://) have no daemon to probe.
                let error = LibvirtError.last(call: "virConnectSetKeepAlive", target: uri)
                if error.code != .noSupport { throw error }
            }
            let unmanaged = Unmanaged.passRetained(box)
            if virConnectRegisterCloseCallback(pointer, connectionClosed, unmanaged.toOpaque(), releaseBox) < 0 {
                unmanaged.release()
                throw LibvirtError.last(call: "virConnectRegisterCloseCallback", target: uri)
            }
            let eventBox = Unmanaged.passRetained(box)
            let callbackID = virConnectDomainEventRegisterAny(
                pointer, nil, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue),
                unsafeBitCast(lifecycleCallbackC, to: virConnectDomainEventGenericCallback.self),
                eventBox.toOpaque(), releaseBox)
            if callbackID < 0 {
                eventBox.release()
                throw LibvirtError.last(call: "virConnectDomainEventRegisterAny", target: uri)
            }
            box.eventCallbackID.store(callbackID, ordering: .relaxed)
            return pointer
        } catch {
            virConnectUnregisterCloseCallback(pointer, connectionClosed)
            virConnectClose(pointer)
            throw error
        }
    }

    /// Drops a dead or unwanted handle: deregisters callbacks and closes it. Blocking.
    private static func release(_ handle: Handle) {
        let id = handle.box.eventCallbackID.load(ordering: .relaxed)
        if id >= 0 { _ = virConnectDomainEventDeregisterAny(handle.pointer, id) }
        _ = virConnectUnregisterCloseCallback(handle.pointer, connectionClosed)
        virConnectClose(handle.pointer)
        virResetLastError()
    }

    /// Called when a connection generation is found dead.
    fileprivate func lost(generation: Int, reason: CloseReason, message: String) {
        let dropped: (Handle, [AsyncStream<ConnectionEvent>.Continuation])? = state.withLock { s in
            guard let handle = s.handle, handle.generation == generation else { return nil }
            s.handle = nil
            s.lastFailure = "connection lost (\(reason)): \(message)"
            s.status = .down(reason: s.lastFailure)
            return (handle, Array(s.subscribers.values))
        }
        guard let (handle, subscribers) = dropped else { return }
        for subscriber in subscribers { subscriber.yield(.disconnected(reason: reason, message: message)) }
        // Never close from the event-loop thread (the close callback runs there).
        queue.async { Self.release(handle) }
        if options.reconnect { startReconnecting() }
    }

    private func startReconnecting() {
        let initial = options.reconnectInitialDelay
        let maximum = options.reconnectMaxDelay
        state.withLock { s in
            guard s.reconnecting == nil, s.status != .closed, s.handle == nil else { return }
            s.reconnecting = Task { [weak self] in
                var delay = initial
                while !Task.isCancelled {
                    try? await Task.sleep(for: delay)
                    guard let self, !Task.isCancelled else { return }
                    do throws(LibvirtError) {
                        try await self.attemptOpen()
                        self.state.withLock { $0.reconnecting = nil }
                        return
                    } catch {
                        self.state.withLock { s in
                            s.lastFailure = error.message
                            if s.status != .closed { s.status = .down(reason: error.message) }
                        }
                        if error.kind == .closed { return }
                    }
                    delay = min(delay * 2, maximum)
                }
            }
        }
    }

    fileprivate func deliver(_ event: DomainEvent, generation: Int) {
        let subscribers = state.withLock { s in
            s.handle?.generation == generation ? Array(s.subscribers.values) : []
        }
        for subscriber in subscribers { subscriber.yield(.domain(event)) }
    }
}

// MARK: - Handles and callbacks

/// A libvirt object pointer that may cross threads: libvirt's objects are thread-safe.
struct RawPointer: @unchecked Sendable {
    let raw: OpaquePointer
    init(_ raw: OpaquePointer) { self.raw = raw }
}

/// One open `virConnectPtr` and the generation it belongs to.
private struct Handle: @unchecked Sendable {
    let pointer: OpaquePointer
    let generation: Int
    let box: CallbackBox
}

/// What libvirt's C callbacks receive as their opaque pointer.
private final class CallbackBox: Sendable {
    private let weakConnection: WeakConnection
    let generation = Atomic<Int>(0)
    let eventCallbackID = Atomic<Int32>(-1)

    init(connection: Connection) { weakConnection = WeakConnection(connection) }
    var connection: Connection? { weakConnection.value }
}

private final class WeakConnection: @unchecked Sendable {
    weak var value: Connection?
    init(_ value: Connection) { self.value = value }
}

private func connectionClosed(_: OpaquePointer?, _ reason: Int32, _ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
    let reason = CloseReason(rawValue: reason) ?? .error
    box.connection?.lost(
        generation: box.generation.load(ordering: .relaxed), reason: reason,
        message: "libvirt closed the connection (\(reason))")
}

private func lifecycleCallback(
    _: OpaquePointer?, _ domain: OpaquePointer?, _ event: Int32, _ detail: Int32,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let opaque, let domain else { return }
    let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
    guard let connection = box.connection else { return }
    let name = virDomainGetName(domain).map { String(cString: $0) } ?? ""
    let uuid = domainUUID(domain) ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    connection.deliver(
        DomainEvent(domainName: name, domainUUID: uuid, rawKind: event, detail: detail),
        generation: box.generation.load(ordering: .relaxed))
}

private let lifecycleCallbackC:
    @convention(c) (OpaquePointer?, OpaquePointer?, Int32, Int32, UnsafeMutableRawPointer?) -> Void =
        lifecycleCallback

private func releaseBox(_ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    Unmanaged<CallbackBox>.fromOpaque(opaque).release()
}

/// Resumes a continuation exactly once: with the call's result or with a timeout, whichever
/// comes first. `install` runs before either can fire.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func install(_ c: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = c } }

    /// Returns false if the continuation had already been resumed.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        let target = continuation.withLock { c in
            defer { c = nil }
            return c
        }
        target?.resume(with: result)
        return target != nil
    }
}

extension Duration {
    /// Seconds as a `TimeInterval`, for Dispatch.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
