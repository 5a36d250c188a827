/// Collects the problems of a spec or metadata value, one rule per method.
///
/// Each method checks one value against one documented rule and records a
/// ``GuestSpecError/Problem`` naming `field`; nothing stops at the first problem.
struct GuestSpecValidator {
    private(set) var problems: [GuestSpecError.Problem] = []

    /// Longest path accepted, in bytes (Linux `PATH_MAX`).
    static let maxPathBytes = 4096
    /// Longest guest, pool, volume or network name, in characters.
    static let maxNameLength = 64
    /// Most labels on one guest.
    static let maxLabels = 64
    /// Longest label value, in characters.
    static let maxLabelValueLength = 256
    /// Longest kernel command line, in characters.
    static let maxCmdlineLength = 2048
    /// Longest owner string, in characters.
    static let maxOwnerLength = 256

    mutating func add(_ field: String, _ rawValue: String?, _ code: GuestSpecError.Code, _ reason: String) {
        problems.append(.init(field: field, value: rawValue.map(GuestSpecError.display), code: code, reason: reason))
    }

    mutating func merge(_ error: GuestSpecError) {
        problems += error.problems
    }

    /// Throws every collected problem, if any.
    func finish() throws(GuestSpecError) {
        if !problems.isEmpty { throw GuestSpecError(problems) }
    }

    // MARK: Strings

    /// 1...`maxLength` characters of `[A-Za-z0-9._-]`, the first alphanumeric. Returns whether
    /// it passed.
    @discardableResult
    mutating func name(_ value: String, field: String, maxLength: Int = maxNameLength, what: String = "name") -> Bool {
        let scalars = value.unicodeScalars
        guard let first = scalars.first else {
            add(field, nil, .missing, "\(what) must not be empty")
            return false
        }
        guard scalars.count <= maxLength else {
            add(field, value, .tooLong, "\(what) must be at most \(maxLength) characters, not \(scalars.count)")
            return false
        }
        guard scalars.allSatisfy(TextRules.isNameCharacter) else {
            add(field, value, .invalidCharacters, "\(what) may contain only A-Z, a-z, 0-9, '.', '_' and '-'")
            return false
        }
        guard TextRules.isAlphanumeric(first) else {
            add(field, value, .invalidCharacters, "\(what) must start with a letter or a digit")
            return false
        }
        return true
    }

    /// An absolute path of at most 4096 bytes, without `..` components, NUL or control characters.
    @discardableResult
    mutating func path(_ value: String, field: String) -> Bool {
        guard !value.isEmpty else {
            add(field, nil, .missing, "path must not be empty")
            return false
        }
        guard value.utf8.count <= Self.maxPathBytes else {
            add(field, value, .tooLong, "path must be at most \(Self.maxPathBytes) bytes, not \(value.utf8.count)")
            return false
        }
        guard !value.unicodeScalars.contains(where: TextRules.isControlOrUnrepresentable) else {
            add(field, value, .invalidCharacters, "path must not contain NUL or control characters")
            return false
        }
        guard value.hasPrefix("/") else {
            add(field, value, .notAbsolute, "path must be absolute (start with '/')")
            return false
        }
        guard !value.split(separator: "/").contains("..") else {
            add(field, value, .parentReference, "path must not contain a '..' component")
            return false
        }
        return true
    }

    /// Free text of at most `maxLength` characters without control characters; with
    /// `trimmed`, also without leading or trailing spaces.
    @discardableResult
    mutating func text(
        _ value: String, field: String, maxLength: Int, allowEmpty: Bool = true, trimmed: Bool = false, what: String
    ) -> Bool {
        let count = value.unicodeScalars.count
        if !allowEmpty && count == 0 {
            add(field, nil, .missing, "\(what) must not be empty")
            return false
        }
        guard count <= maxLength else {
            add(field, value, .tooLong, "\(what) must be at most \(maxLength) characters, not \(count)")
            return false
        }
        guard !value.unicodeScalars.contains(where: TextRules.isControlOrUnrepresentable) else {
            add(field, value, .invalidCharacters, "\(what) must not contain control characters")
            return false
        }
        if trimmed, value.first?.isWhitespace == true || value.last?.isWhitespace == true {
            add(field, value, .invalidValue, "\(what) must not start or end with whitespace")
            return false
        }
        return true
    }

    /// At most 64 labels; keys `[a-z0-9][a-z0-9._/-]{0,62}`, values at most 256 characters
    /// without control characters. `field` is the map's path (`labels`, `metadata.labels`).
    mutating func labels(_ labels: [String: String], field: String) {
        if labels.count > Self.maxLabels {
            add(field, nil, .tooMany, "at most \(Self.maxLabels) labels, not \(labels.count)")
        }
        for key in labels.keys.sorted() {
            let keyField = FieldPath.entry(key, of: field)
            labelKey(key, field: keyField)
            text(labels[key] ?? "", field: keyField, maxLength: Self.maxLabelValueLength, what: "label value")
        }
    }

    private mutating func labelKey(_ key: String, field: String) {
        let scalars = Array(key.unicodeScalars)
        let isLower: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        guard let first = scalars.first else {
            add(field, key, .missing, "label key must not be empty")
            return
        }
        guard scalars.count <= 63 else {
            add(field, key, .tooLong, "label key must be at most 63 characters, not \(scalars.count)")
            return
        }
        let restValid = scalars.dropFirst().allSatisfy {
            isLower($0) || $0 == "." || $0 == "_" || $0 == "/" || $0 == "-"
        }
        if !isLower(first) || !restValid {
            add(field, key, .invalidCharacters, "label key must match [a-z0-9][a-z0-9._/-]{0,62}")
        }
    }

    // MARK: Numbers

    /// `value` within `range`.
    mutating func range<T: BinaryInteger>(_ value: T, _ range: ClosedRange<T>, field: String, unit: String = "") {
        guard !range.contains(value) else { return }
        add(field, "\(value)", .outOfRange, "must be in \(range.lowerBound)...\(range.upperBound)\(unit)")
    }

    /// A byte size within `range` and a multiple of `alignment` bytes.
    mutating func size(_ value: ByteSize, _ range: ClosedRange<ByteSize>, alignment: Int64, field: String) {
        if !range.contains(value) {
            add(field, "\(value.bytes)", .outOfRange, "must be in \(range.lowerBound)...\(range.upperBound)")
        } else if !value.isMultiple(of: alignment) {
            add(field, "\(value.bytes)", .misaligned, "must be a multiple of \(ByteSize(bytes: alignment) ?? .kib(1))")
        }
    }
}
