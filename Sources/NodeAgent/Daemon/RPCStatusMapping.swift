import AgentAPI
import CGroups
import Glibc
import GRPCCore
import SwiftProtobuf

/// How the agent's failures become gRPC statuses. An expected failure never surfaces as
/// UNKNOWN: every reason has its code, and the message names the input and the reason.
enum RPCStatusMapping {
    /// The status code for a failure reason (`AgentError.Code` raw values and the task
    /// manager's own reasons).
    static func code(forReason reason: String) -> RPCError.Code {
        switch reason {
        case AgentError.Code.invalidArgument.rawValue: .invalidArgument
        case AgentError.Code.notFound.rawValue: .notFound
        case AgentError.Code.alreadyExists.rawValue: .alreadyExists
        case AgentError.Code.refused.rawValue, AgentError.Code.wrongState.rawValue: .failedPrecondition
        case AgentError.Code.timedOut.rawValue: .deadlineExceeded
        case AgentError.Code.unavailable.rawValue: .unavailable
        case AgentError.Code.unsupported.rawValue: .unimplemented
        case "cancelled": .cancelled
        case "agent-restarted", "agent-stopped": .aborted
        case "permission-denied": .permissionDenied
        default: .internalError
        }
    }

    static func error(_ error: AgentError) -> RPCError {
        RPCError(code: code(forReason: error.code.rawValue), message: error.description)
    }

    /// The same classification as a cgroup task's failure (`AgentError(_:CGroupError)`).
    static func error(_ error: CGroupError) -> RPCError {
        self.error(AgentError(error, subject: "", operation: ""))
    }

    static func error(_ error: TaskSubmitError) -> RPCError {
        switch error {
        case .requestIDReused(let requestID, let taskID, let kind):
            RPCError(
                code: .alreadyExists,
                message: "request_id \"\(requestID)\" was already used for a different call (task \(taskID), \(kind)); use a new request_id")
        case .unknownKind(let kind):
            RPCError(code: .internalError, message: "no handler for task kind \(kind)")
        case .store(let reason):
            RPCError(code: .unavailable, message: "the agent's state store failed: \(reason)")
        }
    }

    static func invalid(_ field: String, _ reason: String) -> RPCError {
        RPCError(code: .invalidArgument, message: "\(field): \(reason)")
    }
}

/// Checks of request fields shared by the services. Each names the field it refuses.
enum RequestCheck {
    /// 1-128 characters of [A-Za-z0-9._:-].
    static func requestID(_ value: String, field: String = "request_id") throws(RPCError) -> String {
        guard !value.isEmpty else { throw RPCStatusMapping.invalid(field, "required: a caller-chosen id that makes retries safe (e.g. a UUID)") }
        guard value.utf8.count <= 128, value.utf8.allSatisfy(isIDByte) else {
            throw RPCStatusMapping.invalid(field, "must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (got \(quoted(value)))")
        }
        return value
    }

    /// A guest named by UUID or name: 1-255 printable characters.
    static func guest(_ value: String, field: String = "guest") throws(RPCError) -> String {
        guard !value.isEmpty else { throw RPCStatusMapping.invalid(field, "required: a guest name or UUID") }
        try printable(value, field: field, max: 255)
        return value
    }

    /// A name (pool, volume): 1-255 printable characters without '/'.
    static func name(_ value: String, field: String) throws(RPCError) -> String {
        guard !value.isEmpty else { throw RPCStatusMapping.invalid(field, "required") }
        try printable(value, field: field, max: 255)
        guard !value.contains("/") else { throw RPCStatusMapping.invalid(field, "must not contain '/' (got \(quoted(value)))") }
        return value
    }

    static func printable(_ value: String, field: String, max: Int) throws(RPCError) {
        guard value.utf8.count <= max else {
            throw RPCStatusMapping.invalid(field, "longer than \(max) bytes (\(value.utf8.count))")
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RPCStatusMapping.invalid(field, "contains control characters (got \(quoted(value)))")
        }
    }

    /// A value echoed in an error: quoted, control characters escaped, long values cut.
    static func quoted(_ value: String) -> String {
        let escaped = value.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }.joined()
        return escaped.count > 80 ? "\"\(escaped.prefix(80))...\"" : "\"\(escaped)\""
    }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// A stable digest of a request's content (request_id left out), so a request id reused
    /// for a different call is recognised, also across restarts (deterministic map order).
    static func fingerprint(kind: String, _ message: some SwiftProtobuf.Message) throws(RPCError) -> String {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8]
        do {
            bytes = try message.serializedBytes(options: options)
        } catch {
            throw RPCError(code: .invalidArgument, message: "the request cannot be encoded: \(error)")
        }
        // FNV-1a, 64 bits, over the kind and the bytes: a guard against misuse, not a MAC.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(kind.utf8) + [0] + bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
