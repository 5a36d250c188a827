import CGroups
import Foundation
import TestSupport
import Testing

/// The real cgroup v2 hierarchy of this host, when there is one we may write to.
enum UnifiedHierarchy {
    static let root = "/sys/fs/cgroup/unified"
    static let available: Bool = {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return mounts.split(separator: "\n").contains { $0.contains(" \(root) ") && $0.contains(" - cgroup2 ") }
            && access(root, W_OK) == 0
    }()
}

@Suite(
    "Watching cgroup files on the real hierarchy", .serialized,
    .enabled(if: UnifiedHierarchy.available, "needs a writable cgroup2 mount at /sys/fs/cgroup/unified"))
struct WatchTests {
    /// A fresh group of our own under the unified root, removed afterwards.
    func withGroup(_ body: (String) async throws -> Void) async throws {
        let path = UnifiedHierarchy.root + "/nodeagent-watch-\(UUID().uuidString.prefix(8))"
        #expect(mkdir(path, 0o755) == 0)
        try await withCleanup {
            try await body(path)
        } cleanup: {
            // Kill whatever is left, then remove the group.
            if let procs = try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8) {
                for pid in procs.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
            }
            for _ in 0..<100 where rmdir(path) != 0 { usleep(20_000) }
        }
    }

    @Test func cgroupEventsReportPopulatedChanges() async throws {
        try await withGroup { path in
            let changes = InterfaceFileWatcher.changes(of: [path + "/cgroup.events"])
            var iterator = changes.makeAsyncIterator()
            let sleeper = try spawn("/bin/sleep", ["60"])
            defer { kill(sleeper, SIGKILL); reap(sleeper) }
            try "\(sleeper)".write(toFile: path + "/cgroup.procs", atomically: false, encoding: .utf8)
            let first = try await iterator.next()
            #expect(first?.path == path + "/cgroup.events")
            #expect(try String(contentsOfFile: path + "/cgroup.events", encoding: .utf8).contains("populated 1"))
            kill(sleeper, SIGKILL)
            reap(sleeper)
            _ = try await iterator.next()
            try await waitUntil("populated 0", timeout: .seconds(10)) {
                try String(contentsOfFile: path + "/cgroup.events", encoding: .utf8).contains("populated 0")
            }
        }
    }

    @Test func aConsumerThatStopsLeavesNoWatchBehind() async throws {
        try await withGroup { path in
            func inotifyDescriptors() -> Int {
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
                return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == "anon_inode:inotify" }.count
            }
            let before = inotifyDescriptors()
            let consumer = Task {
                for try await _ in InterfaceFileWatcher.changes(of: [path + "/cgroup.events"]) {}
            }
            try await waitUntil("the watch to be set up", timeout: .seconds(10)) { inotifyDescriptors() == before + 1 }
            consumer.cancel()
            _ = try? await consumer.value
            try await waitUntil("the inotify descriptor to be closed", timeout: .seconds(10)) { inotifyDescriptors() == before }
        }
    }

    @Test func aMissingFileEndsTheStreamWithTheErrno() async throws {
        try await withGroup { path in
            do {
                for try await _ in InterfaceFileWatcher.changes(of: [path + "/memory.events"]) {}
                Issue.record("watching a missing file succeeded")
            } catch let error as CGroupError {
                #expect(error.errno == ENOENT)
                #expect(error.file == "memory.events")
            }
        }
    }

    @Test func pressureTriggersAreValidatedAndRegistered() async throws {
        let oneSecond = PressureTrigger(stall: .milliseconds(100), window: .seconds(1))
        do {
            try oneSecond.validate(file: "cpu.pressure", path: "g")
            Issue.record("accepted a 1 s window without CAP_SYS_RESOURCE")
        } catch {
            #expect(error.kind == .invalidValue)
            #expect(error.message.contains("multiple of 2 s"))
        }
        #expect(PressureTrigger(.full, stall: .milliseconds(150), window: .seconds(2)).text == "full 150000 2000000")
        try await withGroup { path in
            // The kernel accepts the trigger (the stream stays open until we stop it).
            let consumer = Task {
                var count = 0
                for try await _ in InterfaceFileWatcher.pressureEvents(
                    at: path + "/cpu.pressure", trigger: PressureTrigger(stall: .milliseconds(100), window: .seconds(2))) { count += 1 }
                return count
            }
            try await Task.sleep(for: .milliseconds(300))
            consumer.cancel()
            _ = try await consumer.value
        }
    }
}
