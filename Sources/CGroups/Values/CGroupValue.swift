/// A value held by a cgroup interface file, with the text form the kernel reads and writes.
///
/// Conforming types check their range when they are created, so a value of such a type is
/// always one the kernel accepts for its file; `init(fileText:file:)` reads the kernel's own
/// output back.
public protocol CGroupValue: Sendable, Hashable {
    /// The text written to the interface file (without a trailing newline).
    var fileText: String { get }

    /// Parses the kernel's text for this value, as read from `file` (used in errors).
    /// Surrounding whitespace, including the trailing newline, is ignored.
    init(fileText: String, file: String) throws(CGroupError)
}

extension UInt64: CGroupValue {
    /// The decimal text of the number.
    public var fileText: String { String(self) }

    /// Parses a plain decimal number (no sign, no unit).
    public init(fileText: String, file: String) throws(CGroupError) {
        let text = fileText.trimmingASCIIWhitespace()
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let number = UInt64(text) else {
            throw .unparsable(file, text: text, "expected an unsigned decimal number")
        }
        self = number
    }
}

extension Int64: CGroupValue {
    /// The decimal text of the number.
    public var fileText: String { String(self) }

    /// Parses a decimal number with an optional leading `-`.
    public init(fileText: String, file: String) throws(CGroupError) {
        let text = fileText.trimmingASCIIWhitespace()
        let digits = text.hasPrefix("-") ? text.dropFirst() : text[...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let number = Int64(text) else {
            throw .unparsable(file, text: text, "expected a decimal number")
        }
        self = number
    }
}
