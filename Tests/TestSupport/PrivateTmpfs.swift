import Foundation

/// A small tmpfs that only the test's own processes see: a holder process in a private mount
/// namespace (`unshare -m`) mounts it and sleeps; programs started with `launcher` join that
/// namespace (`nsenter`), and the test reaches the files through `/proc/HOLDER/root`. Killing the
/// holder (by PID, in `remove()` or deinit) takes the mount away with the namespace: nothing is
/// ever mounted in the host's namespace, and nothing is left behind when a test fails.
/// Used to fill and free a state directory for real (ENOSPC from the kernel, not a fake).
public final class PrivateTmpfs: @unchecked Sendable {
    /// Where the tmpfs is mounted, inside the namespace.
    public let path: String
    public let bytes: Int
    private var holder: pid_t?

    /// Whether this machine can do it (root, unshare and nsenter from util-linux).
    public static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/nsenter")
    }

    public init(at path: String, bytes: Int) async throws {
        self.path = path
        self.bytes = bytes
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let script = "mount -t tmpfs -o size=\(bytes),mode=0700 nodeagent-test \"$0\" && exec sleep 100000"
        holder = try spawn("/usr/bin/unshare", ["--mount", "--propagation", "private", "sh", "-c", script, path])
        try await waitUntil("the private tmpfs at \(path)", timeout: .seconds(20), poll: .milliseconds(20)) {
            guard let holder = self.holder else { return false }
            if waitpid(holder, nil, WNOHANG) == holder {
                self.holder = nil
                throw CommandFailed(command: "unshare ... mount -t tmpfs", status: -1, stderr: "the holder exited")
            }
            // The namespace's view of its mounts, once sleep runs.
            let mounts = (try? String(contentsOfFile: "/proc/\(holder)/mounts", encoding: .utf8)) ?? ""
            return mounts.split(separator: "\n").contains { $0.hasPrefix("nodeagent-test \(path) tmpfs") }
        }
    }

    /// The prefix that runs a program inside the namespace (nsenter execs it: the PID is the
    /// program's own).
    public var launcher: [String] {
        guard let holder else { return [] }
        return ["/usr/bin/nsenter", "--target", "\(holder)", "--mount", "--"]
    }

    /// A path inside the tmpfs as the test reaches it.
    public func hostPath(_ relative: String = "") -> String {
        "/proc/\(holder ?? 0)/root\(path)" + (relative.isEmpty ? "" : "/\(relative)")
    }

    /// Fills the file system until the kernel says ENOSPC; returns the bytes written.
    @discardableResult
    public func fill(name: String = "filler") throws -> Int {
        let fd = open(hostPath(name), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5a, count: 4096)
        var total = 0
        while true {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written > 0 {
                total += written
                continue
            }
            if written < 0 && errno == EINTR { continue }
            guard written < 0 && errno == ENOSPC else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return total
        }
    }

    /// Removes what `fill` wrote.
    public func free(name: String = "filler") {
        unlink(hostPath(name))
    }

    /// Bytes free in the tmpfs.
    public var available: Int {
        var info = statvfs()
        guard statvfs(hostPath(), &info) == 0 else { return -1 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Ends the namespace (and with it the mount). Programs still inside keep it alive until they
    /// exit: stop them first.
    public func remove() {
        guard let holder else { return }
        kill(holder, SIGKILL)
        reap(holder)
        self.holder = nil
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { remove() }
}
