/// Why a guest spec, its agent metadata or a domain XML document was refused.
///
/// Every problem names the field it is about with a path in the spec file's own spelling
/// (`disks[1].source.path`, `tunables.cpu.quota`, `labels["team"]`), the offending value in a
/// form that is safe to print (quoted, control characters escaped, truncated) and the reason.
/// Validation reports every problem it finds, not just the first; ``problems`` is never empty.
public struct GuestSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of rule a value broke; stable, for programs. The ``Problem/reason`` is for people.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// A required field is absent or empty.
        case missing
        /// A key that is not part of the format (usually a typo).
        case unknownKey = "unknown_key"
        /// The value has the wrong type (a string where a number belongs, ...).
        case invalidType = "invalid_type"
        /// The value is not one of the accepted values or cannot be parsed.
        case invalidValue = "invalid_value"
        /// The value contains characters the field does not allow.
        case invalidCharacters = "invalid_characters"
        /// The value is longer than the field allows.
        case tooLong = "too_long"
        /// A list or map has more entries than allowed.
        case tooMany = "too_many"
        /// A number is outside the field's range.
        case outOfRange = "out_of_range"
        /// A size is not a multiple of the unit the field needs.
        case misaligned
        /// A path is not absolute.
        case notAbsolute = "not_absolute"
        /// A path has a `..` component.
        case parentReference = "parent_reference"
        /// The value repeats one that must be unique.
        case duplicate
        /// The value cannot be combined with another field.
        case conflict
        /// An XML document or element is not well formed or lacks a required part.
        case malformedXML = "malformed_xml"
    }

    /// One refused value.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// Where the value is: `disks[1].source.path`, `metadata.owner`, `domain.devices.disk[0]`.
        public var field: String
        /// The offending value as it may be shown to a person (see ``GuestSpecError/display(_:)``),
        /// or nil when the value is absent.
        public var value: String?
        /// The kind of rule broken.
        public var code: Code
        /// What is wrong, in words: `must be absolute`, `must be in 1...512`.
        public var reason: String

        /// Creates a problem; `value` must already be in display form.
        public init(field: String, value: String?, code: Code, reason: String) {
            self.field = field
            self.value = value
            self.code = code
            self.reason = reason
        }

        /// `field: value: reason` on one line.
        public var description: String {
            let location = field.isEmpty ? "" : field + ": "
            if let value { return location + value + ": " + reason }
            return location + reason
        }
    }

    /// Every problem found, in the order of the fields; never empty.
    public let problems: [Problem]

    /// An error with the given problems. - Precondition: `problems` is not empty.
    public init(_ problems: [Problem]) {
        precondition(!problems.isEmpty, "GuestSpecError needs at least one problem")
        self.problems = problems
    }

    /// An error with one problem; `rawValue` is shown through ``display(_:)``.
    public init(field: String, rawValue: String?, code: Code, reason: String) {
        self.init([Problem(field: field, value: rawValue.map(Self.display), code: code, reason: reason)])
    }

    /// The field of the first problem.
    public var field: String { problems[0].field }

    /// The code of the first problem.
    public var code: Code { problems[0].code }

    /// The first problem about `field`, if any.
    public func problem(at field: String) -> Problem? {
        problems.first { $0.field == field }
    }

    /// One problem per line.
    public var description: String {
        if problems.count == 1 { return "invalid guest spec: \(problems[0])" }
        return "invalid guest spec (\(problems.count) problems):\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }

    /// The longest prefix of a value shown in an error, in Unicode scalars.
    public static let displayLimit = 64

    /// A value quoted for display: `"`, `\` and every control or non-printable scalar
    /// escaped Swift-style (`\n`, `\u{1B}`), cut after ``displayLimit`` scalars with the full
    /// length in bytes appended, so hostile input can neither flood nor forge a log line.
    public static func display(_ raw: String) -> String {
        var out = "\""
        var count = 0
        for scalar in raw.unicodeScalars {
            if count == displayLimit {
                out += "\u{2026}\" (\(raw.utf8.count) bytes)"
                return out
            }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if TextRules.isControlOrUnrepresentable(scalar) || scalar.properties.generalCategory == .format {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
