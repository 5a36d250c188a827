import Foundation
import Logging

// How the task manager runs tasks: dispatching, the worker of each task, outcomes, change
// notifications and the shutdown drain.
extension TaskManager {
    struct Registration: Sendable {
        let queue: String
        let resumable: Bool
        let handler: TaskHandler
    }

    /// A queued task waiting for its queue and target.
    struct Pending: Sendable {
        let sequence: Int64
        let id: String
        let kind: String
        let queue: String
        let target: String

        init(_ task: QueuedTask) {
            sequence = task.sequence
            id = task.record.id
            kind = task.record.kind
            queue = task.record.queue
            target = task.record.target
        }
    }

    /// Why a handler was cancelled.
    enum Interruption: Sendable {
        case cancelled(by: String, at: Date)
        case shutdown
    }

    /// A task whose handler runs now.
    struct Execution {
        /// Tells this run apart from any other run of the same task (the handler's late calls
        /// after a shutdown gave up on it are ignored).
        let token: UInt64
        let queue: String
        let target: String
        let resumable: Bool
        var attempt: Int
        var handle: Task<Void, Never>?
        var interruption: Interruption?
        /// How the run ended, while that could not be stored (a full disk): the slot stays
        /// taken and `retryStorage()` stores it as soon as it can.
        var unpersisted: Verdict?
    }

    enum Phase {
        case idle, running, stopping
    }

    struct Delivery {
        let token: UInt64
        let task: Task<Void, Never>
    }

    /// How one attempt ended.
    enum Verdict: Sendable {
        case succeeded(TaskOutcome)
        case failed(TaskFailure)
        /// Cancelled on request or by the shutdown (or the handler threw `CancellationError`).
        case interrupted
        /// A transient failure: try again after the delay.
        case retry(after: Duration, reason: String)
    }

    func nextToken() -> UInt64 {
        lastToken += 1
        return lastToken
    }

    func metadata(_ record: TaskRecord) -> Logger.Metadata {
        ["task.id": "\(record.id)", "task.kind": "\(record.kind)", "task.target": "\(record.target)"]
    }

    // MARK: Dispatching

    /// Starts every queued task whose queue has room and whose target is free, oldest first; a
    /// task waits while an older task of its target runs or waits.
    func dispatch() {
        guard phase == .running else { return }
        var busyTargets = Set(running.values.map(\.target))
        var waiting: [Pending] = []
        for entry in pending {
            guard !busyTargets.contains(entry.target) else {
                waiting.append(entry)
                continue
            }
            busyTargets.insert(entry.target)
            guard runningPerQueue[entry.queue, default: 0] < configuration.limit(for: entry.queue) else {
                waiting.append(entry)
                continue
            }
            guard start(entry) else {
                startFailed = true
                waiting.append(entry)
                continue
            }
        }
        pending = waiting
    }

    /// Marks the task running and starts its handler. False if it could not be marked (store
    /// failure) and should be tried again later; true when started, or when it is no longer
    /// queued (cancelled meanwhile) and should be forgotten.
    private func start(_ entry: Pending) -> Bool {
        guard let registration = registrations[entry.kind] else {
            logger.error("no handler for queued task of kind \(entry.kind)", metadata: ["task.id": "\(entry.id)"])
            return true
        }
        let now = StoredTime.now()
        let record: TaskRecord?
        do {
            record = try tasks.update(entry.id) { current in current.state == .queued ? current.started(at: now) : nil }
        } catch {
            logger.error("could not start task: \(error)", metadata: ["task.id": "\(entry.id)"])
            return false
        }
        guard let record else {
            logger.notice("task no longer queued; not started", metadata: ["task.id": "\(entry.id)"])
            return true
        }
        let token = nextToken()
        let handler = registration.handler
        running[record.id] = Execution(
            token: token, queue: entry.queue, target: entry.target, resumable: registration.resumable,
            attempt: record.attempts, handle: Task { await self.work(record, handler: handler, token: token) })
        runningPerQueue[entry.queue, default: 0] += 1
        logger.info("task started (attempt \(record.attempts))", metadata: metadata(record))
        notify(record, transition: true)
        return true
    }

    // MARK: Running one task

