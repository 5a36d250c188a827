import Foundation
import Synchronization

/// One subscriber of the event log: replays from the database page by page (at the consumer's
/// pace), then switches to the live events the hub buffers for it.
final class EventSubscription: Sendable {
    private struct Progress {
        /// The last sequence yielded (or known to be unavailable).
        var cursor: UInt64
        var live: Bool
        var finished = false
        /// Replayed events not yet yielded, last one first.
        var page: [StoredEvent] = []
    }

    private enum Step {
        case yield(EventLog.Item)
        case read(after: UInt64)
        case live
        case finish
    }

    private let id: UInt64
    private let hub: EventHub
    private let store: StateStore
    private let progress: Mutex<Progress>

    /// Registers with the hub at once, so no event appended from now on can be missed.
    init(hub: EventHub, store: StateStore, after: UInt64?) {
        self.hub = hub
        self.store = store
        id = hub.register(live: after == nil)
        progress = Mutex(Progress(cursor: after ?? 0, live: after == nil))
    }

    deinit { hub.remove(id) }

    /// The next item, or nil when the stream ends.
    func next() async -> EventLog.Item? {
        while true {
            let step = progress.withLock { progress -> Step in
                if progress.finished { return .finish }
                if progress.live { return .live }
                guard let event = progress.page.popLast() else { return .read(after: progress.cursor) }
                progress.cursor = event.sequence
                return .yield(.event(event))
            }
            switch step {
            case .yield(let item):
                return item
            case .finish:
                return nil
            case .read(let cursor):
                if let gap = replay(after: cursor) { return gap }
            case .live:
                guard let event = await hub.nextLive(id) else {
                    progress.withLock { $0.finished = true }
                    return nil
                }
                let fresh = progress.withLock { progress in
                    guard event.sequence > progress.cursor else { return false }
                    progress.cursor = event.sequence
                    return true
                }
                if fresh { return .event(event) }
            }
        }
    }

    /// Reads the next page after `cursor`; returns a gap to yield first if events are missing,
    /// and switches to live delivery once the database has nothing newer than the hub.
    private func replay(after cursor: UInt64) -> EventLog.Item? {
        let page: ReplayPage
        do {
            page = try EventLog.page(after: cursor, in: store)
        } catch {
            progress.withLock { $0.finished = true }
            return nil
        }
        return progress.withLock { progress in
            progress.page = page.events.reversed()
            if let first = page.events.first {
                // Retained events are contiguous from the first retained one: a jump means the
                // ones in between were pruned.
                return first.sequence > cursor + 1 ? .gap(requestedAfter: cursor, firstRetained: first.sequence) : nil
            }
            if cursor < page.last {
                // Everything after the cursor was pruned.
                progress.cursor = page.last
                return .gap(requestedAfter: cursor, firstRetained: page.last + 1)
            }
            if cursor > page.last {
                // A sequence this database never reached: it was replaced. Start from its beginning.
                let first = page.firstRetained ?? page.last + 1
                progress.cursor = first - 1
                return .gap(requestedAfter: cursor, firstRetained: first)
            }
            // Caught up with the database: go live unless an event was delivered after the read.
            progress.live = hub.goLive(id, cursor: cursor)
            return nil
        }
    }
}

/// The live side of the event log: each subscriber's buffer of events delivered since it went
/// live, and the waiting consumers.
final class EventHub: Sendable {
    private struct Subscriber {
        var live: Bool
        var queue = EventQueue()
        /// The buffer limit was reached: the stream ends after the buffered events.
        var overflowed = false
        /// The consumer's task was cancelled.
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var lastID: UInt64 = 0
        /// The sequence of the last event delivered.
        var lastDelivered: UInt64 = 0
    }

    private enum Take {
        case event(StoredEvent)
        case empty
        case end
    }

    private let bufferLimit: Int
    private let state = Mutex(State())

    init(bufferLimit: Int) {
        self.bufferLimit = bufferLimit
    }

    var count: Int { state.withLock { $0.subscribers.count } }

    func register(live: Bool) -> UInt64 {
        state.withLock { state in
            state.lastID += 1
            state.subscribers[state.lastID] = Subscriber(live: live)
            return state.lastID
        }
    }

    func remove(_ id: UInt64) {
        let waiter = state.withLock { $0.subscribers.removeValue(forKey: id)?.waiter }
        waiter?.resume()
    }

    /// Buffers `event` for every live subscriber and wakes the waiting ones.
    func deliver(_ event: StoredEvent) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.lastDelivered = event.sequence
            var waiters: [CheckedContinuation<Void, Never>] = []
            for index in state.subscribers.values.indices where state.subscribers.values[index].live {
                if state.subscribers.values[index].queue.count >= bufferLimit {
                    state.subscribers.values[index].overflowed = true
                } else if !state.subscribers.values[index].overflowed {
                    state.subscribers.values[index].queue.append(event)
                }
                if let waiter = state.subscribers.values[index].waiter {
                    waiters.append(waiter)
                    state.subscribers.values[index].waiter = nil
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Makes a replaying subscriber live if no event after `cursor` was delivered yet (any
    /// later one will be buffered for it); false if it must read the database again.
    func goLive(_ id: UInt64, cursor: UInt64) -> Bool {
        state.withLock { state in
            guard state.lastDelivered <= cursor else { return false }
            state.subscribers[id]?.live = true
            return true
        }
    }

    /// The next buffered event of a live subscriber, waiting for one if needed; nil when its
    /// stream must end (overflow, cancellation, removal).
    func nextLive(_ id: UInt64) async -> StoredEvent? {
        while true {
            switch take(id) {
            case .event(let event): return event
            case .end: return nil
            case .empty: await waitForEvent(id)
            }
        }
    }

    private func take(_ id: UInt64) -> Take {
        state.withLock { state in
            guard let index = state.subscribers.index(forKey: id) else { return .end }
            if let event = state.subscribers.values[index].queue.popFirst() { return .event(event) }
            let subscriber = state.subscribers.values[index]
            return subscriber.overflowed || subscriber.cancelled ? .end : .empty
        }
    }

    private func waitForEvent(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    guard let index = state.subscribers.index(forKey: id) else { return true }
                    let subscriber = state.subscribers.values[index]
                    if !subscriber.queue.isEmpty || subscriber.overflowed || subscriber.cancelled { return true }
                    state.subscribers.values[index].waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let index = state.subscribers.index(forKey: id) else { return nil }
                state.subscribers.values[index].cancelled = true
                defer { state.subscribers.values[index].waiter = nil }
                return state.subscribers.values[index].waiter
            }
            waiter?.resume()
        }
    }
}

/// A FIFO of events with O(1) removal at the front.
struct EventQueue {
    private var items: [StoredEvent] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    mutating func append(_ event: StoredEvent) { items.append(event) }

    mutating func popFirst() -> StoredEvent? {
        guard head < items.count else { return nil }
        let event = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return event
    }
}
