import Glibc

/// One cgroup of a `CGroupTree`: the tree and a path relative to its root.
///
/// A `CGroup` is a name, not an open handle: it holds no descriptor, may name a cgroup that
/// does not exist (yet), and every property and method goes to the file system when called.
/// Reading and writing are synchronous (cgroupfs answers from memory); the two waits, `remove`
/// and `freeze`/`thaw`, are `async` and pause with `Task.sleep`.
public struct CGroup: Sendable, Hashable, CustomStringConvertible {
    /// The hierarchy this cgroup belongs to.
    public let tree: CGroupTree
    /// The path relative to the root: "" for the root, else `a/b/c`.
    public let path: String

    init(tree: CGroupTree, checkedPath: String) {
        self.tree = tree
        self.path = checkedPath
    }

    private var fs: CGroupFS { tree.fs }

    /// The last component of the path ("" for the root).
    public var name: String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Whether this is the hierarchy's root.
    public var isRoot: Bool { path.isEmpty }

    /// The group's directory on the host: the tree's root joined with `path` (for inotify,
    /// PSI triggers and processes that need a path rather than the tree's descriptors).
    public var absolutePath: String { path.isEmpty ? tree.rootPath : tree.rootPath + "/" + path }

    /// The parent cgroup, nil for the root.
    public var parent: CGroup? {
        if isRoot { return nil }
        guard let slash = path.lastIndex(of: "/") else { return tree.root }
        return CGroup(tree: tree, checkedPath: String(path[..<slash]))
    }

    /// `path` as cgroup tools print it ("/" for the root).
    public var description: String { isRoot ? "/" : path }

