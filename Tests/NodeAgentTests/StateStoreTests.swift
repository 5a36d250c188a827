import Foundation
import GRDB
@testable import NodeAgent
import TestSupport
import Testing

@Suite("State database")
struct StateStoreTests {
    @Test func createsItsDirectoryPrivateAndUsesWAL() async throws {
        try await withTemporaryDirectory("state") { directory in
            let stateDirectory = directory.path + "/var/lib/nodeagent"
            let store = try StateStore(directory: stateDirectory)
            #expect(store.path == stateDirectory + "/state.sqlite")
            #expect(FileManager.default.fileExists(atPath: store.path))
            let mode = try FileManager.default.attributesOfItem(atPath: stateDirectory)[.posixPermissions] as? Int
            #expect(mode == 0o700)
            #expect(try store.journalMode() == "wal")
            try store.ping()
            #expect(try store.appliedMigrations() == ["v1"])
        }
    }

    @Test func reopeningKeepsTheDataAndMigratesNothingTwice() async throws {
        try await withTemporaryDirectory("state") { directory in
            do {
                let log = EventLog(store: try StateStore(directory: directory.path))
                try log.append(type: "test", payload: Data("one".utf8))
            }
            let store = try StateStore(directory: directory.path)
            #expect(try store.appliedMigrations() == ["v1"])
            #expect(try store.journalMode() == "wal")
            #expect(try EventLog(store: store).lastSequence == 1)
            // A third open, while the second is still open, is just as fine.
            #expect(try StateStore(directory: directory.path).appliedMigrations() == ["v1"])
        }
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAndLeftIntact() async throws {
        try await withTemporaryDirectory("state") { directory in
            let garbage = Data(String(repeating: "this is not a database, but someone's notes\n", count: 200).utf8)
            let path = directory.file("state.sqlite")
            try garbage.write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: StateStoreError.self) { try StateStore(directory: directory.path) }
            #expect(error.path == path)
            #expect(error.reason.hasPrefix("not a SQLite database"))
            #expect(error.description.contains(path))
            #expect(FileManager.default.contents(atPath: path) == garbage)
        }
    }

    @Test func aSchemaFromANewerAgentIsRefusedAndLeftIntact() async throws {
        try await withTemporaryDirectory("state") { directory in
            do {
                let store = try StateStore(directory: directory.path)
                try store.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v2')") }
            }
            let error = try #require(throws: StateStoreError.self) { try StateStore(directory: directory.path) }
            #expect(error.path == directory.file("state.sqlite"))
            #expect(error.reason.contains("newer agent"))
            #expect(error.reason.contains("(migrations v2 are unknown to this agent, which knows v1)"))
            // Still refused: nothing was rewritten by the failed open.
            #expect(throws: StateStoreError.self) { try StateStore(directory: directory.path) }
        }
    }

    @Test func aStateDirectoryThatCannotBeCreatedIsNamed() async throws {
        try await withTemporaryDirectory("state") { directory in
            let file = try directory.write("occupied", "a file where the directory should be")
            let error = try #require(throws: StateStoreError.self) { try StateStore(directory: file + "/state") }
            #expect(error.path == file + "/state/state.sqlite")
            #expect(error.reason.hasPrefix("cannot create the state directory \(file)/state"))
        }
    }
}

/// Damaged or foreign databases are refused before anything writes to them (issue 11, item 7):
/// the file stays byte for byte as it was, and the reason names what is wrong.
@Suite("State database: damaged and foreign files")
struct StateStoreDamageTests {
    enum Damage: String, CaseIterable, Sendable {
        case garbagePages, truncated, droppedTable, droppedColumn, foreignProgram, foreignMigrations, newerSchema
    }

    /// What the refusal must say for each damage.
    static let expected: [Damage: String] = [
        .garbagePages: "corrupt",
        .truncated: "corrupt",
        .droppedTable: "the table events is missing",
        .droppedColumn: "the table tasks lacks the column(s) error_message",
        .foreignProgram: "belongs to another program (its tables: invoices, users)",
        .foreignMigrations: "belongs to another program",
        .newerSchema: "newer agent",
    ]

    @Test(arguments: Damage.allCases)
    func aDamagedOrForeignDatabaseIsRefusedUnchanged(_ damage: Damage) async throws {
        try await withTemporaryDirectory("state") { directory in
            let path = directory.file("state.sqlite")
            try Self.make(damage, at: directory.path)
            let before = try #require(FileManager.default.contents(atPath: path))
            let error = try #require(throws: StateStoreError.self) { try StateStore(directory: directory.path) }
            #expect(error.kind == .damaged, "\(error)")
            #expect(error.reason.contains(Self.expected[damage]!), "\(error.reason)")
            #expect(error.reason.contains("left untouched"), "\(error.reason)")
            #expect(FileManager.default.contents(atPath: path) == before, "the file was changed by the refused open")
            // And again: a refusal is stable.
            #expect(throws: StateStoreError.self) { try StateStore(directory: directory.path) }
            #expect(FileManager.default.contents(atPath: path) == before)
        }
    }

