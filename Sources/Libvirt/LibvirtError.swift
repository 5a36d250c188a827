import CLibvirt

/// The one error type of the `Libvirt` module.
///
/// Every failure carries the libvirt call that failed, libvirt's error code and domain (the
/// subsystem that raised it), libvirt's own message and, where known, the object it was about
/// (a domain name, a pool, a URI). It is read from libvirt's thread-local error slot on the
/// thread that made the call, before any suspension point, so it always belongs to that call.
public struct LibvirtError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is, independent of libvirt's many codes.
    public enum Kind: Sendable, Equatable {
        /// libvirt returned an error from the named call.
        case call
        /// The connection is down (never opened, lost, or being reopened); nothing was attempted.
        case notConnected
        /// The call did not return within the connection's per-call timeout.
        case timeout
        /// The `Connection` was closed by its owner.
        case closed
        /// libvirt answered, but with something this module could not decode.
        case decoding
    }

    public var kind: Kind
    /// The libvirt function that failed, e.g. `virDomainCreateWithFlags`.
    public var call: String
    /// libvirt's error code (`virErrorNumber`); `.ok` when the failure did not come from libvirt.
    public var code: Code
    /// libvirt's error domain (`virErrorDomain`): which subsystem raised the error.
    public var domain: ErrorDomain
    /// libvirt's message, or ours for failures that did not come from libvirt.
    public var message: String
    /// What the call was about: a domain name, a pool/volume, a URI. Empty if nothing specific.
    public var target: String

    public init(
        kind: Kind, call: String, code: Code = .ok, domain: ErrorDomain = .none, message: String,
        target: String = ""
    ) {
        self.kind = kind
        self.call = call
        self.code = code
        self.domain = domain
        self.message = message
        self.target = target
    }

    public var description: String {
        var text = "\(call)"
        if !target.isEmpty { text += " (\(target))" }
        switch kind {
        case .call: text += ": \(message) [code \(code.rawValue) \(code.name), from \(domain.name)]"
        case .notConnected: text += ": not connected: \(message)"
        case .timeout: text += ": timed out: \(message)"
        case .closed: text += ": connection closed: \(message)"
        case .decoding: text += ": cannot decode libvirt's answer: \(message)"
        }
        return text
    }

    /// True when the failure means the connection to libvirt is gone (or never came up), as
    /// opposed to a failure of the operation itself.
    public var isConnectionFailure: Bool {
        switch kind {
        case .notConnected, .closed: return true
        case .timeout, .decoding: return false
        case .call:
            return code == .noConnect || code == .rpc || code == .authFailed
                || (code == .systemError && domain == .rpc)
                || domain == .rpc && code == .internalError
        }
    }

    /// Reads libvirt's thread-local last error. Must be called on the thread of the failed call,
    /// right after it.
    static func last(call: String, target: String = "") -> LibvirtError {
        guard let err = virGetLastError() else {
            return LibvirtError(
                kind: .call, call: call, code: .internalError, domain: .none,
                message: "libvirt reported failure without an error", target: target)
        }
        let message = err.pointee.message.map { String(cString: $0) } ?? "unknown error"
        let error = LibvirtError(
            kind: .call, call: call, code: Code(rawValue: err.pointee.code),
            domain: ErrorDomain(rawValue: err.pointee.domain), message: message, target: target)
        virResetLastError()
        return error
    }
}

