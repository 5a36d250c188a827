/// One misc resource (e.g. `sev`, `sev_es`) as the misc files describe it; nil where the
/// file was not read or does not list the resource.
public struct MiscResourceUsage: Sendable, Hashable {
    /// The resource's name.
    public var name: String
    /// The host's total (`misc.capacity`, root only).
    public var capacity: UInt64?
    /// In use by the group (`misc.current`).
    public var current: UInt64?
    /// The group's limit (`misc.max`).
    public var max: CGroupLimit<UInt64>?
    /// Allocations refused because of the limit (`<name>.max` in `misc.events`).
    public var maxEvents: UInt64?

    /// A resource with nothing known yet.
    public init(name: String) { self.name = name }
}
