import AgentAPI
import CGroups
import Foundation
import GRPCCore
import Glibc
import Libvirt
import ServiceLifecycle
import SwiftProtobuf

/// `nodeagent.v1.Volumes`.
struct VolumesService: Nodeagent_V1_Volumes.SimpleServiceProtocol {
    let core: AgentCore

    func listPools(request: Nodeagent_V1_ListPoolsRequest, context: ServerContext) async throws -> Nodeagent_V1_ListPoolsResponse {
        var response = Nodeagent_V1_ListPoolsResponse()
        response.pools = try await rpc { () throws(AgentError) in try await core.volumes.pools() }.map(Nodeagent_V1_Pool.init)
        return response
    }

    func list(request: Nodeagent_V1_ListVolumesRequest, context: ServerContext) async throws -> Nodeagent_V1_ListVolumesResponse {
        let pool = try RequestCheck.name(request.pool, field: "pool")
        var response = Nodeagent_V1_ListVolumesResponse()
        response.volumes = try await rpc { () throws(AgentError) in try await core.volumes.volumes(in: pool) }
            .map(Nodeagent_V1_Volume.init)
        return response
    }

    func create(request: Nodeagent_V1_CreateVolumeRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.volumeCreate, request.requestID, request) { return task }
        let pool = try RequestCheck.name(request.pool, field: "pool")
        _ = try rpcSync { () throws(AgentError) in try VolumeConversion.spec(request) }
        return try await core.submit(.volumeCreate, target: "\(pool)/\(request.name)", requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func delete(request: Nodeagent_V1_DeleteVolumeRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.volumeDelete, request.requestID, request) { return task }
        let target = try volumeTarget(request.pool, request.name)
        return try await core.submit(.volumeDelete, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func resize(request: Nodeagent_V1_ResizeVolumeRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.volumeResize, request.requestID, request) { return task }
        let target = try volumeTarget(request.pool, request.name)
        _ = try rpcSync { () throws(AgentError) in try VolumeConversion.size(request.capacity, field: "capacity") }
        return try await core.submit(.volumeResize, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    func clone(request: Nodeagent_V1_CloneVolumeRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.volumeClone, request.requestID, request) { return task }
        _ = try volumeTarget(request.pool, request.source, field: "source")
        let pool = request.targetPool.isEmpty ? request.pool : try RequestCheck.name(request.targetPool, field: "target_pool")
        let target = try volumeTarget(pool, request.name)
        do throws(GuestSpecError) {
            try VolumeSpec.validate(name: request.name)
        } catch {
            throw RPCError(code: .invalidArgument, message: error.problems[0].description)
        }
        return try await core.submit(.volumeClone, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    private func volumeTarget(_ pool: String, _ name: String, field: String = "name") throws(RPCError) -> String {
        "\(try RequestCheck.name(pool, field: "pool"))/\(try RequestCheck.name(name, field: field))"
    }
}

/// `nodeagent.v1.CGroups`, over `cgroups.root`.
struct CGroupsService: Nodeagent_V1_CGroups.SimpleServiceProtocol {
    let core: AgentCore

    func get(request: Nodeagent_V1_GetCGroupRequest, context: ServerContext) async throws -> Nodeagent_V1_CGroupStats {
        let group = try find(request.path)
        do {
            return try Nodeagent_V1_CGroupStats(reading: group)
        } catch {
            throw RPCStatusMapping.error(error)
        }
    }

    func list(request: Nodeagent_V1_ListCGroupsRequest, context: ServerContext) async throws -> Nodeagent_V1_ListCGroupsResponse {
        let top = try find(request.path)
        let depth = max(1, Int(min(request.depth, 64)))
        let base = top.path.split(separator: "/").count
        var response = Nodeagent_V1_ListCGroupsResponse()
        do {
            for group in try top.walk() where group != top && group.path.split(separator: "/").count - base <= depth {
                var entry = Nodeagent_V1_CGroupEntry()
                entry.path = group.path
                entry.populated = try group.events.populated
                entry.controllers = try group.controllers
                entry.processes = UInt32(clamping: try group.procs.count)
                response.groups.append(entry)
            }
        } catch {
            throw RPCStatusMapping.error(error)
        }
        return response
    }

    func setLimits(request: Nodeagent_V1_SetCGroupLimitsRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        if let task = try await core.repeated(.cgroupSet, request.requestID, request) { return task }
        let group = try find(request.path)
        let settings = try CGroupPaths.settings(request.settings)
        // Each setting alone first, so a refusal names the one at fault; then all together
        // (some settings constrain each other).
        for (index, setting) in settings.enumerated() {
            do throws(CGroupError) {
                _ = try CGroupResources(settings: [setting])
            } catch {
                throw RPCStatusMapping.invalid("settings[\(index)]", "\(error)")
            }
        }
        do throws(CGroupError) {
            _ = try CGroupResources(settings: settings)
        } catch {
            throw RPCStatusMapping.invalid("settings", "\(error)")
        }
        let target = group.isRoot ? "/" : group.path
        return try await core.submit(.cgroupSet, target: target, requestID: request.requestID, fingerprintOf: request, input: request)
    }

    private func find(_ path: String) throws(RPCError) -> CGroup {
        guard let tree = core.cgroups else {
            throw RPCError(code: .unavailable, message: "this host has no cgroup v2 hierarchy (cgroups.root = \(core.config.cgroups.root))")
        }
        try RequestCheck.printable(path, field: "path", max: 4096)
        do {
            guard let group = try tree.find(CGroupPaths.relative(path)) else {
                throw RPCError(code: .notFound, message: "path: no cgroup \(RequestCheck.quoted(path)) under \(tree.rootPath)")
            }
            return group
        } catch let error as RPCError {
            throw error
        } catch let error as CGroupError {
            let status = RPCStatusMapping.error(error)
            throw RPCError(code: status.code, message: "path: \(status.message)")
        } catch {
            throw RPCError(code: .internalError, message: "\(error)")
        }
    }
}

/// `nodeagent.v1.Tasks`.
struct TasksService: Nodeagent_V1_Tasks.SimpleServiceProtocol {
    let core: AgentCore

    func get(request: Nodeagent_V1_GetTaskRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        Nodeagent_V1_Task(try await find(request.id))
    }

    func list(request: Nodeagent_V1_ListTasksRequest, context: ServerContext) async throws -> Nodeagent_V1_ListTasksResponse {
        var states: Set<TaskState> = []
        for (index, state) in request.states.enumerated() {
            guard let value = state.taskState else {
                throw RPCStatusMapping.invalid("states[\(index)]", "unknown task state \(state.rawValue)")
            }
            states.insert(value)
        }
        for (index, kind) in request.kinds.enumerated() { try RequestCheck.printable(kind, field: "kinds[\(index)]", max: 64) }
        try RequestCheck.printable(request.target, field: "target", max: 4096)
        let limit = request.limit == 0 ? 100 : Int(min(request.limit, 10_000))
        var response = Nodeagent_V1_ListTasksResponse()
        response.tasks = try store { () throws(StateStoreError) in
            try core.tasks.list(
                states: states.isEmpty ? nil : states, kinds: request.kinds.isEmpty ? nil : request.kinds,
                target: request.target.isEmpty ? nil : request.target, limit: limit)
        }.map(Nodeagent_V1_Task.init)
        return response
    }

    func watch(request: Nodeagent_V1_WatchTaskRequest, response: RPCWriter<Nodeagent_V1_Task>, context: ServerContext) async throws {
        let task = try await find(request.id)
        guard let updates = try await storeAsync({ () async throws(StateStoreError) in try await core.tasks.watch(task.id) }) else {
            throw RPCError(code: .notFound, message: "id: no task \(RequestCheck.quoted(request.id))")
        }
        // A watch ends with the task, or when the agent shuts down (the caller re-watches).
        try await cancelWhenGracefulShutdown {
            for await record in updates {
                try await response.write(Nodeagent_V1_Task(record))
            }
        }
    }

    func cancel(request: Nodeagent_V1_CancelTaskRequest, context: ServerContext) async throws -> Nodeagent_V1_Task {
        let task = try await find(request.id)
        do {
            let record = try await core.tasks.cancel(task.id)
            core.logger.info("task cancel requested", metadata: ["task.id": "\(task.id)", "task.state": "\(record.state.rawValue)"])
            return Nodeagent_V1_Task(record)
        } catch {
            switch error {
            case .notFound: throw RPCError(code: .notFound, message: "id: no task \(RequestCheck.quoted(request.id))")
            case .alreadyTerminal(let record):
                throw RPCError(code: .failedPrecondition, message: "task \(record.id) already \(record.state.rawValue): nothing to cancel")
            case .store(let reason):
                throw RPCError(code: .unavailable, message: "the agent's state store failed: \(reason)")
            }
        }
    }

    /// A task by id or by the request id it was created with.
    private func find(_ id: String) async throws(RPCError) -> TaskRecord {
        guard !id.isEmpty else { throw RPCStatusMapping.invalid("id", "required: a task id or request id") }
        try RequestCheck.printable(id, field: "id", max: 128)
        if let record = try store({ () throws(StateStoreError) in try core.tasks.get(id) }) { return record }
        if let record = try store({ () throws(StateStoreError) in try core.tasks.get(requestID: id) }) { return record }
        throw RPCError(code: .notFound, message: "id: no task or request \(RequestCheck.quoted(id)) (finished tasks are kept for tasks.retention_hours)")
    }
}

/// `nodeagent.v1.Events`: replay from a sequence number, then live events.
struct EventsService: Nodeagent_V1_Events.SimpleServiceProtocol {
    let core: AgentCore

    func watch(request: Nodeagent_V1_WatchEventsRequest, response: RPCWriter<Nodeagent_V1_Event>, context: ServerContext) async throws {
        let after: UInt64? = request.fromOldest ? 0 : (request.afterSequence > 0 ? request.afterSequence : nil)
        let stream = core.events.subscribe(after: after)
        if after == nil {
            // A watcher starting fresh learns the whole state first, stamped with the last
            // sequence so it can resume from there.
            var report = Nodeagent_V1_Event()
            report.sequence = try store { () throws(StateStoreError) in try core.events.lastSequence }
            report.time = Google_Protobuf_Timestamp(date: Date())
            report.stateReport = await core.stateReport()
            try await response.write(report)
        }
        let last = try await cancelWhenGracefulShutdown { try await Self.forward(stream, to: response, after: after ?? 0) }
        if !Task.isCancelled && !isShuttingDown {
            throw RPCError(
                code: .resourceExhausted,
                message: "this watcher fell too far behind and was dropped; reconnect with after_sequence = \(last)")
        }
    }

    private var isShuttingDown: Bool { Task.isShuttingDownGracefully }

    /// Writes events until the stream ends; returns the last sequence written.
    private static func forward(
        _ stream: AsyncStream<EventLog.Item>, to response: RPCWriter<Nodeagent_V1_Event>, after: UInt64
    ) async throws -> UInt64 {
        var last = after
        for await item in stream {
            switch item {
            case .event(let stored):
                var event = (try? Nodeagent_V1_Event(serializedBytes: stored.payload)) ?? Nodeagent_V1_Event()
                event.sequence = stored.sequence
                event.time = Google_Protobuf_Timestamp(date: stored.time)
                try await response.write(event)
                last = stored.sequence
            case .gap(let requestedAfter, let firstRetained):
                var event = Nodeagent_V1_Event()
                event.time = Google_Protobuf_Timestamp(date: Date())
                event.gap.requestedAfter = requestedAfter
                event.gap.firstRetained = firstRetained
                try await response.write(event)
            }
        }
        return last
    }
}

/// `nodeagent.v1.Node`.
struct NodeService: Nodeagent_V1_Node.SimpleServiceProtocol {
    let core: AgentCore

    func getInfo(request: Nodeagent_V1_GetNodeInfoRequest, context: ServerContext) async throws -> Nodeagent_V1_NodeInfo {
        var info = HostInfo.read()
        info.libvirtUri = core.config.libvirt.uri
        info.agentVersion = AgentVersion.current
        info.capabilities = ["guests", "volumes", "cgroups", "tasks", "events", "burnin"] + (core.cgroups == nil ? [] : ["cgroup2"])
        let hypervisor = try await rpc { () throws(AgentError) in
            try await call("node-info", core.config.libvirt.uri) { () throws(LibvirtError) in try await core.connection.hypervisor() }
        }
        info.hypervisorType = hypervisor.type
        info.hypervisorVersion = hypervisor.version
        info.libvirtVersion = hypervisor.libvirtVersion
        return info
    }

    func getHealth(request: Nodeagent_V1_GetHealthRequest, context: ServerContext) async throws -> Nodeagent_V1_Health {
        await core.health()
    }
}

extension AgentCore {
    func health() async -> Nodeagent_V1_Health {
        var health = Nodeagent_V1_Health()
        func check(_ name: String, _ ok: Bool, _ message: String) {
            var check = Nodeagent_V1_Health.Check()
            check.name = name
            check.ok = ok
            check.message = message
            health.checks.append(check)
        }
        switch connection.status {
        case .connected: check("libvirt", true, "connected to \(config.libvirt.uri)")
        case .down(let reason): check("libvirt", false, "\(config.libvirt.uri) unreachable, reconnecting: \(reason)")
        case .idle, .closed: check("libvirt", false, "not connected to \(config.libvirt.uri)")
        }
        let store = store.condition()
        check("state-store", store.ok, store.message)
        let held = events.backlogCount
        if held > 0 { check("event-log", false, "\(held) event(s) wait in memory until the state store takes writes") }
        if let problem = eventMonitorProblem.get() { check("libvirt-events", false, problem) }
        if let counts = try? tasks.counts() {
            health.tasksQueued = UInt32(clamping: counts.queued)
            health.tasksRunning = UInt32(clamping: counts.running)
        }
        // Counted from libvirt's list alone: the metadata of every guest is not needed here.
        if let domains = try? await connection.listDomains() {
            health.guests = UInt32(clamping: domains.count)
        }
        health.uptimeSeconds = UInt64(max(0, Date().timeIntervalSince(started)))
        // Without a writable state store no change can be accepted: not serving. Anything
        // else failing leaves the agent serving, degraded.
        health.status = !store.ok ? .notServing : health.checks.allSatisfy(\.ok) ? .serving : .degraded
        return health
    }
}

/// Runs a state-store read for an RPC; a store failure is UNAVAILABLE.
func store<T>(_ body: () throws(StateStoreError) -> T) throws(RPCError) -> T {
    do {
        return try body()
    } catch {
        throw RPCError(code: .unavailable, message: "the agent's state store failed: \(error)")
    }
}

func storeAsync<T>(_ body: () async throws(StateStoreError) -> T) async throws(RPCError) -> T {
    do {
        return try await body()
    } catch {
        throw RPCError(code: .unavailable, message: "the agent's state store failed: \(error)")
    }
}
