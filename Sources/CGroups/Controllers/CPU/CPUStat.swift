/// CPU usage from `cpu.stat`, all times in µs:
///
///     usage_usec 1821913
///     user_usec 116077
///     system_usec 1705835
///     nr_periods 130
///     nr_throttled 86
///     throttled_usec 6799965
///     nr_bursts 2
///     burst_usec 10000
///
/// The usage lines are always there; the bandwidth lines only when the `cpu` controller is
/// enabled for the group (nil otherwise).
public struct CPUStat: Sendable, Hashable {
    /// Total CPU time used.
    public var usageUsec: UInt64
    /// CPU time in user mode.
    public var userUsec: UInt64
    /// CPU time in kernel mode.
    public var systemUsec: UInt64
    /// CPU time of niced tasks (newer kernels).
    public var niceUsec: UInt64?
    /// Enforcement periods that have elapsed.
    public var periods: UInt64?
    /// Periods in which the group was throttled (ran out of quota).
    public var throttledPeriods: UInt64?
    /// Total time the group's tasks were throttled.
    public var throttledUsec: UInt64?
    /// Periods in which a burst was used (kernels with `cpu.max.burst`).
    public var bursts: UInt64?
    /// Total CPU time used beyond the quota thanks to bursts (kernels with `cpu.max.burst`).
    public var burstUsec: UInt64?
    /// Keys this library does not know (e.g. `core_sched.force_idle_usec`), by key.
    public var extra: [String: UInt64]

    /// Parses `cpu.stat` text; `usage_usec`, `user_usec` and `system_usec` are required.
    public init(parsing text: String, file: String = "cpu.stat") throws(CGroupError) {
        var counters = try KeyedCounters(parsing: text, file: file, keys: Self.counterKeys)
        usageUsec = try counters.require("usage_usec")
        userUsec = try counters.require("user_usec")
        systemUsec = try counters.require("system_usec")
        niceUsec = counters.take("nice_usec")
        periods = counters.take("nr_periods")
        throttledPeriods = counters.take("nr_throttled")
        throttledUsec = counters.take("throttled_usec")
        bursts = counters.take("nr_bursts")
        burstUsec = counters.take("burst_usec")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys([
        "usage_usec", "user_usec", "system_usec", "nice_usec", "nr_periods", "nr_throttled", "throttled_usec",
        "nr_bursts", "burst_usec",
    ])
}
