import CGroups
import Foundation
import Synchronization
import TestSupport
import Testing

/// The host's real cgroup2 hierarchy, for tests that need the kernel itself.
///
/// Safety: tests only ever create, write and remove their own groups named
/// `nodeagent-test-<random>` directly under /sys/fs/cgroup/unified (never a v1 hierarchy, never
/// `process_api`, never a file of the root), and only signal processes they started, by PID.
enum HostHierarchy {
    static let root = "/sys/fs/cgroup/unified"

    /// Why the real hierarchy cannot be used here, or nil when it can.
    static let unavailable: String? = {
        guard let tree = try? CGroupTree(root: root) else { return "\(root) does not exist" }
        guard tree.isCgroup2 else { return "\(root) is not a cgroup2 mount" }
        let probe = root + "/" + uniqueName()
        guard mkdir(probe, 0o755) == 0 else {
            return "cannot create a cgroup under \(root): \(String(cString: strerror(errno)))"
        }
        rmdir(probe)
        return nil
    }()

    /// True when the tests must run (and fail with the reason) even without the hierarchy.
    static let required = ProcessInfo.processInfo.environment["NODEAGENT_REQUIRE_INTEGRATION"] == "1"

    /// Whether the host tests run.
    static var enabled: Bool { unavailable == nil || required }

    /// The reason shown when they are skipped.
    static var skipReason: Comment { Comment(rawValue: "host cgroup2 tests skipped: \(unavailable ?? "")") }

    static func uniqueName() -> String { "nodeagent-test-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) }

    /// Runs `body` with a new group of the test's own and removes it afterwards, also when
    /// `body` throws: the processes the test started are killed by PID and reaped, then every
    /// group below it and the group itself are removed, deepest first.
    static func withScratchGroup(_ body: (CGroup, ChildProcesses) async throws -> Void) async throws {
        if let unavailable { throw HostUnavailable(reason: unavailable) }
        let tree = try CGroupTree(root: root)
        let group = try tree.root.create(uniqueName())
        let children = ChildProcesses()
        do {
            try await body(group, children)
        } catch {
            await cleanUp(group, children)
            throw error
        }
        await cleanUp(group, children)
    }

    private static func cleanUp(_ group: CGroup, _ children: ChildProcesses) async {
        await children.killAll()
        let base = group.absolutePath
        precondition(group.name.hasPrefix("nodeagent-test-") && !base.contains("process_api"))
        // Deepest first; only directories (cgroups) below our own group, removed with rmdir.
        let below = ((try? FileManager.default.subpathsOfDirectory(atPath: base)) ?? [])
            .map { base + "/" + $0 }.filter { isDirectory($0) }
            .sorted { $0.split(separator: "/").count > $1.split(separator: "/").count }
        for directory in below + [base] where isDirectory(directory) {
            var removed = false
            for _ in 0..<100 {
                if rmdir(directory) == 0 || errno == ENOENT {
                    removed = true
                    break
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            if !removed { Issue.record("could not remove \(directory): \(String(cString: strerror(errno)))") }
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}

struct HostUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { "the host's cgroup2 hierarchy is unavailable: \(reason)" }
}

/// The processes a test started; `killAll` kills and reaps them by PID.
final class ChildProcesses: Sendable {
    private let started = Mutex<[ChildProcess]>([])

    /// Starts `executable` and remembers it for clean-up.
    func spawn(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess.spawn(executable, arguments)
        started.withLock { $0.append(child) }
        return child
    }

    func killAll() async {
        for child in started.withLock({ $0 }) {
            child.signal(SIGKILL)
            if await child.waitForExit(timeout: .seconds(10)) == nil {
                Issue.record("process \(child.pid) did not exit after SIGKILL")
            }
        }
    }
}

/// A child process started with posix_spawn (Foundation's Process was seen to hang here): stdio
/// on /dev/null, no other inherited descriptor, an empty signal mask and default signal
/// handlers (the test runner's threads block and ignore some).
final class ChildProcess: Sendable {
    let pid: pid_t
    /// The wait status once reaped (a PID is reaped only once).
    private let reaped = Mutex<Int32?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// Starts a child through TestSupport's spawner (posix_spawn, clean mask and handlers,
    /// stdio on /dev/null, nothing else inherited).
    static func spawn(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
        ChildProcess(pid: try TestSupport.spawn(executable, arguments))
    }

    /// Sends `signal` to this process (by its PID only).
    func signal(_ signal: Int32) { _ = kill(pid, signal) }

    /// Reaps the process once it has exited, polling up to `timeout`; its wait status, or nil
    /// if it is still running.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = reapIfExited() { return status }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return reapIfExited()
    }

    private func reapIfExited() -> Int32? {
        reaped.withLock { reaped in
            if let reaped { return reaped }
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
            if result == pid { reaped = status }
            return reaped
        }
    }

    /// A line of /proc/PID/status, e.g. "SigBlk".
    func status(_ key: String) throws -> String? {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        return text.split(separator: "\n").first { $0.hasPrefix(key + ":") }
            .map { $0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
    }
}


/// Checks of the helpers above, so a host test cannot pass because of them.
@Suite struct HostSupportTests {
    @Test func aSpawnedChildHasAnEmptySignalMaskDefaultHandlersAndOnlyStdio() async throws {
        let children = ChildProcesses()
        let child = try children.spawn("/bin/sleep", ["60"])
        defer { child.signal(SIGKILL) }
        var sigBlk: String?
        for _ in 0..<200 {  // until exec has replaced the forked copy
            if try String(contentsOfFile: "/proc/\(child.pid)/comm", encoding: .utf8) == "sleep\n" {
                sigBlk = try child.status("SigBlk")
                break
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(sigBlk == "0000000000000000")
        // Signals 1-31 must have their default action; 32 and 33 are glibc's own (NPTL), which
        // no spawn attribute can reset and the test runner ignores.
        let ignored = try #require(try child.status("SigIgn").flatMap { UInt64($0, radix: 16) })
        #expect(ignored & 0x7fff_ffff == 0)
        // The dynamic loader opens shared libraries as fd 3 for a moment after exec: a leaked
        // descriptor is one that stays.
        var descriptors: [String] = []
        for _ in 0..<500 {
            descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/fd").sorted()
            if descriptors == ["0", "1", "2"] { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(descriptors == ["0", "1", "2"])
        await children.killAll()
        #expect(kill(child.pid, 0) == -1 && errno == ESRCH)
    }

    @Test(.enabled(if: HostHierarchy.enabled, HostHierarchy.skipReason))
    func theScratchGroupIsRemovedWithItsChildrenAndProcessesWhenTheTestFails() async throws {
        struct Planned: Error {}
        var path = ""
        await #expect(throws: Planned.self) {
            try await HostHierarchy.withScratchGroup { group, children in
                path = group.absolutePath
                let inner = try group.create("inner").create("deeper")
                try inner.move(pid: try children.spawn("/bin/sleep", ["60"]).pid)
                throw Planned()
            }
        }
        #expect(!path.isEmpty && !FileManager.default.fileExists(atPath: path))
    }
}
