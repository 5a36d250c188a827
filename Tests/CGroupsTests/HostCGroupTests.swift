import CGroups
import Foundation
import Testing

/// The library against the kernel: groups of the test's own under /sys/fs/cgroup/unified.
@Suite(.enabled(if: HostHierarchy.enabled, HostHierarchy.skipReason))
struct HostCGroupTests {
    @Test func aGroupWithProcessesIsInspectedFrozenThawedKilledAndRemoved() async throws {
        let beats = FileManager.default.temporaryDirectory.appendingPathComponent("beats-\(UUID().uuidString)").path
        defer { unlink(beats) }
        try await HostHierarchy.withScratchGroup { group, children in
            #expect(group.tree.isCgroup2)
            #expect(try group.exists)
            #expect(try group.type == .domain)
            #expect(try group.procs.isEmpty)
            #expect(try group.events == CGroupEvents(populated: false, frozen: false))

            let sleeper = try children.spawn("/bin/sleep", ["60"])
            // One process that appends to a file as fast as it can (echo is a shell builtin: no children).
            let beater = try children.spawn("/bin/sh", ["-c", "while :; do echo . >> \(beats); done"])
            try group.move(pid: sleeper.pid)
            try group.move(pid: beater.pid)
            #expect(try await grows(beats, beyond: 0, within: .seconds(60)), "the shell started writing")
            #expect(Set(try group.procs) == [sleeper.pid, beater.pid])
            #expect(Set(try group.threads).isSuperset(of: [sleeper.pid, beater.pid]))
            #expect(try group.events.populated)
            #expect(try group.read("cpu.stat").hasPrefix("usage_usec "))
            #expect(try group.read("cpu.pressure").hasPrefix("some avg10="))
            #expect(try group.readIfPresent("memory.max") == nil)  // no memory controller in this hierarchy

            try await group.freeze()
            #expect(try group.events.frozen == true)
            #expect(try group.read("cgroup.freeze") == "1\n")
            let frozenSize = fileSize(beats)
            try await Task.sleep(for: .milliseconds(300))
            #expect(frozenSize > 0)
            #expect(fileSize(beats) == frozenSize, "a frozen process wrote")

            try await group.thaw()
            #expect(try group.events.frozen == false)
            #expect(try await grows(beats, beyond: frozenSize, within: .seconds(60)))

            try group.kill()
            for child in [sleeper, beater] {
                let status = try #require(await child.waitForExit(timeout: .seconds(5)))
                #expect(status & 0x7f == SIGKILL, "process \(child.pid) was killed by SIGKILL")
            }
            #expect(try await becomesUnpopulated(group, within: .seconds(5)))
            #expect(try group.procs.isEmpty)

            try await group.remove()
            #expect(try !group.exists)
        }
    }

    @Test func aNewGroupHasEveryCoreFileTheFakeGivesIt() async throws {
        try await HostHierarchy.withScratchGroup { group, _ in
            let real = Set(try group.files())
            let fake = Set(FakeCGroupFS.coreFiles.keys)
            #expect(fake.subtracting(real).isEmpty, "the fake invents files the kernel does not have")
            let root = Set(try group.tree.root.files())
            #expect(FakeCGroupFS.rootFiles.subtracting(root).isEmpty, "the fake's root has files the kernel's lacks")
            #expect(!root.contains("cgroup.kill") && !root.contains("cgroup.freeze") && !root.contains("cgroup.type"))
        }
    }

    @Test func childrenAreWalkedAndCountedInCgroupStat() async throws {
        try await HostHierarchy.withScratchGroup { group, _ in
            let a = try group.create("a")
            try a.create("b")
            try group.create("c")
            #expect(try group.walk().map(\.name) == ["a", "b", "c"])
            #expect(try group.children().map(\.name) == ["a", "c"])
            #expect(try group.stat.descendants == 3)
            #expect(try group.tree.find(group.path + "/a/b")?.parent == a)
            try await a.child("b").remove()
            #expect(try a.children().isEmpty)
        }
    }

    @Test func aThreadedChildMakesItsParentAThreadedDomainAndTakesThreads() async throws {
        try await HostHierarchy.withScratchGroup { group, children in
            let domain = try group.create("domain")
            let threaded = try domain.create("threaded")
            #expect(throws: CGroupError.self) { try threaded.setType(.domain) }
            try threaded.setType(.threaded)
            #expect(try threaded.type == .threaded)
            #expect(try domain.type == .domainThreaded)

            let sleeper = try children.spawn("/bin/sleep", ["60"])
            try domain.move(pid: sleeper.pid)
            try threaded.moveThread(tid: sleeper.pid)
            #expect(try threaded.threads == [sleeper.pid])
            #expect(try domain.procs == [sleeper.pid])
        }
    }

    @Test func theKernelEnforcesDescendantAndDepthLimits() async throws {
        try await HostHierarchy.withScratchGroup { group, _ in
            #expect(try group.maxDescendants == nil && group.maxDepth == nil)
            try group.setMaxDescendants(1)
            #expect(try group.maxDescendants == 1)
            let one = try group.create("one")
            let error = #expect(throws: CGroupError.self) { try group.create("two") }
            #expect(error?.errno == EAGAIN)
            #expect(error?.message.contains("cgroup.max.descendants") == true)
            try group.setMaxDescendants(nil)
            #expect(try group.read("cgroup.max.descendants") == "max\n")
            try group.create("two")

            try group.setMaxDepth(1)
            #expect(throws: CGroupError.self) { try one.create("deeper") }
            try group.setMaxDepth(nil)
            try one.create("deeper")
        }
    }

    @Test func enablingAControllerThisGroupDoesNotHaveIsExplained() async throws {
        try await HostHierarchy.withScratchGroup { group, _ in
            let missing = #expect(throws: CGroupError.self) { try group.enable(["hugetlb"]) }
            #expect(missing?.errno == ENOENT)
            #expect(missing?.message.contains("available: none") == true)
            let unknown = #expect(throws: CGroupError.self) { try group.enable(["nosuchcontroller"]) }
            #expect(unknown?.errno == EINVAL)
            let subtreeControl = try group.subtreeControl
            #expect(subtreeControl.isEmpty)
        }
    }

    @Test func removingAGroupWithAProcessTimesOutAndNamesTheProcess() async throws {
        try await HostHierarchy.withScratchGroup { group, children in
            let busy = try group.create("busy")
            let sleeper = try children.spawn("/bin/sleep", ["60"])
            try busy.move(pid: sleeper.pid)
            let error = await #expect(throws: CGroupError.self) { try await busy.remove(timeout: .milliseconds(300)) }
            #expect(error?.kind == .timedOut)
            #expect(error?.message.contains("processes \(sleeper.pid)") == true)
            sleeper.signal(SIGKILL)
            _ = await sleeper.waitForExit(timeout: .seconds(5))
            try await busy.remove()
            #expect(try !busy.exists)
        }
    }

    @Test func pathsAreConfinedToTheHierarchy() throws {
        let tree = try CGroupTree(root: HostHierarchy.root)
        for path in ["..", "../cpu", "/sys/fs/cgroup/cpu", "a/../../memory"] {
            let error = #expect(throws: CGroupError.self) { try tree.group(path) }
            #expect(error?.kind == .outsideRoot)
        }
        #expect(try tree.root.controllers.contains("hugetlb"))
        #expect(try tree.find("nodeagent-test-does-not-exist") == nil)
    }

    // MARK: Helpers

    private func grows(_ path: String, beyond size: Int, within timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if fileSize(path) > size { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    private func becomesUnpopulated(_ group: CGroup, within timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try !group.events.populated { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    private func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }
}
