import Glibc

/// Why a file or directory the agent needs could not be read or created: the path, the system
/// call's errno and what it means, in words an operator can act on ("Permission denied",
/// "No space left on device", "Not a directory") instead of Foundation's "error 512".
public struct FileSystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// What was being done: "create the directory", "read".
    public var operation: String
    public var errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    /// The errno's text, e.g. "No space left on device".
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String { "cannot \(operation) \(path): \(reason)" }
}

/// The few file-system operations the daemon does outside SQLite, through POSIX calls so that
/// their errors carry errno.
enum LocalFiles {
    /// Creates `path` and its missing parents (`mkdir -p`) with `mode` for the ones it creates.
    /// An existing directory is fine; an existing file that is not a directory is ENOTDIR.
    static func createDirectory(_ path: String, mode: mode_t) throws(FileSystemError) {
        guard !path.isEmpty else { return }
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw FileSystemError(path: path, operation: "create the directory", errno: ENOTDIR)
            }
            return
        }
        let parent = parentDirectory(of: path)
        if parent != path { try createDirectory(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw FileSystemError(path: path, operation: "create the directory", errno: errno)
        }
    }

    /// The whole of a small text file (a configuration file). A directory, a device or a FIFO is
    /// refused (EISDIR, EINVAL) rather than read.
    static func readText(_ path: String, limit: Int = 16 << 20) throws(FileSystemError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "read", errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileSystemError(path: path, operation: "read", errno: errno) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw FileSystemError(path: path, operation: "read", errno: EISDIR)
        default: throw FileSystemError(path: path, operation: "read (not a regular file)", errno: EINVAL)
        }
        guard info.st_size <= limit else { throw FileSystemError(path: path, operation: "read (larger than \(limit) bytes)", errno: EFBIG) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "read", errno: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
            guard bytes.count <= limit else { throw FileSystemError(path: path, operation: "read (larger than \(limit) bytes)", errno: EFBIG) }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileSystemError(path: path, operation: "read (not UTF-8 text)", errno: EILSEQ)
        }
        return text
    }

    /// Writes `bytes` to a temporary file beside `path`, flushes it to disk, and renames it
    /// over `path`: a reader sees the old file or the whole new one, never a part. The
    /// temporary file is removed on failure.
    static func writeAtomically(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644) throws(FileSystemError) {
        let temporary = parentDirectory(of: path) + "/." + (path.split(separator: "/").last.map(String.init) ?? "file")
            + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileSystemError(path: temporary, operation: "create", errno: errno) }
        var failure: FileSystemError?
        let data = Array(bytes)
        var written = 0
        while written < data.count, failure == nil {
            let count = data.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno != EINTR { failure = FileSystemError(path: temporary, operation: "write", errno: errno) }
            } else {
                written += count
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = FileSystemError(path: temporary, operation: "flush", errno: errno) }
        close(fd)
        if failure == nil && rename(temporary, path) != 0 { failure = FileSystemError(path: path, operation: "replace", errno: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    /// "/a/b" for "/a/b/c"; "." for "c"; "/" for "/c".
    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let parent = trimmed[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }
}
