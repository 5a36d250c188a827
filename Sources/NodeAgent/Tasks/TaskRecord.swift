public import Foundation

/// Where a task is in its life. `queued` and `running` are the only states a task leaves.
public enum TaskState: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// True for the states a task never leaves: succeeded, failed, cancelled.
    public var isTerminal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .cancelled: true
        }
    }
}

/// Why a task failed or was cancelled.
public struct TaskFailure: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// What callers act on: an `AgentError.Code` raw value ("not-found", "refused",
    /// "wrong-state", "unavailable", ...) or one of `TaskFailure.Reason`.
    public var reason: String
    /// What happened, for people.
    public var message: String

    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason): \(message)" }

    /// The reasons the task manager itself gives.
    public enum Reason {
        /// Cancelled on request.
        public static let cancelled = "cancelled"
        /// The agent restarted while the task was running, and the task was not safe to repeat
        /// (or its kind is unknown to the new agent).
        public static let agentRestarted = "agent-restarted"
        /// The agent stopped while the task was running, and the task was not safe to repeat.
        public static let agentStopped = "agent-stopped"
        /// The handler failed with an unexpected error.
        public static let `internal` = "internal"
    }
}

/// A task as stored: what was asked, where it is, and how it ended.
public struct TaskRecord: Sendable, Equatable, Codable {
    /// A lowercase UUID.
    public var id: String
    /// What the task does: "guest.start", "volume.create", ...
    public var kind: String
    /// The queue that bounds how many tasks of the kind run at once: "guest", "volume", ...
    public var queue: String
    /// What the task acts on (guest UUID, "pool/volume", cgroup path). Tasks with the same
    /// target run one at a time, in submission order.
    public var target: String
    /// The caller's request id: a repeat of the same request returns this task.
    public var requestID: String?
    /// A digest of the request's content, to detect a request id reused for another call.
    public var fingerprint: String
    public var state: TaskState
    /// 0...1
    public var progress: Double
    /// The latest status line (progress, retry notice, summary of the result, or failure).
    public var message: String
    public var createdAt: Date
    public var updatedAt: Date
    /// When the current (or last) run started.
    public var startedAt: Date?
    public var finishedAt: Date?
    /// How many times the handler was started, retries and resumptions included.
    public var attempts: Int
    /// The serialized request, opaque to the task manager (so a queued task can be resumed
    /// after a restart).
    public var input: Data
    /// The serialized result, opaque to the task manager.
    public var result: Data?
    public var error: TaskFailure?

    public init(
        id: String, kind: String, queue: String, target: String, requestID: String?, fingerprint: String,
        state: TaskState, progress: Double, message: String, createdAt: Date, updatedAt: Date,
        startedAt: Date? = nil, finishedAt: Date? = nil, attempts: Int = 0, input: Data, result: Data? = nil,
        error: TaskFailure? = nil
    ) {
        self.id = id
        self.kind = kind
        self.queue = queue
        self.target = target
        self.requestID = requestID
        self.fingerprint = fingerprint
        self.state = state
        self.progress = progress
        self.message = message
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.attempts = attempts
        self.input = input
        self.result = result
        self.error = error
    }
}

// MARK: Transitions (pure; the task manager persists them with compare-and-swap)

extension TaskRecord {
    /// queued → running: one more attempt.
    func started(at now: Date) -> TaskRecord {
        var next = self
        next.state = .running
        next.attempts += 1
        next.startedAt = now
        next.updatedAt = now
        next.progress = 0
        next.message = "running (attempt \(next.attempts))"
        return next
    }

    /// running, with a new progress and status line.
    func progressed(_ fraction: Double, _ message: String, at now: Date) -> TaskRecord {
        var next = self
        next.progress = fraction.isFinite ? min(max(fraction, 0), 1) : progress
        next.message = message
        next.updatedAt = now
        return next
    }

    /// running, another attempt after a transient failure.
    func retried(at now: Date) -> TaskRecord {
        var next = self
        next.attempts += 1
        next.updatedAt = now
        next.message = "running (attempt \(next.attempts))"
        return next
    }

    func succeeded(_ outcome: TaskOutcome, at now: Date) -> TaskRecord {
        var next = self
        next.state = .succeeded
        next.progress = 1
        next.message = outcome.summary
        // SQLite stores an empty blob as NULL: an empty result reads back as none.
        next.result = outcome.result.flatMap { $0.isEmpty ? nil : $0 }
        next.error = nil
        next.finishedAt = now
        next.updatedAt = now
        return next
    }

    /// failed, or cancelled when `failure.reason` is `Reason.cancelled`.
    func ended(_ failure: TaskFailure, at now: Date) -> TaskRecord {
        var next = self
        next.state = failure.reason == TaskFailure.Reason.cancelled ? .cancelled : .failed
        next.message = failure.message
        next.error = failure
        next.finishedAt = now
        next.updatedAt = now
        return next
    }

    /// Back to queued, to run again (after a restart or a shutdown).
    func requeued(_ message: String, at now: Date) -> TaskRecord {
        var next = self
        next.state = .queued
        next.progress = 0
        next.message = message
        next.updatedAt = now
        return next
    }

    /// The same state with a new status line.
    func noted(_ message: String, at now: Date) -> TaskRecord {
        var next = self
        next.message = message
        next.updatedAt = now
        return next
    }

    /// "attempt N, started at T" for messages about an interrupted run.
    var runDescription: String {
        "attempt \(attempts)" + (startedAt.map { ", started at \($0.ISO8601Format())" } ?? "")
    }
}
