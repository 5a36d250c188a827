import Foundation
import Testing

@testable import CGroups

/// What the core interface files read as and what the library writes to them, in a fake hierarchy.
@Suite final class TreeControlTests: Sendable {
    let fake: FakeCGroupFS
    /// The cgroup `g`, made like the kernel would.
    let group: CGroup

    init() throws {
        fake = try FakeCGroupFS()
        try fake.mkdirLikeKernel("g")
        group = try fake.tree().group("g")
    }

    deinit { fake.remove() }

    @Test func enableWritesEveryControllerWithAPlusInOneWrite() async throws {
        try group.enable(["cpu", "memory", "pids"])
        #expect(fake.contents("g", "cgroup.subtree_control") == "+cpu +memory +pids")
    }

    @Test func disableWritesEveryControllerWithAMinus() async throws {
        try group.disable(["io", "cpu"])
        #expect(fake.contents("g", "cgroup.subtree_control") == "-io -cpu")
    }

    @Test(arguments: [["+cpu"], ["cpu memory"], [""], ["cpu", "-io"], ["Memory"], ["cpu\n"]])
    func malformedControllerNamesAreRefusedBeforeWriting(names: [String]) async throws {
        try fake.set("g", "cgroup.subtree_control", "untouched")
        let error = #expect(throws: CGroupError.self) { try group.enable(names) }
        #expect(error?.kind == .invalidValue)
        #expect(error?.file == "cgroup.subtree_control")
        #expect(throws: CGroupError.self) { try group.disable(names) }
        #expect(fake.contents("g", "cgroup.subtree_control") == "untouched")
    }

    @Test func anEmptyListWritesNothing() async throws {
        try fake.set("g", "cgroup.subtree_control", "untouched")
        try group.enable([])
        try group.disable([])
        #expect(fake.contents("g", "cgroup.subtree_control") == "untouched")
    }

    @Test func controllersAndSubtreeControlAreTheFilesWords() async throws {
        try fake.set("g", "cgroup.controllers", "cpuset cpu io memory pids\n")
        try fake.set("g", "cgroup.subtree_control", "cpu memory\n")
        #expect(try group.controllers == ["cpuset", "cpu", "io", "memory", "pids"])
        #expect(try group.subtreeControl == ["cpu", "memory"])
        try fake.set("g", "cgroup.subtree_control", "\n")
        #expect(try group.subtreeControl.isEmpty)
        #expect(try group.tree.root.controllers == fake.controllers)
    }

    @Test func typeIsReadAndOnlyThreadedIsWritten() async throws {
        #expect(try group.type == .domain)
        #expect(try group.tree.root.type == .domain)
        for type in CGroupType.allCases {
            try fake.set("g", "cgroup.type", type.rawValue + "\n")
            #expect(try group.type == type)
        }
        try fake.set("g", "cgroup.type", "bogus\n")
        let unparsable = #expect(throws: CGroupError.self) { try group.type }
        #expect(unparsable?.kind == .unparsable)

        try fake.set("g", "cgroup.type", "domain\n")
        for type in [CGroupType.domain, .domainThreaded, .domainInvalid] {
            let error = #expect(throws: CGroupError.self) { try group.setType(type) }
            #expect(error?.kind == .invalidValue)
        }
        #expect(fake.contents("g", "cgroup.type") == "domain\n")
        try group.setType(.threaded)
        #expect(fake.contents("g", "cgroup.type") == "threaded")
    }

    @Test func procsAndThreadsAreListsOfIDsAndMovesWriteOneID() async throws {
        #expect(try group.procs.isEmpty)
        try fake.set("g", "cgroup.procs", "12\n7\n")
        try fake.set("g", "cgroup.threads", "12\n13\n7\n")
        #expect(try group.procs == [12, 7])
        #expect(try group.threads == [12, 13, 7])
        try group.move(pid: 4242)
        #expect(fake.contents("g", "cgroup.procs") == "4242")
        try group.moveThread(tid: 4343)
        #expect(fake.contents("g", "cgroup.threads") == "4343")
        let error = #expect(throws: CGroupError.self) { try group.move(pid: -1) }
        #expect(error?.kind == .invalidValue)
        try fake.set("g", "cgroup.procs", "12\nnot-a-pid\n")
        #expect(throws: CGroupError.self) { try group.procs }
    }

