import Glibc

/// openat2(2), which Glibc does not wrap (and Swift cannot call the variadic `syscall`).
///
/// `syscall` is looked up once and called through a non-variadic function pointer: on Linux
/// x86_64 and arm64 a variadic call passes integer arguments in the same registers as a plain
/// one, and glibc's `syscall` is a register shuffle that reads nothing else.
enum Openat2 {
    /// `struct open_how` from <linux/openat2.h>.
    struct OpenHow {
        var flags: UInt64
        var mode: UInt64
        var resolve: UInt64
    }

    /// `RESOLVE_NO_XDEV`: no crossing of mount points.
    static let resolveNoXdev: UInt64 = 0x01
    /// `RESOLVE_NO_MAGICLINKS`: no /proc-style magic links.
    static let resolveNoMagiclinks: UInt64 = 0x02
    /// `RESOLVE_NO_SYMLINKS`: no symbolic links at all.
    static let resolveNoSymlinks: UInt64 = 0x04
    /// `RESOLVE_BENEATH`: every step stays beneath the starting directory (EXDEV otherwise).
    static let resolveBeneath: UInt64 = 0x08

    /// `__NR_openat2`: the same number on every architecture (new system calls share one table).
    private static let number = 437

    private typealias Function = @convention(c) (Int, Int32, UnsafePointer<CChar>, UnsafeRawPointer, Int) -> Int

    private static let function: Function? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syscall").map {
        unsafeBitCast($0, to: Function.self)
    }

    /// Opens `path` relative to `directory`; returns the descriptor, or -1 with `errno` set
    /// (ENOSYS where the kernel or the `syscall` symbol is missing).
    @inline(__always)
    static func open(_ directory: Int32, _ path: UnsafePointer<CChar>, flags: Int32, resolve: UInt64) -> Int32 {
        guard let function else {
            errno = ENOSYS
            return -1
        }
        var how = OpenHow(flags: UInt64(UInt32(bitPattern: flags)), mode: 0, resolve: resolve)
        return Int32(
            truncatingIfNeeded: withUnsafePointer(to: &how) { function(number, directory, path, $0, MemoryLayout<OpenHow>.size) })
    }
}
