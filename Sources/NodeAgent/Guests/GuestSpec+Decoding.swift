public import Foundation
import SafeTOML
import TOMLKit

extension GuestSpec {
    /// Reads a spec written in JSON. Decoding problems (syntax, missing or unknown keys, wrong
    /// types, refused sizes or keywords) throw ``GuestSpecError`` naming the field; the spec is
    /// not validated (call ``validate()``).
    public init(json: Data) throws(GuestSpecError) {
        do {
            self = try JSONDecoder().decode(GuestSpec.self, from: json)
        } catch {
            throw Self.specError(error, format: "JSON")
        }
    }

    /// Reads tunables alone (a change to a defined guest's limits) from JSON; errors as for
    /// ``init(json:)``, with field paths under `tunables.`.
    public static func decodeTunables(json: Data) throws(GuestSpecError) -> Tunables {
        struct Wrapper: Decodable { var tunables: Tunables }
        do {
            var wrapped = Data("{\"tunables\":".utf8)
            wrapped.append(json)
            wrapped.append(Data("}".utf8))
            return try JSONDecoder().decode(Wrapper.self, from: wrapped).tunables
        } catch {
            throw Self.specError(error, format: "JSON")
        }
    }

    /// Reads a spec written in TOML; errors as for ``init(json:)``.
    public init(toml: String) throws(GuestSpecError) {
        do {
            self = try SafeTOML.decode(GuestSpec.self, from: toml)
        } catch {
            throw Self.specError(error, format: "TOML", toml: toml)
        }
    }

    /// The spec as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Maps what a decoder throws to a ``GuestSpecError`` with a field path.
    static func specError(_ error: any Error, format: String, toml: String? = nil) -> GuestSpecError {
        switch error {
        case let error as GuestSpecError:
            return error
        case let error as TOMLSyntax.Problem:
            return GuestSpecError(field: "", rawValue: nil, code: .invalidType, reason: error.description)
        case let error as TOMLParseError:
            return GuestSpecError(
                field: "", rawValue: nil, code: .invalidType,
                reason:
                    "not valid TOML: \(error.description) (line \(error.source.begin.line), column \(error.source.begin.column))"
            )
        case DecodingError.keyNotFound(let key, let context):
            var path = context.codingPath
            if path.last?.stringValue != key.stringValue { path.append(key) }
            // TOMLKit reports a value of the wrong type as a missing key.
            if let toml, let found = tomlType(in: toml, at: path) {
                return GuestSpecError(
                    field: FieldPath.string(path), rawValue: nil, code: .invalidType,
                    reason: "wrong type: found a TOML \(found.rawValue)")
            }
            return GuestSpecError(
                field: FieldPath.string(path), rawValue: nil, code: .missing, reason: "required key is missing")
        case DecodingError.valueNotFound(let type, let context):
            return GuestSpecError(
                field: FieldPath.string(context.codingPath), rawValue: nil, code: .missing,
                reason: "expected \(typeName(type)), found null")
        case DecodingError.typeMismatch(let type, let context):
            return GuestSpecError(
                field: FieldPath.string(context.codingPath), rawValue: nil, code: .invalidType,
                reason: "expected \(typeName(type))")
        case DecodingError.dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return GuestSpecError(field: "", rawValue: nil, code: .invalidType, reason: "not valid \(format)")
            }
            return GuestSpecError(
                field: FieldPath.string(context.codingPath), rawValue: nil, code: .invalidValue,
                reason: context.debugDescription)
        default:
            return GuestSpecError(
                field: "", rawValue: nil, code: .invalidValue, reason: "cannot read \(format): \(error)")
        }
    }

    /// The type of the TOML value at `path`, or nil when there is none.
    private static func tomlType(in toml: String, at path: [any CodingKey]) -> TOMLType? {
        guard let root = try? SafeTOML.table(toml) else { return nil }
        var current: any TOMLValueConvertible = root
        for key in path {
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") {
                guard let array = current.array, index >= 0, index < array.count else { return nil }
                current = array[index]
            } else {
                guard let table = current.table, let next = table[key.stringValue] else { return nil }
                current = next
            }
        }
        return current.type
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type: "an integer"
        case is Double.Type: "a number"
        default:
            if ObjectIdentifier(type) == ObjectIdentifier([Any].self) {
                "an array"
            } else if ObjectIdentifier(type) == ObjectIdentifier([String: Any].self) {
                "a table"
            } else {
                "a value of type \(type)"
            }
        }
    }
}
