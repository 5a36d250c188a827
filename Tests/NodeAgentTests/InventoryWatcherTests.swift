import Foundation
@testable import NodeAgent
import TestSupport
import Testing

@Suite("Inventory of the serve loop")
struct InventoryWatcherTests {
    @Test func reconcilesWritesTheInventoryAndFollowsEvents() async throws {
        try await withIsolatedTestDriver(domains: 3) { connection in
            try await withTemporaryDirectory("state") { state in
                let manager = GuestManager(connection: connection)
                let watcher = InventoryWatcher(manager: manager, stateDirectory: state.path + "/nested", logger: .init(label: "test"))
                let first = try await watcher.reconcile()
                #expect(first.guests.count == 3)
                #expect(first.foreign.count == 3)
                #expect(first.summary == "3 guest(s): 0 managed, 3 foreign, 2 active")

                let running = Task { try await watcher.run() }
                defer { running.cancel() }
                /// The guest named "added" as the inventory file shows it, if it does.
                func added() -> [String: Any]? {
                    guard let data = FileManager.default.contents(atPath: watcher.inventoryFile.path),
                        let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                        let guests = json["guests"] as? [[String: Any]]
                    else { return nil }
                    #expect(guests.count >= 3)
                    return guests.first { $0["name"] as? String == "added" }
                }
                try await manager.define(sampleSpec("added"))
                try await waitUntil("inventory listing the new guest", timeout: .seconds(30)) {
                    added()?["managed"] as? Bool == true && added()?["state"] as? String == "shut-off"
                }
                try await manager.start("added")
                try await waitUntil("inventory showing it running", timeout: .seconds(30)) {
                    added()?["state"] as? String == "running"
                }
                try await manager.destroy("added")
                _ = try await manager.undefine("added")
                try await waitUntil("inventory without it", timeout: .seconds(30)) { added() == nil }
            }
        }
    }
}
