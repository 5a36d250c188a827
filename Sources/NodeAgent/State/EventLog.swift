public import Foundation
import GRDB
public import Logging
import Synchronization

/// An event as stored in the event log.
public struct StoredEvent: Sendable, Equatable {
    /// Increases by one with every append; never reused, also after pruning.
    public var sequence: UInt64
    public var time: Date
    /// What happened, e.g. "task.changed", "guest.lifecycle".
    public var type: String
    /// The serialized event, opaque to the log.
    public var payload: Data

    public init(sequence: UInt64, time: Date, type: String, payload: Data) {
        self.sequence = sequence
        self.time = time
        self.type = type
        self.payload = payload
    }
}

/// The agent's event log: events are persisted in the state database with a sequence number,
/// so a client that lost its connection resumes with `subscribe(after: lastSequenceItSaw)` and
/// misses nothing that is still retained.
///
/// Live delivery happens inside this process: use one `EventLog` per store.
public final class EventLog: Sendable {
    /// What a subscription yields.
    public enum Item: Sendable, Equatable {
        case event(StoredEvent)
        /// Events after `requestedAfter` were pruned (or the sequence is from another
        /// database): the stream continues with the first retained one.
        case gap(requestedAfter: UInt64, firstRetained: UInt64)
    }

    /// How many undelivered live events a subscriber may hold before its stream is finished.
    public static let defaultSubscriberBufferLimit = 10_000

    /// Events read from the database per query while replaying.
    static let replayPageSize = 256

    /// How many events that could not be stored yet are held in memory; beyond it the oldest
    /// are dropped (and counted in the log).
    public static let backlogLimit = 10_000

    private let store: StateStore
    private let hub: EventHub
    /// Events not stored yet because the store failed, oldest first.
    private let backlog = Mutex(Backlog())

    private struct Backlog {
        var events: [(type: String, payload: Data, time: Date)] = []
        var dropped = 0
    }

    private let logger: Logger

    public init(
        store: StateStore, subscriberBufferLimit: Int = EventLog.defaultSubscriberBufferLimit,
        logger: Logger = Logger(label: "nodeagent.events")
    ) {
        self.store = store
        self.logger = logger
        self.hub = EventHub(bufferLimit: max(subscriberBufferLimit, 1))
    }

    /// Persists an event, then delivers it to live subscribers (in sequence order).
    @discardableResult
    public func append(type: String, payload: Data) throws(StateStoreError) -> StoredEvent {
        try append(type: type, payload: payload, time: StoredTime.now())
    }

    /// Records an event: stores it after any held back before, or holds it back in memory when
    /// the store fails (a full disk), to be stored by a later `record` or `flush()` with its
    /// original time. Never throws: an event source (libvirt's events, the task manager) must
    /// never stop because its sink failed. Returns the stored event, nil if held back.
    @discardableResult
    public func record(type: String, payload: Data) -> StoredEvent? {
        backlog.withLock { backlog in
            backlog.events.append((type, payload, StoredTime.now()))
            return store(&backlog)
        }
    }

    /// Stores the events held back while the store failed; true when none is left.
    @discardableResult
    public func flush() -> Bool {
        backlog.withLock { backlog in
            if !backlog.events.isEmpty { _ = store(&backlog) }
            return backlog.events.isEmpty
        }
    }

    /// How many events wait to be stored.
    public var backlogCount: Int { backlog.withLock { $0.events.count } }

    /// Stores the backlog in order; returns the last event stored, nil if it stopped short.
    private func store(_ backlog: inout Backlog) -> StoredEvent? {
        var stored = 0
        var last: StoredEvent?
        var failure: StateStoreError?
        for event in backlog.events {
            do {
                last = try append(type: event.type, payload: event.payload, time: event.time)
                stored += 1
            } catch {
                failure = error
                break
            }
        }
        backlog.events.removeFirst(stored)
        if let failure {
            if backlog.events.count == 1 && backlog.dropped == 0 {
                logger.error("cannot store events; holding them in memory until the state store takes writes: \(failure)")
            }
            if backlog.events.count > Self.backlogLimit {
                let excess = backlog.events.count - Self.backlogLimit
                backlog.events.removeFirst(excess)
                backlog.dropped += excess
            }
            return nil
        }
        if backlog.dropped > 0 {
            logger.error("\(backlog.dropped) event(s) were dropped while the state store could not be written")
            backlog.dropped = 0
        }
        if stored > 1 { logger.notice("stored \(stored) event(s) held back while the state store could not be written") }
        return last
    }

