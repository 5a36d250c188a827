import CGroups
import Foundation
import TestSupport
import Testing

@Suite(
    "Watching cgroup files on the real hierarchy", .serialized,
    .enabled(if: HostHierarchy.enabled, HostHierarchy.skipReason))
struct WatchTests {
    /// A scratch group of our own (HostHierarchy), by its absolute path.
    func withGroup(_ body: (String, ChildProcesses) async throws -> Void) async throws {
        try await HostHierarchy.withScratchGroup { group, children in
            try await body(group.absolutePath, children)
        }
    }

    @Test func cgroupEventsReportPopulatedChanges() async throws {
        try await withGroup { path, children in
            let changes = InterfaceFileWatcher.changes(of: [path + "/cgroup.events"])
            var iterator = changes.makeAsyncIterator()
            let sleeper = try children.spawn("/bin/sleep", ["60"])
            try "\(sleeper.pid)".write(toFile: path + "/cgroup.procs", atomically: false, encoding: .utf8)
            let first = try await iterator.next()
            #expect(first?.path == path + "/cgroup.events")
            #expect(try String(contentsOfFile: path + "/cgroup.events", encoding: .utf8).contains("populated 1"))
            sleeper.signal(SIGKILL)
            _ = await sleeper.waitForExit(timeout: .seconds(10))
            _ = try await iterator.next()
            try await waitUntil("populated 0", timeout: .seconds(10)) {
                try String(contentsOfFile: path + "/cgroup.events", encoding: .utf8).contains("populated 0")
            }
        }
    }

    /// How many inotify watches of this process are on the file at `path` (by inode, from
    /// /proc/self/fdinfo: descriptor numbers are reused, inodes of our own group's files are not).
    func watches(on path: String) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        let inode = "ino:" + String(info.st_ino, radix: 16)
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.reduce(0) { count, fd in
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) == "anon_inode:inotify",
                let text = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8)
            else { return count }
            return count + text.split(separator: "\n").filter { $0.hasPrefix("inotify wd:") && $0.split(separator: " ").contains(Substring(inode)) }.count
        }
    }

    @Test func aConsumerThatStopsLeavesNoWatchBehind() async throws {
        try await withGroup { path, _ in
            let events = path + "/cgroup.events"
            // A consumer whose task is cancelled.
            let consumer = Task {
                for try await _ in InterfaceFileWatcher.changes(of: [events]) {}
            }
            try await waitUntil("the watch to be set up", timeout: .seconds(30)) { watches(on: events) == 1 }
            consumer.cancel()
            _ = try? await consumer.value
            try await waitUntil("the cancelled watch to be closed", timeout: .seconds(30)) { watches(on: events) == 0 }

            // A consumer that just lets go of the stream and its iterator, without cancelling.
            do {
                let stream = InterfaceFileWatcher.changes(of: [events])
                let iterator = stream.makeAsyncIterator()
                #expect(watches(on: events) == 1)
                _ = iterator
            }
            try await waitUntil("the dropped watch to be closed", timeout: .seconds(30)) { watches(on: events) == 0 }
        }
    }

    @Test func aMissingFileEndsTheStreamWithTheErrno() async throws {
        try await withGroup { path, _ in
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
        try await withGroup { path, _ in
            let file = path + "/cpu.pressure"
            /// Descriptors of this process open on `file` (the trigger lives as long as one is).
            func openOnFile() -> Int {
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
                return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == file }.count
            }
            do {
                // The kernel accepts the trigger: the stream holds its descriptor and has not failed.
                let events = InterfaceFileWatcher.pressureEvents(at: file, trigger: PressureTrigger(stall: .milliseconds(100), window: .seconds(2)))
                #expect(openOnFile() == 1)
                _ = events.makeAsyncIterator()
            }
            // Letting go of the stream closes the trigger.
            try await waitUntil("the trigger's descriptor to be closed", timeout: .seconds(30)) { openOnFile() == 0 }
        }
    }
}
