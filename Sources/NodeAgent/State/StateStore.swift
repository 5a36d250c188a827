import Foundation
import GRDB
import Glibc
import Synchronization

/// Why the state database could not be opened or used: the file, the reason, and what kind of
/// trouble it is (a full disk heals when space returns; a damaged file does not).
public struct StateStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// No space left for the database or its write-ahead log.
        case full
        /// The file system failed a read or write (EIO), or a file could not be created.
        case io
        /// The file or its directory is not writable.
        case readOnly = "read-only"
        /// The file is not a database, is damaged, lacks the agent's tables, or belongs to
        /// another program or a newer agent. Never heals by itself.
        case damaged
        /// Another connection held the database locked too long.
        case locked
        /// Anything else (a row the agent cannot read, an unexpected failure).
        case other
    }

    /// The database file (`<state directory>/state.sqlite`).
    public var path: String
    public var reason: String
    public var kind: Kind

    public init(path: String, reason: String, kind: Kind = .other) {
        self.path = path
        self.reason = reason
        self.kind = kind
    }

    public var description: String { "state database \(path): \(reason)" }

    /// Whether the failure is the storage's (full, I/O, read-only, damaged) rather than a
    /// request's: such failures make the store unhealthy until a write succeeds again.
    var isStorageFailure: Bool { kind != .other }
}

/// The agent's durable state: one SQLite database, `<state directory>/state.sqlite`, in WAL
/// mode, holding the tasks (with their request ids) and the event log.
///
/// Opening never changes a file it refuses: an existing file is first inspected read-only
/// (`StoreInspection`) and refused with the file and the reason if it is not a SQLite database,
/// is damaged, lacks a table, belongs to another program or to a newer agent.
///
/// The store keeps track of its own health: a write that fails because the disk is full (or
/// the file system fails) makes it unwritable until a write succeeds again; `condition()` says
/// so, probing with a one-page write at most once a second meanwhile. `checkpoint()` copies the
/// write-ahead log into the database file (the agent does so regularly and on a clean stop, so
/// that `state.sqlite` alone holds the state).
public final class StateStore: Sendable {
    /// The database's file name inside the state directory.
    public static let fileName = "state.sqlite"
    /// Written into the file's header (`PRAGMA application_id`, "NAGT"): marks the file as the
    /// agent's, and writing it is the store's write probe.
    static let applicationID: Int32 = 0x4E41_4754

    /// The database file.
    public let path: String
    private let pool: DatabasePool
    private let health = Mutex(Health())

    private struct Health {
        /// The last write failure of the storage, while no write has succeeded since.
        var writeFailure: (error: StateStoreError, since: Date)?
        /// Damage seen while the agent ran (a corrupt page, a dropped table): never cleared.
        var damage: StateStoreError?
        var lastProbe: ContinuousClock.Instant?
        /// When a write last succeeded.
        var lastWrite: ContinuousClock.Instant?
    }

    /// How stale `condition()` may be: with no write for this long it probes one itself, so an
    /// idle agent notices a disk that filled meanwhile.
    static let probeAfter: Duration = .seconds(10)

