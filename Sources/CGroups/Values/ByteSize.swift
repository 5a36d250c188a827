/// A number of bytes, as in `memory.max`, `memory.current` or `hugetlb.<size>.max`.
///
/// Written to the kernel as a plain decimal number. Input from people (`init(parsing:)`)
/// may carry a binary unit: `512`, `64K`, `1.5G`, `2TiB` (1K = 1024).
///
/// The kernel rounds memory limits (`memory.min/low/high/max`, `memory.swap.*`,
/// `memory.zswap.max`) down to a whole number of pages (4 KiB on x86-64) and hugetlb limits
/// down to a whole number of huge pages, so reading a limit back may give less than was
/// written; ``roundedDown(toMultipleOf:)`` does the same rounding ahead of time.
public struct ByteSize: CGroupValue, Comparable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// The number of bytes.
    public var bytes: UInt64

    /// `bytes` bytes.
    public init(_ bytes: UInt64) { self.bytes = bytes }

    public init(integerLiteral bytes: UInt64) { self.bytes = bytes }

    /// `count` KiB (traps on overflow, like integer arithmetic).
    public static func kibibytes(_ count: UInt64) -> ByteSize { ByteSize(count * 1024) }
    /// `count` MiB (traps on overflow, like integer arithmetic).
    public static func mebibytes(_ count: UInt64) -> ByteSize { ByteSize(count * 1024 * 1024) }
    /// `count` GiB (traps on overflow, like integer arithmetic).
    public static func gibibytes(_ count: UInt64) -> ByteSize { ByteSize(count * 1024 * 1024 * 1024) }
    /// `count` TiB (traps on overflow, like integer arithmetic).
    public static func tebibytes(_ count: UInt64) -> ByteSize { ByteSize(count * 1024 * 1024 * 1024 * 1024) }

    /// The size of a base page on the architectures the agent runs on (x86-64, arm64 4K kernels).
    public static let pageSize = ByteSize(4096)

    /// This size rounded down to a multiple of `unit` (e.g. ``pageSize``), as the kernel
    /// rounds memory limits.
    public func roundedDown(toMultipleOf unit: ByteSize) -> ByteSize {
        unit.bytes == 0 ? self : ByteSize(bytes - bytes % unit.bytes)
    }

    /// Parses a size written by a person: a decimal number (a fraction is allowed when the
    /// result is a whole number of bytes) followed by an optional binary unit: `K`, `M`, `G`,
    /// `T` (also `Ki`/`KiB`, ..., any case) or `B`. Decimal units such as `KB` or `MB` are
    /// refused as ambiguous. `file` names the interface file in errors.
    public init(parsing text: String, file: String = "") throws(CGroupError) {
        let trimmed = text.trimmingASCIIWhitespace()
        let numberEnd = trimmed.firstIndex { !$0.isASCIIDigit && $0 != "." } ?? trimmed.endIndex
        let number = trimmed[..<numberEnd]
        let unit = trimmed[numberEnd...].trimmingASCIIWhitespace().lowercased()
        let shifts: [String: UInt64] = [
            "": 0, "b": 0, "k": 10, "ki": 10, "kib": 10, "m": 20, "mi": 20, "mib": 20,
            "g": 30, "gi": 30, "gib": 30, "t": 40, "ti": 40, "tib": 40,
        ]
        guard let shift = shifts[unit] else {
            throw .invalid(
                file, text,
                "unknown unit \"\(unit)\": use a number of bytes or K, M, G, T (binary: 1K = 1024)")
        }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, let whole = UInt64(parts[0].isEmpty ? "0" : String(parts[0])),
            parts.count == 1 || (!parts[1].isEmpty && parts[1].count <= 18 && parts[1].allSatisfy(\.isASCIIDigit))
        else {
            throw .invalid(file, text, "expected a size such as 1048576, 512K, 64M, 1.5G or 2T")
        }
        let multiplier: UInt64 = 1 << shift
        var (bytes, overflow) = whole.multipliedReportingOverflow(by: multiplier)
        if parts.count == 2 {
            // fraction * multiplier / 10^digits must be a whole number of bytes.
            let fraction = UInt64(parts[1])!
            var scale: UInt64 = 1
            for _ in 0..<parts[1].count { scale *= 10 }
            let product = fraction.multipliedFullWidth(by: multiplier)
            let (quotient, remainder) = scale.dividingFullWidth(product)
            guard remainder == 0 else {
                throw .invalid(file, text, "\(text) is not a whole number of bytes")
            }
            let sum = bytes.addingReportingOverflow(quotient)
            bytes = sum.partialValue
            overflow = overflow || sum.overflow
        }
        guard !overflow else { throw .invalid(file, text, "\(text) does not fit in 64 bits") }
        self.bytes = bytes
    }

    /// The decimal number of bytes.
    public var fileText: String { String(bytes) }

    /// Parses the kernel's plain decimal number of bytes.
    public init(fileText: String, file: String) throws(CGroupError) {
        bytes = try UInt64(fileText: fileText, file: file)
    }

    /// The size in the largest binary unit that divides it exactly, e.g. `64M`, `1536K`, `100`.
    public var description: String {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] where bytes != 0 {
            if bytes % (1 << UInt64(shift)) == 0 { return "\(bytes >> UInt64(shift))\(unit)" }
        }
        return String(bytes)
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }
}
