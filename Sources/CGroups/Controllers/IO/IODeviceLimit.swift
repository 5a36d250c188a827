/// The `io.max` limits of one device: bytes and IO operations per second, read and write,
/// each a number or `max`; nil fields are left as they are.
///
///     254:0 rbps=4194304 wbps=max riops=max wiops=1000
public struct IODeviceLimit: Sendable, Hashable, CustomStringConvertible {
    /// The device.
    public var device: DeviceNumber
    /// `rbps`: read bytes per second.
    public var readBytesPerSecond: CGroupLimit<UInt64>?
    /// `wbps`: written bytes per second.
    public var writeBytesPerSecond: CGroupLimit<UInt64>?
    /// `riops`: read operations per second.
    public var readIOPS: CGroupLimit<UInt64>?
    /// `wiops`: write operations per second.
    public var writeIOPS: CGroupLimit<UInt64>?
    /// Fields this library does not know, as read (never written).
    public var extra: [String: String]

    /// Limits of `device`.
    public init(
        device: DeviceNumber, readBytesPerSecond: CGroupLimit<UInt64>? = nil,
        writeBytesPerSecond: CGroupLimit<UInt64>? = nil, readIOPS: CGroupLimit<UInt64>? = nil,
        writeIOPS: CGroupLimit<UInt64>? = nil
    ) {
        self.device = device
        self.readBytesPerSecond = readBytesPerSecond
        self.writeBytesPerSecond = writeBytesPerSecond
        self.readIOPS = readIOPS
        self.writeIOPS = writeIOPS
        self.extra = [:]
    }

    /// All four limits `max`: the write that removes the device's limits.
    public static func unlimited(_ device: DeviceNumber) -> IODeviceLimit {
        IODeviceLimit(device: device, readBytesPerSecond: .max, writeBytesPerSecond: .max, readIOPS: .max, writeIOPS: .max)
    }

    /// The set fields as `(key, limit, property name)`, in the kernel's order.
    var fields: [(key: String, limit: CGroupLimit<UInt64>, name: String)] {
        [
            ("rbps", readBytesPerSecond, "readBytesPerSecond"), ("wbps", writeBytesPerSecond, "writeBytesPerSecond"),
            ("riops", readIOPS, "readIOPS"), ("wiops", writeIOPS, "writeIOPS"),
        ].compactMap { key, limit, name in limit.map { (key, $0, name) } }
    }

    /// The line written to `io.max`, e.g. `8:0 rbps=1048576 wiops=max`.
    public var fileText: String {
        ([device.fileText] + fields.map { "\($0.key)=\($0.limit.fileText)" }).joined(separator: " ")
    }

    /// Checks the limits against the kernel's rules: at least one field; numbers of at
    /// least 1 (the kernel answers 0 with ERANGE); IOPS at most 2^32 - 1 (the kernel would
    /// silently cap them there).
    public func validate() throws(CGroupError) {
        guard !fields.isEmpty else {
            throw .invalid("io.max", fileText, "the io.max limit of \(device) sets no field")
        }
        for field in fields {
            guard case .value(let number) = field.limit else { continue }
            if number == 0 {
                throw .invalid("io.max", fileText, "\(field.name) (\(field.key)) of \(device) must be at least 1 or max, got 0")
            }
            if field.key.hasSuffix("iops"), number > UInt64(UInt32.max) {
                throw .invalid(
                    "io.max", fileText, "\(field.name) (\(field.key)) of \(device) must be at most \(UInt32.max), got \(number)")
            }
        }
    }

    public var description: String { fileText }

    /// Parses `io.max` text: one line per limited device.
    public static func parse(_ text: String, file: String = "io.max") throws(CGroupError) -> [IODeviceLimit] {
        let nested = try NestedKeyedFile(parsing: text, file: file)
        var limits: [IODeviceLimit] = []
        for line in nested.lines {
            let device: DeviceNumber
            do throws(CGroupError) { device = try DeviceNumber(fileText: line.key, file: file) } catch {
                throw .unparsable(file, line: line.number, text: line.key, "expected a device MAJ:MIN")
            }
            var limit = IODeviceLimit(device: device)
            limit.readBytesPerSecond = try nested.value("rbps", of: line)
            limit.writeBytesPerSecond = try nested.value("wbps", of: line)
            limit.readIOPS = try nested.value("riops", of: line)
            limit.writeIOPS = try nested.value("wiops", of: line)
            for field in line.fields where !["rbps", "wbps", "riops", "wiops"].contains(field.key) {
                limit.extra[field.key] = field.value
            }
            limits.append(limit)
        }
        return limits
    }
}
