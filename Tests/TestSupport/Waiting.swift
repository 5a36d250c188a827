import Foundation
public import Libvirt
import Synchronization

/// A condition that did not become true before its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var what: String
    public var seconds: Double
    public var description: String { "\(what) did not happen within \(seconds) s" }
}

/// Polls `condition` until it returns a value or `timeout` passes. For waiting on real systems
/// (guests booting, daemons answering): generous deadlines, never a fixed sleep.
public func eventually<T>(
    _ what: String, timeout: Duration = .seconds(60), poll: Duration = .milliseconds(50),
    _ condition: () async throws -> T?
) async throws -> T {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        if let value = try await condition() { return value }
        if clock.now >= deadline {
            throw DeadlineExceeded(what: what, seconds: Double(timeout.components.seconds))
        }
        try await Task.sleep(for: poll)
    }
}

/// Same as `eventually`, for a boolean condition.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(60), poll: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    _ = try await eventually(what, timeout: timeout, poll: poll) { try await condition() ? true : nil }
}

/// Records every event of a connection from the moment it is created, so tests can wait for
/// an event that may already have arrived.
public final class EventRecorder: Sendable {
    private final class Log: Sendable {
        let events = Mutex<[ConnectionEvent]>([])
    }
    private let log = Log()
    private let task: Task<Void, Never>

    public init(_ connection: Connection) {
        let stream = connection.events()
        let log = self.log
        task = Task {
            for await event in stream { log.events.withLock { $0.append(event) } }
        }
    }

    deinit { task.cancel() }

    public var all: [ConnectionEvent] { log.events.withLock { $0 } }

    /// Domain events of one domain, in order.
    public func domainEvents(_ name: String) -> [DomainEvent] {
        all.compactMap {
            if case .domain(let e) = $0, e.domainName == name { return e }
            return nil
        }
    }

    /// Waits until an event matching `predicate` was recorded at or after position `from`;
    /// returns its position.
    @discardableResult
    public func wait(
        _ what: String, from: Int = 0, timeout: Duration = .seconds(60),
        _ predicate: @escaping (ConnectionEvent) -> Bool
    ) async throws -> Int {
        try await eventually(what, timeout: timeout) {
            let all = self.all
            guard from < all.count else { return nil }
            return all[from...].firstIndex(where: predicate)
        }
    }

    /// Waits for a lifecycle event of `kind` on the domain called `name`.
    @discardableResult
    public func waitForDomain(
        _ name: String, _ kind: DomainEvent.Kind, from: Int = 0, timeout: Duration = .seconds(60)
    ) async throws -> Int {
        try await wait("\(kind.name) event of \(name)", from: from, timeout: timeout) {
            if case .domain(let e) = $0 { return e.domainName == name && e.kind == kind }
            return false
        }
    }
}

/// Runs `body`, then `cleanup` — also when `body` throws. (Swift has no async `defer`.)
public func withCleanup<T>(_ body: () async throws -> T, cleanup: () async -> Void) async throws -> T {
    do {
        let result = try await body()
        await cleanup()
        return result
    } catch {
        await cleanup()
        throw error
    }
}
