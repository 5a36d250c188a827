/// A percentage from 0 to 100 with two decimals, as `cpu.uclamp.min` and `cpu.uclamp.max`
/// take it (`12.34` means 12.34 %), and as a fraction of a total for relative limits
/// (``of(_:)``, e.g. a memory limit of 50 % of the host's memory).
public struct Percentage: CGroupValue, Comparable, CustomStringConvertible {
    /// The percentage in hundredths of a percent (0...10000).
    public let hundredths: UInt16

    /// Percent values the kernel accepts.
    public static let range: ClosedRange<Double> = 0...100

    /// `percent` %, rounded to two decimals; refused outside 0...100 or when not finite.
    public init(_ percent: Double, file: String = "") throws(CGroupError) {
        guard percent.isFinite, Self.range.contains(percent) else {
            throw .invalid(file, "\(percent)", "a percentage must be within 0...100, got \(percent)")
        }
        hundredths = UInt16((percent * 100).rounded())
    }

    /// Parses `12.34` or `12.34%` (at most two decimals, as the kernel takes them).
    public init(parsing text: String, file: String = "") throws(CGroupError) {
        var body = text.trimmingASCIIWhitespace()
        if body.hasSuffix("%") { body.removeLast() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit),
            parts.count == 1 || (1...2).contains(parts[1].count) && parts[1].allSatisfy(\.isASCIIDigit),
            parts[0].count <= 3
        else {
            throw .invalid(file, text, "expected a percentage such as 50, 12.5 or 12.34")
        }
        // Hundredths: "5" is 50, "05" is 5.
        let fraction = parts.count == 1 ? "0" : parts[1].count == 1 ? "\(parts[1])0" : String(parts[1])
        let value = UInt32(parts[0])! * 100 + UInt32(fraction)!
        guard value <= 10000 else {
            throw .invalid(file, text, "a percentage must be within 0...100, got \(text)")
        }
        hundredths = UInt16(value)
    }

    /// Parses the kernel's `%llu.%02u` output.
    public init(fileText: String, file: String) throws(CGroupError) {
        do throws(CGroupError) { try self.init(parsing: fileText, file: file) } catch {
            throw .unparsable(file, text: fileText, "expected a percentage such as 12.34")
        }
    }

    /// The percentage as a Double (12.34 for 12.34 %).
    public var percent: Double { Double(hundredths) / 100 }

    /// The kernel's form: always two decimals, e.g. `12.30`.
    public var fileText: String {
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// This share of `total`, rounded down (e.g. 50 % of 8 GiB is 4 GiB).
    public func of(_ total: UInt64) -> UInt64 {
        let (high, low) = total.multipliedFullWidth(by: UInt64(hundredths))
        return UInt64(10000).dividingFullWidth((high, low)).quotient
    }

    public var description: String { "\(fileText)%" }

    public static func < (lhs: Percentage, rhs: Percentage) -> Bool { lhs.hundredths < rhs.hundredths }
}