extension LibvirtError {
    /// libvirt's error number (`virErrorNumber`). Named constants for the codes callers act on.
    public struct Code: RawRepresentable, Sendable, Hashable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let internalError = Code(rawValue: Int32(VIR_ERR_INTERNAL_ERROR.rawValue))
        public static let noSupport = Code(rawValue: Int32(VIR_ERR_NO_SUPPORT.rawValue))
        public static let noConnect = Code(rawValue: Int32(VIR_ERR_NO_CONNECT.rawValue))
        public static let invalidArgument = Code(rawValue: Int32(VIR_ERR_INVALID_ARG.rawValue))
        public static let operationFailed = Code(rawValue: Int32(VIR_ERR_OPERATION_FAILED.rawValue))
        public static let xmlError = Code(rawValue: Int32(VIR_ERR_XML_ERROR.rawValue))
        public static let domainExists = Code(rawValue: Int32(VIR_ERR_DOM_EXIST.rawValue))
        public static let xmlDetail = Code(rawValue: Int32(VIR_ERR_XML_DETAIL.rawValue))
        public static let systemError = Code(rawValue: Int32(VIR_ERR_SYSTEM_ERROR.rawValue))
        public static let rpc = Code(rawValue: Int32(VIR_ERR_RPC.rawValue))
        public static let noDomain = Code(rawValue: Int32(VIR_ERR_NO_DOMAIN.rawValue))
        public static let authFailed = Code(rawValue: Int32(VIR_ERR_AUTH_FAILED.rawValue))
        public static let noStoragePool = Code(rawValue: Int32(VIR_ERR_NO_STORAGE_POOL.rawValue))
        public static let noStorageVolume = Code(rawValue: Int32(VIR_ERR_NO_STORAGE_VOL.rawValue))
        public static let operationInvalid = Code(rawValue: Int32(VIR_ERR_OPERATION_INVALID.rawValue))
        public static let configUnsupported = Code(
            rawValue: Int32(VIR_ERR_CONFIG_UNSUPPORTED.rawValue))
        public static let operationTimeout = Code(
            rawValue: Int32(VIR_ERR_OPERATION_TIMEOUT.rawValue))
        public static let noDomainMetadata = Code(
            rawValue: Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue))
        public static let operationUnsupported = Code(
            rawValue: Int32(VIR_ERR_OPERATION_UNSUPPORTED.rawValue))
        public static let argumentUnsupported = Code(
            rawValue: Int32(VIR_ERR_ARGUMENT_UNSUPPORTED.rawValue))
        public static let storageVolumeExists = Code(
            rawValue: Int32(VIR_ERR_STORAGE_VOL_EXIST.rawValue))
        public static let xmlInvalidSchema = Code(
            rawValue: Int32(VIR_ERR_XML_INVALID_SCHEMA.rawValue))

        /// A short name for the code, for logs and messages.
        public var name: String {
            switch self {
            case .ok: "ok"
            case .internalError: "internal-error"
            case .noSupport: "no-support"
            case .noConnect: "no-connect"
            case .invalidArgument: "invalid-argument"
            case .operationFailed: "operation-failed"
            case .xmlError: "xml-error"
            case .domainExists: "domain-exists"
            case .xmlDetail: "xml-detail"
            case .systemError: "system-error"
            case .rpc: "rpc"
            case .noDomain: "no-domain"
            case .authFailed: "auth-failed"
            case .noStoragePool: "no-storage-pool"
            case .noStorageVolume: "no-storage-volume"
            case .operationInvalid: "operation-invalid"
            case .configUnsupported: "config-unsupported"
            case .operationTimeout: "operation-timeout"
            case .noDomainMetadata: "no-domain-metadata"
            case .operationUnsupported: "operation-unsupported"
            case .argumentUnsupported: "argument-unsupported"
            case .storageVolumeExists: "storage-volume-exists"
            case .xmlInvalidSchema: "xml-invalid-schema"
            default: "code-\(rawValue)"
            }
        }
    }

    /// libvirt's error domain (`virErrorDomain`): the subsystem that raised an error.
    public struct ErrorDomain: RawRepresentable, Sendable, Hashable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let none = ErrorDomain(rawValue: 0)
        public static let rpc = ErrorDomain(rawValue: Int32(VIR_FROM_RPC.rawValue))
        public static let qemu = ErrorDomain(rawValue: Int32(VIR_FROM_QEMU.rawValue))
        public static let test = ErrorDomain(rawValue: Int32(VIR_FROM_TEST.rawValue))
        public static let remote = ErrorDomain(rawValue: Int32(VIR_FROM_REMOTE.rawValue))
        public static let domain = ErrorDomain(rawValue: Int32(VIR_FROM_DOMAIN.rawValue))
        public static let storage = ErrorDomain(rawValue: Int32(VIR_FROM_STORAGE.rawValue))

        public var name: String {
            switch self {
            case .none: "none"
            case .rpc: "rpc"
            case .qemu: "qemu"
            case .test: "test"
            case .remote: "remote"
            case .domain: "domain"
            case .storage: "storage"
            default: "domain-\(rawValue)"
            }
        }
    }
}
