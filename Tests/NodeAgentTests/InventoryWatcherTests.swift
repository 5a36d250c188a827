import Foundation
@testable import NodeAgent
import TestSupport
import Testing

@Suite("Inventory of the serve loop")
struct InventoryWatcherTests {
    @Test func reconcilesAndFollowsEvents() async throws {
        try await withIsolatedTestDriver(domains: 3) { connection in
            try await withTemporaryDirectory("state") { state in
                let manager = GuestManager(connection: connection)
                let watcher = InventoryWatcher(manager: manager, logger: .init(label: "test"))
                let first = try await watcher.reconcile()
                #expect(first.guests.count == 3)
                #expect(first.foreign.count == 3)
                #expect(first.summary == "3 guest(s): 0 managed, 3 foreign, 2 active")

                #expect(watcher.current == first)
                let running = Task { await watcher.run() }
                defer { running.cancel() }
                /// The guest named "added" as the inventory shows it, if it does.
                func added() -> Guest? {
                    guard let guests = watcher.current?.guests else { return nil }
                    #expect(guests.count >= 3)
                    return guests.first { $0.name == "added" }
                }
                try await manager.define(sampleSpec("added"))
                try await waitUntil("inventory listing the new guest", timeout: .seconds(30)) {
                    added()?.isManaged == true && added()?.state.kind == .shutoff
                }
                try await manager.start("added")
                try await waitUntil("inventory showing it running", timeout: .seconds(30)) {
                    added()?.state.kind == .running
                }
                try await manager.destroy("added")
                _ = try await manager.undefine("added")
                try await waitUntil("inventory without it", timeout: .seconds(30)) { added() == nil }
            }
        }
    }
}
