import Foundation

@testable import CGroups

/// A temporary directory laid out like a cgroup2 mount, for tests that must not touch the host.
///
/// The root holds the root cgroup's files; `mkdirLikeKernel` (or `CGroup.create` on a tree made
/// by `tree()`, through `DirectoryPopulator`) makes a child with the core files every non-root
/// cgroup has plus the files of the controllers its parent enables in `cgroup.subtree_control`.
///
/// It refuses what the kernel refuses, so it cannot hide a bug: every interface file exists
/// before the library touches it, so a write to a file the kernel would not offer fails with
/// ENOENT (the library opens without `O_CREAT`); `depopulate` refuses with EBUSY while the
/// cgroup lists processes in `cgroup.procs` or has child cgroups, as rmdir does on cgroupfs.
/// What it cannot do: interpret writes (writing "+cpu" to `cgroup.subtree_control` leaves that
/// text in the file, where the kernel would show "cpu"), or refuse writes by file mode (tests
/// run as root, who may write read-only files).
final class FakeCGroupFS: DirectoryPopulator {
    /// The directory standing in for the mount point.
    let root: String
    /// The controllers the root offers (its `cgroup.controllers`).
    let controllers: [String]

    /// Every non-root cgroup's files (with their contents when the cgroup is made).
    static let coreFiles: [String: String] = [
        "cgroup.controllers": "", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.freeze": "0\n", "cgroup.kill": "",
        "cgroup.max.depth": "max\n", "cgroup.max.descendants": "max\n", "cgroup.pressure": "1\n", "cgroup.procs": "",
        "cgroup.stat": "nr_descendants 0\nnr_dying_descendants 0\n", "cgroup.subtree_control": "", "cgroup.threads": "",
        "cgroup.type": "domain\n", "cpu.pressure": pressure, "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
        "io.pressure": pressure, "memory.pressure": pressure,
    ]

    /// The root cgroup's files: no type, events, freeze or kill (the kernel has none there).
    static let rootFiles: Set<String> = [
        "cgroup.controllers", "cgroup.max.depth", "cgroup.max.descendants", "cgroup.pressure", "cgroup.procs",
        "cgroup.stat", "cgroup.subtree_control", "cgroup.threads", "cpu.pressure", "cpu.stat", "io.pressure",
        "memory.pressure",
    ]

    /// The files each controller adds to a cgroup whose parent enables it.
    static let controllerFiles: [String: [String: String]] = [
        "cpu": [
            "cpu.weight": "100\n", "cpu.weight.nice": "0\n", "cpu.max": "max 100000\n", "cpu.max.burst": "0\n", "cpu.idle": "0\n",
        ],
        "cpuset": [
            "cpuset.cpus": "\n", "cpuset.mems": "\n", "cpuset.cpus.effective": "0-1\n", "cpuset.mems.effective": "0\n",
            "cpuset.cpus.partition": "member\n",
        ],
        "memory": [
            "memory.current": "0\n", "memory.min": "0\n", "memory.low": "0\n", "memory.high": "max\n", "memory.max": "max\n",
            "memory.peak": "0\n", "memory.oom.group": "0\n", "memory.swap.max": "max\n", "memory.swap.current": "0\n",
            "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n", "memory.stat": "anon 0\nfile 0\n",
        ],
        "io": ["io.weight": "default 100\n", "io.max": "", "io.stat": ""],
        "pids": ["pids.max": "max\n", "pids.current": "0\n", "pids.peak": "0\n", "pids.events": "max 0\n"],
        "hugetlb": ["hugetlb.2MB.max": "max\n", "hugetlb.2MB.current": "0\n", "hugetlb.2MB.events": "max 0\n"],
    ]

    private static let pressure =
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"

    init(controllers: [String] = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"]) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("fake-cgroupfs-\(UUID().uuidString.prefix(8))").path
        self.controllers = controllers
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        for file in Self.rootFiles { try Self.create(root + "/" + file, Self.coreFiles[file] ?? "") }
        try set("", "cgroup.controllers", controllers.joined(separator: " ") + "\n")
        try set("", "cgroup.procs", "1\n")
        try set("", "cgroup.threads", "1\n")
    }

    /// Removes the whole directory.
    func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// A tree over this directory that calls this fake on create and remove.
    func tree(resolution: CGroupFS.Resolution? = nil) throws -> CGroupTree {
        CGroupTree(fs: try CGroupFS(root: root, resolution: resolution), populator: self)
    }

    /// A tree over this directory without a populator: `create` makes bare directories.
    func treeWithoutPopulator() throws -> CGroupTree {
        try CGroupTree(root: root)
    }

    /// Makes the cgroup `path` (its parent must exist) with the files the kernel would give it.
    func mkdirLikeKernel(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: full(path), withIntermediateDirectories: false)
        try populate(path)
    }

    func populate(_ path: String) throws(CGroupError) {
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        let enabled = (contents(parent, "cgroup.subtree_control") ?? "").split(whereSeparator: \.isWhitespace)
            .filter { !$0.hasPrefix("-") }.map { String($0.hasPrefix("+") ? $0.dropFirst() : $0) }
        var files = Self.coreFiles
        files["cgroup.controllers"] = enabled.joined(separator: " ") + "\n"
        for controller in enabled { files.merge(Self.controllerFiles[controller] ?? [:]) { old, _ in old } }
        do {
            for (file, text) in files { try Self.create(full(path) + "/" + file, text) }
        } catch {
            throw CGroupError(.system, path: path, errno: EIO, message: "fake: populating failed: \(error)")
        }
    }

    func depopulate(_ path: String) throws(CGroupError) {
        let procs = contents(path, "cgroup.procs") ?? ""
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: full(path))) ?? []
        let hasChildren = entries.contains { isDirectory(PathRules.join(path, $0)) }
        if !procs.allSatisfy(\.isWhitespace) || hasChildren {
            throw .system(EBUSY, path: path, operation: "rmdir")
        }
        for entry in entries { try? FileManager.default.removeItem(atPath: full(path) + "/" + entry) }
    }

    // MARK: The test's view (playing the kernel's part)

    /// The absolute path of `path` (relative to the root).
    func full(_ path: String) -> String { path.isEmpty ? root : root + "/" + path }

    /// The contents of `file` in cgroup `path`, nil if it does not exist.
    func contents(_ path: String, _ file: String) -> String? {
        try? String(contentsOfFile: full(path) + "/" + file, encoding: .utf8)
    }

    /// Replaces the contents of an existing interface file, as the kernel would change it.
    func set(_ path: String, _ file: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: full(path) + "/" + file))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
    }

    func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: full(path), isDirectory: &directory) && directory.boolValue
    }

    private static func create(_ path: String, _ text: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}
