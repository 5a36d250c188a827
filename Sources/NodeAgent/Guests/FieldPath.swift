/// Spells coding paths and XML locations the way errors name fields: `disks[1].source.path`.
enum FieldPath {
    /// `disks[1].source.path` for the coding path `disks`, index 1, `source`, `path`; keys that are
    /// not plain identifiers (label keys) are quoted: `labels["a.b/c"]`.
    /// Label keys are entries of a map: `labels["team"]`, whatever they look like.
    static func string(_ path: [any CodingKey]) -> String {
        var previous = ""
        return path.reduce(into: "") { result, key in
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") || key.stringValue == String(index) {
                result += "[\(index)]"
            } else if previous == "labels" {
                result = entry(key.stringValue, of: result)
            } else {
                result = appending(key.stringValue, to: result)
            }
            previous = key.stringValue
        }
    }

    /// `base["key"]`: an entry of a map (label keys), whatever the key looks like, so that it is
    /// never read as a field of the map.
    static func entry(_ key: String, of base: String) -> String {
        base + "[" + GuestSpecError.display(key) + "]"
    }

    /// `base.key`, or `base["key"]` when `key` is not a plain snake_case identifier.
    static func appending(_ key: String, to base: String) -> String {
        let plain =
            !key.isEmpty
            && key.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || $0 == "_" || ("0"..."9").contains($0) }
        if plain { return base.isEmpty ? key : base + "." + key }
        return base + "[" + GuestSpecError.display(key) + "]"
    }
}

/// A coding key for any string or index, to see every key a container holds.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// Refuses keys that the format does not define, so that a misspelt key (`vcpu` for `vcpus`)
    /// is reported instead of silently ignored.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let known = Set(Keys.allCases.map(\.stringValue))
        let container = try container(keyedBy: AnyCodingKey.self)
        let unknown = container.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        guard !unknown.isEmpty else { return }
        let base = FieldPath.string(codingPath)
        let allowed = Keys.allCases.map(\.stringValue).joined(separator: ", ")
        throw GuestSpecError(
            unknown.map {
                GuestSpecError.Problem(
                    field: FieldPath.appending($0, to: base), value: nil, code: .unknownKey,
                    reason: "unknown key; expected one of: \(allowed)")
            })
    }
}

/// Enumerations with a fixed set of string spellings in the spec format.
protocol SpecKeyword: RawRepresentable, CaseIterable where RawValue == String {}

extension SpecKeyword {
    /// Decodes one of the spellings; anything else is refused with the field and the choices.
    static func decodeKeyword(from decoder: any Decoder) throws -> Self {
        let text = try decoder.singleValueContainer().decode(String.self)
        if let value = Self(rawValue: text) { return value }
        throw GuestSpecError(
            field: FieldPath.string(decoder.codingPath), rawValue: text, code: .invalidValue,
            reason: "must be one of: " + allCases.map(\.rawValue).joined(separator: ", "))
    }
}
