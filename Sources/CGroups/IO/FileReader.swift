import Glibc

/// Reads a whole interface file. They are small (a few bytes to a few KiB; cgroup.procs of a
/// busy group can be more), so the common case reads into a buffer on the stack and makes one
/// String; a file that fills it continues in a growing heap buffer.
enum FileReader {
    /// The stack buffer: larger than any stat or pressure file of one group.
    static let stackCapacity = 8192

    /// Reads `descriptor` to end of file (short reads continue, EINTR retried).
    static func readAll(_ descriptor: Int32, path: String, file: String) throws(CGroupError) -> String {
        var large: [UInt8] = []
        let small = try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: stackCapacity) {
            (buffer: UnsafeMutableBufferPointer<UInt8>) throws(CGroupError) -> String? in
            let base = buffer.baseAddress!
            var count = 0
            while count < buffer.count {
                let got = try SystemCall.retrying("read", path: path, file: file) {
                    Glibc.read(descriptor, base + count, buffer.count - count)
                }
                if got == 0 { return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self) }
                count += got
            }
            large = Array(buffer)
            return nil
        }
        if let small { return small }
        return try readRest(descriptor, after: large, path: path, file: file)
    }

    /// The rare large file: continues after what the stack buffer holds, in a heap buffer
    /// that doubles.
    private static func readRest(
        _ descriptor: Int32, after start: [UInt8], path: String, file: String
    ) throws(CGroupError) -> String {
        var bytes = start
        var count = bytes.count
        while true {
            if count == bytes.count { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
            let got = try bytes.withUnsafeMutableBufferPointer { (buffer) throws(CGroupError) -> Int in
                let base = buffer.baseAddress!
                let room = buffer.count - count
                return try SystemCall.retrying("read", path: path, file: file) { Glibc.read(descriptor, base + count, room) }
            }
            if got == 0 { break }
            count += got
        }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }
}
