/// The `misc` controller (read-only here): scalar host resources such as AMD SEV/SEV-ES
/// ASIDs, with the host's capacity (`misc.capacity`, root only), usage (`misc.current`,
/// `misc.peak`), limits (`misc.max`) and refusals (`misc.events`). The files are empty on
/// hosts without such resources.
public enum MiscController: CGroupController {
    public static let name = "misc"
    public static let statFiles = ["misc.current", "misc.peak", "misc.max", "misc.events", "misc.events.local"]

    /// Combines the texts of the misc files that could be read (nil: not read or absent,
    /// e.g. `misc.capacity` outside the root) into one entry per resource, sorted by name.
    public static func usage(
        capacity: String? = nil, current: String? = nil, max: String? = nil, events: String? = nil
    ) throws(CGroupError) -> [MiscResourceUsage] {
        var resources: [String: MiscResourceUsage] = [:]
        func update(_ name: String, _ change: (inout MiscResourceUsage) -> Void) {
            change(&resources[name, default: MiscResourceUsage(name: name)])
        }
        if let capacity {
            for (name, value) in try FlatKeyedFile(parsing: capacity, file: "misc.capacity").values(as: UInt64.self) {
                update(name) { $0.capacity = value }
            }
        }
        if let current {
            for (name, value) in try FlatKeyedFile(parsing: current, file: "misc.current").values(as: UInt64.self) {
                update(name) { $0.current = value }
            }
        }
        if let max {
            let limits = try FlatKeyedFile(parsing: max, file: "misc.max").values(as: CGroupLimit<UInt64>.self)
            for (name, value) in limits { update(name) { $0.max = value } }
        }
        if let events {
            // "<resource>.max <count>"
            for (key, value) in try FlatKeyedFile(parsing: events, file: "misc.events").values(as: UInt64.self) {
                guard key.hasSuffix(".max") else { continue }
                update(String(key.dropLast(4))) { $0.maxEvents = value }
            }
        }
        return resources.values.sorted { $0.name < $1.name }
    }
}
