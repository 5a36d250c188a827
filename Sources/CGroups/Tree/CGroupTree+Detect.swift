extension CGroupTree {
    /// Where the unified (v2) hierarchy is mounted on common hosts: `/sys/fs/cgroup` on a
    /// unified host, `/sys/fs/cgroup/unified` on a hybrid one (v1 controllers beside it).
    public static let wellKnownRoots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]

    /// Opens the first well-known root that is a cgroup2 mount. Never returns a v1 hierarchy
    /// or a plain tmpfs: writing there would change a cgroup v1 setup this library does not own.
    public static func detect() throws(CGroupError) -> CGroupTree {
        for root in wellKnownRoots {
            if let tree = try? CGroupTree(root: root), tree.isCgroup2 { return tree }
        }
        throw CGroupError(
            .system, path: "", errno: nil,
            message: "no cgroup2 hierarchy at \(wellKnownRoots.joined(separator: " or ")); mount one (mount -t cgroup2 none /sys/fs/cgroup) or pass its root")
    }

    /// Opens `root`, refusing anything under /sys/fs/cgroup that is not a cgroup2 mount (a v1
    /// hierarchy or the hybrid layout's tmpfs). Other paths (test directories laid out like
    /// cgroupfs) are accepted as they are.
    public static func open(root: String) throws(CGroupError) -> CGroupTree {
        let tree = try CGroupTree(root: root)
        if !tree.isCgroup2 && (root == "/sys/fs/cgroup" || root.hasPrefix("/sys/fs/cgroup/")) {
            throw CGroupError(
                .system, path: "", errno: nil,
                message: "\(root) is not a cgroup2 mount (a cgroup v1 hierarchy or the hybrid layout's tmpfs); refusing to touch it")
        }
        return tree
    }
}
