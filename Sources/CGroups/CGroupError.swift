import Glibc

/// The one error type of the `CGroups` module.
///
/// It says which cgroup (path relative to the hierarchy's root), which interface file, the value
/// that was being written (if any), the errno the kernel returned (if any) and, for the
/// kernel's usual refusals, what they mean in cgroup terms (see `explanation`).
public struct CGroupError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// A system call failed; `errno` says why.
        case system
        /// A value was refused before anything was written (out of the kernel's range, wrong
        /// unit, malformed).
        case invalidValue = "invalid-value"
        /// A path that would leave the hierarchy's root (`..`, absolute, a symlink out).
        case outsideRoot = "outside-root"
        /// An interface file's contents could not be parsed.
        case unparsable
        /// A bounded wait (freeze, rmdir of a busy group) ran out.
        case timedOut = "timed-out"
    }

    public var kind: Kind
    /// The cgroup, relative to the root ("" for the root itself), e.g. `machine.slice/vm1`.
    public var path: String
    /// The interface file, e.g. `memory.max`; empty when the error is about the group itself.
    public var file: String
    /// The value being written, if the failure was a write.
    public var value: String?
    /// The kernel's errno, for `.system`.
    public var errno: Int32?
    /// What went wrong, in words (including the kernel's usual meaning of `errno`).
    public var message: String

    public init(
        _ kind: Kind, path: String, file: String = "", value: String? = nil, errno: Int32? = nil, message: String
    ) {
        self.kind = kind
        self.path = path
        self.file = file
        self.value = value
        self.errno = errno
        self.message = message
    }

    /// A failed system call on `path`/`file`, explained.
    public static func system(
        _ errno: Int32, path: String, file: String = "", value: String? = nil, operation: String
    ) -> CGroupError {
        let name = String(cString: strerror(errno))
        var message = "\(operation) failed: \(name) (errno \(errno))"
        if let hint = explanation(errno: errno, file: file, writing: value != nil) { message += ": \(hint)" }
        return CGroupError(.system, path: path, file: file, value: value, errno: errno, message: message)
    }

    /// The kernel's usual meaning of an errno on a cgroup interface file.
    public static func explanation(errno: Int32, file: String, writing: Bool) -> String? {
        switch errno {
        case EBUSY:
            if file == "cgroup.subtree_control" || file == "cgroup.procs" || file == "cgroup.threads" {
                return "the \"no internal processes\" rule: a cgroup with processes cannot enable controllers for its children, and processes cannot join a cgroup whose subtree_control is not empty (move them into a leaf first)"
            }
            if file.isEmpty { return "the cgroup still has processes or child cgroups" }
            return "the kernel refused the change while the resource is in use"
        case EINVAL:
            return writing ? "the kernel refused the value (wrong format or out of range for this file)" : nil
        case ENOENT:
            if file.isEmpty { return "no such cgroup" }
            if file.hasSuffix(".pressure") { return "no pressure file: the kernel lacks PSI (CONFIG_PSI, or psi=0 on its command line)" }
            return "no such interface file: the controller is not enabled in the parent's cgroup.subtree_control, or this kernel lacks the file"
        case EOPNOTSUPP:  // == ENOTSUP on Linux
            return "not supported here: the controller is not enabled for this cgroup, the kernel lacks the feature, or the cgroup type (threaded/domain) does not allow it"
        case EACCES, EPERM:
            return "permission denied (delegation, or a capability such as CAP_SYS_RESOURCE is missing)"
        case ENOTEMPTY:
            return "the cgroup still has child cgroups"
        default:
            return nil
        }
    }

    public var description: String {
        var where_ = path.isEmpty ? "/" : path
        if !file.isEmpty { where_ = path.isEmpty ? file : "\(path)/\(file)" }
        if let value { return "\(where_): writing \"\(value)\": \(message)" }
        return "\(where_): \(message)"
    }
}
