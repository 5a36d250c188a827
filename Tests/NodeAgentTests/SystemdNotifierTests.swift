import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import NodeAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite("systemd notify protocol")
struct SystemdNotifierTests {
    @Test func readySendsReadyAndStatusInOneDatagram() async throws {
        try await withReceiver { receiver, path in
            let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
            #expect(notifier.socketPath == path)
            try notifier.ready(status: "serving 3 guests")
            #expect(try await receiver.next().text == "READY=1\nSTATUS=serving 3 guests")
            try notifier.ready()
            #expect(try await receiver.next().text == "READY=1")
        }
    }

    @Test func statusStoppingAndWatchdog() async throws {
        try await withReceiver { receiver, path in
            let notifier = SystemdNotifier(socketPath: path)
            try notifier.status("reconciling\n12 guests")
            #expect(try await receiver.next().text == "STATUS=reconciling 12 guests")
            try notifier.stopping(status: "draining 2 tasks")
            #expect(try await receiver.next().text == "STOPPING=1\nSTATUS=draining 2 tasks")
            try notifier.watchdog()
            #expect(try await receiver.next().text == "WATCHDOG=1")
            try notifier.send([("EXTEND_TIMEOUT_USEC", "5000000"), ("STATUS", "migrating")])
            #expect(try await receiver.next().text == "EXTEND_TIMEOUT_USEC=5000000\nSTATUS=migrating")
        }
    }

    @Test func reloadingCarriesTheMonotonicClock() async throws {
        try await withReceiver { receiver, path in
            let notifier = SystemdNotifier(socketPath: path)
            let before = monotonicMicroseconds()
            try notifier.reloading(status: "reloading configuration")
            let after = monotonicMicroseconds()
            let lines = try await receiver.next().text.split(separator: "\n").map(String.init)
            #expect(lines.count == 3)
            #expect(lines.first == "RELOADING=1")
            #expect(lines.last == "STATUS=reloading configuration")
            let stamp = try #require(lines.dropFirst().first?.split(separator: "=", maxSplits: 1))
            #expect(stamp.first == "MONOTONIC_USEC")
            let value = try #require(UInt64(stamp.last ?? ""))
            #expect(value >= before && value <= after)
        }
    }

    @Test func abstractSocket() async throws {
        let name = "@nodeagent-test-\(UUID().uuidString)"
        let receiver = try DatagramReceiver(address: name)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": name]))
        try notifier.ready(status: "abstract")
        #expect(try await receiver.next().text == "READY=1\nSTATUS=abstract")
    }

    @Test func unsetOrEmptyNotifySocketGivesNoNotifier() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "1000000"]) == nil)
    }

    @Test func sendFailureNamesTheSocketAndTheReason() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/notify"
        let error = try #require(throws: SystemdSocketError.self) {
            try SystemdNotifier(socketPath: missing).ready()
        }
        #expect(error.code == ENOENT)
        #expect(error.description.contains(missing))
        #expect(error.description.contains("No such file or directory"))

        let vsock = try #require(throws: SystemdSocketError.self) {
            try SystemdNotifier(socketPath: "vsock:2:1234").watchdog()
        }
        #expect(vsock.description.contains("vsock:2:1234"))
        #expect(vsock.description.contains("not an absolute path"))
    }

    @Test func watchdogIntervalIsHalfTheTimeout() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"]) == .seconds(15))
        #expect(
            SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"])
                == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "3"]) == .microseconds(1))
    }

    @Test func watchdogIntervalAbsentOrMeantForAnotherProcess() {
        #expect(SystemdNotifier.watchdogInterval(environment: [:]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "0"]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "soon"]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "-5"]) == nil)
        #expect(
            SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid() + 1)"])
                == nil)
        #expect(
            SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"]) == nil)
    }

    @Test func watchdogServiceFromTheEnvironment() throws {
        let logger = Logger(label: "test")
        let probe: @Sendable () async throws -> Void = {}
        let made = WatchdogService(
            environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "20000000"], logger: logger, probe: probe)
        let service = try #require(made)
        #expect(service.interval == .seconds(10))
        #expect(service.notifier.socketPath == "/run/x")
        let noWatchdog = WatchdogService(environment: ["NOTIFY_SOCKET": "/run/x"], logger: logger, probe: probe)
        #expect(noWatchdog == nil)
        let noSocket = WatchdogService(environment: ["WATCHDOG_USEC": "20000000"], logger: logger, probe: probe)
        #expect(noSocket == nil)
    }
}

