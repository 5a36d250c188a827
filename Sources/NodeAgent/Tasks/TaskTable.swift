import Foundation
import GRDB

/// A stored task with its position in submission order.
struct QueuedTask: Sendable {
    var sequence: Int64
    var record: TaskRecord
}

/// The `tasks` table. Every change is a compare-and-swap: the new record is written only if
/// the row still has the state and attempt count the change was computed from.
struct TaskTable: Sendable {
    let store: StateStore

    private static let listColumns = columns.replacingOccurrences(of: " input,", with: " NULL AS input,")

    private static let columns = """
        sequence, id, kind, queue, target, request_id, fingerprint, state, progress, message, created_at, \
        updated_at, started_at, finished_at, attempts, input, result, error_reason, error_message
        """

    /// Inserts `record` (queued) unless a task with its request id exists; returns the stored
    /// task, which is the existing one when the request id was taken (its `id` then differs).
    func insert(_ record: TaskRecord) throws(StateStoreError) -> QueuedTask {
        // Durable: the caller is told the task exists once this returns.
        try store.writeDurably { db in
            // The partial UNIQUE index decides between concurrent submissions of one request id
            // (also from other connections); the loser reads the winner.
            try db.cachedStatement(
                sql: """
                    INSERT INTO tasks (id, kind, queue, target, request_id, fingerprint, state, progress, message,
                        created_at, updated_at, started_at, finished_at, attempts, input, result, error_reason, error_message)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING
                    """
            ).execute(
                arguments: [
                    record.id, record.kind, record.queue, record.target, record.requestID, record.fingerprint,
                    record.state.rawValue, record.progress, record.message,
                    StoredTime.milliseconds(record.createdAt), StoredTime.milliseconds(record.updatedAt),
                    record.startedAt.map(StoredTime.milliseconds), record.finishedAt.map(StoredTime.milliseconds),
                    record.attempts, record.input, record.result, record.error?.reason, record.error?.message,
                ])
            if db.changesCount == 1 {
                return QueuedTask(sequence: db.lastInsertedRowID, record: record)
            }
            guard let requestID = record.requestID,
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(Self.columns) FROM tasks WHERE request_id = ?"), arguments: [requestID])
            else {
                throw UnreadableRow(table: "tasks", reason: "the insert of task \(record.id) was ignored without a conflicting request id")
            }
            return try Self.decode(row)
        }
    }

