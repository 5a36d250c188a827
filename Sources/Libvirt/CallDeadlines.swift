import Dispatch
import Synchronization

/// The deadlines of a connection's calls in flight, watched by one timer.
///
/// A timer per call (`asyncAfter` for the call timeout) kept every call's closure alive for the
/// whole timeout, 60 s by default, long after the call returned: 30,000 calls in 6 s took the
/// agent from 6 to 58 MB of anonymous memory, given back a minute later. Here a call removes
/// its deadline when it returns, and a single timer, running only while calls are in flight,
/// expires the late ones once a second (a call times out between its timeout and one second
/// after it).
final class CallDeadlines: @unchecked Sendable {
    private struct Table {
        var entries: [UInt64: (deadline: DispatchTime, expire: @Sendable () -> Void)] = [:]
        var next: UInt64 = 0
        var timerRunning = false
    }

    private let table = Mutex(Table())
    /// Touched only under `table`'s lock (resume/suspend) or from its own queue.
    private let timer: any DispatchSourceTimer
    static let interval: DispatchTimeInterval = .seconds(1)

    init(label: String) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: label))
        timer.schedule(deadline: .now() + Self.interval, repeating: Self.interval, leeway: .milliseconds(200))
        timer.setEventHandler { [weak self] in self?.sweep() }
    }

    deinit {
        // A suspended source must be resumed before it is cancelled and released.
        table.withLock { if !$0.timerRunning { timer.resume() } }
        timer.cancel()
    }

    /// Registers a call that must end within `timeout`; `expire` runs if it does not. Returns
    /// the ticket to `remove` when the call ends.
    func add(timeout: Duration, expire: @escaping @Sendable () -> Void) -> UInt64 {
        let deadline = DispatchTime.now() + timeout.timeInterval
        return table.withLock { table in
            table.next &+= 1
            table.entries[table.next] = (deadline, expire)
            if !table.timerRunning {
                table.timerRunning = true
                timer.resume()
            }
            return table.next
        }
    }

    func remove(_ ticket: UInt64) {
        table.withLock { _ = $0.entries.removeValue(forKey: ticket) }
    }

    /// Expires the calls past their deadline; stops the timer when none is in flight.
    private func sweep() {
        let now = DispatchTime.now()
        let expired: [@Sendable () -> Void] = table.withLock { table in
            let late = table.entries.filter { $0.value.deadline <= now }
            for key in late.keys { table.entries[key] = nil }
            if table.entries.isEmpty && table.timerRunning {
                table.timerRunning = false
                timer.suspend()
            }
            return late.values.map(\.expire)
        }
        for expire in expired { expire() }
    }
}
