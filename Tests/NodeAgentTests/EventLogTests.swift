import Foundation
@testable import NodeAgent
import Synchronization
import TestSupport
import Testing

@Suite("Event log")
struct EventLogTests {
    @Test func replayThenLiveWhileAppendsGoOnHasNoGapAndNoDuplicate() async throws {
        try await withTemporaryDirectory("events") { directory in
            let log = EventLog(store: try StateStore(directory: directory.path))
            var appended: [StoredEvent] = []
            for index in 1...1000 { appended.append(try log.append(type: "test", payload: Data("\(index)".utf8))) }
            // Another 2,000 events are appended while subscribers join, replay several pages
            // and switch to live delivery.
            let appender = Task {
                var events: [StoredEvent] = []
                for index in 1001...3000 {
                    events.append(try log.append(type: "test", payload: Data("\(index)".utf8)))
                    if index % 10 == 0 { await Task.yield() }
                }
                return events
            }
            let subscribers = try await withThrowingTaskGroup(of: (UInt64, [EventLog.Item]).self) { group in
                for after in stride(from: UInt64(0), to: 3000, by: 150) {
                    // A client only knows sequences that were appended.
                    try await waitUntil("event \(after) appended", poll: .milliseconds(1)) { try log.lastSequence >= after }
                    let stream = log.subscribe(after: after)
                    group.addTask { (after, try await collect(Int(3000 - after), from: stream)) }
                    await Task.yield()
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            appended += try await appender.value
            #expect(appended.map(\.sequence) == Array(1...3000))
            #expect(subscribers.count == 20)
            for (after, items) in subscribers {
                let expected = appended[Int(after)...].map { EventLog.Item.event($0) }
                let difference = zip(items, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                #expect(items.count == expected.count, "subscriber after \(after)")
                #expect(difference == nil, "subscriber after \(after): item \(difference ?? 0) is \(difference.map { items[$0].summary } ?? "")")
            }
        }
    }

    @Test func prunedEventsAreReportedAsAGap() async throws {
        try await withTemporaryDirectory("events") { directory in
            let log = EventLog(store: try StateStore(directory: directory.path))
            for index in 1...10 { try log.append(type: "test", payload: Data("\(index)".utf8)) }
            #expect(try log.prune(keepNewest: 3, olderThan: Date().addingTimeInterval(60)) == 7)
            #expect(try log.firstRetainedSequence == 8)
            #expect(try log.lastSequence == 10)

            let behind = log.subscribe(after: 2)
            #expect(try await collect(4, from: behind).map(\.summary) == ["gap 2→8", "8", "9", "10"])
            let current = log.subscribe(after: 7)
            #expect(try await collect(3, from: current).map(\.summary) == ["8", "9", "10"])

            // Both go on with live events.
            try log.append(type: "test", payload: Data())
            #expect(try await collect(1, from: behind).map(\.summary) == ["11"])
            #expect(try await collect(1, from: current).map(\.summary) == ["11"])

            // Nothing retained after 5: the gap runs to the next sequence.
            #expect(try log.prune(keepNewest: 0, olderThan: Date().addingTimeInterval(60)) == 4)
            #expect(try log.firstRetainedSequence == nil)
            #expect(try log.lastSequence == 11)
            #expect(try await collect(1, from: log.subscribe(after: 5)).map(\.summary) == ["gap 5→12"])

            // Young events are kept whatever keepNewest says.
            try log.append(type: "test", payload: Data())
            #expect(try log.prune(keepNewest: 0, olderThan: Date().addingTimeInterval(-60)) == 0)

            // A sequence this database never reached (it was replaced): from its first event.
            #expect(try await collect(2, from: log.subscribe(after: 100)).map(\.summary) == ["gap 100→12", "12"])
        }
    }

    @Test func aLiveSubscriptionGetsOnlyNewEvents() async throws {
        try await withTemporaryDirectory("events") { directory in
            let log = EventLog(store: try StateStore(directory: directory.path))
            for _ in 1...5 { try log.append(type: "old", payload: Data()) }
            let stream = log.subscribe(after: nil)
            var appended: [StoredEvent] = []
            for index in 6...8 { appended.append(try log.append(type: "new", payload: Data("\(index)".utf8))) }
            #expect(try await collect(3, from: stream) == appended.map { .event($0) })
        }
    }

    @Test func aSubscriberFarBehindIsFinishedAndResumesFromTheDatabase() async throws {
        try await withTemporaryDirectory("events") { directory in
            let log = EventLog(store: try StateStore(directory: directory.path), subscriberBufferLimit: 10)
            let stream = log.subscribe(after: nil)
            for _ in 1...15 { try log.append(type: "burst", payload: Data()) }
            #expect(try await collectUntilEnd(stream).map(\.sequence) == Array(1...10))
            // The client reconnects with the last sequence it saw.
            #expect(try await collect(5, from: log.subscribe(after: 10)).map(\.sequence) == Array(11...15))
        }
    }

    @Test func aSubscriberThatStopsIsUnregistered() async throws {
        try await withTemporaryDirectory("events") { directory in
            let log = EventLog(store: try StateStore(directory: directory.path))
            try log.append(type: "test", payload: Data())
            // A consumer that takes one item and lets go of the stream.
            do {
                let stream = log.subscribe(after: 0)
                for await item in stream {
                    #expect(item.sequence == 1)
                    break
                }
            }
            #expect(log.subscriberCount == 0)
            // A consumer waiting for live events, whose task is cancelled.
            let waiting = Task {
                var count = 0
                for await _ in log.subscribe(after: nil) { count += 1 }
                return count
            }
            try await waitUntil("subscribed") { log.subscriberCount == 1 }
            waiting.cancel()
            #expect(await waiting.value == 0)
            try await waitUntil("unsubscribed") { log.subscriberCount == 0 }
            // Appending with nobody listening is fine.
            #expect(try log.append(type: "test", payload: Data()).sequence == 2)
        }
    }
}

// MARK: Helpers

extension EventLogTests {
    /// The first `count` items of `stream` (failing after a deadline, so a missing event cannot
    /// hang the test).
    private func collect(_ count: Int, from stream: AsyncStream<EventLog.Item>) async throws -> [EventLog.Item] {
        let collected = Collected()
        let reader = Task {
            for await item in stream where collected.add(item) >= count { break }
        }
        defer { reader.cancel() }
        try await waitUntil("\(count) items", timeout: .seconds(30), poll: .milliseconds(10)) { collected.items.count >= count }
        return collected.items
    }

    /// Every item of `stream` until it finishes (failing after a deadline).
    private func collectUntilEnd(_ stream: AsyncStream<EventLog.Item>) async throws -> [EventLog.Item] {
        let collected = Collected()
        let reader = Task {
            for await item in stream { collected.add(item) }
            collected.finish()
        }
        defer { reader.cancel() }
        try await waitUntil("the end of the stream", timeout: .seconds(30), poll: .milliseconds(10)) { collected.finished }
        return collected.items
    }

    private final class Collected: Sendable {
        private let state = Mutex<(items: [EventLog.Item], finished: Bool)>(([], false))

        /// Adds `item`; returns how many there are.
        @discardableResult
        func add(_ item: EventLog.Item) -> Int {
            state.withLock {
                $0.items.append(item)
                return $0.items.count
            }
        }

        func finish() { state.withLock { $0.finished = true } }
        var items: [EventLog.Item] { state.withLock { $0.items } }
        var finished: Bool { state.withLock { $0.finished } }
    }
}

extension EventLog.Item {
    fileprivate var sequence: UInt64 {
        switch self {
        case .event(let event): event.sequence
        case .gap: 0
        }
    }

    fileprivate var payload: Data {
        switch self {
        case .event(let event): event.payload
        case .gap: Data()
        }
    }

    /// "12" for event 12, "gap 5→12" for a gap.
    fileprivate var summary: String {
        switch self {
        case .event(let event): "\(event.sequence)"
        case .gap(let after, let first): "gap \(after)→\(first)"
        }
    }
}