    @Test func freezeWritesOneAndReturnsOnceEventsSayFrozen() async throws {
        try fake.set("g", "cgroup.events", "populated 1\nfrozen 1\n")
        try await group.freeze(timeout: .seconds(1))
        #expect(fake.contents("g", "cgroup.freeze") == "1")
    }

    @Test func freezeWaitsForTheKernelThenTimesOut() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: CGroupError.self) { try await group.freeze(timeout: .milliseconds(150)) }
        #expect(clock.now - start >= .milliseconds(150))
        #expect(error?.kind == .timedOut)
        #expect(error?.file == "cgroup.events")
        #expect(fake.contents("g", "cgroup.freeze") == "1")
    }

    @Test func freezeReturnsWhenTheKernelReportsFrozenDuringTheWait() async throws {
        async let freezing: Void = group.freeze(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(50))
        try fake.set("g", "cgroup.events", "populated 1\nfrozen 1\n")
        try await freezing
    }

    @Test func thawWritesZeroAndWaitsForFrozenZero() async throws {
        try fake.set("g", "cgroup.freeze", "1\n")
        try await group.thaw(timeout: .seconds(1))
        #expect(fake.contents("g", "cgroup.freeze") == "0")
    }

    @Test func theRootCannotBeFrozenOrKilledAndTheErrorSaysWhy() async throws {
        let root = group.tree.root
        let freezeError = await #expect(throws: CGroupError.self) { try await root.freeze(timeout: .milliseconds(10)) }
        #expect(freezeError?.errno == ENOENT)
        #expect(freezeError?.message.contains("root cgroup") == true)
        let killError = #expect(throws: CGroupError.self) { try root.kill() }
        #expect(killError?.errno == ENOENT)
        #expect(fake.contents("", "cgroup.kill") == nil)
    }

    @Test func killWritesOne() async throws {
        try group.kill()
        #expect(fake.contents("g", "cgroup.kill") == "1")
    }

    @Test func aMissingKillFileIsExplainedAsAnOldKernel() async throws {
        try FileManager.default.removeItem(atPath: fake.full("g") + "/cgroup.kill")
        let error = #expect(throws: CGroupError.self) { try group.kill() }
        #expect(error?.message.contains("5.14") == true)
    }

    @Test func eventsAndStatAreParsedAndParseErrorsNameTheGroup() async throws {
        #expect(try group.events == CGroupEvents(populated: false, frozen: false))
        try fake.set("g", "cgroup.events", "populated 1\nfrozen 1\n")
        #expect(try group.events == CGroupEvents(populated: true, frozen: true))
        try fake.set("g", "cgroup.events", "frozen 1\n")
        let eventsError = #expect(throws: CGroupError.self) { try group.events }
        #expect(eventsError?.path == "g" && eventsError?.file == "cgroup.events")

        try fake.set("g", "cgroup.stat", "nr_descendants 3\nnr_subsys_hugetlb 1\nnr_dying_descendants 2\n")
        let stat = try group.stat
        #expect(stat.descendants == 3 && stat.dyingDescendants == 2)
        #expect(stat.extra["nr_subsys_hugetlb"] == 1)
        try fake.set("g", "cgroup.stat", "nr_descendants three\n")
        let error = #expect(throws: CGroupError.self) { try group.stat }
        #expect(error?.kind == .unparsable && error?.file == "cgroup.stat" && error?.path == "g")
    }

    @Test func depthAndDescendantLimitsUseNilForMax() async throws {
        #expect(try group.maxDepth == nil)
        #expect(try group.maxDescendants == nil)
        try group.setMaxDepth(2)
        try group.setMaxDescendants(100)
        #expect(fake.contents("g", "cgroup.max.depth") == "2")
        #expect(try group.maxDepth == 2)
        #expect(try group.maxDescendants == 100)
        try group.setMaxDepth(nil)
        #expect(fake.contents("g", "cgroup.max.depth") == "max")
        let error = #expect(throws: CGroupError.self) { try group.setMaxDescendants(-1) }
        #expect(error?.kind == .invalidValue && error?.value == "-1")
        #expect(fake.contents("g", "cgroup.max.descendants") == "100")
    }

    @Test func errorsNameTheGroupTheFileAndTheValue() async throws {
        let error = #expect(throws: CGroupError.self) { try group.child("ghost").write("cgroup.freeze", "1") }
        #expect(error?.path == "g/ghost" && error?.file == "cgroup.freeze" && error?.value == "1")
        #expect(error?.message == "no such cgroup")
        #expect(error?.description == "g/ghost/cgroup.freeze: writing \"1\": no such cgroup")
    }
}
