// Hand-written, not generated: scripts/generate-protos.sh makes the generated services use this
// deserializer in place of GRPCProtobuf.ProtobufDeserializer.
public import GRPCCore
import Foundation
public import SwiftProtobuf

/// Decodes a protobuf message like `GRPCProtobuf.ProtobufDeserializer`, but a message that does
/// not decode is refused with INVALID_ARGUMENT naming the field at fault and the reason (a string
/// that is not UTF-8, a truncated field), where the stock deserializer says only "Can't
/// deserialize to message of type …".
public struct RequestDeserializer<Message: SwiftProtobuf.Message>: GRPCCore.MessageDeserializer {
    public init() {}

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        do {
            return try Message(serializedBytes: BytesAdapter(serializedMessageBytes))
        } catch {
            let bytes = serializedMessageBytes.withUnsafeBytes { [UInt8]($0) }
            throw RPCError(code: .invalidArgument, message: WireDiagnosis<Message>.explain(error, in: bytes), cause: error)
        }
    }
}

/// Finds which field of a message that failed to decode is at fault, and names it with the
/// field names of the .proto (found through the message's own JSON encoding, SwiftProtobuf's
/// public way to a field's name).
enum WireDiagnosis<Message: SwiftProtobuf.Message> {
    static func explain(_ error: any Error, in bytes: [UInt8]) -> String {
        let type = Message.protoMessageName
        guard let error = error as? BinaryDecodingError else { return "not a valid \(type) message: \(error)" }
        switch error {
        case .invalidUTF8:
            if let path = invalidUTF8Path(bytes) {
                return "\(fieldName(path)): not valid UTF-8 (protobuf strings must be UTF-8)"
            }
            return "a string field of \(type) is not valid UTF-8"
        case .truncated:
            return "not a valid \(type) message: it ends in the middle of a field" + culprit(bytes)
        case .malformedProtobuf:
            return "not a valid \(type) message: malformed protobuf" + culprit(bytes)
        case .messageDepthLimit:
            return "not a valid \(type) message: nested too deeply"
        default:
            return "not a valid \(type) message: \(error)"
        }
    }

    /// " (at field …)" for the first top-level field that does not decode on its own.
    private static func culprit(_ bytes: [UInt8]) -> String {
        guard let fields = WireField.parse(bytes[...]) else { return "" }
        for field in fields where (try? Message(serializedBytes: Array(bytes[field.whole]))) == nil {
            return " (at \(fieldName([(field.number, index(of: field, in: fields))])))"
        }
        return ""
    }

    /// The path (field numbers with the index among repeated occurrences) to the innermost
    /// string field whose bytes are not UTF-8.
    static func invalidUTF8Path(_ bytes: [UInt8]) -> [(number: Int, index: Int)]? {
        search(prefix: [], in: bytes[...])
    }

    private static func search(prefix: [(number: Int, index: Int)], in bytes: ArraySlice<UInt8>) -> [(number: Int, index: Int)]? {
        guard let fields = WireField.parse(bytes), prefix.count < 32 else { return nil }
        for field in fields where field.wireType == 2 {
            let path = prefix + [(field.number, index(of: field, in: fields))]
            // Does this field alone, at this place, make the message fail on UTF-8?
            let alone = WireField.nest(path.map(\.number), payload: Array(bytes[field.payload]))
            guard case .invalidUTF8? = decodeError(alone) else { continue }
            return search(prefix: path, in: bytes[field.payload]) ?? path
        }
        return nil
    }

    private static func index(of field: WireField, in fields: [WireField]) -> Int {
        fields.prefix { $0.whole.lowerBound < field.whole.lowerBound }.filter { $0.number == field.number }.count
    }

    private static func decodeError(_ bytes: [UInt8]) -> BinaryDecodingError? {
        do {
            _ = try Message(serializedBytes: bytes)
            return nil
        } catch let error as BinaryDecodingError {
            return error
        } catch {
            return nil
        }
    }

