import Foundation
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
