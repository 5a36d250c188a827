import Glibc

/// Small whole-file reads of sysfs and procfs for the CPU, memory and health probes.
///
/// Every path is built from a configurable root (`/sys`, `/proc`), so tests point the probes at
/// a fake tree. Nothing here throws: an absent or unreadable file is `nil`, and the caller
/// reports the input as skipped with `HealthFiles.whyUnreadable(path)`.
enum HealthFiles {
    /// The file's contents (at most `limit` bytes), or `nil` if it cannot be opened or read.
    static func read(_ path: String, limit: Int = 4 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The file's contents without surrounding whitespace.
    static func trimmed(_ path: String) -> String? {
        read(path).map { trim($0) }
    }

    /// A file holding one unsigned decimal number (sysfs counters).
    static func unsigned(_ path: String) -> UInt64? {
        trimmed(path).flatMap { UInt64($0) }
    }

    /// The entries of a directory (without `.` and `..`), sorted naturally (`cpu2` before
    /// `cpu10`), or `nil` if it cannot be listed.
    static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted(by: naturalOrder)
    }

    /// Whether something exists at `path`.
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether `path` is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Why `path` cannot be read, in words ("…: No such file or directory").
    static func whyUnreadable(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return "\(path) is not readable"
        }
        return "\(path): \(String(cString: strerror(errno)))"
    }

    /// Parses a kernel CPU list such as `0-3,8,10-11` (sysfs `online`, `cpuset.cpus`).
    static func cpuList(_ text: String) -> [Int]? {
        let body = trim(text)
        if body.isEmpty { return [] }
        var cpus: [Int] = []
        for part in body.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            switch bounds.count {
            case 1:
                guard let cpu = Int(trim(String(bounds[0]))), cpu >= 0 else { return nil }
                cpus.append(cpu)
            case 2:
                guard let low = Int(trim(String(bounds[0]))), let high = Int(trim(String(bounds[1]))),
                    low >= 0, low <= high
                else { return nil }
                cpus.append(contentsOf: low...high)
            default:
                return nil
            }
        }
        return Array(Set(cpus)).sorted()
    }

    /// Parses a sysfs cache size such as `32768K`, `1024K`, `2M`, `48K` or `512` into bytes.
    static func cacheSize(_ text: String) -> Int? {
        let body = trim(text)
        guard let last = body.last else { return nil }
        let multiplier: Int
        var digits = body
        switch last {
        case "K", "k": multiplier = 1024; digits.removeLast()
        case "M", "m": multiplier = 1024 * 1024; digits.removeLast()
        case "G", "g": multiplier = 1024 * 1024 * 1024; digits.removeLast()
        default: multiplier = 1
        }
        guard let value = Int(digits), value >= 0 else { return nil }
        return value * multiplier
    }

    /// `s` without leading and trailing spaces, tabs and newlines.
    static func trim(_ s: String) -> String {
        var view = Substring(s)
        while let first = view.first, first == " " || first == "\n" || first == "\t" || first == "\r" {
            view.removeFirst()
        }
        while let last = view.last, last == " " || last == "\n" || last == "\t" || last == "\r" {
            view.removeLast()
        }
        return String(view)
    }

    /// Orders names with embedded numbers by value: `cpu2` < `cpu10`, `mc1` < `mc12`.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let (pa, na) = splitNumber(a)
        let (pb, nb) = splitNumber(b)
        if pa != pb { return a < b }
        if let na, let nb, na != nb { return na < nb }
        return a < b
    }

    private static func splitNumber(_ s: String) -> (String, Int?) {
        let digits = s.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return (s, nil) }
        return (String(s.dropLast(digits.count)), Int(String(digits.reversed())))
    }
}
