public import Foundation
public import Libvirt
public import Logging
import Synchronization

/// What the agent last saw on its libvirt connection.
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

/// Keeps an inventory of every guest on the connection.
///
/// On start and after every reconnect it reconciles (lists every domain and reads its
/// metadata: managed guests are adopted, foreign ones reported and left alone), then follows
/// lifecycle events, refreshing the inventory after each. Because a reconnect triggers a full
/// reconcile, events missed while libvirt was down are healed. The inventory lives in memory
/// (`current`); nothing here writes a file, so a full disk cannot stop the event pipeline.
public final class InventoryWatcher: Sendable {
    public let manager: GuestManager
    private let logger: Logger
    private let latest: Mutex<Inventory?> = Mutex(nil)

    public init(manager: GuestManager, logger: Logger) {
        self.manager = manager
        self.logger = logger
    }

    /// The inventory as of the last reconcile or event; nil before the first reconcile.
    public var current: Inventory? { latest.withLock { $0 } }

    /// Lists every guest and logs what it found.
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
        latest.withLock { $0 = inventory }
        logger.info("reconciled: \(inventory.summary)")
        return inventory
    }

    /// Reconciles, then follows events until the task is cancelled: a domain event refreshes
    /// that one guest; a reconnect reconciles everything again. `onEvent` hears every domain
    /// event with the guest as refreshed after it (nil once undefined); `onReconcile` every full
    /// reconcile after a reconnect. A failure to refresh is logged and the next event or
    /// reconnect heals it: only cancellation ends this.
    public func run(
        reconciled initial: Inventory? = nil,
        onEvent: @Sendable (DomainEvent, Guest?) async -> Void = { _, _ in },
        onReconcile: @Sendable (Inventory) async -> Void = { _ in }
    ) async {
        let events = manager.connection.events()
        var inventory: Inventory
        if let initial {
            inventory = initial
        } else {
            do {
                inventory = try await reconcile()
            } catch {
                logger.error("cannot list the guests; following events anyway: \(error)")
                inventory = Inventory(uri: manager.connection.uri, updated: Date(), connected: false, guests: [])
            }
        }
        for await event in events {
            if Task.isCancelled { break }
            switch event {
            case .domain(let e):
                logger.info(
                    "guest \(e.kind?.name ?? "event") (\(e.detailName))",
                    metadata: ["guest.name": "\(e.domainName)", "guest.uuid": "\(e.domainUUID.uuidString.lowercased())"])
                await refresh(e, in: &inventory)
                inventory.updated = Date()
                latest.withLock { [inventory] in $0 = inventory }
                await onEvent(e, inventory.guests.first { $0.uuid == e.domainUUID })
            case .disconnected(let reason, let message):
                logger.warning("libvirt connection lost (\(reason)): \(message); reconnecting")
                inventory.connected = false
                latest.withLock { [inventory] in $0 = inventory }
            case .connected(let generation):
                guard generation > 1 else { continue }
                logger.info("libvirt connection restored; reconciling")
                do {
                    inventory = try await reconcile()
                } catch {
                    logger.error("reconciling after the reconnect failed (the next event or reconnect retries): \(error)")
                    continue
                }
                await onReconcile(inventory)
            }
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
}