    func record(id: String) throws(StateStoreError) -> TaskRecord? {
        try store.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.columns) FROM tasks WHERE id = ?"), arguments: [id])
                .map { try Self.decode($0).record }
        }
    }

    func record(requestID: String) throws(StateStoreError) -> TaskRecord? {
        try store.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.columns) FROM tasks WHERE request_id = ?"), arguments: [requestID])
                .map { try Self.decode($0).record }
        }
    }

    /// Queued and running tasks, in submission order.
    func unfinished() throws(StateStoreError) -> [QueuedTask] {
        try store.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.columns) FROM tasks WHERE state IN ('queued', 'running') ORDER BY sequence"
            ).map(Self.decode)
        }
    }

    /// Newest first; `kinds` entries ending in "." match every kind with that prefix.
    func list(states: Set<TaskState>?, kinds: [String]?, target: String?, limit: Int) throws(StateStoreError) -> [TaskRecord] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let states {
            conditions.append("state IN (\(Array(repeating: "?", count: states.count).joined(separator: ", ")))")
            arguments += states.map { $0.rawValue }
        }
        if let kinds {
            let matches = kinds.map { kind in
                if kind.hasSuffix(".") {
                    arguments += [kind, kind]
                    return "substr(kind, 1, length(?)) = ?"
                }
                arguments.append(kind)
                return "kind = ?"
            }
            conditions.append("(" + (matches.isEmpty ? "0" : matches.joined(separator: " OR ")) + ")")
        }
        if let target {
            conditions.append("target = ?")
            arguments.append(target)
        }
        arguments.append(max(limit, 0))
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // A listing never needs a task's input (the request it was created from): not read.
        let sql = "SELECT \(Self.listColumns) FROM tasks \(filter) ORDER BY sequence DESC LIMIT ?"
        return try store.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { try Self.decode($0).record }
        }
    }

    func counts() throws(StateStoreError) -> (queued: Int, running: Int) {
        try store.read { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT state, COUNT(*) AS count FROM tasks WHERE state IN ('queued', 'running') GROUP BY state"))
            var queued = 0
            var running = 0
            for row in rows {
                let state: String = try row.decode(forColumn: "state")
                let count: Int = try row.decode(forColumn: "count")
                if state == TaskState.queued.rawValue { queued = count } else { running = count }
            }
            return (queued, running)
        }
    }

    /// Reads the task and, in the same transaction, stores `change(current)` if it returns a
    /// record, guarded by the current state and attempt count. Returns the stored record, or
    /// nil if there is no such task or `change` declined.
    func update(_ id: String, _ change: (TaskRecord) -> TaskRecord?) throws(StateStoreError) -> TaskRecord? {
        try store.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.columns) FROM tasks WHERE id = ?"), arguments: [id])
            else { return nil }
            let current = try Self.decode(row).record
            guard let next = change(current) else { return nil }
            try db.cachedStatement(
                sql: """
                    UPDATE tasks SET state = ?, progress = ?, message = ?, updated_at = ?, started_at = ?, finished_at = ?,
                        attempts = ?, result = ?, error_reason = ?, error_message = ?
                    WHERE id = ? AND state = ? AND attempts = ?
                    """
            ).execute(
                arguments: [
                    next.state.rawValue, next.progress, next.message, StoredTime.milliseconds(next.updatedAt),
                    next.startedAt.map(StoredTime.milliseconds), next.finishedAt.map(StoredTime.milliseconds),
                    next.attempts, next.result, next.error?.reason, next.error?.message,
                    id, current.state.rawValue, current.attempts,
                ])
            return db.changesCount == 1 ? next : nil
        }
    }

    /// Deletes terminal tasks that finished before `date`.
    func prune(finishedBefore date: Date) throws(StateStoreError) -> Int {
        try store.write { db in
            try db.execute(
                sql: "DELETE FROM tasks WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?",
                arguments: [StoredTime.milliseconds(date)])
            return db.changesCount
        }
    }

    private static func decode(_ row: Row) throws -> QueuedTask {
        let stateName: String = try row.decode(forColumn: "state")
        guard let state = TaskState(rawValue: stateName) else {
            throw UnreadableRow(table: "tasks", reason: "unknown state \"\(stateName)\"")
        }
        let errorReason: String? = try row.decode(forColumn: "error_reason")
        let errorMessage: String? = try row.decode(forColumn: "error_message")
        let startedAt: Int64? = try row.decode(forColumn: "started_at")
        let finishedAt: Int64? = try row.decode(forColumn: "finished_at")
        let input: Data? = try row.decode(forColumn: "input")
        let record = TaskRecord(
            id: try row.decode(forColumn: "id"),
            kind: try row.decode(forColumn: "kind"),
            queue: try row.decode(forColumn: "queue"),
            target: try row.decode(forColumn: "target"),
            requestID: try row.decode(forColumn: "request_id"),
            fingerprint: try row.decode(forColumn: "fingerprint"),
            state: state,
            progress: try row.decode(forColumn: "progress"),
            message: try row.decode(forColumn: "message"),
            createdAt: StoredTime.date(try row.decode(forColumn: "created_at")),
            updatedAt: StoredTime.date(try row.decode(forColumn: "updated_at")),
            startedAt: startedAt.map(StoredTime.date),
            finishedAt: finishedAt.map(StoredTime.date),
            attempts: try row.decode(forColumn: "attempts"),
            input: input ?? Data(),
            result: try row.decode(forColumn: "result"),
            error: errorReason.map { TaskFailure(reason: $0, message: errorMessage ?? "") })
        return QueuedTask(sequence: try row.decode(forColumn: "sequence"), record: record)
    }
}
