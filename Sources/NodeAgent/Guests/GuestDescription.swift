public import Foundation

/// What a libvirt domain is, read from its XML as libvirt returns it (`virDomainGetXMLDesc`,
/// `virsh dumpxml`): the fields the agent needs to report and adopt a guest, whoever defined it.
///
/// Values are kept as libvirt spells them (strings for types and buses) because a foreign
/// domain may use anything libvirt supports.
public struct GuestDescription: Sendable, Equatable {
    /// The domain name.
    public var name: String
    /// The domain UUID.
    public var uuid: UUID
    /// The `<domain type>`: `qemu`, `kvm`, `test`, ...
    public var domainType: String
    /// The vCPU count (`<vcpu>`).
    public var vcpus: Int
    /// The maximum memory (`<memory>`) in bytes.
    public var memoryBytes: Int64
    /// The direct-boot kernel path, if any.
    public var kernel: String?
    /// The direct-boot initrd path, if any.
    public var initrd: String?
    /// The kernel command line, if any.
    public var cmdline: String?
    /// The disks, cdroms and floppies in document order.
    public var disks: [Disk]
    /// The network interfaces in document order.
    public var nics: [NIC]
    /// The log file of the first serial port, if any.
    public var serialLogPath: String?
    /// The agent's metadata element: absent, present, or present but malformed.
    public var agentMetadata: MetadataState

    /// The agent's metadata when present and well formed.
    public var metadata: GuestMetadata? {
        if case .present(let metadata) = agentMetadata { return metadata }
        return nil
    }

    /// Whether a domain carries the agent's metadata element.
    public enum MetadataState: Sendable, Equatable {
        /// No element in the agent's namespace: a foreign guest.
        case absent
        /// The agent's element, parsed.
        case present(GuestMetadata)
        /// The agent's element exists but cannot be read; the guest must not be adopted blindly.
        case malformed(GuestSpecError)
    }

    /// A disk as libvirt describes it.
    public struct Disk: Sendable, Equatable {
        /// `<disk type>`: `file`, `block`, `volume`, `network`, ...
        public var type: String
        /// `<disk device>`: `disk`, `cdrom`, `floppy`, `lun`.
        public var device: String
        /// `<target dev>`: `vda`, `sdb`, ...
        public var target: String
        /// `<target bus>`: `virtio`, `sata`, `scsi`, ...
        public var bus: String?
        /// Where the data lives; nil for an empty drive or a disk type other than file, block
        /// and volume (see ``type``).
        public var source: Source?
        /// `<driver type>`: `raw`, `qcow2`, ...
        public var format: String?
        /// Whether the disk is read-only.
        public var readonly: Bool

        /// A described disk.
        public init(
            type: String, device: String, target: String, bus: String?, source: Source?, format: String?,
            readonly: Bool
        ) {
            self.type = type
            self.device = device
            self.target = target
            self.bus = bus
            self.source = source
            self.format = format
            self.readonly = readonly
        }
    }

    /// Where a described disk's data lives.
    public enum Source: Sendable, Equatable {
        /// `<disk type='file'>`, `<source file>`.
        case file(path: String)
        /// `<disk type='block'>`, `<source dev>`.
        case block(path: String)
        /// `<disk type='volume'>`, `<source pool volume>`.
        case volume(pool: String, volume: String)
    }

    /// A network interface as libvirt describes it.
    public struct NIC: Sendable, Equatable {
        /// `<interface type>`: `user`, `network`, `bridge`, ...
        public var type: String
        /// `<source network>`, for `network` interfaces.
        public var network: String?
        /// `<source bridge>`, for `bridge` (and resolved `network`) interfaces.
        public var bridge: String?
        /// `<mac address>`.
        public var mac: String?
        /// `<model type>`.
        public var model: String?

        /// A described interface.
        public init(type: String, network: String?, bridge: String?, mac: String?, model: String?) {
            self.type = type
            self.network = network
            self.bridge = bridge
            self.mac = mac
            self.model = model
        }
    }

