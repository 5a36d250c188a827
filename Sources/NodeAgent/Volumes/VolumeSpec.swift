/// A storage volume to create in a libvirt pool.
public struct VolumeSpec: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case raw, qcow2
    }

    /// Smallest and largest capacity accepted.
    public static let capacityRange: ClosedRange<ByteSize> = .mib(1)...(.tib(64))
    /// Longest volume name, in characters.
    public static let maxNameLength = 255

    /// 1...255 characters of `[A-Za-z0-9._-]`, starting with a letter or digit.
    public var name: String
    /// Logical size, 1 MiB...64 TiB, a multiple of 512 bytes.
    public var capacity: ByteSize
    /// Disk image format. Default qcow2 (allocated as written).
    public var format: Format
    /// Bytes to allocate up front; `nil` lets the format decide (sparse). At most `capacity`.
    public var allocation: ByteSize?

    public init(name: String, capacity: ByteSize, format: Format = .qcow2, allocation: ByteSize? = nil) {
        self.name = name
        self.capacity = capacity
        self.format = format
        self.allocation = allocation
    }

    /// Checks every rule; the error names each offending field.
    public func validate() throws(GuestSpecError) {
        var v = GuestSpecValidator()
        Self.checkName(name, &v)
        v.size(capacity, Self.capacityRange, alignment: 512, field: "capacity")
        if let allocation, allocation > capacity {
            v.add("allocation", "\(allocation.bytes)", .outOfRange, "must not exceed the capacity (\(capacity))")
        }
        try v.finish()
    }

    /// Validates a volume name alone (a clone's new name), with the rules of `validate()`.
    public static func validate(name: String, field: String = "name") throws(GuestSpecError) {
        var v = GuestSpecValidator()
        checkName(name, &v, field: field)
        try v.finish()
    }

    private static func checkName(_ name: String, _ v: inout GuestSpecValidator, field: String = "name") {
        v.name(name, field: field, maxLength: maxNameLength, what: "volume name")
    }

    /// Volume XML for `virStorageVolCreateXML`, after validation; every value escaped.
    public func volumeXML() throws(GuestSpecError) -> String {
        try validate()
        var w = XMLWriter()
        w.element("volume") { w in
            w.element("name", text: name)
            w.element("capacity", [("unit", "bytes")], text: "\(capacity.bytes)")
            w.element("allocation", [("unit", "bytes")], text: "\(allocation?.bytes ?? 0)")
            w.element("target") { w in w.empty("format", [("type", format.rawValue)]) }
        }
        return w.text
    }
}