    public static func == (left: CGroup, right: CGroup) -> Bool {
        left.tree === right.tree && left.path == right.path
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(tree))
        hasher.combine(path)
    }

    // MARK: Navigation

    /// The child called `name` (one path component), whether or not it exists.
    ///
    /// - Throws: `.outsideRoot` for a name with `/`, NUL, or that is empty, `.` or `..`.
    public func child(_ name: String) throws(CGroupError) -> CGroup {
        try PathRules.checkName(name, path: path, file: "")
        return CGroup(tree: tree, checkedPath: PathRules.join(path, name))
    }

    /// The descendant at `relativePath` (e.g. `a/b`) if it exists, else nil.
    public func find(_ relativePath: String) throws(CGroupError) -> CGroup? {
        try PathRules.checkGroupPath(relativePath)
        if relativePath.isEmpty { return try exists ? self : nil }
        return try tree.find(PathRules.join(path, relativePath))
    }

    /// Whether this cgroup's directory exists beneath the root.
    public var exists: Bool {
        get throws(CGroupError) { try fs.exists(path) }
    }

    /// The child cgroups (subdirectories; symbolic links are not followed), sorted by name.
    public func children() throws(CGroupError) -> [CGroup] {
        try fs.entries(path).filter { $0.kind == .directory }.map(\.name).sorted()
            .map { CGroup(tree: tree, checkedPath: PathRules.join(path, $0)) }
    }

    /// Every descendant, depth first (a parent before its children, siblings by name); not
    /// this cgroup itself. A descendant removed while the walk runs is left out.
    public func walk() throws(CGroupError) -> [CGroup] {
        var found: [CGroup] = []
        var pending = Array(try children().reversed())
        while let next = pending.popLast() {
            do throws(CGroupError) {
                let grandchildren = try next.children()
                found.append(next)
                pending.append(contentsOf: grandchildren.reversed())
            } catch  where error.errno == ENOENT && error.path == next.path {
                continue  // removed since its parent was listed
            }
        }
        return found
    }

    // MARK: Creating and removing

    /// Makes the child cgroup `name` (mkdir) and returns it.
    ///
    /// - Throws: `.outsideRoot`/`.invalidValue` for a bad name; `.system` with EEXIST if it
    ///   exists, EAGAIN when `cgroup.max.descendants` or `cgroup.max.depth` of an ancestor is
    ///   reached, ENOENT if this cgroup does not exist.
    @discardableResult
    public func create(_ name: String) throws(CGroupError) -> CGroup {
        let child = try child(name)
        do throws(CGroupError) {
            try fs.makeDirectory(path, name)
        } catch  where error.errno == EAGAIN {
            var error = error
            error.message += ": the cgroup.max.descendants or cgroup.max.depth limit of this cgroup or an ancestor is reached"
            throw error
        }
        try tree.populator?.populate(child.path)
        return child
    }

    /// Removes this cgroup (rmdir). While the kernel answers EBUSY (processes still leaving,
    /// or child cgroups) it tries again, pausing 10 ms and doubling up to 0.5 s, until
    /// `timeout` has passed.
    ///
    /// - Throws: `.timedOut` (errno EBUSY) naming the processes and children still there;
    ///   `.system` for any other refusal (ENOENT: no such cgroup); `.invalidValue` for the root;
    ///   `CancellationError` if the task is cancelled while waiting.
    public func remove(timeout: Duration = .seconds(5)) async throws {
        guard let parent else {
            throw CGroupError(.invalidValue, path: path, message: "the root cgroup cannot be removed")
        }
        let removed = try await Polling.until(timeout: timeout, initial: .milliseconds(10), longest: .milliseconds(500)) {
            () throws(CGroupError) -> Bool in
            do throws(CGroupError) {
                try tree.populator?.depopulate(path)
                try fs.removeDirectory(parent.path, name)
                return true
            } catch  where error.errno == EBUSY {
                return false
            }
        }
        if !removed { throw busyError(after: timeout) }
    }

    private func busyError(after timeout: Duration) -> CGroupError {
        var still: [String] = []
        if let procs = try? procs, !procs.isEmpty {
            still.append(
                "processes \(procs.prefix(10).map(String.init).joined(separator: ", "))\(procs.count > 10 ? ", ..." : "")")
        }
        if let children = try? children(), !children.isEmpty {
            still.append("child cgroups \(children.prefix(10).map(\.name).joined(separator: ", "))")
        }
        let what = still.isEmpty ? "processes or child cgroups" : still.joined(separator: " and ")
        return CGroupError(
            .timedOut, path: path, errno: EBUSY,
            message: "rmdir still refused (EBUSY) after \(timeout): the cgroup has \(what); "
                + "kill or move its processes and remove its children first")
    }

    // MARK: Interface files

    /// The interface files present in this cgroup's directory, sorted by name.
    public func files() throws(CGroupError) -> [String] {
        try fs.entries(path).filter { $0.kind == .file }.map(\.name).sorted()
    }

    /// The whole contents of the interface file `file` (e.g. `memory.max`), as the kernel
    /// gave them, trailing newline included.
    ///
    /// - Throws: `.system` with ENOENT if the file is missing (controller not enabled, feature
    ///   absent) or the cgroup does not exist (the message says which); `.outsideRoot` for a
    ///   file name that is not one path component.
    public func read(_ file: String) throws(CGroupError) -> String {
        try fs.read(path, file)
    }

    /// The contents of `file`, or nil if this cgroup (which must exist) has no such file.
    public func readIfPresent(_ file: String) throws(CGroupError) -> String? {
        try fs.readIfPresent(path, file)
    }

    /// Reads `file` and parses it with one of the pure layer's parsers, which do not know the
    /// cgroup: their errors get this cgroup's path.
    func parse<Value>(_ file: String, _ parser: (String, String) throws(CGroupError) -> Value) throws(CGroupError) -> Value {
        let text = try read(file)
        do throws(CGroupError) {
            return try parser(text, file)
        } catch {
            var error = error
            error.path = path
            throw error
        }
    }

    /// Writes `value` to the existing interface file `file` in a single `write`; the kernel
    /// parses each write on its own. Files are never created: a missing file is ENOENT.
    ///
    /// - Throws: `.system` with the kernel's errno (explained), the file and the value.
    public func write(_ file: String, _ value: String) throws(CGroupError) {
        try fs.write(path, file, value)
    }
}
