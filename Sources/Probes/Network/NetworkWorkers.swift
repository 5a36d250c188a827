// The loops that move the data, shared by client and server: TCP senders and receivers, the RTT
// pinger and echo, UDP senders and receivers. Each runs on a thread of its own and keeps its
// counts to itself; only a relaxed atomic counter is shared, for progress.
import Synchronization
import Glibc

/// Bytes (or round trips) done so far, for progress reports.
final class NetLiveCounter: Sendable {
    private let value = Atomic<UInt64>(0)

    @inline(__always)
    func add(_ amount: UInt64) { value.wrappingAdd(amount, ordering: .relaxed) }

    func load() -> UInt64 { value.load(ordering: .relaxed) }
}

/// A moment (monotonic ns) set once by one thread and watched by another; 0 until set.
final class NetMoment: Sendable {
    private let value = Atomic<UInt64>(0)

    func set(_ moment: UInt64 = netNow()) { value.store(max(moment, 1), ordering: .releasing) }
    func load() -> UInt64 { value.load(ordering: .acquiring) }
}

/// A value a worker leaves for its owner.
final class NetSlot<Value: Sendable>: Sendable {
    private let value: Mutex<Value?> = Mutex(nil)

    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    func get() -> Value? { value.withLock { $0 } }
}

/// What one TCP stream did on this side.
struct NetStreamOutcome: Sendable {
    var bytesSent: UInt64 = 0
    var bytesReceived: UInt64 = 0
    /// Monotonic nanoseconds of the first and last byte received.
    var firstByte: UInt64?
    var lastByte: UInt64?
    var retransmits: UInt64?
    var buckets: [UInt64] = []
    var error: String?
}

