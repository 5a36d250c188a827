public import Foundation

/// A domain's state (`virDomainState`) and libvirt's reason code for it.
public struct DomainState: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Kind: Int32, Sendable, Codable, CaseIterable {
        case noState = 0, running, blocked, paused, shutdown, shutoff, crashed, pmSuspended

        /// True while the domain has a running emulator (it has an id).
        public var isActive: Bool { self != .shutoff && self != .noState }

        public var name: String {
            switch self {
            case .noState: "nostate"
            case .running: "running"
            case .blocked: "blocked"
            case .paused: "paused"
            case .shutdown: "shutting-down"
            case .shutoff: "shut-off"
            case .crashed: "crashed"
            case .pmSuspended: "pmsuspended"
            }
        }
    }

    public var kind: Kind
    public var reason: Int32

    public init(kind: Kind, reason: Int32 = 0) {
        self.kind = kind
        self.reason = reason
    }

    init(rawState: Int32, reason: Int32) {
        self.kind = Kind(rawValue: rawState) ?? .noState
        self.reason = reason
    }

    /// libvirt's name for the reason, e.g. "destroyed" for shut-off with reason 2.
    public var reasonName: String {
        let names: [String]
        switch kind {
        case .running:
            names = [
                "unknown", "booted", "migrated", "restored", "from-snapshot", "unpaused",
                "migration-canceled", "save-canceled", "wakeup", "crashed", "postcopy",
                "postcopy-failed",
            ]
        case .paused:
            names = [
                "unknown", "user", "migration", "save", "dump", "ioerror", "watchdog",
                "from-snapshot", "shutting-down", "snapshot", "crashed", "starting-up", "postcopy",
                "postcopy-failed",
            ]
        case .shutdown: names = ["unknown", "user"]
        case .shutoff:
            names = [
                "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
                "from-snapshot", "daemon",
            ]
        case .crashed: names = ["unknown", "panicked"]
        case .blocked, .noState, .pmSuspended: names = ["unknown"]
        }
        return reason >= 0 && Int(reason) < names.count ? names[Int(reason)] : "reason-\(reason)"
    }

    public var description: String { "\(kind.name) (\(reasonName))" }
}

/// One entry of `Connection.listDomains()`.
public struct DomainSummary: Sendable, Equatable {
    public var name: String
    public var uuid: UUID
    public var state: DomainState
    /// The hypervisor's id while active, `nil` while shut off.
    public var id: UInt32?
    public var persistent: Bool
    /// The metadata element asked for with `listDomains(metadataURI:)`; nil otherwise, or when
    /// the domain has none.
    public var metadata: String? = nil
}

/// `virDomainGetInfo` plus persistence and id.
public struct DomainInfo: Sendable, Equatable {
    public var state: DomainState
    public var maxMemoryKiB: UInt64
    public var memoryKiB: UInt64
    public var vcpus: Int
    public var cpuTimeNanoseconds: UInt64
    public var persistent: Bool
    public var id: UInt32?
}

/// How to ask a guest to shut down or reboot (`virDomainShutdownFlagValues`); empty lets the
/// hypervisor choose.
public struct ShutdownMode: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let acpiPowerButton = ShutdownMode(rawValue: 1 << 0)
    public static let guestAgent = ShutdownMode(rawValue: 1 << 1)
    public static let initctl = ShutdownMode(rawValue: 1 << 2)
    public static let signal = ShutdownMode(rawValue: 1 << 3)
    public static let paravirt = ShutdownMode(rawValue: 1 << 4)
}

/// What `undefine` also removes (`virDomainUndefineFlagsValues`).
public struct UndefineFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let managedSave = UndefineFlags(rawValue: 1 << 0)
    public static let snapshotsMetadata = UndefineFlags(rawValue: 1 << 1)
    public static let nvram = UndefineFlags(rawValue: 1 << 2)
    public static let keepNVRAM = UndefineFlags(rawValue: 1 << 3)
    public static let checkpointsMetadata = UndefineFlags(rawValue: 1 << 4)
    public static let tpm = UndefineFlags(rawValue: 1 << 5)
    public static let keepTPM = UndefineFlags(rawValue: 1 << 6)
}

/// Flags of `virDomainGetXMLDesc`.
public struct XMLFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let secure = XMLFlags(rawValue: 1 << 0)
    public static let inactive = XMLFlags(rawValue: 1 << 1)
    public static let updateCPU = XMLFlags(rawValue: 1 << 2)
    public static let migratable = XMLFlags(rawValue: 1 << 3)
}

/// Which definition a change affects (`virDomainModificationImpact`).
public struct Impact: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The live state if running, otherwise the persistent config.
    public static let current: Impact = []
    public static let live = Impact(rawValue: 1 << 0)
    public static let config = Impact(rawValue: 1 << 1)
}

/// A domain with its state and one metadata element, read together (`Connection.domainSnapshot`).
public struct DomainSnapshot: Sendable {
    public var domain: Domain
    public var state: DomainState
    /// The metadata element asked for, as XML; nil when the domain has none.
    public var metadata: String?
}
