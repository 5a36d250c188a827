import Glibc

/// Confined access to a cgroup hierarchy: every directory and interface file is opened beneath
/// one root directory, never outside it.
///
/// The root is opened once and kept; paths are resolved from it with openat2(2) and
/// `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` (plus `RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS` when
/// the root is a cgroup2 mount, which has neither mounts nor links inside), so a symbolic link
/// or `..` cannot lead out. Where the kernel lacks openat2 (ENOSYS, before 5.6) each component
/// is opened in turn with `O_NOFOLLOW`, which refuses every symbolic link.
///
/// Names are checked before any system call (`PathRules`). Files are never created: writes
/// open without `O_CREAT`, so a file the kernel does not offer fails with ENOENT, as on
/// cgroupfs. Groups are made and removed with `mkdirat`/`unlinkat` on the parent's descriptor.
///
/// Callers pass group paths already checked by `PathRules.checkGroupPath` (a `CGroup` holds
/// only checked paths); file and child names are checked here.
final class CGroupFS: Sendable {
    /// How paths are resolved beneath the root.
    enum Resolution: Sendable {
        /// openat2 with `RESOLVE_BENEATH` (Linux 5.6+).
        case openat2
        /// One `openat(O_NOFOLLOW)` per component: no symbolic link is followed.
        case componentWalk
    }

    /// What a directory holds, as far as the tree cares.
    struct Entry: Sendable, Equatable {
        enum Kind: Sendable, Equatable { case directory, file, other }
        var name: String
        var kind: Kind
    }

    /// The root directory, as given.
    let root: String
    /// Whether the root is a cgroup2 mount (rather than a directory laid out like one).
    let isCgroup2: Bool
    let resolution: Resolution
    private let rootDescriptor: Int32
    private let resolveFlags: UInt64

    /// The `f_type` statfs reports for cgroup2 (`CGROUP2_SUPER_MAGIC`).
    private static let cgroup2Magic = 0x6367_7270

    /// Opens `root`; `resolution` nil means openat2 where the kernel has it.
    init(root: String, resolution: Resolution? = nil) throws(CGroupError) {
        let descriptor = Glibc.open(root, Linux.O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .system(errno, path: "", operation: "opening the hierarchy's root \(root)")
        }
        let isCgroup2 = Linux.fileSystemType(descriptor) == Self.cgroup2Magic
        var flags = Openat2.resolveBeneath | Openat2.resolveNoMagiclinks
        if isCgroup2 { flags |= Openat2.resolveNoXdev | Openat2.resolveNoSymlinks }
        self.root = root
        self.isCgroup2 = isCgroup2
        self.rootDescriptor = descriptor
        self.resolveFlags = flags
        self.resolution = resolution ?? Self.probe(descriptor, flags)
    }

    deinit { close(rootDescriptor) }

    private static func probe(_ descriptor: Int32, _ flags: UInt64) -> Resolution {
        let (probe, code) = SystemCall.retryingErrno {
            Openat2.open(descriptor, ".", flags: Linux.O_PATH | O_DIRECTORY | O_CLOEXEC, resolve: flags)
        }
        if probe >= 0 { close(probe) }
        // ENOSYS: no openat2; EPERM: a seccomp filter that refuses system calls it does not know.
        return probe < 0 && (code == ENOSYS || code == EPERM) ? .componentWalk : .openat2
    }

    // MARK: Files

    /// The whole contents of `file` in `group`, as the kernel gave them (trailing newline kept).
    func read(_ group: String, _ file: String) throws(CGroupError) -> String {
        try PathRules.checkName(file, path: group, file: file)
        let descriptor = try open(group, file, flags: O_RDONLY)
        defer { close(descriptor) }
        return try FileReader.readAll(descriptor, path: group, file: file)
    }

