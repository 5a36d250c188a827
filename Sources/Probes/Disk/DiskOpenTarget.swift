// Opening the target: a file is created (or, forced, reused), sized and later removed; a block
// device is checked (mounted, in use, signatures) before it is opened for writing.
import CIOUring
import Glibc

/// The target, open for direct I/O. Used by the run's worker thread only.
final class DiskOpenTarget {
    let kind: DiskTarget.Kind
    /// The path actually used (the file created inside a directory target, …).
    let path: String
    let fd: Int32
    /// Bytes the probe may use, from offset 0 (the region).
    let size: UInt64
    /// Logical block size of the device (0 if unknown).
    let logicalBlockSize: Int
    /// Whether the probe created the file (and so removes it).
    let created: Bool
    let directIO: Bool
    /// Probe files of runs that died (their process no longer exists) removed from the
    /// directory target before this run.
    var staleFilesRemoved: [String] = []
    private var closed = false

    private init(
        kind: DiskTarget.Kind, path: String, fd: Int32, size: UInt64, logicalBlockSize: Int, created: Bool, directIO: Bool
    ) {
        self.kind = kind
        self.path = path
        self.fd = fd
        self.size = size
        self.logicalBlockSize = logicalBlockSize
        self.created = created
        self.directIO = directIO
    }

    /// Closes the descriptor and removes a file the probe created. Returns whether it removed it.
    @discardableResult
    func finish() -> Bool {
        if !closed {
            closed = true
            close(fd)
        }
        guard created else { return false }
        return unlink(path) == 0 || errno == ENOENT
    }

    deinit {
        if !closed { close(fd) }
    }

    static let defaultFileSize: UInt64 = 1 << 30

    /// Opens (or creates) the target of `configuration`, using `region` rounding: the region is
    /// rounded down to a multiple of `alignment` bytes.
    static func open(_ configuration: DiskProbe.Configuration, alignment: UInt64) throws(DiskProbeError) -> DiskOpenTarget {
        switch configuration.target.kind {
        case .file: try openFile(configuration, alignment: alignment)
        case .blockDevice: try openDevice(configuration, alignment: alignment)
        }
    }

    private static func unavailable(_ path: String, _ reason: String) -> DiskProbeError {
        DiskProbeError(kind: .targetUnavailable, target: path, reason: reason)
    }

    private static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    // MARK: File

