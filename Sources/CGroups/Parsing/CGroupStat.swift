/// The counts in `cgroup.stat`:
///
///     nr_descendants 0
///     nr_dying_descendants 0
///
/// Newer kernels add per-controller counts (`nr_subsys_cpu`, `nr_dying_subsys_memory`, ...);
/// they are kept in ``extra``.
public struct CGroupStat: Sendable, Hashable {
    /// Visible descendant cgroups.
    public var descendants: UInt64
    /// Removed descendants the kernel still holds (e.g. pinned by page cache); many of them
    /// point at a memory leak of dying cgroups.
    public var dyingDescendants: UInt64
    /// Keys this library does not know, by key.
    public var extra: [String: UInt64]

    /// Counts.
    public init(descendants: UInt64, dyingDescendants: UInt64, extra: [String: UInt64] = [:]) {
        self.descendants = descendants
        self.dyingDescendants = dyingDescendants
        self.extra = extra
    }

    /// Parses `cgroup.stat` text; `nr_descendants` and `nr_dying_descendants` are required.
    public init(parsing text: String, file: String = "cgroup.stat") throws(CGroupError) {
        var counters = try KeyedCounters(parsing: text, file: file, keys: Self.counterKeys)
        descendants = try counters.require("nr_descendants")
        dyingDescendants = try counters.require("nr_dying_descendants")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys(["nr_descendants", "nr_dying_descendants"])
}
