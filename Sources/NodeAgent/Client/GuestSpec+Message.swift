public import AgentAPI
import Foundation
import SwiftProtobuf

extension GuestSpec {
    /// Keys whose values are sizes: integers of bytes in the spec's JSON, strings in the API.
    private static let sizeKeys: Set<String> = [
        "memory", "hard_limit", "soft_limit", "swap_hard_limit", "total_bytes_sec", "read_bytes_sec", "write_bytes_sec",
    ]

    /// The spec as the API's message (the same fields under the same names; sizes as strings
    /// of bytes). The agent decodes it back with the same rules as a spec file.
    public func message() throws -> Nodeagent_V1_GuestSpec {
        let object = try JSONSerialization.jsonObject(with: try jsonData())
        let converted = try JSONSerialization.data(withJSONObject: Self.stringifySizes(object))
        return try Nodeagent_V1_GuestSpec(jsonUTF8Data: converted)
    }

    private static func stringifySizes(_ value: Any, key: String? = nil) -> Any {
        if let dictionary = value as? [String: Any] {
            return dictionary.reduce(into: [String: Any]()) { $0[$1.key] = stringifySizes($1.value, key: $1.key) }
        }
        if let array = value as? [Any] { return array.map { stringifySizes($0) } }
        if let key, sizeKeys.contains(key), let number = value as? NSNumber { return number.stringValue }
        return value
    }
}
