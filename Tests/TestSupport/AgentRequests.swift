public import AgentAPI
import Foundation
public import GRPCCore
public import Testing
public import NodeAgent

public func defineRequest(_ spec: Nodeagent_V1_GuestSpec, id: String = requestID("define")) -> Nodeagent_V1_DefineGuestRequest {
    var request = Nodeagent_V1_DefineGuestRequest()
    request.requestID = id
    request.spec = spec
    return request
}

public func action(_ guest: String, id: String = requestID("action"), force: Bool = false) -> Nodeagent_V1_GuestActionRequest {
    var request = Nodeagent_V1_GuestActionRequest()
    request.requestID = id
    request.guest = guest
    request.force = force
    return request
}

/// A task that did not succeed.
public struct TaskDidNotSucceed: Error, CustomStringConvertible {
    public var task: Nodeagent_V1_Task
    public var description: String {
        "task \(task.kind) \(task.target) ended \(task.state): \(task.error.reason): \(task.error.message)"
    }
}

/// Submits, waits, and throws unless the task succeeded; returns the finished task.
@discardableResult
public func succeed(_ client: AgentClient, _ submit: (AgentClient) async throws -> Nodeagent_V1_Task) async throws -> Nodeagent_V1_Task {
    let task = try await client.wait(for: try await submit(client))
    guard task.state == .succeeded else { throw TaskDidNotSucceed(task: task) }
    return task
}

/// A guest spec the test driver accepts (it checks no paths): kernel boot, no disks.
public func testSpec(_ name: String, memory: String = "128MiB") -> Nodeagent_V1_GuestSpec {
    var spec = Nodeagent_V1_GuestSpec()
    spec.name = name
    spec.memory = memory
    spec.vcpus = 1
    spec.boot.mode = "kernel"
    spec.boot.kernel = "/var/lib/nodeagent/test/vmlinuz"
    spec.labels = ["suite": "daemon"]
    return spec
}

/// The error the RPC `body` makes; records an issue if it succeeds.
public func rpcError<T>(_ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async -> RPCError? {
    do {
        _ = try await body()
        Issue.record("the call succeeded; an error was expected", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Tasks.Get of `id` (a task id or a request id).
public func getTask(_ id: String) -> Nodeagent_V1_GetTaskRequest {
    var request = Nodeagent_V1_GetTaskRequest()
    request.id = id
    return request
}
