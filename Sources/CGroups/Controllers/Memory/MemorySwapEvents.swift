/// Swap event counts from `memory.swap.events`:
///
///     high 0
///     max 37452
///     fail 37531
public struct MemorySwapEvents: Sendable, Hashable {
    /// Times swap usage went over `memory.swap.high` (kernels with `memory.swap.high`).
    public var high: UInt64?
    /// Times a swap-out was refused because `memory.swap.max` was reached.
    public var max: UInt64
    /// Times a swap-out failed: the limit was reached or the system ran out of swap.
    public var fail: UInt64
    /// Keys this library does not know, by key.
    public var extra: [String: UInt64]

    /// Parses `memory.swap.events` text.
    public init(parsing text: String, file: String = "memory.swap.events") throws(CGroupError) {
        var counters = try KeyedCounters(parsing: text, file: file, keys: Self.counterKeys)
        high = counters.take("high")
        max = try counters.require("max")
        fail = try counters.require("fail")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys(["high", "max", "fail"])
}
