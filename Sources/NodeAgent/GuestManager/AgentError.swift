public import Libvirt
import CGroups
import Glibc

/// Why a guest or volume operation was refused or failed. `code` is what callers act on (the CLI maps it
/// to an exit code, the RPC layer to a status); the message names the guest and the reason.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The spec (or another input) is invalid; `spec` names the field.
        case invalidArgument = "invalid-argument"
        /// No such guest, volume or pool.
        case notFound = "not-found"
        /// A guest with that name or UUID already exists.
        case alreadyExists = "already-exists"
        /// The guest is protected, or not managed by this agent, and `force` was not given.
        case refused = "refused"
        /// The guest is in a state the operation does not apply to.
        case wrongState = "wrong-state"
        /// The guest did not stop within its grace period and was not destroyed.
        case timedOut = "timed-out"
        /// libvirt is unreachable.
        case unavailable = "unavailable"
        /// The hypervisor (libvirt's driver) does not support the operation or one of its
        /// options.
        case unsupported = "unsupported"
        /// libvirt failed the operation for another reason.
        case failed = "failed"
        /// The operation was cancelled (a cancelled task) before it finished.
        case cancelled = "cancelled"
    }

    public var code: Code
    /// The guest, volume or pool the error is about.
    public var subject: String
    /// The operation that failed, e.g. "destroy".
    public var operation: String
    public var message: String
    /// The libvirt failure behind this error, if any.
    public var libvirt: LibvirtError?
    /// The spec validation failure behind this error, if any.
    public var spec: GuestSpecError?

    public init(
        _ code: Code, subject: String, operation: String, message: String, libvirt: LibvirtError? = nil,
        spec: GuestSpecError? = nil
    ) {
        self.code = code
        self.subject = subject
        self.operation = operation
        self.message = message
        self.libvirt = libvirt
        self.spec = spec
    }

    public var description: String {
        operation.isEmpty && subject.isEmpty ? message : "\(operation) \(subject): \(message)"
    }

    /// Classifies a libvirt failure.
    static func from(_ error: LibvirtError, subject: String, operation: String) -> AgentError {
        let code: Code
        if error.isConnectionFailure || error.kind == .timeout {
            code = .unavailable
        } else {
            switch error.code {
            case .noDomain, .noStoragePool, .noStorageVolume: code = .notFound
            case .domainExists, .storageVolumeExists: code = .alreadyExists
            case .operationInvalid: code = .wrongState
            case .noSupport, .operationUnsupported, .argumentUnsupported: code = .unsupported
            // libvirt's virCheckFlags reports a flag the driver does not support as an invalid
            // argument; there is no other code to tell it by.
            case .invalidArgument where error.message.hasPrefix("unsupported flags"): code = .unsupported
            case .xmlError, .xmlDetail, .xmlInvalidSchema, .invalidArgument, .configUnsupported:
                code = .invalidArgument
            default: code = .failed
            }
        }
        return AgentError(code, subject: subject, operation: operation, message: error.description, libvirt: error)
    }
}

extension AgentError {
    /// Classifies a failure of the cgroup library: the kernel's errno says what kind it is.
    init(_ error: CGroupError, subject: String, operation: String) {
        let code: Code
        switch (error.kind, error.errno) {
        case (.invalidValue, _), (.outsideRoot, _), (.system, EINVAL), (.system, ERANGE), (.system, ENAMETOOLONG):
            code = .invalidArgument
        case (.system, ENOENT): code = .notFound
        case (.system, EBUSY), (.system, ENOTEMPTY), (.timedOut, _): code = .wrongState
        case (.system, EOPNOTSUPP): code = .unsupported
        case (.system, EEXIST): code = .alreadyExists
        case (.system, EACCES), (.system, EPERM): code = .refused
        default: code = .failed
        }
        self.init(code, subject: subject, operation: operation, message: "\(error)")
    }
}

/// Runs libvirt calls for `operation` on `subject` and classifies a failure as an `AgentError`.
@discardableResult
func call<T>(_ operation: String, _ subject: String, _ body: () async throws(LibvirtError) -> T) async throws(AgentError) -> T {
    do {
        return try await body()
    } catch {
        throw AgentError.from(error, subject: subject, operation: operation)
    }
}

extension Result where Failure == AgentError {
    /// The outcome of an operation as a value. (Matching on it also avoids a Swift 6.3 compiler
    /// crash seen with typed `catch ... where` inside some async functions.)
    init(_ body: () async throws(AgentError) -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