    /// `read`, or nil when the group exists but has no such file (ENOENT). A missing file
    /// costs the failed open and one look at the group's directory (to tell "no such file"
    /// from "no such cgroup", which throws); no error value is built for it.
    func readIfPresent(_ group: String, _ file: String) throws(CGroupError) -> String? {
        try PathRules.checkName(file, path: group, file: file)
        let (descriptor, code) = openReturningErrno(group, file, flags: O_RDONLY)
        guard descriptor >= 0 else {
            if code == ENOENT, try exists(group) { return nil }
            throw openError(code, group, file, nil)
        }
        defer { close(descriptor) }
        return try FileReader.readAll(descriptor, path: group, file: file)
    }

    /// Writes `value` to the existing `file` in one `write` (the kernel parses each write on
    /// its own). Opens without `O_CREAT`: a missing file fails with ENOENT.
    func write(_ group: String, _ file: String, _ value: String) throws(CGroupError) {
        try PathRules.checkName(file, path: group, file: file)
        let descriptor = try open(group, file, flags: O_WRONLY | O_TRUNC, value: value)
        defer { close(descriptor) }
        var bytes = value
        let (written, code) = bytes.withUTF8 { buffer in
            SystemCall.retryingErrno { Glibc.write(descriptor, buffer.baseAddress, buffer.count) }
        }
        if written < 0 { throw .system(code, path: group, file: file, value: value, operation: "write") }
        guard written == value.utf8.count else {
            throw .shortWrite(path: group, file: file, value: value, written: written)
        }
    }

    // MARK: Directories

    /// Whether `group` is a directory beneath the root.
    func exists(_ group: String) throws(CGroupError) -> Bool {
        do throws(CGroupError) {
            close(try open(group, "", flags: Linux.O_PATH | O_DIRECTORY))
            return true
        } catch  where error.errno == ENOENT || error.errno == ENOTDIR {
            return false
        }
    }

