public import Foundation
public import Libvirt
public import Logging

/// What the agent last saw on its libvirt connection, written to
/// `<state_dir>/inventory.json` after every change.
public struct Inventory: Sendable, Encodable, Equatable {
    public var uri: String
    public var updated: Date
    public var connected: Bool
    public var guests: [Guest]

    public var managed: [Guest] { guests.filter(\.isManaged) }
    public var foreign: [Guest] { guests.filter { !$0.isManaged } }

    /// One line for logs and status: counts by ownership and state.
    public var summary: String {
        let running = guests.filter { $0.state.kind.isActive }.count
        return "\(guests.count) guest(s): \(managed.count) managed, \(foreign.count) foreign, \(running) active"
            + (connected ? "" : "; libvirt unreachable")
    }
}

/// The agent's standing job for now: keep an inventory of every guest on the connection.
///
/// On start and after every reconnect it reconciles (lists every domain and reads its
/// metadata: managed guests are adopted, foreign ones reported and left alone), then follows
/// lifecycle events, refreshing the inventory after each. Because a reconnect triggers a full
/// reconcile, events missed while libvirt was down are healed.
public final class InventoryWatcher: Sendable {
    public let manager: GuestManager
    public let stateDirectory: URL
    private let logger: Logger

    public init(manager: GuestManager, stateDirectory: String, logger: Logger) {
        self.manager = manager
        self.stateDirectory = URL(fileURLWithPath: stateDirectory, isDirectory: true)
        self.logger = logger
    }

    public var inventoryFile: URL { stateDirectory.appendingPathComponent("inventory.json") }

    /// Lists every guest, logs what it found and writes the inventory file.
    @discardableResult
    public func reconcile() async throws -> Inventory {
        let connection = manager.connection
        var inventory = Inventory(uri: connection.uri, updated: Date(), connected: true, guests: [])
        switch await Result({ () throws(AgentError) in try await manager.list() }) {
        case .success(let guests):
            inventory.guests = guests
        case .failure(let error) where error.code == .unavailable:
            inventory.connected = false
            logger.warning("libvirt unreachable; inventory not refreshed", metadata: ["error": "\(error)"])
        case .failure(let error):
            throw error
        }
        for guest in inventory.foreign {
            logger.info(
                "foreign guest left alone", metadata: ["guest.name": "\(guest.name)", "guest.uuid": "\(guest.uuid.uuidString.lowercased())"])
        }
        try write(inventory)
        logger.info("reconciled: \(inventory.summary)")
        return inventory
    }

    /// Reconciles, then follows events until the task is cancelled: a domain event refreshes
    /// that one guest; a reconnect reconciles everything again. `onEvent` hears every domain
    /// event with the guest as refreshed after it (nil once undefined); `onReconcile` every full
    /// reconcile after a reconnect.
    public func run(
        reconciled initial: Inventory? = nil,
        onEvent: @Sendable (DomainEvent, Guest?) async -> Void = { _, _ in },
        onReconcile: @Sendable (Inventory) async -> Void = { _ in }
    ) async throws {
        let events = manager.connection.events()
        var inventory: Inventory
        if let initial { inventory = initial } else { inventory = try await reconcile() }
        for await event in events {
            if Task.isCancelled { break }
            switch event {
            case .domain(let e):
                logger.info(
                    "guest \(e.kind?.name ?? "event") (\(e.detailName))",
                    metadata: ["guest.name": "\(e.domainName)", "guest.uuid": "\(e.domainUUID.uuidString.lowercased())"])
                await refresh(e, in: &inventory)
                await onEvent(e, inventory.guests.first { $0.uuid == e.domainUUID })
            case .disconnected(let reason, let message):
                logger.warning("libvirt connection lost (\(reason)): \(message); reconnecting")
                inventory.connected = false
            case .connected(let generation):
                guard generation > 1 else { continue }
                logger.info("libvirt connection restored; reconciling")
                inventory = try await reconcile()
                await onReconcile(inventory)
                continue
            }
            inventory.updated = Date()
            try write(inventory)
        }
    }

    /// Applies one domain event to the inventory.
    private func refresh(_ event: DomainEvent, in inventory: inout Inventory) async {
        inventory.guests.removeAll { $0.uuid == event.domainUUID }
        guard event.kind != .undefined else { return }
        switch await Result({ () throws(AgentError) in try await manager.get(event.domainUUID.uuidString) }) {
        case .success(let guest):
            inventory.guests.append(guest)
            inventory.guests.sort { $0.name < $1.name }
        case .failure(let error) where error.code == .notFound:
            break  // undefined (or transient and stopped) before we looked
        case .failure(let error):
            logger.warning("cannot refresh guest \(event.domainName): \(error)")
        }
    }

    private func write(_ inventory: Inventory) throws {
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Written to a temporary file and renamed: a reader never sees half a file.
        try encoder.encode(inventory).write(to: inventoryFile, options: .atomic)
    }
}
