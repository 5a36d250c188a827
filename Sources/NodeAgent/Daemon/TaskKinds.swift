import AgentAPI
import CGroups
import Foundation
import Libvirt
import SwiftProtobuf

/// Every kind of task the agent runs, its queue, and whether repeating it after an agent
/// restart is safe (only idempotent operations are resumed; the rest are failed with a reason).
enum TaskKind: String, CaseIterable, Sendable {
    case guestDefine = "guest.define"
    case guestStart = "guest.start"
    case guestShutdown = "guest.shutdown"
    case guestDestroy = "guest.destroy"
    case guestReboot = "guest.reboot"
    case guestSuspend = "guest.suspend"
    case guestResume = "guest.resume"
    case guestUndefine = "guest.undefine"
    case guestProtect = "guest.protect"
    case guestLimits = "guest.limits"
    case volumeCreate = "volume.create"
    case volumeDelete = "volume.delete"
    case volumeResize = "volume.resize"
    case volumeClone = "volume.clone"
    case cgroupSet = "cgroup.set"
    case burninRun = "burnin.run"

    var queue: String {
        switch self {
        case .volumeCreate, .volumeDelete, .volumeResize, .volumeClone: "volume"
        case .cgroupSet: "cgroup"
        case .burninRun: "burnin"
        default: "guest"
        }
    }

    /// Safe to run again from the start after the agent died in the middle of it. A power
    /// operation that was under way (shutdown, destroy, reboot) is not: the controller decides.
    /// Nor is a burn-in: hours of load and writes are not repeated behind the controller's back.
    var resumable: Bool {
        switch self {
        case .guestDefine, .guestStart, .guestSuspend, .guestResume, .guestProtect, .guestLimits, .cgroupSet: true
        default: false
        }
    }
}

extension AgentCore {
    /// Registers the handler of every task kind with the task manager.
    func registerTaskHandlers() async {
        for kind in TaskKind.allCases {
            await tasks.register(kind: kind.rawValue, queue: kind.queue, resumable: kind.resumable) { [self] context in
                do {
                    return try await run(kind, context)
                } catch let error as AgentError where error.code == .cancelled {
                    throw CancellationError()
                }
            }
        }
    }

