public import Foundation

/// Runs one attempt of a task. Throw `AgentError` with code `.unavailable` for a transient
/// failure (retried with backoff), another `AgentError` or a `TaskFailure` to fail the task, and
/// honour Swift task cancellation (`Task.isCancelled`, `try Task.checkCancellation()`): it is
/// how a cancel request or the agent's shutdown reaches the handler.
public typealias TaskHandler = @Sendable (TaskContext) async throws -> TaskOutcome

/// What a handler returns when the task succeeded.
public struct TaskOutcome: Sendable {
    /// The serialized result, opaque to the task manager (an empty one is stored as none).
    public var result: Data?
    /// One line that becomes the message of the succeeded task.
    public var summary: String

    public init(result: Data? = nil, summary: String) {
        self.result = result
        self.summary = summary
    }
}

/// What a handler knows about the task it runs, and how it reports progress.
public struct TaskContext: Sendable {
    /// The task as it was when this attempt started (state running).
    public let task: TaskRecord
    let manager: TaskManager
    let token: UInt64

    /// The attempt this run is (1 for the first).
    public var attempt: Int { task.attempts }

    /// Records progress (clamped to 0...1) and a status line, and tells watchers.
    public func progress(_ fraction: Double, _ message: String) async {
        await manager.reportProgress(id: task.id, token: token, attempt: task.attempts, fraction: fraction, message: message)
    }
}

/// The outcome of `TaskManager.submit`.
public struct Submission: Sendable, Equatable {
    public var record: TaskRecord
    /// True when the request id was seen before with the same request: `record` is the first
    /// call's task and nothing new runs.
    public var duplicate: Bool

    public init(record: TaskRecord, duplicate: Bool) {
        self.record = record
        self.duplicate = duplicate
    }
}

/// Why a task was not submitted.
public enum TaskSubmitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No handler is registered for the kind.
    case unknownKind(String)
    /// The request id belongs to a task of another request (another kind or content).
    case requestIDReused(requestID: String, taskID: String, kind: String)
    /// The state database failed.
    case store(String)

    public var description: String {
        switch self {
        case .unknownKind(let kind): "unknown task kind \"\(kind)\""
        case .requestIDReused(let requestID, let taskID, let kind):
            "request id \(requestID) was already used for another request (task \(taskID), \(kind)); use a new request id"
        case .store(let message): message
        }
    }
}

/// Why a task was not cancelled.
public enum TaskCancelError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    /// The task had already ended; its record is attached.
    case alreadyTerminal(TaskRecord)
    /// The state database failed.
    case store(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no task \(id)"
        case .alreadyTerminal(let record): "task \(record.id) already \(record.state.rawValue)"
        case .store(let message): message
        }
    }
}

/// What `TaskManager.recover()` did with the tasks a previous run of the agent left unfinished.
public struct RecoveryReport: Sendable, Equatable {
    /// Tasks found queued, kept queued.
    public var resumed: [String] = []
    /// Tasks found running whose kind is safe to repeat, queued again.
    public var requeued: [String] = []
    /// Tasks found running that are not safe to repeat (or of a kind this agent does not know),
    /// failed with reason "agent-restarted".
    public var failed: [String] = []
    /// Tasks found running whose new state could not be stored (a full disk): settled as soon
    /// as the store takes writes, and not run before.
    public var deferred: [String] = []

    public init() {}

    public var summary: String {
        "\(resumed.count) queued task(s) resumed, \(requeued.count) interrupted task(s) requeued, "
            + "\(failed.count) interrupted task(s) failed"
            + (deferred.isEmpty ? "" : ", \(deferred.count) to settle once the state store takes writes")
    }
}
