/// Memory event counts from `memory.events` (this group and its descendants) or
/// `memory.events.local` (this group only):
///
///     low 0
///     high 2
///     max 0
///     oom 1
///     oom_kill 1
///     oom_group_kill 0
///
/// The kernel signals every change of these files through inotify/poll.
public struct MemoryEvents: Sendable, Hashable {
    /// Times the group was reclaimed despite being below `memory.low`.
    public var low: UInt64
    /// Times the group went over `memory.high` and was throttled/reclaimed.
    public var high: UInt64
    /// Times the group hit `memory.max`.
    public var max: UInt64
    /// Times the group's allocations hit the limit and the OOM killer was about to run.
    public var oom: UInt64
    /// Processes killed by the OOM killer.
    public var oomKill: UInt64
    /// Whole-group OOM kills (`memory.oom.group`; newer kernels).
    public var oomGroupKill: UInt64?
    /// Keys this library does not know (e.g. `sock_throttled`), by key.
    public var extra: [String: UInt64]

    /// Parses `memory.events` or `memory.events.local` text.
    public init(parsing text: String, file: String = "memory.events") throws(CGroupError) {
        var counters = try KeyedCounters(parsing: text, file: file, keys: Self.counterKeys)
        low = try counters.require("low")
        high = try counters.require("high")
        max = try counters.require("max")
        oom = try counters.require("oom")
        oomKill = try counters.require("oom_kill")
        oomGroupKill = counters.take("oom_group_kill")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys(["low", "high", "max", "oom", "oom_kill", "oom_group_kill"])
}
