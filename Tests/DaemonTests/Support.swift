import AgentAPI
import Foundation
import GRPCCore
import NodeAgent
import TestSupport
import Testing

/// A datagram socket bound at `path`, for NOTIFY_SOCKET or a test journal. A thread receives
/// continuously (a unix datagram queue holds only net.unix.max_dgram_qlen = 10 messages; a
/// sender that finds it full gets EAGAIN, as with a stalled journald).
final class DatagramListener: @unchecked Sendable {
    let path: String
    let fd: Int32
    private let lock = NSLock()
    private var received: [[UInt8]] = []
    private var closed = false

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in receive() }
        thread.start()
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while !lock.withLock({ closed }) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count >= 0 {
                let datagram = Array(buffer[0..<count])
                lock.withLock { received.append(datagram) }
            }
        }
    }

    /// Every datagram received since the last call.
    func drain() -> [[UInt8]] {
        lock.withLock {
            defer { received = [] }
            return received
        }
    }

    deinit { Glibc.close(fd) }

    /// Stops the receiving thread and removes the socket.
    func close() {
        lock.withLock { closed = true }
        unlink(path)
    }
}
