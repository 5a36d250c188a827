public import Foundation

/// A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`).
public struct DomainEvent: Sendable, Equatable, CustomStringConvertible {
    /// What happened to the domain (`virDomainEventType`).
    public enum Kind: Int32, Sendable, CaseIterable {
        case defined = 0, undefined, started, suspended, resumed, stopped, shutdown, pmSuspended,
            crashed

        public var name: String {
            switch self {
            case .defined: "defined"
            case .undefined: "undefined"
            case .started: "started"
            case .suspended: "suspended"
            case .resumed: "resumed"
            case .stopped: "stopped"
            case .shutdown: "shutdown"
            case .pmSuspended: "pmsuspended"
            case .crashed: "crashed"
            }
        }
    }

    public var domainName: String
    public var domainUUID: UUID
    /// The event type; `nil` for a type newer than this module knows (see `rawKind`).
    public var kind: Kind?
    public var rawKind: Int32
    /// libvirt's detail code for the event type (e.g. for `.stopped`: 0 shutdown, 1 destroyed).
    public var detail: Int32

    public init(domainName: String, domainUUID: UUID, rawKind: Int32, detail: Int32) {
        self.domainName = domainName
        self.domainUUID = domainUUID
        self.kind = Kind(rawValue: rawKind)
        self.rawKind = rawKind
        self.detail = detail
    }

    /// libvirt's name for the detail, e.g. "destroyed" for a `.stopped` event with detail 1.
    public var detailName: String {
        let names: [String]
        switch kind {
        case .defined: names = ["added", "updated", "renamed", "from-snapshot"]
        case .undefined: names = ["removed", "renamed"]
        case .started: names = ["booted", "migrated", "restored", "from-snapshot", "wakeup"]
        case .suspended:
            names = [
                "paused", "migrated", "ioerror", "watchdog", "restored", "from-snapshot",
                "api-error", "postcopy", "postcopy-failed",
            ]
        case .resumed:
            names = ["unpaused", "migrated", "from-snapshot", "postcopy", "postcopy-failed"]
        case .stopped:
            names = [
                "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from-snapshot",
            ]
        case .shutdown: names = ["finished", "guest", "host"]
        case .pmSuspended: names = ["memory", "disk"]
        case .crashed: names = ["panicked", "crashloaded"]
        case nil: names = []
        }
        return detail >= 0 && Int(detail) < names.count ? names[Int(detail)] : "detail-\(detail)"
    }

    public var description: String {
        "\(domainName) \(kind?.name ?? "event-\(rawKind)") (\(detailName))"
    }
}

/// Why libvirt closed a connection (`virConnectCloseReason`).
public enum CloseReason: Int32, Sendable, Equatable {
    case error = 0, eof, keepalive, client
    /// Our own detection: a call failed and `virConnectIsAlive` said the connection was dead.
    case callFailed = 100
}

/// What a `Connection` reports to its subscribers, in order.
public enum ConnectionEvent: Sendable, Equatable {
    /// The connection is (again) open. `generation` counts successful opens from 1.
    case connected(generation: Int)
    /// The connection was lost; it is being reopened if the options say so.
    case disconnected(reason: CloseReason, message: String)
    /// A domain lifecycle event.
    case domain(DomainEvent)
}
