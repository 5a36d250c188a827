public import Foundation
public import Logging
public import ServiceLifecycle

/// Runs the agent's long operations as durable tasks.
///
/// A task is persisted as queued before `submit` returns, then run by the handler registered
/// for its kind: at most `queueLimits[queue]` at once per queue, one at a time (in submission
/// order) per target. A caller-supplied request id makes submission idempotent, also across
/// restarts. Transient failures (`AgentError.Code.unavailable`) are retried with exponential
/// backoff. Every state change is a compare-and-swap in SQL, so a concurrent change is never
/// overwritten, and every change is reported to watchers and to `onChange`.
///
/// Start-up: register the handlers, call `recover()` once, then `run()`. Cancelling `run()`'s
/// task (or a ServiceLifecycle graceful shutdown) drains: see `run()`.
public actor TaskManager: Service {
    public struct Configuration: Sendable {
        /// How many tasks of each queue run at once; a queue not listed gets 1.
        public var queueLimits: [String: Int]
        /// How many times a handler is started for a task that keeps failing transiently.
        public var maxAttempts: Int
        /// The delay before the first retry; it doubles for each further one.
        public var retryBaseDelay: Duration
        /// The longest delay between retries.
        public var retryMaxDelay: Duration
        /// How long finished tasks (and their request ids) are kept.
        public var retention: Duration
        /// How long a shutdown waits for running handlers before cancelling them.
        public var drainTimeout: Duration
        /// How long a shutdown waits for cancelled handlers to return before recording them as
        /// interrupted anyway (a late result of such a handler is discarded).
        public var cancelGrace: Duration

        public init(
            queueLimits: [String: Int] = ["guest": 4, "volume": 2, "cgroup": 4, "burnin": 1],
            maxAttempts: Int = 3,
            retryBaseDelay: Duration = .seconds(1),
            retryMaxDelay: Duration = .seconds(30),
            retention: Duration = .seconds(7 * 24 * 3600),
            drainTimeout: Duration = .seconds(30),
            cancelGrace: Duration = .seconds(5)
        ) {
            self.queueLimits = queueLimits
            self.maxAttempts = maxAttempts
            self.retryBaseDelay = retryBaseDelay
            self.retryMaxDelay = retryMaxDelay
            self.retention = retention
            self.drainTimeout = drainTimeout
            self.cancelGrace = cancelGrace
        }

        /// The concurrency limit of `queue` (at least 1).
        public func limit(for queue: String) -> Int { max(queueLimits[queue] ?? 1, 1) }

        /// The delay before the retry that follows `attempt`: base·2^(attempt-1), capped.
        public func retryDelay(after attempt: Int) -> Duration {
            var delay = retryBaseDelay
            for _ in 1..<max(attempt, 1) where delay < retryMaxDelay { delay = delay * 2 }
            return min(delay, retryMaxDelay)
        }
    }

    /// How often `run()` prunes finished tasks older than the retention.
    static let pruneInterval: Duration = .seconds(3600)

    let tasks: TaskTable
    let configuration: Configuration
    let logger: Logger
    let onChange: @Sendable (TaskRecord, Bool) async -> Void

    var registrations: [String: Registration] = [:]
    /// Queued tasks this manager will run, in submission order.
    var pending: [Pending] = []
    /// Tasks whose handler runs now, by id.
    var running: [String: Execution] = [:]
    var runningPerQueue: [String: Int] = [:]
    var watchers: [String: [UInt64: AsyncStream<TaskRecord>.Continuation]] = [:]
    /// The last `onChange` call scheduled per task (each waits for the one before).
    var deliveries: [String: Delivery] = [:]
    /// Shutdown waiting for the running tasks to end.
    var idleWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// Wakes the dispatch loop of `run()`.
    var wake: AsyncStream<Void>.Continuation?
    var phase: Phase = .idle
    var lastToken: UInt64 = 0
    /// Tasks of the previous run whose settlement could not be stored yet (`recover()`).
    var unsettled: [QueuedTask] = []
    /// A task could not be marked running (the store failed): `retryStorage()` dispatches again.
    var startFailed = false

    /// - Parameter onChange: called after every persisted change, in order per task, without
    ///   holding up the workers; `transition` is true for state changes, submissions and retry
    ///   notices, false for progress-only updates.
    public init(
        store: StateStore, configuration: Configuration = Configuration(), logger: Logger,
        onChange: @escaping @Sendable (TaskRecord, _ transition: Bool) async -> Void = { _, _ in }
    ) {
        self.tasks = TaskTable(store: store)
        self.configuration = configuration
        self.logger = logger
        self.onChange = onChange
    }

    /// Registers the handler of `kind`. `resumable` says the task is safe to repeat from the
    /// start when the agent stopped or restarted while it ran; otherwise such a task fails.
    public func register(kind: String, queue: String, resumable: Bool, handler: @escaping TaskHandler) {
        registrations[kind] = Registration(queue: queue, resumable: resumable, handler: handler)
    }

    // MARK: Submitting

    /// Persists a new queued task, or returns the task of an earlier call with the same
    /// request id and fingerprint (`duplicate` true; nothing runs again).
    public func submit(
        kind: String, target: String, requestID: String? = nil, fingerprint: String = "", input: Data = Data()
    ) async throws(TaskSubmitError) -> Submission {
        guard let registration = registrations[kind] else { throw .unknownKind(kind) }
        let now = StoredTime.now()
        let record = TaskRecord(
            id: UUID().uuidString.lowercased(), kind: kind, queue: registration.queue, target: target,
            requestID: requestID, fingerprint: fingerprint, state: .queued, progress: 0, message: "queued",
            createdAt: now, updatedAt: now, input: input)
        let stored: QueuedTask
        do {
            stored = try tasks.insert(record)
        } catch {
            throw .store(error.description)
        }
        if stored.record.id != record.id {
            let existing = stored.record
            guard existing.fingerprint == fingerprint, existing.kind == kind else {
                throw .requestIDReused(requestID: requestID ?? "", taskID: existing.id, kind: existing.kind)
            }
            return Submission(record: existing, duplicate: true)
        }
        pending.append(Pending(stored))
        logger.info("task submitted", metadata: metadata(record))
        notify(record, transition: true)
        wake?.yield()
        return Submission(record: record, duplicate: false)
    }

    // MARK: Looking up

    /// The task with this id, if it exists (finished tasks are kept for the retention).
    public nonisolated func get(_ id: String) throws(StateStoreError) -> TaskRecord? {
        try tasks.record(id: id)
    }

    /// The task submitted with this request id, if it exists.
    public nonisolated func get(requestID: String) throws(StateStoreError) -> TaskRecord? {
        try tasks.record(requestID: requestID)
    }

    /// At most `limit` tasks, newest first. `kinds` entries match exactly, or by prefix when
    /// they end in "." ("guest." matches every guest task); a nil filter matches everything.
    public nonisolated func list(
        states: Set<TaskState>? = nil, kinds: [String]? = nil, target: String? = nil, limit: Int = 100
    ) throws(StateStoreError) -> [TaskRecord] {
        try tasks.list(states: states, kinds: kinds, target: target, limit: limit)
    }

    /// How many tasks are queued and running.
    public nonisolated func counts() throws(StateStoreError) -> (queued: Int, running: Int) {
        try tasks.counts()
    }

    /// The task now, then every change (progress included); finishes right after the terminal
    /// record (or when the manager shuts down). Nil for an unknown id. A consumer that lags by
    /// more than 256 changes loses the oldest of them, never the latest.
    public func watch(_ id: String) throws(StateStoreError) -> AsyncStream<TaskRecord>? {
        guard let record = try tasks.record(id: id) else { return nil }
        let (stream, continuation) = AsyncStream.makeStream(of: TaskRecord.self, bufferingPolicy: .bufferingNewest(256))
        continuation.yield(record)
        if record.state.isTerminal {
            continuation.finish()
            return stream
        }
        let token = nextToken()
        watchers[id, default: [:]][token] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeWatcher(id: id, token: token) }
        }
        return stream
    }

    // MARK: Cancelling

    /// Cancels a task. A queued task is cancelled at once. A running task's handler is cancelled
    /// and the record returned is still running: it becomes cancelled when the handler gives up.
    /// - Parameter requester: who asked, for the task's message.
    @discardableResult
    public func cancel(_ id: String, requestedBy requester: String = "request") async throws(TaskCancelError) -> TaskRecord {
        let now = StoredTime.now()
        if var execution = running[id] {
            if execution.interruption == nil {
                execution.interruption = .cancelled(by: requester, at: now)
                running[id] = execution
                execution.handle?.cancel()
                logger.info("cancelling running task", metadata: ["task.id": "\(id)", "requester": "\(requester)"])
            }
            let noted: TaskRecord?
            do {
                noted = try tasks.update(id) { current in
                    current.state == .running
                        ? current.noted("cancelling: requested by \(requester) at \(now.ISO8601Format())", at: now) : nil
                }
            } catch {
                throw .store(error.description)
            }
            if let noted {
                notify(noted, transition: false)
                return noted
            }
        }
        let orphaned = running[id] == nil
        let cancelled: TaskRecord?
        do {
            cancelled = try tasks.update(id) { current in
                switch current.state {
                case .queued:
                    let message = "cancelled while queued by \(requester) at \(now.ISO8601Format())"
                    return current.ended(TaskFailure(reason: TaskFailure.Reason.cancelled, message: message), at: now)
                case .running where orphaned:
                    // Left running by an agent that is gone: no handler to stop.
                    let message = "cancelled by \(requester) at \(now.ISO8601Format()); no handler of this agent was running it"
                    return current.ended(TaskFailure(reason: TaskFailure.Reason.cancelled, message: message), at: now)
                case .running, .succeeded, .failed, .cancelled:
                    return nil
                }
            }
        } catch {
            throw .store(error.description)
        }
        if let cancelled {
            pending.removeAll { $0.id == id }
            logger.info("task cancelled", metadata: metadata(cancelled))
            notify(cancelled, transition: true)
            return cancelled
        }
        let current: TaskRecord?
        do {
            current = try tasks.record(id: id)
        } catch {
            throw .store(error.description)
        }
        guard let current else { throw .notFound(id) }
        if current.state.isTerminal { throw .alreadyTerminal(current) }
        return current
    }

    // MARK: Start-up and shutdown

    /// Settles the tasks a previous run left unfinished. Call once, after registering the
    /// handlers and before `run()`. Queued tasks are kept queued; running ones are queued again
    /// if their kind is resumable, otherwise failed with reason "agent-restarted" (as are tasks
    /// of kinds this agent does not know). A task whose new state cannot be stored now (a full
    /// disk) is settled by `run()` as soon as the store takes writes again; until then it does
    /// not run. Throws only when the unfinished tasks cannot be read at all.
    public func recover() async throws(StateStoreError) -> RecoveryReport {
        var report = RecoveryReport()
        let known = Set(pending.map(\.id)).union(running.keys).union(unsettled.map(\.record.id))
        for found in try tasks.unfinished() where !known.contains(found.record.id) {
            switch settle(found) {
            case .resumed: report.resumed.append(found.record.id)
            case .requeued: report.requeued.append(found.record.id)
            case .failed: report.failed.append(found.record.id)
            case .changed: break
            case .deferred:
                report.deferred.append(found.record.id)
                unsettled.append(found)
            }
        }
        pending.sort { $0.sequence < $1.sequence }
        logger.info("recovered tasks: \(report.summary)")
        wake?.yield()
        return report
    }

    enum Settlement {
        case resumed, requeued, failed, changed, deferred
    }

    /// Settles one task left unfinished by a previous run (see `recover()`).
    private func settle(_ found: QueuedTask) -> Settlement {
        let record = found.record
        let registration = registrations[record.kind]
        let now = StoredTime.now()
        let settled: TaskRecord?
        do {
            settled = try tasks.update(record.id) { current in
                guard current.state == record.state, current.attempts == record.attempts else { return nil }
                switch (current.state, registration) {
                case (.queued, .some):
                    return current.noted("resumed after agent restart", at: now)
                case (.running, .some(let registration)) where registration.resumable:
                    return current.requeued(
                        "requeued after agent restart: the agent restarted during \(current.runDescription); "
                            + "\(current.kind) is safe to repeat", at: now)
                case (.running, .some):
                    return current.ended(
                        TaskFailure(
                            reason: TaskFailure.Reason.agentRestarted,
                            message: "the agent restarted while the task was running (\(current.runDescription)); "
                                + "it was not repeated because \(current.kind) is not safe to repeat; "
                                + "check \(current.target) and retry with a new request_id"),
                        at: now)
                default:
                    return current.ended(
                        TaskFailure(
                            reason: TaskFailure.Reason.agentRestarted,
                            message: "the agent restarted and does not know the task kind \(current.kind) any more; "
                                + "check \(current.target) and retry with a new request_id"),
                        at: now)
                }
            }
        } catch {
            if record.state == .queued, registration != nil {
                // Queued in the database already: it runs; only the note is lost.
                pending.append(Pending(found))
                return .resumed
            }
            logger.warning(
                "cannot settle a task of the previous run yet: \(error); retrying until the state store takes writes",
                metadata: metadata(record))
            return .deferred
        }
        guard let settled else { return .changed }
        notify(settled, transition: true)
        switch settled.state {
        case .queued:
            pending.append(Pending(QueuedTask(sequence: found.sequence, record: settled)))
            return record.state == .queued ? .resumed : .requeued
        default:
            logger.warning("task failed: \(settled.message)", metadata: metadata(settled))
            return .failed
        }
    }

    /// Stores what could not be stored before (outcomes of finished runs, settlements of the
    /// previous run's tasks) and starts the tasks that could not be marked running. Called
    /// every `storageRetryInterval` by `run()`; does nothing when nothing waits.
    func retryStorage() {
        for (id, execution) in running {
            guard let verdict = execution.unpersisted else { continue }
            if persist(verdict, of: id, execution, attempt: execution.attempt) {
                logger.notice("the outcome of the task is stored now", metadata: ["task.id": "\(id)"])
                release(id)
            }
        }
        if !unsettled.isEmpty {
            let waiting = unsettled
            unsettled = []
            for found in waiting where settle(found) == .deferred { unsettled.append(found) }
            pending.sort { $0.sequence < $1.sequence }
            wake?.yield()
        }
        if startFailed {
            startFailed = false
            dispatch()
        }
    }

    /// How often stores that failed are tried again.
    static let storageRetryInterval: Duration = .seconds(1)

    private nonisolated func retryStorageRegularly() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.storageRetryInterval)
            await retryStorage()
        }
    }

    /// Runs tasks until this task is cancelled or a ServiceLifecycle graceful shutdown starts,
    /// then drains: no new task starts; running handlers get `drainTimeout` to finish, then are
    /// cancelled (a handler interrupted so is recorded queued again if its kind is resumable, else
    /// failed with reason "agent-stopped"); queued tasks stay queued. Every task ends the shutdown
    /// in a persisted state. Also prunes finished tasks older than the retention, at start and
    /// hourly.
    public func run() async {
        guard phase == .idle else {
            logger.error("TaskManager.run() called while it already runs")
            return
        }
        phase = .running
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wake = wake
        wake.yield()
        logger.info("task manager started", metadata: ["queued": "\(pending.count)"])
        let pruner = Task { await self.pruneRegularly() }
        let retrier = Task { await self.retryStorageRegularly() }
        await cancelWhenGracefulShutdown {
            for await _ in wakeups { await self.dispatch() }
        }
        pruner.cancel()
        retrier.cancel()
        phase = .stopping
        self.wake = nil
        wake.finish()
        // Draining must wait even though this task is cancelled: an unstructured task does not
        // inherit the cancellation.
        await Task { await self.drain() }.value
        phase = .idle
    }

    /// Deletes finished tasks that finished before `date`; returns how many.
    public func prune(olderThan date: Date) async throws(StateStoreError) -> Int {
        try tasks.prune(finishedBefore: date)
    }

    private nonisolated func pruneRegularly() async {
        while !Task.isCancelled {
            let retention = configuration.retention.components
            let cutoff = Date(timeIntervalSinceNow: -(Double(retention.seconds) + Double(retention.attoseconds) / 1e18))
            do {
                let pruned = try await prune(olderThan: cutoff)
                if pruned > 0 { logger.info("pruned \(pruned) finished task(s) older than \(cutoff.ISO8601Format())") }
            } catch {
                logger.error("pruning tasks failed: \(error)")
            }
            try? await Task.sleep(for: Self.pruneInterval)
        }
    }
}