enum NetWorker {
    /// A buffer of `count` bytes of pseudo-random data (so nothing on the path compresses it).
    static func payload(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 8), alignment: 4096)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var offset = 0
        while offset + 8 <= buffer.count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            buffer.storeBytes(of: state, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        return buffer
    }

    // MARK: TCP throughput

    /// Sends `messageSize`-byte writes until `deadline` (monotonic ns), then shuts down its side
    /// and waits (up to `drainTimeout` ns) for the receiver to finish reading and close.
    static func tcpSend(_ socket: NetSocket, messageSize: Int, deadline: UInt64, drainTimeout: UInt64, live: NetLiveCounter,
                        cancellation: NetCancellation) -> NetStreamOutcome {
        let buffer = payload(messageSize)
        defer { buffer.deallocate() }
        let fd = socket.fd
        let base = buffer.baseAddress!
        var outcome = NetStreamOutcome()
        var sent: UInt64 = 0
        while true {
            let count = Glibc.send(fd, base, messageSize, Int32(MSG_NOSIGNAL))
            if count < 0 {
                if errno == EINTR { continue }
                outcome.error = errno == EAGAIN || errno == EWOULDBLOCK ? "the receiver took nothing for too long" : "send: \(netErrorText(errno))"
                break
            }
            sent &+= UInt64(count)
            live.add(UInt64(count))
            if netNow() >= deadline { break }
            if cancellation.isCancelled {
                outcome.error = "cancelled"
                break
            }
        }
        outcome.bytesSent = sent
        socket.shutdown(Int32(SHUT_WR))
        if outcome.error == nil {
            // The receiver closes once it has read everything: then the counts are final.
            var byte: UInt8 = 0
            do {
                try socket.waitReadable(deadline: netNow() + drainTimeout)
                let count = recv(fd, &byte, 1, 0)
                if count > 0 { outcome.error = "the receiver sent data on a one-way stream" }
            } catch {
                outcome.error = "waiting for the receiver to finish: \(error)"
            }
        }
        outcome.retransmits = socket.retransmits
        return outcome
    }

    /// Reads until the sender closes, counting bytes per interval from `reference`.
    ///
    /// Reads without blocking (MSG_DONTWAIT). When the socket runs dry it keeps trying for `spin`
    /// nanoseconds, yielding the CPU between tries, and only then sleeps in poll(). A receiver
    /// asleep in the kernel has to be woken for every segment that arrives, and that wake-up
    /// (an inter-processor interrupt when it sleeps on another CPU) is paid by the CPU that
    /// delivers the data: on loopback, the sender's. One stream on loopback went from iperf3's
    /// throughput to about twice it with a 50 µs spin (docs/PERFORMANCE.md). The yield keeps a
    /// spinning receiver from starving a sender on the same CPU. A blocking recv() was slower
    /// still (0.91x of iperf3). No data for the socket's receive timeout (`setTimeouts`) is an
    /// error.
    static func tcpReceive(_ socket: NetSocket, bufferSize: Int, spin: UInt64, reference: UInt64, interval: UInt64,
                           live: NetLiveCounter, cancellation: NetCancellation) -> NetStreamOutcome {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 4096)
        defer { buffer.deallocate() }
        let fd = socket.fd
        let base = buffer.baseAddress!
        let idle = socket.receiveTimeout
        // When the socket ran dry (0: it has not).
        var dry: UInt64 = 0
        var outcome = NetStreamOutcome()
        var buckets = NetBuckets(reference: reference, width: interval)
        var received: UInt64 = 0
        var first: UInt64 = 0
        var last: UInt64 = 0
        while true {
            let count = recv(fd, base, bufferSize, Int32(MSG_DONTWAIT))
            if count > 0 {
                dry = 0
                let now = netNow()
                if first == 0 { first = now }
                last = now
                received &+= UInt64(count)
                buckets.add(UInt64(count), at: now)
                live.add(UInt64(count))
                if cancellation.isCancelled {
                    outcome.error = "cancelled"
                    break
                }
                continue
            }
            if count == 0 { break }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                if spin > 0 {
                    let now = netNow()
                    if dry == 0 { dry = now }
                    if now &- dry < spin {
                        sched_yield()
                        continue
                    }
                    dry = 0
                }
                do {
                    try socket.waitReadable(deadline: idle > 0 ? netNow() + idle : .max)
                    continue
                } catch NetIOError.timedOut {
                    outcome.error = "no data for too long"
                } catch {
                    outcome.error = "waiting for data: \(error)"
                }
                break
            }
            outcome.error = "recv: \(netErrorText(errno))"
            break
        }
        // Tell the sender we have everything.
        socket.shutdown()
        outcome.bytesReceived = received
        outcome.firstByte = first == 0 ? nil : first
        outcome.lastByte = first == 0 ? nil : last
        outcome.buckets = buckets.counts
        return outcome
    }

    // MARK: round trips

    struct RTTOutcome: Sendable {
        var recorder = NetLatencyRecorder()
        var roundTrips: UInt64 = 0
        var seconds: Double = 0
        var error: String?
    }

    /// Pings: sends a message carrying a sequence number, waits for its echo, records the time.
    static func rttPing(_ socket: NetSocket, test: NetworkProbe.RTTTest, live: NetLiveCounter) -> RTTOutcome {
        var outcome = RTTOutcome()
        let size = test.messageSize
        let message = payload(size)
        let echo = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer {
            message.deallocate()
            echo.deallocate()
        }
        let start = netNow()
        let end = start + netNanoseconds(test.duration)
        let spacing = netNanoseconds(test.interval)
        let limit = test.count.map(UInt64.init) ?? UInt64.max
        let timeout: UInt64 = 30_000_000_000
        var sequence: UInt64 = 0
        var next = start
        while outcome.roundTrips < limit {
            let t0 = netNow()
            if t0 >= end { break }
            message.storeBytes(of: sequence.bigEndian, toByteOffset: 0, as: UInt64.self)
            do {
                try socket.sendAll(UnsafeRawBufferPointer(message))
                guard try socket.receiveExactly(echo, deadline: t0 + timeout) else { throw NetIOError.closed }
            } catch {
                outcome.error = "round trip \(sequence): \(error)"
                break
            }
            let t1 = netNow()
            guard UInt64(bigEndian: echo.load(fromByteOffset: 0, as: UInt64.self)) == sequence else {
                outcome.error = "round trip \(sequence): the echo carries another sequence number"
                break
            }
            outcome.recorder.record(nanoseconds: t1 - t0)
            outcome.roundTrips += 1
            live.add(1)
            sequence += 1
            if spacing > 0 {
                next += spacing
                if next > netNow() { netSleep(until: min(next, end)) }
            }
        }
        outcome.seconds = Double(netNow() - start) / 1e9
        socket.shutdown(Int32(SHUT_WR))
        if outcome.error == nil {
            // Wait for the echo side to finish.
            _ = try? socket.receiveExactly(echo, deadline: netNow() + timeout)
        }
        return outcome
    }

    /// Echoes whatever arrives until the pinger closes.
    static func rttEcho(_ socket: NetSocket, cancellation: NetCancellation) -> NetStreamOutcome {
        let size = 65536
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        var outcome = NetStreamOutcome()
        while true {
            let count = recv(socket.fd, buffer.baseAddress!, size, 0)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                outcome.error = "recv: \(netErrorText(errno))"
                break
            }
            outcome.bytesReceived += UInt64(count)
            if cancellation.isCancelled {
                outcome.error = "cancelled"
                break
            }
            do {
                try socket.sendAll(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            } catch {
                outcome.error = "\(error)"
                break
            }
            outcome.bytesSent += UInt64(count)
        }
        socket.shutdown()
        return outcome
    }

    // MARK: UDP

    static func writeHeader(_ buffer: UnsafeMutableRawBufferPointer, cookie: UInt64, sequence: UInt64, time: UInt64) {
        buffer.storeBytes(of: cookie.bigEndian, toByteOffset: 0, as: UInt64.self)
        buffer.storeBytes(of: sequence.bigEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: time.bigEndian, toByteOffset: 16, as: UInt64.self)
    }

    /// Sends datagrams on a connected UDP socket at `bitsPerSecond` of payload from `start` for
    /// `duration` ns. Datagrams that fall behind schedule go out at once (the schedule is kept, so
    /// the average rate is the target), but never more than 100 ms worth in one burst.
    static func udpSend(_ socket: NetSocket, cookie: UInt64, datagramSize: Int, bitsPerSecond: Double, start: UInt64, duration: UInt64,
                        live: NetLiveCounter, cancellation: NetCancellation) -> (NetSenderDone, String?) {
        let buffer = payload(datagramSize)
        defer { buffer.deallocate() }
        let spacing = Double(datagramSize * 8) / bitsPerSecond * 1e9
        let end = start + duration
        var sequence: UInt64 = 0
        var bytes: UInt64 = 0
        var error: String?
        var due = Double(start)
        let maximumBurst = 100_000_000.0
        outer: while true {
            var now = netNow()
            if now >= end { break }
            if Double(now) < due {
                netSleep(until: min(UInt64(due), end))
                if cancellation.isCancelled { break }
                continue
            }
            if due < Double(now) - maximumBurst { due = Double(now) - maximumBurst }
            while due <= Double(now) {
                writeHeader(buffer, cookie: cookie, sequence: sequence, time: now)
                let count = Glibc.send(socket.fd, buffer.baseAddress!, datagramSize, Int32(MSG_NOSIGNAL))
                if count < 0 {
                    // ECONNREFUSED reports an earlier datagram refused by the peer (ICMP): that one
                    // is lost like any other; this one is retried.
                    if errno == EINTR || errno == ECONNREFUSED || errno == ENOBUFS {
                        now = netNow()
                        if now >= end || cancellation.isCancelled { break outer }
                        continue
                    }
                    error = "send: \(netErrorText(errno))"
                    break outer
                }
                sequence += 1
                bytes += UInt64(count)
                live.add(UInt64(count))
                due += spacing
                now = netNow()
                if now >= end { break outer }
            }
        }
        let seconds = Double(min(netNow(), end) - start) / 1e9
        return (NetSenderDone(packets: sequence, bytes: bytes, seconds: seconds), error)
    }

    struct UDPReceiveOutcome: Sendable {
        var statistics = NetUDPReceiverStatistics()
        var distinctBytes: UInt64 = 0
        var first: UInt64?
        var last: UInt64?
        var buckets: [UInt64] = []
        var error: String?
    }

    /// Receives the test's datagrams until `NetProtocol.udpDrain` after `senderDone` is set
    /// (monotonic ns), or `hardDeadline`, or cancellation.
    static func udpReceive(_ socket: NetSocket, cookie: UInt64, reference: UInt64, interval: UInt64, senderDone: NetMoment,
                           hardDeadline: UInt64, live: NetLiveCounter, cancellation: NetCancellation) -> UDPReceiveOutcome {
        var outcome = UDPReceiveOutcome()
        var buckets = NetBuckets(reference: reference, width: interval)
        let size = 65536
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        var lastArrival: UInt64 = 0
        while true {
            let count = recv(socket.fd, buffer.baseAddress!, size, Int32(MSG_DONTWAIT))
            let now = netNow()
            if count >= NetProtocol.udpHeader {
                guard UInt64(bigEndian: buffer.load(fromByteOffset: 0, as: UInt64.self)) == cookie else { continue }
                let sequence = UInt64(bigEndian: buffer.load(fromByteOffset: 8, as: UInt64.self))
                if sequence == NetProtocol.udpHelloSequence { continue }
                let sent = UInt64(bigEndian: buffer.load(fromByteOffset: 16, as: UInt64.self))
                if outcome.statistics.record(sequence: sequence, sent: sent, arrived: now) {
                    outcome.distinctBytes += UInt64(count)
                    buckets.add(UInt64(count), at: now)
                    live.add(UInt64(count))
                }
                if outcome.first == nil { outcome.first = now }
                outcome.last = now
                lastArrival = now
                continue
            }
            if count >= 0 {
                if count == 0 && cancellation.isCancelled { break }
                continue
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNREFUSED else {
                outcome.error = "recv: \(netErrorText(errno))"
                break
            }
            if cancellation.isCancelled || now >= hardDeadline { break }
            let done = senderDone.load()
            if done > 0 && now >= max(done, lastArrival) + NetProtocol.udpDrain { break }
            var entry = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, 20)
        }
        outcome.buckets = buckets.counts
        return outcome
    }
}
