/// A non-negative number of bytes, written by operators as an integer or a string with a
/// binary suffix.
///
/// Accepted spellings: `1073741824`, `"1073741824"`, `"512B"`, `"256K"`, `"256M"`, `"1G"`,
/// `"2T"`, the same with `i` or `iB` (`"512Mi"`, `"512MiB"`), suffix letters in either case and
/// optional spaces between the number and the suffix (`"1 GiB"`). Every suffix is binary
/// (K = 1024). Refused: negative numbers, fractions (`"1.5G"`), signs, decimal suffixes whose
/// meaning is ambiguous (`"1GB"`, `"1KB"`), unknown suffixes and anything above `Int64.max`.
///
/// Encodes as a plain integer of bytes.
public struct ByteSize: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The size in bytes; never negative.
    public let bytes: Int64

    /// Why a size string was refused.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The string is empty or only spaces.
        case empty
        /// The number is negative.
        case negative
        /// The number has a fraction or is not a number at all.
        case notAnInteger
        /// The suffix is not one of B, K, M, G, T (with optional `i`/`iB`).
        case unknownSuffix(String)
        /// A decimal-looking suffix (`KB`, `MB`, `GB`, `TB`) that would be read as binary.
        case ambiguousSuffix(String)
        /// The size does not fit in `Int64` bytes.
        case overflow

        /// What is wrong, in words.
        public var description: String {
            switch self {
            case .empty: "is empty"
            case .negative: "must not be negative"
            case .notAnInteger: "must be a whole number of bytes, optionally with a suffix B, K, M, G or T"
            case .unknownSuffix(let suffix):
                "has unknown suffix \(GuestSpecError.display(suffix)); use B, K, M, G or T (binary, K = 1024)"
            case .ambiguousSuffix(let suffix):
                "suffix \(GuestSpecError.display(suffix)) is ambiguous; write \(suffix.prefix(1).uppercased())iB or \(suffix.prefix(1).uppercased()) (binary)"
            case .overflow: "is larger than \(Int64.max) bytes"
            }
        }
    }

    /// A size of `bytes` bytes, or nil when `bytes` is negative.
    public init?(bytes: Int64) {
        guard bytes >= 0 else { return nil }
        self.bytes = bytes
    }

    /// `count` KiB. - Precondition: the result is non-negative and fits in `Int64`.
    public static func kib(_ count: Int64) -> ByteSize { scaled(count, by: 1 << 10) }
    /// `count` MiB. - Precondition: the result is non-negative and fits in `Int64`.
    public static func mib(_ count: Int64) -> ByteSize { scaled(count, by: 1 << 20) }
    /// `count` GiB. - Precondition: the result is non-negative and fits in `Int64`.
    public static func gib(_ count: Int64) -> ByteSize { scaled(count, by: 1 << 30) }
    /// `count` TiB. - Precondition: the result is non-negative and fits in `Int64`.
    public static func tib(_ count: Int64) -> ByteSize { scaled(count, by: 1 << 40) }

    private static func scaled(_ count: Int64, by unit: Int64) -> ByteSize {
        let (product, overflow) = count.multipliedReportingOverflow(by: unit)
        precondition(!overflow && product >= 0, "ByteSize out of range: \(count) x \(unit)")
        return ByteSize(uncheckedBytes: product)
    }

    private init(uncheckedBytes: Int64) { self.bytes = uncheckedBytes }

    /// Parses an operator-written size such as `"256M"` or `"1 GiB"`.
    public init(parsing text: String) throws(ParseError) {
        let trimmed = text.trimmingASCIISpaces()
        guard !trimmed.isEmpty else { throw .empty }
        if trimmed.hasPrefix("-") { throw .negative }
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { throw .notAnInteger }
        let rest = trimmed.dropFirst(digits.count)
        if rest.hasPrefix(".") || rest.hasPrefix(",") { throw .notAnInteger }
        let suffix = String(rest).trimmingASCIISpaces()
        let multiplier: Int64
        switch suffix.uppercased() {
        case "", "B": multiplier = 1
        case "K", "KI", "KIB": multiplier = 1 << 10
        case "M", "MI", "MIB": multiplier = 1 << 20
        case "G", "GI", "GIB": multiplier = 1 << 30
        case "T", "TI", "TIB": multiplier = 1 << 40
        case "KB", "MB", "GB", "TB": throw .ambiguousSuffix(suffix)
        default:
            if suffix.contains(where: { $0.isNumber }) || suffix.hasPrefix("e") || suffix.hasPrefix("E") {
                throw .notAnInteger
            }
            throw .unknownSuffix(suffix)
        }
        guard let count = Int64(digits) else { throw .overflow }
        let (product, overflow) = count.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw .overflow }
        self.bytes = product
    }

    /// Decodes an integer of bytes or a size string; a refused value throws a
    /// ``GuestSpecError`` naming the field.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let field = FieldPath.string(decoder.codingPath)
        if let text = try? container.decode(String.self) {
            do {
                try self.init(parsing: text)
            } catch {
                throw GuestSpecError(field: field, rawValue: text, code: .invalidValue, reason: "size \(error)")
            }
        } else if let integer = try? container.decode(Int64.self) {
            guard integer >= 0 else {
                throw GuestSpecError(
                    field: field, rawValue: String(integer), code: .outOfRange, reason: "size must not be negative")
            }
            self.init(uncheckedBytes: integer)
        } else if let number = try? container.decode(Double.self) {
            let reason =
                number < 0
                ? "size must not be negative"
                : number.rounded() != number
                    ? "size must be a whole number of bytes"
                    : "size is larger than \(Int64.max) bytes"
            throw GuestSpecError(field: field, rawValue: "\(number)", code: .outOfRange, reason: reason)
        } else {
            throw GuestSpecError(
                field: field, rawValue: nil, code: .invalidType,
                reason: "expected a size: an integer of bytes or a string like \"256M\"")
        }
    }

    /// Encodes the size as an integer of bytes.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }

    /// Whether the size is a whole multiple of `unit` bytes.
    public func isMultiple(of unit: Int64) -> Bool { bytes % unit == 0 }

    /// The size in the largest binary unit that divides it exactly: `256 MiB`, `1536 KiB`, `7 B`.
    public var description: String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
        where bytes != 0 && bytes % (Int64(1) << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return "\(bytes) B"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }
}

extension String {
    /// The string without leading and trailing ASCII spaces and tabs.
    func trimmingASCIISpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}
