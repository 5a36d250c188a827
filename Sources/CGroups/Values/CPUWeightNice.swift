/// The CPU weight expressed as a nice value, the value of `cpu.weight.nice`: -20...19.
///
/// `cpu.weight.nice` is another view of `cpu.weight` (the kernel converts between them), so a
/// group sets one or the other, never both.
public struct CPUWeightNice: CGroupValue, Comparable, CustomStringConvertible {
    /// The nice value.
    public let value: Int

    /// Nice values the kernel accepts.
    public static let range: ClosedRange<Int> = -20...19

    /// A nice value; refused outside -20...19.
    public init(_ value: Int) throws(CGroupError) {
        guard Self.range.contains(value) else {
            throw .invalid("cpu.weight.nice", String(value), "cpu.weight.nice must be within -20...19, got \(value)")
        }
        self.value = value
    }

    /// The decimal nice value.
    public var fileText: String { String(value) }

    /// Parses the kernel's decimal nice value.
    public init(fileText: String, file: String) throws(CGroupError) {
        let number = try Int64(fileText: fileText, file: file)
        guard Self.range.contains(Int(number)) else {
            throw .unparsable(file, text: fileText, "a nice value must be within -20...19")
        }
        value = Int(number)
    }

    public var description: String { String(value) }

    public static func < (lhs: CPUWeightNice, rhs: CPUWeightNice) -> Bool { lhs.value < rhs.value }
}