    /// A database of the agent with some tasks and events, closed (checkpointed), then damaged.
    static func make(_ damage: Damage, at directory: String) throws {
        let path = directory + "/state.sqlite"
        switch damage {
        case .foreignProgram:
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in
                try db.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE invoices (id INTEGER)")
                try db.execute(sql: "INSERT INTO users (name) VALUES ('alice')")
            }
            try queue.close()
            return
        case .foreignMigrations:
            let queue = try DatabaseQueue(path: path)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("createUsers") { db in try db.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY)") }
            try migrator.migrate(queue)
            try queue.close()
            return
        default:
            break
        }
        do {
            let store = try StateStore(directory: directory)
            let log = EventLog(store: store)
            for index in 0..<400 { try log.append(type: "test", payload: Data(repeating: UInt8(index % 256), count: 300)) }
            store.close()
        }
        switch damage {
        case .garbagePages:
            // Pages 3 and 4 (of 4 KiB) overwritten with random bytes: the tables' b-trees.
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            try handle.seek(toOffset: 2 * 4096)
            var generator = SystemRandomNumberGenerator()
            try handle.write(contentsOf: Data((0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }))
            try handle.close()
        case .truncated:
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            #expect(truncate(path, off_t(size / 2)) == 0)
        case .droppedTable, .droppedColumn, .newerSchema:
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in
                switch damage {
                case .droppedTable: try db.execute(sql: "DROP TABLE events")
                case .droppedColumn: try db.execute(sql: "ALTER TABLE tasks DROP COLUMN error_message")
                default: try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9')")
                }
            }
            try queue.close()
        default:
            break
        }
    }

    /// After a clean close the write-ahead log is empty and the database file alone holds the
    /// data: a copy of state.sqlite (the backup an operator makes) has every event (item 6).
    @Test func aCleanCloseLeavesEverythingInTheDatabaseFile() async throws {
        try await withTemporaryDirectory("state") { directory in
            let store = try StateStore(directory: directory.path)
            let log = EventLog(store: store)
            for index in 0..<200 { try log.append(type: "test", payload: Data("event \(index)".utf8)) }
            let wal = directory.file("state.sqlite-wal")
            #expect((try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int ?? 0) > 0, "the events are in the WAL")
            store.close()
            #expect((try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0 == 0)
            try await withTemporaryDirectory("copy") { copy in
                try FileManager.default.copyItem(atPath: directory.file("state.sqlite"), toPath: copy.file("state.sqlite"))
                let queue = try DatabaseQueue(path: copy.file("state.sqlite"))
                #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 200)
                #expect(try queue.read { db in try Int32.fetchOne(db, sql: "PRAGMA application_id") } == StateStore.applicationID)
            }
        }
    }

    /// A checkpoint during operation moves the WAL into the file too (what StoreMaintenance does
    /// every 30 s).
    @Test func aCheckpointEmptiesTheWriteAheadLog() async throws {
        try await withTemporaryDirectory("state") { directory in
            let store = try StateStore(directory: directory.path)
            let log = EventLog(store: store)
            for index in 0..<100 { try log.append(type: "test", payload: Data("event \(index)".utf8)) }
            #expect(try store.checkpoint())
            #expect((try FileManager.default.attributesOfItem(atPath: directory.file("state.sqlite-wal"))[.size] as? Int) == 0)
            #expect(try log.lastSequence == 100)
            #expect(store.condition().ok)
            #expect(try store.quickCheck() == nil)
        }
    }
}

/// Commits wait for the disk only where a caller is told something is stored; after a stop that
/// was not clean, event numbers skip ahead so none is handed out twice.
@Suite("State database: durability and unclean stops")
struct StateStoreDurabilityTests {
    @Test func theFileSaysWhetherItWasClosedCleanly() async throws {
        try await withTemporaryDirectory("state") { directory in
            do {
                let store = try StateStore(directory: directory.path)
                #expect(try store.markInUse() == false, "a new database was not closed by anyone")
                store.close()
            }
            do {
                let store = try StateStore(directory: directory.path)
                #expect(try store.markInUse() == true, "closed cleanly")
                // No close: as after kill -9.
            }
            let store = try StateStore(directory: directory.path)
            #expect(try store.markInUse() == false, "the last user did not close it")
            #expect(try store.read { db in try String.fetchOne(db, sql: "PRAGMA synchronous") } == "1", "NORMAL")
        }
    }

    @Test func skippingAheadLeavesAGapAndNeverReusesANumber() async throws {
        try await withTemporaryDirectory("state") { directory in
            let log = EventLog(store: try StateStore(directory: directory.path))
            for index in 1...3 { try log.append(type: "test", payload: Data("\(index)".utf8)) }
            try log.skipAhead()
            #expect(try log.lastSequence == 3 + EventLog.sequenceSkip)
            let next = try log.append(type: "test", payload: Data("after".utf8))
            #expect(next.sequence == 4 + EventLog.sequenceSkip)
            var items: [EventLog.Item] = []
            for await item in log.subscribe(after: 3) {
                items.append(item)
                if items.count == 2 { break }
            }
            #expect(items.first == .gap(requestedAfter: 3, firstRetained: next.sequence))
            #expect(items.last == .event(next))
        }
    }
}
