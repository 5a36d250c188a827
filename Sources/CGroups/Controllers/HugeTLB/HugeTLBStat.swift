/// Usage of one huge page size, from `hugetlb.<size>.current`, `.max` and `.events`.
public struct HugeTLBStat: Sendable, Hashable {
    /// The page size.
    public var size: HugePageSize
    /// Bytes of huge pages in use (`hugetlb.<size>.current`).
    public var current: ByteSize
    /// The limit (`hugetlb.<size>.max`).
    public var max: CGroupLimit<ByteSize>
    /// Faults refused because of the limit (`max` in `hugetlb.<size>.events`).
    public var maxEvents: UInt64
    /// Other keys of the events file, by key.
    public var extra: [String: UInt64]

    /// Parses the texts of the three files of `size`.
    public init(size: HugePageSize, current: String, max: String, events: String) throws(CGroupError) {
        self.size = size
        self.current = try CGroupText.value(current, file: size.file("current"))
        self.max = try CGroupText.value(max, file: size.file("max"))
        var counters = try KeyedCounters(parsing: events, file: size.file("events"), keys: Self.counterKeys)
        maxEvents = try counters.require("max")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys(["max"])
}