    private func append(type: String, payload: Data, time: Date) throws(StateStoreError) -> StoredEvent {
        try store.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "INSERT INTO events (time, type, payload) VALUES (?, ?, ?)").execute(
                arguments: [StoredTime.milliseconds(time), type, payload])
            guard let sequence = UInt64(exactly: db.lastInsertedRowID) else {
                throw UnreadableRow(table: "events", reason: "negative sequence \(db.lastInsertedRowID)")
            }
            let event = StoredEvent(sequence: sequence, time: time, type: type, payload: payload)
            // Still on the serialized writer: no other append can deliver before this one.
            hub.deliver(event)
            return event
        }
    }

    /// Events as they are appended (`after: nil`), or every retained event with a sequence
    /// above `after` and then live ones, without gap or duplicate even while appends go on.
    ///
    /// If events after `after` were pruned, the stream starts with `.gap`. A subscriber that
    /// falls more than the buffer limit behind on live events gets its stream finished: the
    /// client reconnects with the last sequence it saw and replays the rest from the database.
    /// The stream also finishes if the database cannot be read. Dropping or cancelling the
    /// stream unregisters the subscriber.
    public func subscribe(after: UInt64?) -> AsyncStream<Item> {
        let subscription = EventSubscription(hub: hub, store: store, after: after)
        return AsyncStream(unfolding: { await subscription.next() })
    }

    /// How far `skipAhead()` moves the sequence.
    public static let sequenceSkip: UInt64 = 1_000_000

    /// Moves the next sequence number `sequenceSkip` ahead (at the agent's start). Events are
    /// committed without waiting for the disk (`StateStore`), so a power loss can take back the
    /// last ones after watchers saw their numbers; skipping ahead means no number is ever
    /// handed out twice, and a watcher resuming from a lost number misses nothing new.
    public func skipAhead() throws(StateStoreError) {
        try store.write { db in
            let last = try Self.lastSequence(db)
            let next = last &+ Self.sequenceSkip
            if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'events'") == 1 {
                try db.execute(sql: "UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", arguments: [Int64(clamping: next)])
            } else {
                try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", arguments: [Int64(clamping: next)])
            }
        }
    }

    /// Deletes events older than `date`, except the newest `keepNewest`; returns how many.
    public func prune(keepNewest: Int, olderThan date: Date) throws(StateStoreError) -> Int {
        try store.write { db in
            try db.execute(
                sql: """
                    DELETE FROM events WHERE time < ?
                    AND sequence NOT IN (SELECT sequence FROM events ORDER BY sequence DESC LIMIT ?)
                    """,
                arguments: [StoredTime.milliseconds(date), max(keepNewest, 0)])
            return db.changesCount
        }
    }

    /// The sequence of the last event ever appended (0 if none), pruned or not.
    public var lastSequence: UInt64 {
        get throws(StateStoreError) { try store.read(Self.lastSequence) }
    }

    /// The sequence of the oldest retained event; nil if none is retained.
    public var firstRetainedSequence: UInt64? {
        get throws(StateStoreError) { try store.read(Self.firstRetainedSequence) }
    }

    /// How many subscriptions are registered.
    public var subscriberCount: Int { hub.count }

    // MARK: Reading for replay

    /// A page of events after `cursor`, with the first retained and last appended sequences,
    /// read in one transaction.
    static func page(after cursor: UInt64, in store: StateStore) throws(StateStoreError) -> ReplayPage {
        try store.read { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT sequence, time, type, payload FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?"),
                arguments: [Int64(clamping: cursor), replayPageSize])
            return ReplayPage(
                events: try rows.map(decode), firstRetained: try firstRetainedSequence(db), last: try lastSequence(db))
        }
    }

    private static func lastSequence(_ db: Database) throws -> UInt64 {
        UInt64(clamping: try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'")) ?? 0)
    }

    private static func firstRetainedSequence(_ db: Database) throws -> UInt64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MIN(sequence) FROM events")).map { UInt64(clamping: $0) }
    }

    private static func decode(_ row: Row) throws -> StoredEvent {
        let sequence: Int64 = try row.decode(forColumn: "sequence")
        guard let sequence = UInt64(exactly: sequence) else {
            throw UnreadableRow(table: "events", reason: "negative sequence \(sequence)")
        }
        let payload: Data? = try row.decode(forColumn: "payload")
        return StoredEvent(
            sequence: sequence, time: StoredTime.date(try row.decode(forColumn: "time")),
            type: try row.decode(forColumn: "type"), payload: payload ?? Data())
    }
}

/// Retained events after a cursor, and the bounds of what is retained.
struct ReplayPage {
    var events: [StoredEvent]
    var firstRetained: UInt64?
    var last: UInt64
}