    /// Opens (creating if needed, with its directory, mode 0700) and migrates the state
    /// database in `directory`. A database that cannot be written now (a full disk) still
    /// opens: the store starts unwritable and says so in `condition()`.
    public init(directory: String) throws(StateStoreError) {
        let path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        self.path = path
        do throws(FileSystemError) {
            try LocalFiles.createDirectory(directory, mode: 0o700)
        } catch {
            throw StateStoreError(
                path: path, reason: "cannot create the state directory \(directory): \(error)", kind: error.errno == ENOSPC ? .full : error.errno == EACCES || error.errno == EROFS ? .readOnly : .io)
        }
        try StoreInspection.check(path)
        var configuration = GRDB.Configuration()
        configuration.label = "nodeagent.state"
        configuration.busyMode = .timeout(10)
        // Four readers with small page caches (the agent's memory is measured:
        // docs/RELIABILITY.md). Two were too few under load: a write's request-id lookup waited
        // for a reader behind task listings.
        configuration.maximumReaderCount = 4
        // synchronous = NORMAL: a commit reaches the write-ahead log at once (no agent crash loses
        // it) but is flushed to the disk only at checkpoints and at durable writes
        // (`writeDurably`: a task's acceptance). A power loss may take back the last task
        // transitions and events: the next start settles the tasks as after a crash, and, the
        // file not having been closed cleanly (`markInUse`), event sequence numbers skip ahead
        // (`EventLog.skipAhead`) so that none is handed out twice.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = -512")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StateStoreError(path: path, error)
        }
        try migrate()
        // Marks the file as the agent's; a failure (a full disk) leaves the store unwritable.
        try? probeWrite()
    }

    /// A cheap liveness check (`SELECT 1` through the pool), for the watchdog.
    public func ping() throws(StateStoreError) {
        _ = try read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// The database's journal mode as SQLite reports it ("wal").
    public func journalMode() throws(StateStoreError) -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// The schema migrations applied to the database, oldest first.
    public func appliedMigrations() throws(StateStoreError) -> [String] {
        try read { db in try Self.migrator.appliedMigrations(db) }
    }

    // MARK: Health

    /// Whether the store can serve the agent now, and why not: its tables answer, it is not
    /// known to be damaged, and the last write succeeded (or a probe write succeeds now).
    public func condition() -> (ok: Bool, message: String) {
        do {
            try read { db in
                _ = try Row.fetchOne(db.cachedStatement(sql: "SELECT sequence FROM tasks LIMIT 1"))
                _ = try Row.fetchOne(db.cachedStatement(sql: "SELECT sequence FROM events LIMIT 1"))
            }
        } catch {
            return (false, "\(error)")
        }
        let now = ContinuousClock.now
        let state = health.withLock { $0 }
        if let damage = state.damage { return (false, "\(damage)") }
        let stale = state.lastWrite.map { now - $0 >= Self.probeAfter } ?? true
        let mayProbe = state.lastProbe.map { now - $0 >= .seconds(1) } ?? true
        if (state.writeFailure != nil || stale) && mayProbe {
            health.withLock { $0.lastProbe = now }
            _ = try? probeWrite()
        }
        guard let failure = health.withLock({ $0.writeFailure }) else { return (true, "state.sqlite answers and takes writes") }
        return (false, "cannot write since \(failure.since.ISO8601Format()): \(failure.error.reason); every change is refused until it can")
    }

    /// Whether the last write failed for the storage's reasons (and none succeeded since).
    public var isWritable: Bool { health.withLock { $0.writeFailure == nil && $0.damage == nil } }

    /// A one-page write (the application id in the header): true proof that a commit reaches
    /// the disk. Clears the unwritable state when it succeeds.
    public func probeWrite() throws(StateStoreError) {
        try writeWithoutTransaction { db in try db.execute(sql: "PRAGMA application_id = \(Self.applicationID)") }
    }

    /// Copies the write-ahead log into the database file and truncates the log. Returns false if
    /// readers kept it from completing (it is tried again later).
    @discardableResult
    public func checkpoint() throws(StateStoreError) -> Bool {
        do {
            try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            return true
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return false
        } catch {
            throw StateStoreError(path: path, error)
        }
    }

    /// `PRAGMA quick_check`: nil when the file is consistent, else what SQLite found.
    public func quickCheck() throws(StateStoreError) -> String? {
        let result = try read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        guard result != ["ok"] else { return nil }
        let found = result.prefix(3).joined(separator: "; ")
        health.withLock {
            $0.damage = StateStoreError(
                path: path, reason: "the database is damaged (quick_check: \(found)); stop the agent and move the file away", kind: .damaged)
        }
        return found
    }

    /// Checkpoints and closes the database: after a clean stop, `state.sqlite` alone holds
    /// everything (the write-ahead log is empty), and the file says it was closed cleanly.
    public func close() {
        _ = try? writeDurably { db in try db.execute(sql: "PRAGMA user_version = \(Self.closedCleanly)") }
        _ = try? checkpoint()
        try? pool.close()
    }

    /// `PRAGMA user_version` while the agent is not running, after a clean `close()`.
    static let closedCleanly = 1

    /// Marks the database in use (until `close()`); returns whether the previous user closed it
    /// cleanly (false after a crash or a power loss, or for a new database).
    public func markInUse() throws(StateStoreError) -> Bool {
        try writeDurably { db in
            let clean = try Int.fetchOne(db, sql: "PRAGMA user_version") == Self.closedCleanly
            try db.execute(sql: "PRAGMA user_version = 0")
            return clean
        }
    }

    // MARK: Access for the tables' owners

    /// Runs `body` in a read transaction.
    func read<T>(_ body: (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw noted(StateStoreError(path: path, error), writing: false)
        }
    }

    /// Runs `body` in an immediate write transaction, serialized with every other write.
    func write<T>(_ body: (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            let value = try pool.write(body)
            noteWriteSucceeded()
            return value
        } catch {
            throw noted(StateStoreError(path: path, error), writing: true)
        }
    }

    /// Like `write`, but the commit is flushed to the disk before it returns
    /// (`synchronous = FULL` for this transaction): what a caller was told is stored survives a
    /// power loss too.
    func writeDurably<T>(_ body: @escaping (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            let value = try pool.writeWithoutTransaction { db -> T in
                try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
                defer { try? db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute() }
                var value: T?
                try db.inTransaction(.immediate) {
                    value = try body(db)
                    return .commit
                }
                return value!
            }
            noteWriteSucceeded()
            return value
        } catch {
            throw noted(StateStoreError(path: path, error), writing: true)
        }
    }

    /// Runs `body` on the serialized writer connection outside of a transaction: each statement
    /// commits on its own, and nothing else writes until `body` returns.
    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            let value = try pool.writeWithoutTransaction(body)
            noteWriteSucceeded()
            return value
        } catch {
            throw noted(StateStoreError(path: path, error), writing: true)
        }
    }

    private func noteWriteSucceeded() {
        let now = ContinuousClock.now
        health.withLock {
            $0.writeFailure = nil
            $0.lastWrite = now
        }
    }

    private func noted(_ error: StateStoreError, writing: Bool) -> StateStoreError {
        health.withLock { health in
            if error.kind == .damaged {
                health.damage = error
            } else if writing && error.isStorageFailure && health.writeFailure == nil {
                health.writeFailure = (error, Date())
            }
        }
        return error
    }

    // MARK: Schema

    private func migrate() throws(StateStoreError) {
        do {
            try Self.migrator.migrate(pool)
        } catch {
            throw StateStoreError(path: path, error)
        }
    }

    /// The migrations this agent knows, oldest first.
    static var knownMigrations: [String] { migrator.migrations }

    /// The schema, one migration per version. Never edit a shipped migration: add one.
    private static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tasks (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        kind TEXT NOT NULL,
                        queue TEXT NOT NULL,
                        target TEXT NOT NULL,
                        request_id TEXT,
                        fingerprint TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                        progress REAL NOT NULL DEFAULT 0,
                        message TEXT NOT NULL DEFAULT '',
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        started_at INTEGER,
                        finished_at INTEGER,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        input BLOB,
                        result BLOB,
                        error_reason TEXT,
                        error_message TEXT
                    );
                    CREATE INDEX tasks_state ON tasks(state);
                    CREATE UNIQUE INDEX tasks_request_id ON tasks(request_id) WHERE request_id IS NOT NULL;
                    CREATE INDEX tasks_finished_at ON tasks(finished_at);
                    CREATE TABLE events (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        time INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        payload BLOB
                    );
                    CREATE INDEX events_time ON events(time);
                    """)
        }
        return migrator
    }()
}

extension StateStoreError {
    /// Describes a database failure on `path` in words an operator can act on.
    init(path: String, _ error: any Error) {
        self.path = path
        guard let error = error as? DatabaseError else {
            reason = String(describing: error)
            kind = .other
            return
        }
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_NOTADB:
            reason = "not a SQLite database (\(detail)); the file was left untouched: move it away to start with an empty state"
            kind = .damaged
        case .SQLITE_CORRUPT:
            reason = "the database is corrupt (\(detail)); the file was left untouched: move it away to start with an empty state"
            kind = .damaged
        case .SQLITE_CANTOPEN:
            reason = "cannot open the file (\(detail))"
            kind = .io
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            reason = "the database stayed locked by another connection (\(detail))"
            kind = .locked
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
            reason = "the database is not writable (\(detail))"
            kind = .readOnly
        case .SQLITE_FULL:
            reason = "the disk is full (\(detail))"
            kind = .full
        case .SQLITE_IOERR:
            reason = "I/O error (\(detail))"
            kind = .io
        case .SQLITE_ERROR where detail.hasPrefix("no such table") || detail.hasPrefix("no such column"):
            reason = "the database lacks part of the agent's schema (\(detail)): it was damaged or edited; stop the agent and move the file away"
            kind = .damaged
        default:
            reason = error.description
            kind = .other
        }
    }
}

/// Times are stored as whole milliseconds since 1970, so a record read back equals the one
/// written: every time the agent stores comes from `StoredTime.now()`.
enum StoredTime {
    /// The current time, rounded to the millisecond.
    static func now() -> Date { date(milliseconds(Date())) }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}

/// A row the agent cannot understand (written by something else, or damaged).
struct UnreadableRow: Error, CustomStringConvertible {
    var table: String
    var reason: String
    var description: String { "unreadable row in \(table): \(reason)" }
}
