/// Pids event counts from `pids.events` (or `pids.events.local`):
///
///     max 1
public struct PIDsEvents: Sendable, Hashable {
    /// Forks refused because a `pids.max` was reached (which groups count depends on the
    /// kernel: newer ones count hierarchically here and locally in `pids.events.local`).
    public var max: UInt64
    /// Keys this library does not know (e.g. `max.imposed`), by key.
    public var extra: [String: UInt64]

    /// Parses `pids.events` text.
    public init(parsing text: String, file: String = "pids.events") throws(CGroupError) {
        var counters = try KeyedCounters(parsing: text, file: file, keys: Self.counterKeys)
        max = try counters.require("max")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys(["max"])
}