@Suite("Watchdog service")
struct WatchdogServiceTests {
    @Test func pingsOnlyWhileTheProbePasses() async throws {
        try await withReceiver { receiver, path in
            let probe = ScriptedProbe()
            let log = CapturedLog()
            let service = WatchdogService(
                notifier: SystemdNotifier(socketPath: path), interval: .milliseconds(50),
                logger: log.logger, probe: probe.run)
            let running = Task { try await service.run() }
            defer { running.cancel() }

            // Passing: pings arrive, and each is exactly WATCHDOG=1.
            var pings: [Datagram] = []
            try await waitUntil("three pings", timeout: .seconds(30), poll: .milliseconds(10)) {
                pings += receiver.drain()
                return pings.count >= 3
            }
            #expect(pings.allSatisfy { $0.text == "WATCHDOG=1" })

            // Failing: once a probe has run with the failure in place (every earlier period's ping
            // was sent before it started), three more periods pass without a single ping.
            probe.failing.withLock { $0 = true }
            let flipped = probe.calls
            try await waitUntil("a failing probe", timeout: .seconds(30), poll: .milliseconds(5)) {
                probe.calls > flipped
            }
            _ = receiver.drain()
            let failedFrom = probe.calls
            var duringFailure: [Datagram] = []
            try await waitUntil("three more failing periods", timeout: .seconds(30), poll: .milliseconds(5)) {
                duringFailure += receiver.drain()  // keeps the queue short whatever happens
                return probe.calls >= failedFrom + 3
            }
            duringFailure += receiver.drain()
            #expect(duringFailure.isEmpty)
            let warning = try #require(log.entries.first { $0.level == .warning })
            #expect(warning.message.contains("liveness probe failed"))
            #expect(warning.metadata["error"] == "ProbeFailure(reason: \"libvirt does not answer\")")

            // Passing again: pings resume.
            probe.failing.withLock { $0 = false }
            try await waitUntil("pings again", timeout: .seconds(30), poll: .milliseconds(10)) {
                receiver.drain().contains { $0.text == "WATCHDOG=1" }
            }
        }
    }

    @Test func aProbeThatTakesLongerThanTheIntervalSkipsThePing() async throws {
        try await withReceiver { receiver, path in
            let log = CapturedLog()
            let started = Mutex(0)
            let service = WatchdogService(
                notifier: SystemdNotifier(socketPath: path), interval: .milliseconds(30), logger: log.logger
            ) {
                started.withLock { $0 += 1 }
                try await Task.sleep(for: .seconds(3600))
            }
            let running = Task { try await service.run() }
            defer { running.cancel() }
            try await waitUntil("two timed-out periods", timeout: .seconds(30), poll: .milliseconds(5)) {
                log.entries.filter { $0.message.contains("did not finish in time") }.count >= 2
            }
            // The timed-out probe was cancelled, so every period started a new one.
            #expect(started.withLock { $0 } >= 2)
            #expect(receiver.drain().isEmpty)
        }
    }

    @Test func aHungProbeIsNotStartedAgainUntilItReturns() async throws {
        try await withReceiver { receiver, path in
            let log = CapturedLog()
            let gate = Gate()
            let calls = Mutex(0)
            let service = WatchdogService(
                notifier: SystemdNotifier(socketPath: path), interval: .milliseconds(30), logger: log.logger
            ) {
                let call = calls.withLock {
                    $0 += 1; return $0
                }
                if call == 1 { await gate.wait() }  // ignores cancellation
            }
            let running = Task { try await service.run() }
            defer { running.cancel() }
            try await waitUntil("periods with the probe still running", timeout: .seconds(30), poll: .milliseconds(5)) {
                log.entries.filter { $0.message.contains("still running") }.count >= 2
            }
            #expect(calls.withLock { $0 } == 1)
            #expect(receiver.drain().isEmpty)
            gate.open()
            try await waitUntil("a ping after the probe returned", timeout: .seconds(30), poll: .milliseconds(10)) {
                receiver.drain().contains { $0.text == "WATCHDOG=1" }
            }
            #expect(calls.withLock { $0 } >= 2)
        }
    }

    @Test func endsNormallyOnGracefulShutdown() async throws {
        try await withReceiver { receiver, path in
            let service = WatchdogService(
                notifier: SystemdNotifier(socketPath: path), interval: .milliseconds(20), logger: Logger(label: "test"),
                probe: {})
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                    logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            try await waitUntil("a ping", timeout: .seconds(30), poll: .milliseconds(10)) {
                !receiver.drain().isEmpty
            }
            await group.triggerGracefulShutdown()
            try await running.value  // returns without error
        }
    }

