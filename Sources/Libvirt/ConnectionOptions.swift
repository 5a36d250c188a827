/// How a `Connection` keeps itself alive and how long callers wait for it.
public struct ConnectionOptions: Sendable, Equatable {
    /// Open the connection read-only (`virConnectOpenReadOnly`).
    public var readOnly: Bool
    /// Seconds between keepalive probes to a remote daemon; 0 disables keepalive.
    /// A daemon that misses `keepAliveCount` probes in a row is declared dead and the
    /// connection is closed and reopened.
    public var keepAliveInterval: Int32
    /// Missed keepalive probes tolerated before the connection is considered dead.
    public var keepAliveCount: UInt32
    /// Longest a caller waits for one libvirt call. The call itself cannot be interrupted; the
    /// caller gets a `.timeout` error and the call finishes (or fails) in the background.
    /// `nil` waits forever.
    public var callTimeout: Duration?
    /// Reopen a lost connection in the background, with exponential backoff.
    public var reconnect: Bool
    /// First delay before reopening a lost connection.
    public var reconnectInitialDelay: Duration
    /// Longest delay between two reopening attempts.
    public var reconnectMaxDelay: Duration

    public init(
        readOnly: Bool = false, keepAliveInterval: Int32 = 5, keepAliveCount: UInt32 = 3,
        callTimeout: Duration? = .seconds(60), reconnect: Bool = true,
        reconnectInitialDelay: Duration = .milliseconds(250),
        reconnectMaxDelay: Duration = .seconds(30)
    ) {
        self.readOnly = readOnly
        self.keepAliveInterval = keepAliveInterval
        self.keepAliveCount = keepAliveCount
        self.callTimeout = callTimeout
        self.reconnect = reconnect
        self.reconnectInitialDelay = reconnectInitialDelay
        self.reconnectMaxDelay = reconnectMaxDelay
    }
}
