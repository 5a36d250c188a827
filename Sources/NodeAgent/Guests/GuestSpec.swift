public import Foundation

/// The typed description of a guest that the agent defines in libvirt.
///
/// Operators write it in TOML or JSON with snake_case keys (see `docs/GUEST-SPEC.md`); unknown
/// keys are refused. ``validate()`` checks every rule and reports every problem with its field
/// path; ``domainXML(uuid:metadata:)`` validates and renders libvirt domain XML in which every
/// value is escaped.
///
/// Fixed by the agent and not configurable: ACPI is on, `on_poweroff` is `destroy`, `on_reboot`
/// is `restart`, `on_crash` is `destroy`, the guest architecture is x86_64, and every guest has
/// a pty serial port with a console on it.
public struct GuestSpec: Codable, Sendable, Equatable {
    /// The libvirt domain name: 1...64 characters of `[A-Za-z0-9._-]`, starting with a letter
    /// or a digit.
    public var name: String
    /// The domain UUID; when nil, rendering uses the UUID it is given or generates one.
    public var uuid: UUID?
    /// The hypervisor: `qemu` (software emulation, the default) or `kvm`.
    public var domainType: DomainType
    /// Virtual CPUs, 1...512. Default 1.
    public var vcpus: Int
    /// Guest memory, 16 MiB...16 TiB, a multiple of 1 MiB.
    public var memory: ByteSize
    /// How the guest boots. Default: from its disks, in the order they are listed.
    public var boot: Boot
    /// Disks in attachment (and disk-boot) order. Default none.
    public var disks: [Disk]
    /// Network interfaces, at most 32. Default none.
    public var nics: [NIC]
    /// Absolute path of a file that records the serial console; nil: not recorded.
    public var serialLog: String?
    /// cgroup-backed resource controls. Default: none set.
    public var tunables: Tunables
    /// The virtio memory balloon. Default: statistics every 2 s.
    public var memballoon: Memballoon
    /// Owner labels; they go into the agent's metadata element, not the domain body.
    /// At most 64; keys `[a-z0-9][a-z0-9._/-]{0,62}`, values at most 256 characters.
    public var labels: [String: String]

    /// A spec with the documented defaults for everything not given.
    public init(
        name: String, uuid: UUID? = nil, domainType: DomainType = .qemu, vcpus: Int = 1, memory: ByteSize,
        boot: Boot = .disk, disks: [Disk] = [], nics: [NIC] = [], serialLog: String? = nil,
        tunables: Tunables = Tunables(), memballoon: Memballoon = Memballoon(), labels: [String: String] = [:]
    ) {
        self.name = name
        self.uuid = uuid
        self.domainType = domainType
        self.vcpus = vcpus
        self.memory = memory
        self.boot = boot
        self.disks = disks
        self.nics = nics
        self.serialLog = serialLog
        self.tunables = tunables
        self.memballoon = memballoon
        self.labels = labels
    }

    /// The hypervisor that runs the guest.
    public enum DomainType: String, Codable, Sendable, CaseIterable, SpecKeyword {
        /// QEMU with software emulation (TCG); works everywhere.
        case qemu
        /// QEMU with hardware acceleration; needs a usable `/dev/kvm`.
        case kvm

        /// Decodes `qemu` or `kvm`; anything else names the field and the choices.
        public init(from decoder: any Decoder) throws { self = try Self.decodeKeyword(from: decoder) }
    }

    /// The virtio memory balloon device, always present.
    public struct Memballoon: Codable, Sendable, Equatable {
        /// Seconds between balloon statistics updates, 0...86400; 0 turns statistics off.
        /// Default 2.
        public var statsPeriod: Int

        /// A balloon reporting statistics every `statsPeriod` seconds.
        public init(statsPeriod: Int = 2) { self.statsPeriod = statsPeriod }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case statsPeriod = "stats_period"
        }

        /// Decodes `{ stats_period = 2 }`; the key is optional.
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            statsPeriod = try container.decodeIfPresent(Int.self, forKey: .statsPeriod) ?? 2
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, uuid
        case domainType = "domain_type"
        case vcpus, memory, boot, disks, nics
        case serialLog = "serial_log"
        case tunables, memballoon, labels
    }

    /// Decodes the spec format; absent optional keys take their defaults, unknown keys and
    /// refused values throw ``GuestSpecError`` naming the field.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        if let text = try container.decodeIfPresent(String.self, forKey: .uuid) {
            guard let parsed = UUID(uuidString: text) else {
                throw GuestSpecError(
                    field: "uuid", rawValue: text, code: .invalidValue,
                    reason: "must be a UUID: 32 hexadecimal digits in groups of 8-4-4-4-12 (or empty for a new one)")
            }
            uuid = parsed
        } else {
            uuid = nil
        }
        domainType = try container.decodeIfPresent(DomainType.self, forKey: .domainType) ?? .qemu
        vcpus = try container.decodeIfPresent(Int.self, forKey: .vcpus) ?? 1
        memory = try container.decode(ByteSize.self, forKey: .memory)
        boot = try container.decodeIfPresent(Boot.self, forKey: .boot) ?? .disk
        disks = try container.decodeIfPresent([Disk].self, forKey: .disks) ?? []
        nics = try container.decodeIfPresent([NIC].self, forKey: .nics) ?? []
        serialLog = try container.decodeIfPresent(String.self, forKey: .serialLog)
        tunables = try container.decodeIfPresent(Tunables.self, forKey: .tunables) ?? Tunables()
        memballoon = try container.decodeIfPresent(Memballoon.self, forKey: .memballoon) ?? Memballoon()
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }
}
