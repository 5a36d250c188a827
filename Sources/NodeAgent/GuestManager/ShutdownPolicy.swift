/// How a guest is stopped: ask (guest agent or ACPI power button), ask again every `retryInterval`, and after
/// `grace` pull the plug — the way VDSM and nova stop guests. A guest that ignores ACPI cannot
/// hold a host hostage, and a guest that shuts down slowly is not cut off.
public struct ShutdownPolicy: Sendable, Equatable {
    /// How long the guest gets after the first request before it is destroyed.
    public var grace: Duration
    /// Time between repeated requests (a guest may miss the first one while booting).
    public var retryInterval: Duration
    /// How often the state is checked while waiting.
    public var pollInterval: Duration
    /// Destroy a guest still running at the end of the grace period (otherwise the stop fails
    /// with `timedOut` and the guest keeps running).
    public var destroyAfterGrace: Bool

    public init(
        grace: Duration = .seconds(120), retryInterval: Duration = .seconds(15), pollInterval: Duration = .milliseconds(200),
        destroyAfterGrace: Bool = true
    ) {
        self.grace = grace
        self.retryInterval = retryInterval
        self.pollInterval = pollInterval
        self.destroyAfterGrace = destroyAfterGrace
    }
}

/// How a stop ended.
public enum StopOutcome: Sendable, Equatable {
    /// The guest was already shut off; nothing was done.
    case alreadyStopped
    /// The guest shut itself down after `requests` shutdown requests.
    case shutDown(requests: Int, after: Duration)
    /// The guest ignored the requests for the whole grace period and was destroyed.
    case destroyed(requests: Int, after: Duration)

    public var name: String {
        switch self {
        case .alreadyStopped: "already-stopped"
        case .shutDown: "shut-down"
        case .destroyed: "destroyed"
        }
    }
}