    @Test func endsNormallyOnCancellation() async throws {
        try await withReceiver { receiver, path in
            let service = WatchdogService(
                notifier: SystemdNotifier(socketPath: path), interval: .seconds(3600), logger: Logger(label: "test"),
                probe: {})
            let running = Task { try await service.run() }
            _ = try await receiver.next()
            running.cancel()
            try await running.value
        }
    }
}

// MARK: - Helpers shared with JournalLogHandlerTests

/// One datagram received, with any descriptors passed along (SCM_RIGHTS).
struct Datagram: Sendable {
    var bytes: [UInt8]
    var descriptors: [Int32]
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// An AF_UNIX datagram socket bound to a path (or an abstract '@name') that tests read from.
/// Receiving never blocks; `next()` polls with `eventually`.
final class DatagramReceiver: Sendable {
    let address: String
    let descriptor: Int32

    init(address: String) throws {
        self.address = address
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ReceiverError(what: "socket", code: errno) }
        var size: Int32 = 4 << 20
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var bytes = Array(address.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 } else { bytes.append(0) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            let code = errno
            close(descriptor)
            throw ReceiverError(what: "bind \(address)", code: code)
        }
    }

    deinit { close(descriptor) }

    /// One pending datagram, or nil when none is queued.
    func receive() -> Datagram? {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var control = [UInt8](repeating: 0, count: 256)
        let (count, controlLength): (Int, Int) = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlBytes in
                var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &iov) { iovPointer in
                    var message = msghdr()
                    message.msg_iov = iovPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let n = recvmsg(descriptor, &message, Int32(MSG_DONTWAIT) | Int32(MSG_CMSG_CLOEXEC))
                    return (n, n >= 0 ? Int(message.msg_controllen) : 0)
                }
            }
        }
        guard count >= 0 else { return nil }
        return Datagram(bytes: Array(buffer[..<count]), descriptors: Self.descriptors(in: control, length: controlLength))
    }

    /// The descriptors of SCM_RIGHTS control messages (one control message is enough here).
    private static func descriptors(in control: [UInt8], length: Int) -> [Int32] {
        let header = MemoryLayout<cmsghdr>.size
        guard length >= header else { return [] }
        return control.withUnsafeBytes { raw in
            let cmsg = raw.load(as: cmsghdr.self)
            guard cmsg.cmsg_level == SOL_SOCKET, cmsg.cmsg_type == Int32(SCM_RIGHTS) else { return [] }
            let count = (Int(cmsg.cmsg_len) - header) / MemoryLayout<Int32>.size
            return (0..<count).map { raw.load(fromByteOffset: header + $0 * 4, as: Int32.self) }
        }
    }

    /// Every pending datagram.
    func drain() -> [Datagram] {
        var all: [Datagram] = []
        while let datagram = receive() { all.append(datagram) }
        return all
    }

    /// Waits for the next datagram.
    func next(timeout: Duration = .seconds(30)) async throws -> Datagram {
        try await eventually("a datagram on \(address)", timeout: timeout, poll: .milliseconds(5)) { receive() }
    }
}

struct ReceiverError: Error, CustomStringConvertible {
    var what: String
    var code: Int32
    var description: String { "\(what): \(String(cString: strerror(code)))" }
}

/// Runs `body` with a receiver bound in a fresh temporary directory and its socket path.
func withReceiver(_ body: (DatagramReceiver, String) async throws -> Void) async throws {
    try await withTemporaryDirectory("notify") { directory in
        let path = directory.file("notify.sock")
        let receiver = try DatagramReceiver(address: path)
        try await body(receiver, path)
    }
}

func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}

/// A log handler that keeps every entry, for assertions.
final class CapturedLog: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let storage = Mutex<[Entry]>([])
    var entries: [Entry] { storage.withLock { $0 } }

    var logger: Logger {
        Logger(label: "captured") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let entry = Entry(
                level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" })
            log.storage.withLock { $0.append(entry) }
        }
    }
}

struct ProbeFailure: Error {
    var reason: String
}

/// A liveness probe the test switches between passing and failing; counts its calls.
final class ScriptedProbe: Sendable {
    let failing = Mutex(false)
    private let count = Mutex(0)
    var calls: Int { count.withLock { $0 } }

    @Sendable func run() async throws {
        count.withLock { $0 += 1 }
        if failing.withLock({ $0 }) { throw ProbeFailure(reason: "libvirt does not answer") }
    }
}

/// Something to wait on that ignores cancellation, opened by the test.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }
}
