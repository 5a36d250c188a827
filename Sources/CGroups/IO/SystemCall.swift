import Glibc

/// The one place the module's system calls go through: a call interrupted by a signal (EINTR)
/// is made again, and a failure becomes a `CGroupError` carrying errno, the cgroup, the file,
/// the value and the call's name.
enum SystemCall {
    /// Runs `call` until it returns something other than -1 with EINTR.
    ///
    /// - Parameters:
    ///   - operation: the call's name for the error, e.g. `openat2`.
    ///   - path: the cgroup, relative to the root.
    ///   - file: the interface file, if the call was about one.
    ///   - value: the value being written, for writes.
    /// - Returns: the call's result (anything but -1).
    @inline(__always)
    static func retrying<Result: FixedWidthInteger>(
        _ operation: StaticString, path: String, file: String = "", value: String? = nil, _ call: () -> Result
    ) throws(CGroupError) -> Result {
        while true {
            let result = call()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw .system(code, path: path, file: file, value: value, operation: "\(operation)")
        }
    }

    /// Same as `retrying`, but returns the errno instead of throwing, for callers that turn some
    /// errnos into other answers (ENOENT into "absent", EXDEV into "outside the root").
    @inline(__always)
    static func retryingErrno<Result: FixedWidthInteger>(_ call: () -> Result) -> (Result, Int32) {
        while true {
            let result = call()
            if result != -1 { return (result, 0) }
            let code = errno
            if code != EINTR { return (result, code) }
        }
    }
}
