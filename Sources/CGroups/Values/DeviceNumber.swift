/// A block device's number, `MAJ:MIN` as `io.stat`, `io.max` and `io.weight` name devices
/// (e.g. `8:0` for sda, `254:0` for vda); see `/sys/block/<name>/dev`.
public struct DeviceNumber: CGroupValue, Comparable, CustomStringConvertible {
    /// The major number.
    public var major: UInt32
    /// The minor number.
    public var minor: UInt32

    /// The device `major:minor`.
    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    /// `MAJ:MIN`.
    public var fileText: String { "\(major):\(minor)" }

    /// Parses `MAJ:MIN`.
    public init(fileText: String, file: String) throws(CGroupError) {
        let parts = fileText.trimmingASCIIWhitespace().split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
            let major = UInt32(parts[0]), let minor = UInt32(parts[1])
        else {
            throw .unparsable(file, text: fileText, "expected a device number MAJ:MIN such as 8:0")
        }
        self.init(major: major, minor: minor)
    }

    public var description: String { fileText }

    public static func < (lhs: DeviceNumber, rhs: DeviceNumber) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}
