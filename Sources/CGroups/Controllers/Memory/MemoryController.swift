/// The `memory` controller: protections (`memory.min`, `memory.low`), limits
/// (`memory.high`, `memory.max`), swap and zswap limits, the OOM policy
/// (`memory.oom.group`), usage and events.
///
/// Every byte limit is rounded down by the kernel to a whole number of pages (see
/// ``ByteSize``). Lowering `memory.high` or `memory.max` below the current usage makes the
/// write itself reclaim memory synchronously (it can take a while); a `memory.max` that
/// cannot be met by reclaim OOM-kills tasks of the group.
public enum MemoryController: CGroupController {
    public static let name = "memory"
    public static let statFiles = [
        "memory.current", "memory.peak", "memory.stat", "memory.events", "memory.events.local",
        "memory.swap.current", "memory.swap.peak", "memory.swap.events", "memory.zswap.current",
    ]
}
