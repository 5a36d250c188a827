import AgentAPI
import Foundation
import GRPCCore
import SwiftProtobuf

/// `nodeagent.v1.Guests`: every mutating call becomes a task; reads answer directly.
struct GuestsService: Nodeagent_V1_Guests.SimpleServiceProtocol {
    let core: AgentCore

    func define(request: Nodeagent_V1_DefineGuestRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.guestDefine, request.requestID, request) { return task }
        let spec = try rpcSync { () throws(AgentError) in try GuestSpecConversion.spec(request.spec) }
        var input = request
        // The UUID is fixed before the task exists, so a retried or resumed define is recognised.
        let uuid = (spec.uuid ?? UUID()).uuidString.lowercased()
        input.spec.uuid = uuid
        return try await core.submit(.guestDefine, target: uuid, requestID: request.requestID, fingerprintOf: request, input: input)
    }

    func start(request: Nodeagent_V1_GuestActionRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        try await action(.guestStart, request)
    }

    func shutdown(request: Nodeagent_V1_ShutdownGuestRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.guestShutdown, request.requestID, request) { return task }
        guard request.graceSeconds <= 86_400 else {
            throw RPCStatusMapping.invalid("grace_seconds", "must be at most 86400 (got \(request.graceSeconds))")
        }
        let target = try await core.guestTarget(request.guest, force: request.force)
        return try await core.submit(.guestShutdown, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func destroy(request: Nodeagent_V1_GuestActionRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        try await action(.guestDestroy, request, refuseProtected: true)
    }

    func reboot(request: Nodeagent_V1_GuestActionRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        try await action(.guestReboot, request)
    }

    func suspend(request: Nodeagent_V1_GuestActionRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        try await action(.guestSuspend, request)
    }

    func resume(request: Nodeagent_V1_GuestActionRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        try await action(.guestResume, request)
    }

    func undefine(request: Nodeagent_V1_UndefineGuestRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.guestUndefine, request.requestID, request) { return task }
        let target = try await core.guestTarget(request.guest, force: request.force, refuseProtected: true, operation: "undefine")
        return try await core.submit(.guestUndefine, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func setProtection(request: Nodeagent_V1_SetProtectionRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.guestProtect, request.requestID, request) { return task }
        let target = try await core.guestTarget(request.guest, force: request.force)
        return try await core.submit(.guestProtect, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func setLimits(request: Nodeagent_V1_SetGuestLimitsRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.guestLimits, request.requestID, request) { return task }
        guard request.hasTunables else { throw RPCStatusMapping.invalid("tunables", "required: the cputune/memtune/blkiotune values to set") }
        let tunables = try rpcSync { () throws(AgentError) in try GuestSpecConversion.tunables(request.tunables) }
        guard !GuestManager.parameters(tunables).isEmpty else { throw RPCStatusMapping.invalid("tunables", "no value to set") }
        let target = try await core.guestTarget(request.guest, force: request.force)
        return try await core.submit(.guestLimits, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func list(request: Nodeagent_V1_ListGuestsRequest, context: ServerContext) async throws -> Nodeagent_V1_ListGuestsResponse {
        let guests = try await rpc { () throws(AgentError) in try await core.guests.list() }
        var response = Nodeagent_V1_ListGuestsResponse()
        response.guests = guests.filter { !request.managedOnly || $0.isManaged }.map(Nodeagent_V1_Guest.init)
        return response
    }

    func get(request: Nodeagent_V1_GetGuestRequest, context: ServerContext) async throws -> Nodeagent_V1_Guest {
        let ref = try RequestCheck.guest(request.guest)
        return Nodeagent_V1_Guest(try await rpc { () throws(AgentError) in try await core.guests.get(ref) })
    }

    private func action(
        _ kind: TaskKind, _ request: Nodeagent_V1_GuestActionRequest, refuseProtected: Bool = false
    ) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(kind, request.requestID, request) { return task }
        let target = try await core.guestTarget(
            request.guest, force: request.force, refuseProtected: refuseProtected, operation: String(kind.rawValue.dropFirst(6)))
        return try await core.submit(kind, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }
}

/// Runs agent code, turning its `AgentError` into the matching gRPC status.
func rpc<T>(_ body: () async throws(AgentError) -> T) async throws(RPCError) -> T {
    do {
        return try await body()
    } catch {
        throw RPCStatusMapping.error(error)
    }
}

func rpcSync<T>(_ body: () throws(AgentError) -> T) throws(RPCError) -> T {
    do {
        return try body()
    } catch {
        throw RPCStatusMapping.error(error)
    }
}

extension AgentCore {
    /// The task of an earlier call with this request id, if there was one; checked before any
    /// precondition, so a repeat after success (the guest since undefined, say) still answers
    /// with the original task. A request id used for a different call is refused.
    func repeated(_ kind: TaskKind, _ requestID: String, _ request: some SwiftProtobuf.Message) async throws(RPCError) -> Nodeagent_V1_Task? {
        let requestID = try RequestCheck.requestID(requestID)
        let found: TaskRecord?
        do {
            found = try tasks.get(requestID: requestID)
        } catch {
            throw RPCError(code: .unavailable, message: "the agent's state store failed: \(error)")
        }
        guard let existing = found else { return nil }
        let fingerprint = try RequestCheck.fingerprint(kind: kind.rawValue, request)
        guard existing.kind == kind.rawValue, existing.fingerprint == fingerprint else {
            throw RPCStatusMapping.error(TaskSubmitError.requestIDReused(requestID: requestID, taskID: existing.id, kind: existing.kind))
        }
        return Nodeagent_V1_Task(existing)
    }

    /// The UUID a guest task acts on. Unknown guests are NOT_FOUND, and foreign or protected
    /// guests FAILED_PRECONDITION, before a task is created. While libvirt is unreachable the
    /// reference is kept as given and the task retries.
    func guestTarget(
        _ ref: String, force: Bool, refuseProtected: Bool = false, operation: String = ""
    ) async throws(RPCError) -> String {
        let ref = try RequestCheck.guest(ref)
        switch await Result({ () throws(AgentError) in try await guests.get(ref) }) {
        case .success(let guest):
            if !guest.isManaged && !force {
                throw RPCError(
                    code: .failedPrecondition,
                    message: "\(guest.name) is a foreign guest (no nodeagent metadata): the agent does not touch it; set force to act anyway")
            }
            if refuseProtected && guest.isProtected && !force {
                throw RPCError(
                    code: .failedPrecondition, message: "\(guest.name) is protected: \(operation) refused; set force to override")
            }
            // The audit trail of overrides: who forced what on which guest.
            if force && (!guest.isManaged || (refuseProtected && guest.isProtected)) {
                logger.warning(
                    "forced \(operation.isEmpty ? "change" : operation) of a \(guest.isManaged ? "protected" : "foreign") guest",
                    metadata: [
                        "guest.name": "\(guest.name)", "guest.uuid": "\(guest.uuid.uuidString.lowercased())",
                        "caller": "\(Caller.current ?? "unknown")",
                    ])
            }
            return guest.uuid.uuidString.lowercased()
        case .failure(let error) where error.code == .unavailable:
            return ref
        case .failure(let error):
            throw RPCStatusMapping.error(error)
        }
    }
}
