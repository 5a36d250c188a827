public import GRPCCore
public import NodeAgent

/// Raw bytes as a gRPC message: lets a test put malformed protobuf on the wire.
private struct RawBytes: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] { bytes.withUnsafeBytes { Array($0) } }
}

extension AgentClient {
    /// Calls `method` with `bytes` as the request body; returns the error the agent answered
    /// with (nil if it accepted the bytes).
    public static func rawUnary(_ endpoint: AgentEndpoint, method: MethodDescriptor, bytes: [UInt8]) async throws -> RPCError? {
        try await withGRPCClient(transport: try endpoint.transport()) { client in
            do {
                _ = try await client.unary(
                    request: ClientRequest(message: bytes), descriptor: method, serializer: RawBytes(), deserializer: RawBytes(),
                    options: .defaults
                ) { try $0.message }
                return nil
            } catch let error as RPCError {
                return error
            }
        }
    }
}
