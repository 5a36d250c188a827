import Foundation
import GRDB

/// Why the state database could not be opened or used: the file and the reason.
public struct StateStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database file (`<state directory>/state.sqlite`).
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "state database \(path): \(reason)" }
}

/// The agent's durable state: one SQLite database, `<state directory>/state.sqlite`, in WAL
/// mode, holding the tasks (with their request ids) and the event log.
///
/// Opening never destroys anything: a file that is not a SQLite database, or one migrated by
/// a newer agent, is refused with an error naming the file and the reason, and left as it is.
public final class StateStore: Sendable {
    /// The database's file name inside the state directory.
    public static let fileName = "state.sqlite"

    /// The database file.
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating if needed, with its directory, mode 0700) and migrates the state
    /// database in `directory`.
    public init(directory: String) throws(StateStoreError) {
        let path = URL(fileURLWithPath: directory, isDirectory: true).appendingPathComponent(Self.fileName).path
        self.path = path
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StateStoreError(path: path, reason: "cannot create the state directory \(directory): \(error.localizedDescription)")
        }
        var configuration = GRDB.Configuration()
        configuration.label = "nodeagent.state"
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StateStoreError(path: path, error)
        }
        try migrate()
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

    // MARK: Access for the tables' owners

    /// Runs `body` in a read transaction.
    func read<T>(_ body: (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw StateStoreError(path: path, error)
        }
    }

    /// Runs `body` in an immediate write transaction, serialized with every other write.
    func write<T>(_ body: (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            return try pool.write(body)
        } catch {
            throw StateStoreError(path: path, error)
        }
    }

    /// Runs `body` on the serialized writer connection outside of a transaction: each statement
    /// commits on its own, and nothing else writes until `body` returns.
    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            return try pool.writeWithoutTransaction(body)
        } catch {
            throw StateStoreError(path: path, error)
        }
    }

    // MARK: Schema

    private func migrate() throws(StateStoreError) {
        let migrator = Self.migrator
        let unknown = try read { db in try migrator.appliedIdentifiers(db).subtracting(migrator.migrations) }
        if !unknown.isEmpty {
            throw StateStoreError(
                path: path,
                reason: "the schema was written by a newer agent (migrations \(unknown.sorted().joined(separator: ", ")) "
                    + "are unknown to this agent, which knows \(migrator.migrations.joined(separator: ", "))); "
                    + "the file was left untouched")
        }
        do {
            try migrator.migrate(pool)
        } catch {
            throw StateStoreError(path: path, error)
        }
    }

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
            return
        }
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_NOTADB:
            reason = "not a SQLite database (\(detail)); the file was left untouched: move it away to start with an empty state"
        case .SQLITE_CORRUPT:
            reason = "the database is corrupt (\(detail)); the file was left untouched: move it away to start with an empty state"
        case .SQLITE_CANTOPEN:
            reason = "cannot open the file (\(detail))"
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            reason = "the database stayed locked by another connection (\(detail))"
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
            reason = "the database is not writable (\(detail))"
        case .SQLITE_FULL:
            reason = "the disk is full (\(detail))"
        case .SQLITE_IOERR:
            reason = "I/O error (\(detail))"
        default:
            reason = error.description
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