    /// The entries of `group`'s directory (without `.` and `..`), in the kernel's order.
    func entries(_ group: String) throws(CGroupError) -> [Entry] {
        let descriptor = try open(group, "", flags: O_RDONLY | O_DIRECTORY)
        guard let directory = fdopendir(descriptor) else {
            let code = errno
            close(descriptor)
            throw .system(code, path: group, operation: "fdopendir")
        }
        defer { closedir(directory) }
        var entries: [Entry] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw .system(errno, path: group, operation: "readdir") }
                return entries
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var type = Int32(entry.pointee.d_type)
            if type == Int32(DT_UNKNOWN) {
                var info = stat()
                guard fstatat(dirfd(directory), name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                type = info.st_mode & S_IFMT == S_IFDIR ? Int32(DT_DIR) : info.st_mode & S_IFMT == S_IFREG ? Int32(DT_REG) : 0
            }
            let kind: Entry.Kind = type == Int32(DT_DIR) ? .directory : type == Int32(DT_REG) ? .file : .other
            entries.append(Entry(name: name, kind: kind))
        }
    }

    /// Makes the directory `name` in `parent` (mkdirat on the parent's descriptor).
    func makeDirectory(_ parent: String, _ name: String) throws(CGroupError) {
        try PathRules.checkNewGroupName(name, parent: parent)
        try inParent(parent) { (directory: Int32) throws(CGroupError) in
            _ = try SystemCall.retrying("mkdir", path: PathRules.join(parent, name)) { mkdirat(directory, name, 0o755) }
        }
    }

    /// Removes the directory `name` in `parent` (unlinkat with `AT_REMOVEDIR`).
    func removeDirectory(_ parent: String, _ name: String) throws(CGroupError) {
        try PathRules.checkName(name, path: parent, file: "")
        try inParent(parent) { (directory: Int32) throws(CGroupError) in
            _ = try SystemCall.retrying("rmdir", path: PathRules.join(parent, name)) {
                unlinkat(directory, name, AT_REMOVEDIR)
            }
        }
    }

    private func inParent(_ parent: String, _ body: (Int32) throws(CGroupError) -> Void) throws(CGroupError) {
        if parent.isEmpty { return try body(rootDescriptor) }
        let directory = try open(parent, "", flags: Linux.O_PATH | O_DIRECTORY)
        defer { close(directory) }
        try body(directory)
    }

    // MARK: Opening beneath the root

    /// Opens `file` in `group` (or the group's directory itself when `file` is empty).
    @inline(__always)
    private func open(_ group: String, _ file: String, flags: Int32, value: String? = nil) throws(CGroupError) -> Int32 {
        let (descriptor, code) = openReturningErrno(group, file, flags: flags)
        if descriptor >= 0 { return descriptor }
        throw openError(code, group, file, value)
    }

    /// `open` that returns the errno (with -1) instead of throwing.
    @inline(__always)
    private func openReturningErrno(_ group: String, _ file: String, flags: Int32) -> (Int32, Int32) {
        switch resolution {
        case .openat2:
            let resolve = resolveFlags
            let root = rootDescriptor
            return Self.withPath(group, file) { path in
                SystemCall.retryingErrno { Openat2.open(root, path, flags: flags | O_CLOEXEC, resolve: resolve) }
            }
        case .componentWalk:
            return walk(group, file, flags: flags | O_CLOEXEC)
        }
    }

    private func openError(_ code: Int32, _ group: String, _ file: String, _ value: String?) -> CGroupError {
        if code == EXDEV || code == ELOOP { return .linkRefused(code, path: group, file: file) }
        if code == ENOENT, !file.isEmpty, (try? exists(group)) == false {
            return CGroupError(.system, path: group, file: file, value: value, errno: ENOENT, message: "no such cgroup")
        }
        return .system(code, path: group, file: file, value: value, operation: "open")
    }

    /// Calls `body` with the NUL-terminated relative path `group/file` built on the stack.
    @inline(__always)
    private static func withPath<Result>(_ group: String, _ file: String, _ body: (UnsafePointer<CChar>) -> Result) -> Result {
        let groupCount = group.utf8.count
        let fileCount = file.utf8.count
        let capacity = groupCount + fileCount + 2
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer in
            buffer.withMemoryRebound(to: UInt8.self) { bytes in
                var end = 0
                if groupCount > 0 {
                    end = UnsafeMutableBufferPointer(rebasing: bytes[0...]).initialize(from: group.utf8).1
                    if fileCount > 0 {
                        bytes[end] = UInt8(ascii: "/")
                        end += 1
                    }
                }
                if fileCount > 0 {
                    end += UnsafeMutableBufferPointer(rebasing: bytes[end...]).initialize(from: file.utf8).1
                }
                if end == 0 {
                    bytes[0] = UInt8(ascii: ".")
                    end = 1
                }
                bytes[end] = 0
            }
            return body(UnsafePointer(buffer.baseAddress!))
        }
    }

    /// Opens component by component without following any symbolic link (no openat2).
    private func walk(_ group: String, _ file: String, flags: Int32) -> (Int32, Int32) {
        var components = group.split(separator: "/").map(String.init)
        if !file.isEmpty { components.append(file) }
        guard let last = components.popLast() else {
            return SystemCall.retryingErrno { openat(rootDescriptor, ".", flags & ~Linux.O_PATH) }
        }
        var directory = rootDescriptor
        defer { if directory != rootDescriptor { close(directory) } }
        for component in components {
            let (next, code) = SystemCall.retryingErrno {
                openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 { return (next, Self.linkAsELOOP(code, directory, component)) }
            if directory != rootDescriptor { close(directory) }
            directory = next
        }
        // O_PATH with O_NOFOLLOW would open a link itself; without O_PATH a link fails.
        let (descriptor, code) = SystemCall.retryingErrno { openat(directory, last, (flags & ~Linux.O_PATH) | O_NOFOLLOW) }
        return (descriptor, descriptor < 0 ? Self.linkAsELOOP(code, directory, last) : 0)
    }

    /// With `O_DIRECTORY`, a link fails with ENOTDIR rather than ELOOP: say ELOOP when it was a link.
    private static func linkAsELOOP(_ code: Int32, _ directory: Int32, _ name: String) -> Int32 {
        guard code == ENOTDIR else { return code }
        var info = stat()
        let isLink = fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFLNK
        return isLink ? ELOOP : code
    }
}