    /// Removes `nodeagent-disk-probe-PID-HEX.dat` files in `directory` whose PID no longer runs:
    /// what a probe killed before its cleanup (kill -9, a crash, power loss) left behind. A file
    /// of a live process is never touched. Returns the paths removed.
    static func removeStaleProbeFiles(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var removed: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("nodeagent-disk-probe-"), name.hasSuffix(".dat") else { continue }
            let fields = name.dropFirst("nodeagent-disk-probe-".count).dropLast(".dat".count).split(separator: "-")
            guard fields.count == 2, let pid = Int32(fields[0]), pid > 0, UInt32(fields[1], radix: 16) != nil else { continue }
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            let path = (directory.hasSuffix("/") ? directory : directory + "/") + name
            if unlink(path) == 0 { removed.append(path) }
        }
        return removed
    }

    private static func openFile(_ configuration: DiskProbe.Configuration, alignment: UInt64) throws(DiskProbeError) -> DiskOpenTarget {
        var path = configuration.target.path
        var st = stat()
        var created = false
        var stale: [String] = []
        var fd: Int32
        if stat(path, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                stale = removeStaleProbeFiles(in: path)
                let random = UInt32.random(in: 0...UInt32.max)
                path = (path.hasSuffix("/") ? path : path + "/") + "nodeagent-disk-probe-\(getpid())-\(String(random, radix: 16)).dat"
                fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw unavailable(path, "cannot create the file: \(describe(errno))") }
                created = true
            case S_IFREG:
                guard configuration.force else {
                    throw DiskProbeError(
                        kind: .refused, target: path,
                        reason: "refused: the file exists and the probe did not create it (force uses it and leaves it in place)",
                        refusals: [DiskRefusal(kind: .existingFile, device: path, detail: "existing file")])
                }
                fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
                guard fd >= 0 else { throw unavailable(path, "cannot open the file: \(describe(errno))") }
            case S_IFBLK:
                throw unavailable(path, "is a block device: use a blockDevice target")
            default:
                throw unavailable(path, "is neither a regular file nor a directory")
            }
        } else if errno == ENOENT {
            fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw unavailable(path, "cannot create the file: \(describe(errno))") }
            created = true
        } else {
            throw unavailable(path, "cannot stat: \(describe(errno))")
        }
        // From here on a created file is removed on every error.
        func fail(_ reason: String) -> DiskProbeError {
            close(fd)
            if created { unlink(path) }
            return unavailable(path, reason)
        }
        if configuration.directIO {
            let flags = fcntl(fd, F_GETFL)
            if fcntl(fd, F_SETFL, flags | ciouring_o_direct_flag()) != 0 {
                throw fail("the filesystem does not support O_DIRECT (\(describe(errno))); tmpfs is not a disk")
            }
        }
        guard fstat(fd, &st) == 0 else { throw fail("cannot stat: \(describe(errno))") }
        let existing = UInt64(st.st_size)
        let requested = configuration.size ?? (created || existing == 0 ? defaultFileSize : existing)
        let size = requested / alignment * alignment
        guard size >= alignment else {
            throw fail("size \(requested) is below the largest block size (\(alignment) bytes)")
        }
        if size > existing {
            var fs = statvfs()
            if fstatvfs(fd, &fs) == 0 {
                let available = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
                let needed = size - existing
                if available < needed + needed / 50 {
                    throw fail("not enough space: \(needed) bytes needed, \(available) available")
                }
            }
            let result = posix_fallocate(fd, 0, off_t(size))
            if result == EOPNOTSUPP || result == ENOSYS || result == EINVAL {
                if ftruncate(fd, off_t(size)) != 0 { throw fail("cannot size the file: \(describe(errno))") }
            } else if result != 0 {
                throw fail("cannot allocate \(size) bytes: \(describe(result))")
            }
        }
        let logical = logicalBlockSize(ofDeviceHolding: st.st_dev)
        let target = DiskOpenTarget(
            kind: .file, path: path, fd: fd, size: size, logicalBlockSize: logical, created: created,
            directIO: configuration.directIO)
        target.staleFilesRemoved = stale
        return target
    }

    /// Logical block size of the block device a file lives on (0 if not a block device).
    static func logicalBlockSize(ofDeviceHolding device: dev_t) -> Int {
        let base = "/sys/dev/block/\(DiskFS.major(UInt64(device))):\(DiskFS.minor(UInt64(device)))"
        for candidate in ["\(base)/queue/logical_block_size", "\(base)/../queue/logical_block_size"] {
            if let text = DiskFS.readTextFile(candidate), let value = Int(DiskFS.trim(text)) { return value }
        }
        return 0
    }

    // MARK: Block device

    private static func openDevice(_ configuration: DiskProbe.Configuration, alignment: UInt64) throws(DiskProbeError) -> DiskOpenTarget {
        let path = configuration.target.path
        var st = stat()
        guard stat(path, &st) == 0 else { throw unavailable(path, "cannot stat: \(describe(errno))") }
        guard st.st_mode & S_IFMT == S_IFBLK else { throw unavailable(path, "is not a block device") }

        // Inspect read-only first, so every reason is found.
        let inspect = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard inspect >= 0 else { throw unavailable(path, "cannot open: \(describe(errno))") }
        let refusals = DiskTargetSafety.refusals(
            path: path, fd: inspect, mountInfo: DiskFS.readTextFile("/proc/self/mountinfo"),
            swaps: DiskFS.readTextFile("/proc/swaps"))
        close(inspect)
        if !refusals.isEmpty && !configuration.force {
            throw DiskProbeError(
                kind: .refused, target: path,
                reason: "refused: " + refusals.map(\.description).joined(separator: "; ") + " (force overrides)",
                refusals: refusals)
        }
        var flags = O_RDWR | O_CLOEXEC
        if configuration.directIO { flags |= ciouring_o_direct_flag() }
        if !configuration.force { flags |= O_EXCL }
        let fd = Glibc.open(path, flags)
        guard fd >= 0 else {
            let code = errno
            if code == EBUSY {
                let refusal = DiskRefusal(
                    kind: .busy, device: path, detail: "the kernel refused exclusive access (mounted, swap, RAID/LVM member or opened exclusively)")
                throw DiskProbeError(kind: .refused, target: path, reason: "refused: \(refusal) (force overrides)", refusals: [refusal])
            }
            throw unavailable(path, "cannot open for writing: \(describe(code))")
        }
        var deviceSize: UInt64 = 0
        var logical: UInt32 = 0
        let sizeResult = ciouring_block_device_size(fd, &deviceSize)
        if sizeResult != 0 || ciouring_block_device_logical_block_size(fd, &logical) != 0 {
            close(fd)
            throw unavailable(path, "cannot read the device's size: \(describe(sizeResult != 0 ? -sizeResult : errno))")
        }
        let requested = Swift.min(configuration.size ?? deviceSize, deviceSize)
        let size = requested / alignment * alignment
        guard size >= alignment else {
            close(fd)
            throw unavailable(path, "the device (\(deviceSize) bytes) is smaller than the largest block size (\(alignment) bytes)")
        }
        return DiskOpenTarget(
            kind: .blockDevice, path: path, fd: fd, size: size, logicalBlockSize: Int(logical), created: false,
            directIO: configuration.directIO)
    }
}
