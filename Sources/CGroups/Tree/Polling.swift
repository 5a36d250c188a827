/// Bounded waits: something the kernel does asynchronously (freezing, a dying group's
/// processes leaving) is checked again with a growing pause until it is done or time is up.
enum Polling {
    /// Calls `attempt` until it returns true or `timeout` has passed, pausing `initial` after
    /// the first try and doubling up to `longest`. The last try is made at the deadline.
    ///
    /// - Returns: whether `attempt` succeeded in time.
    /// - Throws: what `attempt` throws, or `CancellationError` when the task is cancelled.
    static func until(
        timeout: Duration, initial: Duration, longest: Duration, _ attempt: () throws(CGroupError) -> Bool
    ) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var pause = initial
        while true {
            if try attempt() { return true }
            let now = clock.now
            if now >= deadline { return false }
            try await Task.sleep(for: min(pause, deadline - now))
            pause = min(pause * 2, longest)
        }
    }
}
