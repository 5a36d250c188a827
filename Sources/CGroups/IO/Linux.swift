import Glibc

/// What Swift's Glibc module does not import: definitions behind `_GNU_SOURCE` and
/// <sys/statfs.h>. The values are the kernel's generic ones (x86_64 and arm64 alike).
enum Linux {
    /// `O_PATH`: a descriptor that only names a place (for *at calls), opens nothing.
    static let O_PATH: Int32 = 0o1000_0000

    private typealias FstatfsFunction = @convention(c) (Int32, UnsafeMutableRawPointer) -> Int32

    private static let fstatfsFunction: FstatfsFunction? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fstatfs").map {
        unsafeBitCast($0, to: FstatfsFunction.self)
    }

    /// The file system's magic number (`statfs.f_type`) of an open descriptor, or nil.
    static func fileSystemType(_ descriptor: Int32) -> Int? {
        guard let fstatfsFunction else { return nil }
        // struct statfs is 120 bytes on 64-bit Linux; f_type is its first field, one word.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 32) { buffer in
            fstatfsFunction(descriptor, UnsafeMutableRawPointer(buffer.baseAddress!)) == 0 ? buffer[0] : nil
        }
    }
}