    /// Runs the handler, retrying transient failures, and records the outcome.
    private nonisolated func work(_ first: TaskRecord, handler: TaskHandler, token: UInt64) async {
        var record = first
        while true {
            let outcome: Result<TaskOutcome, any Error>
            do {
                outcome = .success(try await handler(TaskContext(task: record, manager: self, token: token)))
            } catch {
                outcome = .failure(error)
            }
            let verdict = verdict(outcome, attempt: record.attempts, cancelled: Task.isCancelled)
            guard case .retry(let delay, let reason) = verdict else {
                await conclude(record.id, token: token, attempt: record.attempts, verdict)
                return
            }
            await noteRetry(record.id, token: token, attempt: record.attempts, delay: delay, reason: reason)
            var wait = delay
            var next: TaskRecord?
            while next == nil {
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    await conclude(record.id, token: token, attempt: record.attempts, .interrupted)
                    return
                }
                switch await beginRetry(record.id, token: token, attempt: record.attempts) {
                case .started(let started): next = started
                case .gone: return
                case .storeFailed: wait = Self.storageRetryInterval
                }
            }
            record = next!
        }
    }

    /// Classifies the end of an attempt.
    nonisolated func verdict(_ outcome: Result<TaskOutcome, any Error>, attempt: Int, cancelled: Bool) -> Verdict {
        switch outcome {
        case .success(let result):
            return cancelled ? .interrupted : .succeeded(result)
        case .failure(let error as AgentError) where error.code == .unavailable:
            if cancelled { return .interrupted }
            if attempt < configuration.maxAttempts {
                return .retry(after: configuration.retryDelay(after: attempt), reason: error.description)
            }
            return .failed(
                TaskFailure(reason: error.code.rawValue, message: "gave up after \(attempt) attempt(s): \(error.description)"))
        case .failure(let error as AgentError):
            return .failed(TaskFailure(reason: error.code.rawValue, message: error.description))
        case .failure(let failure as TaskFailure):
            return .failed(failure)
        case .failure(is CancellationError):
            return .interrupted
        case .failure(let error):
            return .failed(TaskFailure(reason: TaskFailure.Reason.internal, message: String(describing: error)))
        }
    }

    private func noteRetry(_ id: String, token: UInt64, attempt: Int, delay: Duration, reason: String) {
        guard running[id]?.token == token else { return }
        let now = StoredTime.now()
        let message = "retrying in \(Self.format(delay)) after attempt \(attempt): \(reason)"
        do {
            let record = try tasks.update(id) { current in
                current.state == .running && current.attempts == attempt ? current.noted(message, at: now) : nil
            }
            if let record {
                logger.warning("\(message)", metadata: metadata(record))
                notify(record, transition: true)
            }
        } catch {
            logger.error("could not record a retry: \(error)", metadata: ["task.id": "\(id)"])
        }
    }

    enum RetryStart {
        case started(TaskRecord)
        /// The task is not this run's any more: the worker stops.
        case gone
        /// The next attempt could not be recorded (the store failed): try again shortly.
        case storeFailed
    }

    /// Counts the next attempt.
    private func beginRetry(_ id: String, token: UInt64, attempt: Int) -> RetryStart {
        guard running[id]?.token == token else { return .gone }
        let now = StoredTime.now()
        let record: TaskRecord?
        do {
            record = try tasks.update(id) { current in
                current.state == .running && current.attempts == attempt ? current.retried(at: now) : nil
            }
        } catch {
            logger.error("could not record another attempt: \(error); trying again", metadata: ["task.id": "\(id)"])
            return .storeFailed
        }
        guard let record else {
            logger.warning("task changed meanwhile; not retried", metadata: ["task.id": "\(id)"])
            release(id)
            return .gone
        }
        running[id]?.attempt = record.attempts
        notify(record, transition: true)
        return .started(record)
    }

    func reportProgress(id: String, token: UInt64, attempt: Int, fraction: Double, message: String) {
        guard running[id]?.token == token else { return }
        let now = StoredTime.now()
        do {
            let record = try tasks.update(id) { current in
                current.state == .running && current.attempts == attempt ? current.progressed(fraction, message, at: now) : nil
            }
            if let record { notify(record, transition: false) }
        } catch {
            logger.warning("could not record progress: \(error)", metadata: ["task.id": "\(id)"])
        }
    }

    /// Records how the run ended and frees its slot; ignored if the run was given up on. An
    /// outcome that cannot be stored keeps the slot until `retryStorage()` stores it.
    private func conclude(_ id: String, token: UInt64, attempt: Int, _ verdict: Verdict) {
        guard let execution = running[id], execution.token == token else { return }
        if persist(verdict, of: id, execution, attempt: attempt) {
            release(id)
        } else {
            running[id]?.unpersisted = verdict
            running[id]?.attempt = attempt
        }
    }

    /// Stores the outcome of a run; false if the store failed (true also when the task had
    /// changed meanwhile and the outcome was discarded).
    func persist(_ verdict: Verdict, of id: String, _ execution: Execution, attempt: Int) -> Bool {
        let now = StoredTime.now()
        do {
            let record = try tasks.update(id) { current in
                guard current.state == .running, current.attempts == attempt else { return nil }
                switch verdict {
                case .succeeded(let outcome): return current.succeeded(outcome, at: now)
                case .failed(let failure): return current.ended(failure, at: now)
                case .interrupted, .retry: return Self.interrupted(current, execution, at: now)
                }
            }
            guard let record else {
                logger.warning("task changed meanwhile; the outcome of its handler was discarded", metadata: ["task.id": "\(id)"])
                return true
            }
            switch record.state {
            case .succeeded: logger.info("task succeeded: \(record.message)", metadata: metadata(record))
            case .queued: logger.notice("task requeued: \(record.message)", metadata: metadata(record))
            default: logger.warning("task \(record.state.rawValue): \(record.message)", metadata: metadata(record))
            }
            notify(record, transition: true)
            return true
        } catch {
            if execution.unpersisted == nil {
                logger.error(
                    "could not record the outcome of a task: \(error); retrying every \(Self.storageRetryInterval) until it is stored",
                    metadata: ["task.id": "\(id)"])
            }
            return false
        }
    }

    /// The record of a run whose handler was cancelled.
    private static func interrupted(_ current: TaskRecord, _ execution: Execution, at now: Date) -> TaskRecord {
        switch execution.interruption {
        case .cancelled(let requester, let time)?:
            return current.ended(
                TaskFailure(
                    reason: TaskFailure.Reason.cancelled,
                    message: "cancelled by \(requester) at \(time.ISO8601Format()) during \(current.runDescription)"),
                at: now)
        case .shutdown? where execution.resumable:
            return current.requeued(
                "interrupted by the agent's shutdown during \(current.runDescription); resumes at the next start", at: now)
        case .shutdown?:
            return current.ended(
                TaskFailure(
                    reason: TaskFailure.Reason.agentStopped,
                    message: "the agent stopped while the task was running (\(current.runDescription)); "
                        + "it was not repeated because \(current.kind) is not safe to repeat; "
                        + "check \(current.target) and retry with a new request_id"),
                at: now)
        case nil:
            return current.ended(
                TaskFailure(reason: TaskFailure.Reason.cancelled, message: "the handler was cancelled during \(current.runDescription)"),
                at: now)
        }
    }

    /// Frees the run's slot and lets waiting tasks start.
    func release(_ id: String) {
        guard let execution = running.removeValue(forKey: id) else { return }
        runningPerQueue[execution.queue, default: 1] -= 1
        if running.isEmpty {
            let waiters = idleWaiters.values
            idleWaiters = [:]
            for waiter in waiters { waiter.resume() }
        }
        wake?.yield()
    }

    /// "2s", "0.05s".
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(Double(milliseconds) / 1000)s"
    }

    // MARK: Telling watchers and onChange

    func notify(_ record: TaskRecord, transition: Bool) {
        if let continuations = watchers[record.id] {
            for continuation in continuations.values {
                continuation.yield(record)
                if record.state.isTerminal { continuation.finish() }
            }
            if record.state.isTerminal { watchers[record.id] = nil }
        }
        let token = nextToken()
        let previous = deliveries[record.id]?.task
        deliveries[record.id] = Delivery(
            token: token, task: Task { await self.deliver(record, transition: transition, after: previous, token: token) })
    }

    /// Calls `onChange` once the previous change of the same task was delivered.
    private nonisolated func deliver(_ record: TaskRecord, transition: Bool, after previous: Task<Void, Never>?, token: UInt64) async {
        await previous?.value
        await onChange(record, transition)
        await deliveryFinished(id: record.id, token: token)
    }

    private func deliveryFinished(id: String, token: UInt64) {
        if deliveries[id]?.token == token { deliveries[id] = nil }
    }

    func removeWatcher(id: String, token: UInt64) {
        watchers[id]?[token] = nil
        if watchers[id]?.isEmpty == true { watchers[id] = nil }
    }

    // MARK: Shutdown

    /// Lets running handlers finish (up to `drainTimeout`), cancels the rest, and makes sure
    /// each ends in a persisted state; then finishes watchers and waits for `onChange` calls.
    func drain() async {
        if !running.isEmpty {
            logger.info("stopping: waiting up to \(configuration.drainTimeout) for \(running.count) running task(s)")
            await waitForIdle(timeout: configuration.drainTimeout)
        }
        retryStorage()
        if !running.isEmpty {
            logger.warning("stopping: cancelling \(running.count) task(s) still running")
            for id in running.keys where running[id]?.unpersisted == nil {
                if running[id]?.interruption == nil { running[id]?.interruption = .shutdown }
                running[id]?.handle?.cancel()
            }
            await waitForIdle(timeout: configuration.cancelGrace)
        }
        retryStorage()
        for (id, execution) in running {
            if execution.unpersisted != nil {
                logger.error(
                    "stopping with the outcome of a task not stored (the state store fails); the next start settles it",
                    metadata: ["task.id": "\(id)"])
            } else {
                logger.error("the handler ignored its cancellation; recording the task as interrupted", metadata: ["task.id": "\(id)"])
                _ = persist(.interrupted, of: id, execution, attempt: execution.attempt)
            }
            release(id)
        }
        for continuations in watchers.values {
            for continuation in continuations.values { continuation.finish() }
        }
        watchers = [:]
        for delivery in deliveries.values.map(\.task) { await delivery.value }
        logger.info("task manager stopped", metadata: ["queued": "\(pending.count)"])
    }

    /// Returns when no handler runs, or after `timeout`.
    private func waitForIdle(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.idle() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Returns when no handler runs, or when the calling task is cancelled.
    private func idle() async {
        let token = nextToken()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if running.isEmpty || Task.isCancelled {
                    continuation.resume()
                } else {
                    idleWaiters[token] = continuation
                }
            }
        } onCancel: {
            Task { await self.stopWaiting(token) }
        }
    }

    private func stopWaiting(_ token: UInt64) {
        idleWaiters.removeValue(forKey: token)?.resume()
    }
}