    /// "spec.disks[1].path": a message holding only the path, with a string at its end (or an
    /// empty message there), encoded to JSON with the .proto names, gives the names. A map's
    /// key shows up as a name too: it is the string put at the end, so the path is built twice
    /// with different strings and only the names both agree on are kept.
    static func fieldName(_ path: [(number: Int, index: Int)]) -> String {
        let first = names(path, leaf: Array("a".utf8)) ?? names(path, leaf: [])
        let second = names(path, leaf: Array("b".utf8)) ?? names(path, leaf: [])
        guard let first, !first.isEmpty else { return "field " + path.map { "\($0.number)" }.joined(separator: ".") }
        let agreed = zip(first, second ?? first).prefix { $0 == $1 }.map(\.0)
        return (agreed.isEmpty ? first : agreed).joined(separator: ".")
    }

    private static func names(_ path: [(number: Int, index: Int)], leaf: [UInt8]) -> [String]? {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        guard let message = try? Message(serializedBytes: WireField.nest(path.map(\.number), payload: leaf)),
            let json = try? message.jsonUTF8Data(options: options),
            var node = try? JSONSerialization.jsonObject(with: json)
        else { return nil }
        var names: [String] = []
        for step in path {
            // A map's entries show as an object keyed by the map key: an empty key ends the path.
            guard let object = node as? [String: Any], object.count == 1, let (key, value) = object.first, !key.isEmpty
            else { break }
            if let array = value as? [Any], array.count == 1 {
                names.append("\(key)[\(step.index)]")
                node = array[0]
            } else {
                names.append(key)
                node = value
            }
        }
        return names.isEmpty ? nil : names
    }
}

/// One field of the protobuf wire format: its number, wire type, and where it and its payload
/// lie in the bytes.
struct WireField {
    var number: Int
    var wireType: Int
    var whole: Range<Int>
    var payload: Range<Int>

    /// The fields of `bytes`, or nil if they are not well-formed wire format.
    static func parse(_ bytes: ArraySlice<UInt8>) -> [WireField]? {
        var fields: [WireField] = []
        var position = bytes.startIndex
        while position < bytes.endIndex {
            let start = position
            guard let key = varint(bytes, &position), key >> 3 > 0, key >> 3 <= 536_870_911 else { return nil }
            let number = Int(key >> 3)
            let wireType = Int(key & 7)
            let payloadStart: Int
            switch wireType {
            case 0:
                payloadStart = position
                guard varint(bytes, &position) != nil else { return nil }
            case 1, 5:
                payloadStart = position
                position += wireType == 1 ? 8 : 4
            case 2:
                guard let length = varint(bytes, &position), length <= UInt64(bytes.endIndex - position) else { return nil }
                payloadStart = position
                position += Int(length)
            default:
                return nil
            }
            guard position <= bytes.endIndex else { return nil }
            fields.append(WireField(number: number, wireType: wireType, whole: start..<position, payload: payloadStart..<position))
        }
        return fields
    }

    /// Length-delimited fields nested along `numbers`, with `payload` inside the last one.
    static func nest(_ numbers: [Int], payload: [UInt8]) -> [UInt8] {
        var bytes = payload
        for number in numbers.reversed() {
            bytes = encode(UInt64(number) << 3 | 2) + encode(UInt64(bytes.count)) + bytes
        }
        return bytes
    }

    private static func encode(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }

    private static func varint(_ bytes: ArraySlice<UInt8>, _ position: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.endIndex, shift < 64 {
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}

/// The transport's bytes as SwiftProtobuf's, without a copy.
private struct BytesAdapter<Bytes: GRPCContiguousBytes>: SwiftProtobufContiguousBytes {
    var bytes: Bytes

    init(_ bytes: Bytes) { self.bytes = bytes }
    init(repeating: UInt8, count: Int) { bytes = Bytes(repeating: repeating, count: count) }
    init(_ sequence: some Sequence<UInt8>) { bytes = Bytes(sequence) }
    var count: Int { bytes.count }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try bytes.withUnsafeBytes(body) }
    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeMutableBytes(body)
    }
}
