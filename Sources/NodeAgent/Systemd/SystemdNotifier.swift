public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Tells systemd about the service's state through the socket named by `NOTIFY_SOCKET`
/// (the sd_notify protocol: one datagram of newline-separated `NAME=value` assignments).
///
/// Implemented natively (not with libsystemd's `sd_notify`) so it can be pointed at any socket
/// and never unsets the environment. Each call opens a socket, sends one datagram and closes it;
/// a send waits at most a second for a full receive queue.
public struct SystemdNotifier: Sendable {
    /// The socket's address as found in NOTIFY_SOCKET: an absolute path, or an abstract socket
    /// name starting with '@'.
    public let socketPath: String

    /// The notifier for the socket in `NOTIFY_SOCKET`, or nil when it is unset or empty (the
    /// process was not started by systemd as a `Type=notify` service).
    ///
    /// A value that is neither a path nor an abstract name (e.g. `vsock:...`) still gives a
    /// notifier; its sends throw, so the problem is logged rather than silently ignored.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        socketPath = path
    }

    /// A notifier for an explicit socket address.
    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Sends the assignments as one datagram, `NAME=value` lines joined by newlines.
    /// Newlines inside a value are replaced by spaces (the protocol has no escaping).
    /// - Throws: `SystemdSocketError` naming the socket and the errno text.
    public func send(_ fields: [(String, String)]) throws {
        let text = fields.map { name, value in
            "\(name)=\(value.replacingOccurrences(of: "\n", with: " "))"
        }.joined(separator: "\n")
        let operation = "send to the notify socket"
        let address = try UnixSocketAddress(socketPath, operation: operation)
        let socket = try UnixDatagramSocket(nonBlocking: false, sendTimeout: .seconds(1), path: socketPath)
        let code = socket.send(Array(text.utf8), to: address)
        guard code == 0 else {
            throw SystemdSocketError(operation: operation, path: socketPath, code: code)
        }
    }

    /// `READY=1`: start-up finished (listeners bound). With `STATUS=` when `status` is given.
    public func ready(status: String? = nil) throws {
        try send([("READY", "1")] + Self.status(status))
    }

    /// `STATUS=`: a one-line description of the state, shown by `systemctl status`.
    public func status(_ text: String) throws {
        try send([("STATUS", text)])
    }

    /// `STOPPING=1`: shutdown began.
    public func stopping(status: String? = nil) throws {
        try send([("STOPPING", "1")] + Self.status(status))
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (CLOCK_MONOTONIC now, in µs), which systemd ≥ 253
    /// requires for `Type=notify-reload` and older versions ignore. Send `ready()` when done.
    public func reloading(status: String? = nil) throws {
        try send([("RELOADING", "1"), ("MONOTONIC_USEC", String(Self.monotonicMicroseconds()))] + Self.status(status))
    }

    /// `WATCHDOG=1`: the service is alive (see `WatchdogService`).
    public func watchdog() throws {
        try send([("WATCHDOG", "1")])
    }

    /// How often to ping the watchdog: half of `WATCHDOG_USEC`, or nil when the watchdog is off,
    /// the value is not a positive integer, or `WATCHDOG_PID` is set to another process's PID
    /// (the watchdog is meant for that process, e.g. our parent).
    public static func watchdogInterval(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"] {
            guard let value = Int32(pid), value == getpid() else { return nil }
        }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// CLOCK_MONOTONIC in microseconds.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    private static func status(_ text: String?) -> [(String, String)] {
        text.map { [("STATUS", $0)] } ?? []
    }
}
