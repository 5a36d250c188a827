import Glibc

extension CGroupError {
    /// A path or name refused because it would leave the hierarchy's root.
    static func outsideRoot(path: String, file: String = "", reason: String, errno: Int32? = nil) -> CGroupError {
        CGroupError(.outsideRoot, path: path, file: file, errno: errno, message: "refused: \(reason)")
    }

    /// The kernel's answer when resolving a path beneath the root met a symbolic link: EXDEV
    /// (openat2: the link leads out of the root), ELOOP (a magic link, or any link when openat2
    /// is missing and components are opened one by one without following links).
    static func linkRefused(_ errno: Int32, path: String, file: String) -> CGroupError {
        let reason =
            errno == EXDEV
            ? "the path resolves outside the root (a symbolic link or mount out of it)"
            : "the path goes through a symbolic link, which is not followed here"
        return .outsideRoot(path: path, file: file, reason: reason, errno: errno)
    }

    /// A write the kernel took only part of (cgroup files take a value in one write).
    static func shortWrite(path: String, file: String, value: String, written: Int) -> CGroupError {
        CGroupError(
            .system, path: path, file: file, value: value,
            message: "write took \(written) of \(value.utf8.count) bytes; cgroup files take a value in one write")
    }

    /// A file that every non-root cgroup has on a recent kernel is missing.
    static func missingCoreFile(_ error: CGroupError, needs kernel: String) -> CGroupError {
        guard error.errno == ENOENT else { return error }
        var error = error
        error.message =
            error.path.isEmpty
            ? "\(error.file) does not exist in the root cgroup (the kernel has it only in child cgroups)"
            : "\(error.file) does not exist: it needs Linux \(kernel) or later"
        return error
    }
}
