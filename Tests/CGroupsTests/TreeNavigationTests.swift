import Foundation
import Testing

@testable import CGroups

/// Finding, listing, walking, creating and removing cgroups in a fake hierarchy.
@Suite final class TreeNavigationTests: Sendable {
    let fake: FakeCGroupFS
    let tree: CGroupTree

    init() throws {
        fake = try FakeCGroupFS()
        tree = try fake.tree()
    }

    deinit { fake.remove() }

    /// Makes `groups` in the fake, like the kernel would.
    private func make(_ groups: String...) throws {
        for group in groups { try fake.mkdirLikeKernel(group) }
    }

    @Test func childrenAreSortedAndWalkVisitsParentsBeforeChildren() async throws {
        try make("b", "b/z", "a", "a/y", "a/x", "a/x/deep")
        #expect(try tree.root.children().map(\.path) == ["a", "b"])
        #expect(try tree.root.walk().map(\.path) == ["a", "a/x", "a/x/deep", "a/y", "b", "b/z"])
        #expect(try tree.group("a").walk().map(\.path) == ["a/x", "a/x/deep", "a/y"])
        #expect(try tree.group("b/z").walk().isEmpty)
    }

    @Test func parentNameAndDescriptionFollowThePath() throws {
        let deep = try tree.group("machine.slice/vm1/vcpu0")
        #expect(deep.name == "vcpu0")
        #expect(deep.parent?.path == "machine.slice/vm1")
        #expect(deep.parent?.parent?.parent == tree.root)
        #expect(tree.root.parent == nil)
        #expect(tree.root.isRoot && tree.root.description == "/" && tree.root.name.isEmpty)
        #expect(try tree.root.child("machine.slice").child("vm1") == deep.parent)
        #expect(!tree.isCgroup2)
    }

    @Test func findAnswersNilForAMissingGroupAndTheGroupWhenItExists() async throws {
        try make("a", "a/b")
        #expect(try tree.find("a/b")?.path == "a/b")
        #expect(try tree.find("a/missing") == nil)
        #expect(try tree.find("") == tree.root)
        #expect(try tree.group("a").find("b")?.path == "a/b")
        #expect(try tree.group("a").find("nope") == nil)
        #expect(try tree.group("a").exists)
        #expect(try !tree.group("zzz").exists)
    }

    @Test func filesListsInterfaceFilesButNotChildGroups() async throws {
        try make("a", "a/child")
        let files = try tree.group("a").files()
        #expect(files.contains("cgroup.procs") && files.contains("cgroup.events"))
        #expect(!files.contains("child"))
        #expect(files == files.sorted())
        let rootFiles = try tree.root.files()
        #expect(!rootFiles.contains("cgroup.type") && !rootFiles.contains("cgroup.kill"))
    }

    @Test func createMakesAChildWithTheFilesOfTheControllersItsParentEnables() async throws {
        try tree.root.enable(["cpu", "memory"])
        let vm = try tree.root.create("vm")
        #expect(fake.isDirectory("vm"))
        #expect(try vm.files().contains("memory.max"))
        #expect(try vm.files().contains("cpu.weight"))
        #expect(try !vm.files().contains("io.weight"))
        #expect(try vm.controllers == ["cpu", "memory"])
        #expect(try vm.read("memory.max") == "max\n")
    }

    @Test func createWithoutAPopulatorMakesAnEmptyDirectory() throws {
        let bare = try fake.treeWithoutPopulator().root.create("bare")
        #expect(bare.path == "bare" && fake.isDirectory("bare"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: fake.full("bare")).isEmpty)
    }

    @Test func createRefusesAnExistingGroup() async throws {
        try make("a")
        let error = #expect(throws: CGroupError.self) { try tree.root.create("a") }
        #expect(error?.errno == EEXIST)
        #expect(error?.path == "a")
    }

    @Test(arguments: ["a/b", "", ".", "..", "x\0y"])
    func createRefusesNamesThatAreNotOneComponent(name: String) async throws {
        let error = #expect(throws: CGroupError.self) { try tree.root.create(name) }
        #expect(error?.kind == .outsideRoot)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fake.root).allSatisfy { !fake.isDirectory($0) })
    }

    @Test func createRefusesANewlineInTheNameLikeTheKernel() async throws {
        let error = #expect(throws: CGroupError.self) { try tree.root.create("bad\nname") }
        #expect(error?.kind == .invalidValue)
    }

    @Test func removeDeletesAnIdleGroup() async throws {
        try make("a", "a/b")
        try await tree.group("a/b").remove()
        #expect(!fake.isDirectory("a/b"))
        #expect(try tree.group("a").children().isEmpty)
    }

    @Test func removeOfTheRootIsRefused() async throws {
        await #expect(throws: CGroupError.self) { try await tree.root.remove() }
    }

    @Test func removeOfAMissingGroupSaysSo() async throws {
        let error = await #expect(throws: CGroupError.self) { try await tree.group("ghost").remove(timeout: .seconds(1)) }
        #expect(error?.errno == ENOENT)
        #expect(error?.kind == .system)
    }

    @Test func removeRetriesWhileTheGroupIsBusyAndSucceedsWhenItEmpties() async throws {
        try make("busy")
        try fake.set("busy", "cgroup.procs", "4242\n")
        let clock = ContinuousClock()
        let start = clock.now
        async let removal: Void = tree.group("busy").remove(timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(150))
        #expect(fake.isDirectory("busy"))
        try fake.set("busy", "cgroup.procs", "")
        try await removal
        #expect(clock.now - start >= .milliseconds(150))
        #expect(!fake.isDirectory("busy"))
    }

    @Test func removeGivesUpAfterItsTimeoutNamingWhatIsStillThere() async throws {
        try make("busy", "parent", "parent/kid")
        try fake.set("busy", "cgroup.procs", "4242\n4343\n")
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: CGroupError.self) { try await tree.group("busy").remove(timeout: .milliseconds(200)) }
        #expect(clock.now - start >= .milliseconds(200))
        #expect(clock.now - start < .seconds(10), "bounded by the timeout (plenty of slack for a loaded machine)")
        #expect(error?.kind == .timedOut)
        #expect(error?.errno == EBUSY)
        #expect(error?.message.contains("processes 4242, 4343") == true)
        #expect(fake.isDirectory("busy"))

        let parentError = await #expect(throws: CGroupError.self) {
            try await tree.group("parent").remove(timeout: .milliseconds(50))
        }
        #expect(parentError?.message.contains("child cgroups kid") == true)
    }

    @Test func walkOfAMissingGroupIsAnErrorAndOfALeafIsEmpty() async throws {
        try make("a")
        let error = #expect(throws: CGroupError.self) { try tree.group("gone").walk() }
        #expect(error?.errno == ENOENT)
        #expect(try tree.group("a").walk().isEmpty)
    }
}
