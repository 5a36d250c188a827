#if canImport(Glibc)
    import Glibc
#endif

/// A socket operation towards systemd (the notify socket or the journal) that failed.
public struct SystemdSocketError: Error, CustomStringConvertible, Sendable {
    /// What was attempted, e.g. "send to the notify socket".
    public var operation: String
    /// The socket's address as given (a path, or an abstract name starting with '@').
    public var path: String
    /// The `errno` value, or 0 when the failure was not a system call's.
    public var code: Int32
    /// A reason when `code` is 0.
    public var reason: String?

    public init(operation: String, path: String, code: Int32, reason: String? = nil) {
        self.operation = operation
        self.path = path
        self.code = code
        self.reason = reason
    }

    public var description: String {
        let why = reason ?? String(cString: strerror(code))
        return "\(operation) \(path) failed: \(why)" + (code != 0 ? " (errno \(code))" : "")
    }
}

/// The address of an AF_UNIX socket: a filesystem path, or an abstract name written with a
/// leading '@' (as NOTIFY_SOCKET does), which becomes a leading NUL byte.
struct UnixSocketAddress: Sendable, Equatable {
    /// The address as given.
    let path: String
    /// The bytes of `sun_path` (for a path: with its terminating NUL; abstract: no NUL at the end).
    private let sunPath: [UInt8]

    /// The `sun_path` field's capacity.
    private static let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)

    init(_ path: String, operation: String) throws {
        self.path = path
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") {
            bytes[0] = 0
        } else if bytes.first == UInt8(ascii: "/") {
            bytes.append(0)
        } else {
            throw SystemdSocketError(
                operation: operation, path: path, code: 0,
                reason: "not an absolute path nor an abstract socket name starting with '@'")
        }
        guard bytes.count > 1, bytes.count <= Self.capacity else {
            throw SystemdSocketError(
                operation: operation, path: path, code: 0,
                reason: "an AF_UNIX address holds 1 to \(Self.capacity - 1) bytes")
        }
        sunPath = bytes
    }

    /// Calls `body` with the `sockaddr` and its exact length.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: sunPath)
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + sunPath.count)
        return try withUnsafePointer(to: &address) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }
}

/// An unconnected AF_UNIX datagram socket that sends to an address per call. Closes on deinit.
final class UnixDatagramSocket: Sendable {
    let descriptor: Int32

    /// - Parameters:
    ///   - nonBlocking: sends fail with EAGAIN instead of waiting when the receiver's queue is full.
    ///   - sendTimeout: for a blocking socket, the longest a send may wait (SO_SNDTIMEO).
    init(nonBlocking: Bool, sendTimeout: Duration? = nil, path: String) throws {
        var type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else {
            throw SystemdSocketError(operation: "create a socket for", path: path, code: errno)
        }
        if let sendTimeout {
            let (seconds, attoseconds) = sendTimeout.components
            var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Sends one datagram; returns 0 or the errno of the failure.
    func send(_ bytes: [UInt8], to address: UnixSocketAddress) -> Int32 {
        address.withSockaddr { addr, length in
            bytes.withUnsafeBytes { buffer in
                while true {
                    let sent = sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), addr, length)
                    if sent >= 0 { return 0 }
                    if errno != EINTR { return errno }
                }
            }
        }
    }

    /// Sends a datagram without data carrying `fileDescriptor` (SCM_RIGHTS); returns 0 or errno.
    func send(fileDescriptor: Int32, to address: UnixSocketAddress) -> Int32 {
        // CMSG_SPACE(sizeof(int)) and CMSG_LEN(sizeof(int)) on Linux: the header is padded to
        // the alignment of size_t, the data follows it.
        let alignment = MemoryLayout<Int>.size
        func align(_ n: Int) -> Int { (n + alignment - 1) & ~(alignment - 1) }
        let headerLength = align(MemoryLayout<cmsghdr>.size)
        let controlLength = headerLength + align(MemoryLayout<Int32>.size)
        var control = [UInt8](repeating: 0, count: controlLength)
        return address.withSockaddr { addr, length in
            control.withUnsafeMutableBytes { raw in
                let header = raw.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                header.pointee.cmsg_len = headerLength + MemoryLayout<Int32>.size
                header.pointee.cmsg_level = SOL_SOCKET
                header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                raw.storeBytes(of: fileDescriptor, toByteOffset: headerLength, as: Int32.self)
                var message = msghdr()
                message.msg_name = UnsafeMutableRawPointer(mutating: addr)
                message.msg_namelen = length
                message.msg_iov = nil
                message.msg_iovlen = 0
                message.msg_control = raw.baseAddress
                message.msg_controllen = controlLength
                while true {
                    if sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL)) >= 0 { return 0 }
                    if errno != EINTR { return errno }
                }
            }
        }
    }
}

/// Writes all of `bytes` to a file descriptor (retrying short writes and EINTR); false on failure.
@discardableResult
func writeFully(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}
