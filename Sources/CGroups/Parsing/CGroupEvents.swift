/// The state in `cgroup.events` (not in the root cgroup):
///
///     populated 1
///     frozen 0
///
/// The kernel signals every change of this file through inotify/poll.
public struct CGroupEvents: Sendable, Hashable {
    /// Whether the cgroup or any descendant has live processes.
    public var populated: Bool
    /// Whether the cgroup is frozen (nil before Linux 5.2, which added the v2 freezer).
    public var frozen: Bool?
    /// Keys this library does not know, by key.
    public var extra: [String: UInt64]

    /// A state.
    public init(populated: Bool, frozen: Bool?, extra: [String: UInt64] = [:]) {
        self.populated = populated
        self.frozen = frozen
        self.extra = extra
    }

    /// Parses `cgroup.events` text; `populated` is required, values must be 0 or 1.
    public init(parsing text: String, file: String = "cgroup.events") throws(CGroupError) {
        var counters = try KeyedCounters(parsing: text, file: file, keys: Self.counterKeys)
        func flag(_ value: UInt64?, _ key: String) throws(CGroupError) -> Bool? {
            guard let value else { return nil }
            guard value <= 1 else { throw .unparsable(file, text: "\(key) \(value)", "expected 0 or 1") }
            return value == 1
        }
        populated = try flag(try counters.require("populated"), "populated")!
        frozen = try flag(counters.take("frozen"), "frozen")
        extra = counters.remaining
    }

    private static let counterKeys = CounterKeys(["populated", "frozen"])
}
