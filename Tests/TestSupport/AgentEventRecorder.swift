public import AgentAPI
import Foundation
public import NodeAgent
import Synchronization

/// Follows an agent's event stream in the background (its own connection) and keeps every
/// event, for tests that check what a controller would have seen. `stop()` ends it.
public final class AgentEventRecorder: Sendable {
    private final class State: Sendable {
        let events = Mutex<[Nodeagent_V1_Event]>([])
        let failure = Mutex<(any Error)?>(nil)
    }
    private let state = State()
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts following from the beginning of the retained events (`after: 0`) or from now
    /// (nil: the stream starts with a state report).
    public init(_ endpoint: AgentEndpoint, after: UInt64? = 0) {
        let state = state
        let watching = Task {
                do {
                    try await AgentClient.with(endpoint) { client in
                        var request = Nodeagent_V1_WatchEventsRequest()
                        if let after { if after == 0 { request.fromOldest = true } else { request.afterSequence = after } }
                        try await client.events.watch(request) { response in
                            for try await event in response.messages { state.events.withLock { $0.append(event) } }
                        }
                    }
                } catch {
                    state.failure.withLock { $0 = error }
                }
            }
        task.withLock { $0 = watching }
    }

    public var all: [Nodeagent_V1_Event] { state.events.withLock { $0 } }
    /// Why the stream ended, if it did.
    public var error: (any Error)? { state.failure.withLock { $0 } }

    /// The task events seen for `id`, in order.
    public func taskStates(_ id: String) -> [Nodeagent_V1_TaskState] {
        all.compactMap { event in
            guard case .task(let task) = event.payload, task.id == id else { return nil }
            return task.state
        }
    }

    /// The guest lifecycle events seen for `name`, in order ("defined", "started", ...).
    public func guestEvents(_ name: String) -> [String] {
        all.compactMap { event in
            guard case .guest(let guest) = event.payload, guest.guest.name == name else { return nil }
            return guest.event
        }
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    deinit { task.withLock { $0?.cancel() } }
}