    private func run(_ kind: TaskKind, _ context: TaskContext) async throws -> TaskOutcome {
        let input = context.task.input
        switch kind {
        case .guestDefine:
            let request = try Nodeagent_V1_DefineGuestRequest(serializedBytes: input)
            let spec = try GuestSpecConversion.spec(request.spec)
            await context.progress(0.2, "defining \(spec.name)")
            let guest: Guest
            switch await Result({ () throws(AgentError) in try await guests.define(spec, protected: request.protected) }) {
            case .success(let defined):
                guest = defined
            case .failure(let error) where error.code == .alreadyExists && context.attempt > 1:
                // An earlier attempt of this very task defined it (its UUID was fixed at submit).
                let existing = try await guests.get(request.spec.uuid)
                guard existing.name == spec.name else { throw error }
                guest = existing
            case .failure(let error):
                throw error
            }
            return try Nodeagent_V1_TaskResult(summary: "defined \(guest.name)", .guest(Nodeagent_V1_Guest(guest))).outcome
        case .guestStart, .guestDestroy, .guestReboot, .guestSuspend, .guestResume:
            let request = try Nodeagent_V1_GuestActionRequest(serializedBytes: input)
            let ref = context.task.target
            let guest: Guest
            switch kind {
            case .guestStart: guest = try await guests.start(ref, force: request.force)
            case .guestDestroy: guest = try await guests.destroy(ref, force: request.force)
            case .guestReboot: guest = try await guests.reboot(ref, force: request.force)
            case .guestSuspend: guest = try await guests.suspend(ref, force: request.force)
            default: guest = try await guests.resume(ref, force: request.force)
            }
            return try Nodeagent_V1_TaskResult(
                summary: "\(guest.name): \(guest.state.kind.name)", .guest(Nodeagent_V1_Guest(guest))
            ).outcome
        case .guestShutdown:
            let request = try Nodeagent_V1_ShutdownGuestRequest(serializedBytes: input)
            var policy = shutdownPolicy.get()
            if request.graceSeconds > 0 { policy.grace = .seconds(Int64(request.graceSeconds)) }
            if request.noDestroy { policy.destroyAfterGrace = false }
            let outcome = try await guests.stop(context.task.target, policy: policy, force: request.force) { message in
                Task { await context.progress(0.1, message) }
            }
            let guest = try await guests.get(context.task.target)
            let summary: String
            switch outcome {
            case .alreadyStopped: summary = "already-stopped"
            case .shutDown(let requests, let after): summary = "shut-down after \(after.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))) (\(requests) request(s))"
            case .destroyed(let requests, let after): summary = "destroyed after \(after.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))); it ignored \(requests) shutdown request(s)"
            }
            return try Nodeagent_V1_TaskResult(summary: "\(guest.name): \(summary)", .guest(Nodeagent_V1_Guest(guest))).outcome
        case .guestUndefine:
            let request = try Nodeagent_V1_UndefineGuestRequest(serializedBytes: input)
            let result = try await guests.undefine(context.task.target, deleteVolumes: request.deleteVolumes, force: request.force)
            return try Nodeagent_V1_TaskResult(
                summary: "undefined \(result.guest)"
                    + (result.deletedVolumes.isEmpty ? "" : "; deleted \(result.deletedVolumes.joined(separator: ", "))"),
                .undefine(Nodeagent_V1_UndefineResult(result))
            ).outcome
        case .guestProtect:
            let request = try Nodeagent_V1_SetProtectionRequest(serializedBytes: input)
            let guest = try await guests.setProtected(context.task.target, request.protected, force: request.force)
            return try Nodeagent_V1_TaskResult(
                summary: "\(guest.name) \(guest.isProtected ? "protected" : "unprotected")", .guest(Nodeagent_V1_Guest(guest))
            ).outcome
        case .guestLimits:
            let request = try Nodeagent_V1_SetGuestLimitsRequest(serializedBytes: input)
            let tunables = try GuestSpecConversion.tunables(request.tunables)
            let applied = try await guests.setTunables(context.task.target, tunables, force: request.force)
            let guest = try await guests.get(context.task.target)
            return try Nodeagent_V1_TaskResult(summary: "\(guest.name): \(applied)", .guest(Nodeagent_V1_Guest(guest))).outcome
        case .volumeCreate:
            let request = try Nodeagent_V1_CreateVolumeRequest(serializedBytes: input)
            let spec = try VolumeConversion.spec(request)
            let info = try await volumes.create(in: request.pool, spec)
            return try Nodeagent_V1_TaskResult(summary: "created \(info.pool)/\(info.name)", .volume(Nodeagent_V1_Volume(info))).outcome
        case .volumeDelete:
            let request = try Nodeagent_V1_DeleteVolumeRequest(serializedBytes: input)
            try await volumes.delete(request.pool, request.name, force: request.force)
            return try Nodeagent_V1_TaskResult(summary: "deleted \(request.pool)/\(request.name)").outcome
        case .volumeResize:
            let request = try Nodeagent_V1_ResizeVolumeRequest(serializedBytes: input)
            let capacity = try VolumeConversion.size(request.capacity, field: "capacity")
            let info = try await volumes.resize(
                request.pool, request.name, to: capacity, allowShrink: request.allowShrink, force: request.force)
            return try Nodeagent_V1_TaskResult(
                summary: "resized \(info.pool)/\(info.name) to \(info.capacity) bytes", .volume(Nodeagent_V1_Volume(info))
            ).outcome
        case .volumeClone:
            let request = try Nodeagent_V1_CloneVolumeRequest(serializedBytes: input)
            let info = try await volumes.clone(
                request.pool, request.source, to: request.name, in: request.targetPool.isEmpty ? nil : request.targetPool)
            return try Nodeagent_V1_TaskResult(
                summary: "cloned \(request.pool)/\(request.source) to \(info.pool)/\(info.name)", .volume(Nodeagent_V1_Volume(info))
            ).outcome
        case .cgroupSet:
            let request = try Nodeagent_V1_SetCGroupLimitsRequest(serializedBytes: input)
            guard let tree = cgroups else { throw AgentError(.unavailable, subject: request.path, operation: "set", message: "no cgroup v2 hierarchy") }
            do {
                let group = try tree.group(CGroupPaths.relative(request.path))
                let settings = request.settings.map { setting in
                    let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
                    return (file: parts.first ?? "", value: parts.count > 1 ? parts[1] : "")
                }
                let resources = try CGroupResources(settings: settings)
                try group.apply(resources)
                return try Nodeagent_V1_TaskResult(
                    summary: "\(group): \(request.settings.joined(separator: ", "))", .cgroup(try Nodeagent_V1_CGroupStats(reading: group))
                ).outcome
            } catch let error as CGroupError {
                throw AgentError(error, subject: request.path.isEmpty ? "/" : request.path, operation: "set")
            }
        case .burninRun:
            return try await runBurnIn(context)
        }
    }
}