    /// Parses a full domain document. Name, UUID, memory and vCPUs are required; a malformed
    /// agent metadata element does not fail the parse but is reported in ``agentMetadata``.
    /// Problems name their place as `domain.devices.disk[1].target`.
    public init(xml: String) throws(GuestSpecError) {
        let root = try ParsedXMLElement.parse(xml, field: "domain")
        guard root.name == "domain", root.namespaceURI.isEmpty else {
            throw GuestSpecError(
                field: "domain", rawValue: root.name, code: .malformedXML, reason: "root element must be <domain>")
        }
        var check = GuestSpecValidator()
        name = Self.requiredText("name", of: root, &check) ?? ""
        let uuidText = Self.requiredText("uuid", of: root, &check)
        let parsedUUID = uuidText.flatMap(UUID.init(uuidString:))
        if let uuidText, parsedUUID == nil { check.add("domain.uuid", uuidText, .invalidValue, "not a UUID") }
        uuid = parsedUUID ?? UUID()
        domainType = root.attributes["type"] ?? ""
        if domainType.isEmpty { check.add("domain.type", nil, .missing, "<domain> has no type attribute") }
        vcpus = 0
        if let text = Self.requiredText("vcpu", of: root, &check) {
            if let count = Int(text), count > 0 {
                vcpus = count
            } else {
                check.add("domain.vcpu", text, .invalidValue, "must be a positive integer")
            }
        }
        memoryBytes = 0
        if let memory = root.child("memory") {
            if let bytes = Self.bytes(memory.trimmedText, unit: memory.attributes["unit"]) {
                memoryBytes = bytes
            } else {
                check.add("domain.memory", memory.trimmedText, .invalidValue, "not a size in the given unit")
            }
        } else {
            check.add("domain.memory", nil, .missing, "element <memory> is missing")
        }
        let os = root.child("os")
        kernel = os?.child("kernel")?.text
        initrd = os?.child("initrd")?.text
        cmdline = os?.child("cmdline")?.text
        let devices = root.child("devices")
        disks = (devices?.children(named: "disk") ?? []).enumerated().compactMap { index, element in
            Self.disk(element, field: "domain.devices.disk[\(index)]", &check)
        }
        nics = (devices?.children(named: "interface") ?? []).map(Self.nic)
        serialLogPath = devices?.child("serial")?.child("log")?.attributes["file"]
        agentMetadata = Self.metadataState(root.child("metadata"))
        try check.finish()
    }

    private static func requiredText(_ name: String, of root: ParsedXMLElement, _ check: inout GuestSpecValidator)
        -> String?
    {
        guard let element = root.child(name) else {
            check.add("domain.\(name)", nil, .missing, "element <\(name)> is missing")
            return nil
        }
        return element.trimmedText
    }

    private static func disk(_ element: ParsedXMLElement, field: String, _ check: inout GuestSpecValidator) -> Disk? {
        let type = element.attributes["type"] ?? "file"
        let sourceElement = element.child("source")
        var source: Source?
        switch type {
        case "file": source = sourceElement?.attributes["file"].map { .file(path: $0) }
        case "block": source = sourceElement?.attributes["dev"].map { .block(path: $0) }
        case "volume":
            if let pool = sourceElement?.attributes["pool"], let volume = sourceElement?.attributes["volume"] {
                source = .volume(pool: pool, volume: volume)
            }
        default: source = nil
        }
        let target = element.child("target")
        guard let dev = target?.attributes["dev"], !dev.isEmpty else {
            check.add("\(field).target", nil, .missing, "disk has no <target dev>")
            return nil
        }
        return Disk(
            type: type, device: element.attributes["device"] ?? "disk", target: dev, bus: target?.attributes["bus"],
            source: source, format: element.child("driver")?.attributes["type"],
            readonly: element.child("readonly") != nil)
    }

    private static func nic(_ element: ParsedXMLElement) -> NIC {
        let source = element.child("source")
        return NIC(
            type: element.attributes["type"] ?? "", network: source?.attributes["network"],
            bridge: source?.attributes["bridge"], mac: element.child("mac")?.attributes["address"],
            model: element.child("model")?.attributes["type"])
    }

    private static func metadataState(_ metadata: ParsedXMLElement?) -> MetadataState {
        let ours = metadata?.children(named: GuestMetadata.elementName, namespaceURI: GuestMetadata.namespaceURI) ?? []
        guard let element = ours.first else { return .absent }
        if ours.count > 1 {
            return .malformed(
                GuestSpecError(
                    field: "metadata", rawValue: nil, code: .duplicate,
                    reason: "the agent's element appears \(ours.count) times"))
        }
        do {
            return .present(try GuestMetadata(parsed: element))
        } catch {
            return .malformed(error)
        }
    }

    /// `value` in libvirt's `unit` (default KiB) as bytes, or nil when malformed or too large.
    /// Units as in libvirt's formatdomain: b/bytes, KB, k/KiB, MB, M/MiB, GB, G/GiB, TB, T/TiB, ...
    static func bytes(_ value: String, unit: String?) -> Int64? {
        guard let number = Int64(value), number >= 0 else { return nil }
        let multiplier: Int64
        switch unit ?? "KiB" {
        case "b", "bytes": multiplier = 1
        case "KB": multiplier = 1000
        case "k", "KiB": multiplier = 1 << 10
        case "MB": multiplier = 1_000_000
        case "M", "MiB": multiplier = 1 << 20
        case "GB": multiplier = 1_000_000_000
        case "G", "GiB": multiplier = 1 << 30
        case "TB": multiplier = 1_000_000_000_000
        case "T", "TiB": multiplier = 1 << 40
        case "PB": multiplier = 1_000_000_000_000_000
        case "P", "PiB": multiplier = 1 << 50
        default: return nil
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}
