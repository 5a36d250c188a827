import Glibc
import GRDB

/// The read-only look at an existing state database before the agent opens it for writing.
///
/// Opening a SQLite file for writing is not neutral: the pool switches it to WAL mode (which
/// rewrites its header) and migrations add tables. So a file is refused here, unchanged, when it
/// is not a SQLite database, fails `PRAGMA quick_check` (garbage pages, a truncated file), was
/// written by another program (tables of its own and no trace of the agent's schema), by a newer
/// agent (schema migrations this agent does not know), or lacks one of the agent's tables or
/// columns. An absent or empty file, or a database without any table, is the agent's to create.
enum StoreInspection {
    /// The columns each of the agent's tables must have (what the code reads and writes).
    static let requiredColumns: [String: Set<String>] = [
        "tasks": [
            "sequence", "id", "kind", "queue", "target", "request_id", "fingerprint", "state", "progress", "message", "created_at",
            "updated_at", "started_at", "finished_at", "attempts", "input", "result", "error_reason", "error_message",
        ],
        "events": ["sequence", "time", "type", "payload"],
    ]

    static func check(_ path: String) throws(StateStoreError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StateStoreError(path: path, reason: "is not a regular file; refusing to use it", kind: .damaged)
        }
        guard info.st_size > 0 else { return }
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        configuration.label = "nodeagent.state.inspection"
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw StateStoreError(path: path, error)
        }
        defer { try? queue.close() }
        let problem: String?
        do {
            problem = try queue.read(problem(in:))
        } catch {
            throw StateStoreError(path: path, error)
        }
        if let problem {
            throw StateStoreError(path: path, reason: "\(problem); the file was left untouched", kind: .damaged)
        }
    }

    /// What is wrong with the database, or nil when the agent may use it.
    private static func problem(in db: Database) throws -> String? {
        let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
        guard check == ["ok"] else {
            return "the database is damaged (quick_check: \(check.prefix(3).joined(separator: "; "))): "
                + "move it away to start with an empty state"
        }
        let tables = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        if tables.isEmpty { return nil }
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let migrations = tables.contains("grdb_migrations")
            ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : []
        let known = Set(StateStore.knownMigrations)
        let isOurs = applicationID == StateStore.applicationID || migrations.contains(where: known.contains)
        guard isOurs else {
            let listed = tables.prefix(8).joined(separator: ", ") + (tables.count > 8 ? ", ..." : "")
            return "not the agent's state database: it belongs to another program (its tables: \(listed)); "
                + "point agent.state_dir elsewhere or move the file away"
        }
        let unknown = Set(migrations).subtracting(known)
        if !unknown.isEmpty {
            return "the schema was written by a newer agent (migrations \(unknown.sorted().joined(separator: ", ")) "
                + "are unknown to this agent, which knows \(StateStore.knownMigrations.joined(separator: ", "))); "
                + "run the newer agent, or move the file away"
        }
        // Once migrated, every table and column the agent uses must be there.
        guard !migrations.isEmpty else { return nil }
        for (table, columns) in requiredColumns.sorted(by: { $0.key < $1.key }) {
            guard tables.contains(table) else {
                return "the table \(table) is missing: the database was damaged or edited; move it away to start with an empty state"
            }
            let present = Set(try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { row -> String in row["name"] })
            let missing = columns.subtracting(present)
            if !missing.isEmpty {
                return "the table \(table) lacks the column(s) \(missing.sorted().joined(separator: ", ")): "
                    + "the database was damaged or edited; move it away to start with an empty state"
            }
        }
        return nil
    }
}
