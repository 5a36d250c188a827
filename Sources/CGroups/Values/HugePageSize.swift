/// A huge page size, as the hugetlb controller names it in its interface files
/// (`hugetlb.2MB.max`, `hugetlb.1GB.current`, `hugetlb.64KB.events` on arm64).
///
/// The kernel names a size in the largest of GB, MB or KB that is at most the size
/// (binary units despite the spelling): 2 MiB is `2MB`, 1 GiB is `1GB`.
public struct HugePageSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The page size in bytes.
    public let bytes: UInt64

    /// 2 MiB pages (x86-64 PMD size).
    public static let twoMiB = HugePageSize(checkedBytes: 2 << 20)
    /// 1 GiB pages (x86-64 PUD size).
    public static let oneGiB = HugePageSize(checkedBytes: 1 << 30)

    /// A page size of `bytes`; refused unless it is a power of two of at least 64 KiB.
    public init(bytes: UInt64) throws(CGroupError) {
        guard bytes >= 64 << 10, bytes & (bytes - 1) == 0 else {
            throw .invalid("", String(bytes), "a huge page size is a power of two of at least 64K, got \(bytes)")
        }
        self.bytes = bytes
    }

    private init(checkedBytes bytes: UInt64) { self.bytes = bytes }

    /// Parses the kernel's name, e.g. `2MB`, `1GB`, `64KB`.
    public init(name: String) throws(CGroupError) {
        let units: [(suffix: String, shift: UInt64)] = [("GB", 30), ("MB", 20), ("KB", 10)]
        guard let unit = units.first(where: { name.hasSuffix($0.suffix) }),
            let count = UInt64(name.dropLast(2)), count > 0, count.leadingZeroBitCount > unit.shift
        else {
            throw .unparsable("", text: name, "expected a huge page size name such as 2MB or 1GB")
        }
        try self.init(bytes: count << unit.shift)
    }

    /// The size named in a hugetlb interface file name, e.g. 2 MiB for `hugetlb.2MB.max`;
    /// nil for any other file name.
    public init?(fileName: String) {
        let parts = fileName.split(separator: ".")
        guard parts.count >= 3, parts[0] == "hugetlb", let size = try? HugePageSize(name: String(parts[1])) else {
            return nil
        }
        self = size
    }

    /// The kernel's name: `2MB`, `1GB`, `64KB`.
    public var name: String {
        if bytes >= 1 << 30 { return "\(bytes >> 30)GB" }
        if bytes >= 1 << 20 { return "\(bytes >> 20)MB" }
        return "\(bytes >> 10)KB"
    }

    /// `hugetlb.<name>.<suffix>`, e.g. `file("max")` is `hugetlb.2MB.max`.
    public func file(_ suffix: String) -> String { "hugetlb.\(name).\(suffix)" }

    public var description: String { name }

    public static func < (lhs: HugePageSize, rhs: HugePageSize) -> Bool { lhs.bytes < rhs.bytes }
}
