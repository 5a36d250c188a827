/// A cgroup v2 hierarchy: the root directory every `CGroup` of it lives beneath.
///
/// ```swift
/// let tree = try CGroupTree()                       // /sys/fs/cgroup
/// let vm = try tree.root.create("nodeagent-vm1")
/// try vm.move(pid: pid)
/// try await vm.freeze()
/// ```
///
/// Every path is relative to the root and confined beneath it: `..`, `.`, absolute paths,
/// empty components and NUL bytes are refused before any system call, and a symbolic link
/// that leads out is refused when the path is opened (openat2 `RESOLVE_BENEATH`).
public final class CGroupTree: Sendable {
    let fs: CGroupFS
    let populator: (any DirectoryPopulator)?

    /// Opens the hierarchy at `root`.
    ///
    /// - Parameters:
    ///   - root: the hierarchy's mount point (or, in tests, a directory laid out like one).
    ///   - populator: for a plain directory only: what stands in for the kernel filling and
    ///     emptying cgroup directories (see `DirectoryPopulator`). Leave nil on cgroupfs.
    /// - Throws: `CGroupError` when `root` cannot be opened as a directory.
    public convenience init(root: String = "/sys/fs/cgroup", populator: (any DirectoryPopulator)? = nil) throws(CGroupError) {
        self.init(fs: try CGroupFS(root: root), populator: populator)
    }

    init(fs: CGroupFS, populator: (any DirectoryPopulator)?) {
        self.fs = fs
        self.populator = populator
    }

    /// The root directory, as given.
    public var rootPath: String { fs.root }

    /// Whether the root is a cgroup2 mount (false for a directory merely laid out like one).
    public var isCgroup2: Bool { fs.isCgroup2 }

    /// The root cgroup.
    public var root: CGroup { CGroup(tree: self, checkedPath: "") }

    /// The cgroup at `path` (relative to the root, e.g. `machine.slice/vm1`; "" is the root),
    /// whether or not it exists. No system call is made.
    ///
    /// - Throws: `.outsideRoot` for `..`, `.`, an absolute path, an empty component or NUL.
    public func group(_ path: String) throws(CGroupError) -> CGroup {
        try PathRules.checkGroupPath(path)
        return CGroup(tree: self, checkedPath: path)
    }

    /// The cgroup at `path` if it exists (a directory beneath the root), else nil.
    public func find(_ path: String) throws(CGroupError) -> CGroup? {
        let group = try group(path)
        return try group.exists ? group : nil
    }
}
