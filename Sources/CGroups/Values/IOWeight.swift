/// A relative IO share, as `io.weight` holds it (the default line and per-device overrides):
/// 1...10000, default 100.
public struct IOWeight: CGroupValue, Comparable, CustomStringConvertible {
    /// The weight.
    public let value: UInt64

    /// Weights the kernel accepts.
    public static let range: ClosedRange<UInt64> = 1...10000
    /// The kernel's default weight.
    public static let `default` = IOWeight(checked: 100)

    /// A weight; refused outside 1...10000.
    public init(_ value: UInt64) throws(CGroupError) {
        guard Self.range.contains(value) else {
            throw .invalid("io.weight", String(value), "io.weight must be within 1...10000, got \(value)")
        }
        self.value = value
    }

    private init(checked value: UInt64) { self.value = value }

    /// Converts a cgroup v1 `blkio.weight` (10...1000) linearly onto 1...10000 as runc does
    /// (opencontainers/cgroups `ConvertBlkIOToIOWeightValue`): `1 + (weight - 10) * 9999 / 990`,
    /// so 10 → 1, 500 → 4950, 1000 → 10000. Weights outside 10...1000 are refused.
    public init(v1BlkioWeight weight: UInt64) throws(CGroupError) {
        guard (10...1000).contains(weight) else {
            throw .invalid("io.weight", String(weight), "blkio.weight must be within 10...1000, got \(weight)")
        }
        self.init(checked: 1 + (weight - 10) * 9999 / 990)
    }

    /// The decimal weight.
    public var fileText: String { String(value) }

    /// Parses the kernel's decimal weight.
    public init(fileText: String, file: String) throws(CGroupError) {
        let number = try UInt64(fileText: fileText, file: file)
        guard Self.range.contains(number) else {
            throw .unparsable(file, text: fileText, "an IO weight must be within 1...10000")
        }
        value = number
    }

    public var description: String { String(value) }

    public static func < (lhs: IOWeight, rhs: IOWeight) -> Bool { lhs.value < rhs.value }
}
