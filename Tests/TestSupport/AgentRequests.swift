public import AgentAPI
import Foundation
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
