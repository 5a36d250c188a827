import Foundation
import Testing

@testable import CGroups

/// Nothing outside the root can be named, opened, written or created, with openat2 and with the
/// component-by-component fallback.
@Suite final class TreeConfinementTests: Sendable {
    static let resolutions: [CGroupFS.Resolution] = [.openat2, .componentWalk]

    /// A fake hierarchy with group `a`.
    let fake: FakeCGroupFS
    /// A directory outside the fake holding `secret` (and `cgroup.procs`, so a link to it looks
    /// like a cgroup).
    let outside: String

    init() throws {
        fake = try FakeCGroupFS()
        outside = fake.root + "-outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: false)
        try "original\n".write(toFile: outside + "/secret", atomically: false, encoding: .utf8)
        try "1\n".write(toFile: outside + "/cgroup.procs", atomically: false, encoding: .utf8)
        try fake.mkdirLikeKernel("a")
    }

    deinit {
        fake.remove()
        try? FileManager.default.removeItem(atPath: outside)
    }

    @Test(arguments: ["..", "a/..", "a/../a", "/etc", "/", "a//b", "a/", "./a", "a/.", "a\0b"])
    func groupPathsThatCouldLeaveTheRootAreRefusedBeforeAnySystemCall(path: String) throws {
        let tree = try fake.tree(resolution: .openat2)
        let error = #expect(throws: CGroupError.self) { try tree.group(path) }
        #expect(error?.kind == .outsideRoot)
        #expect(error?.errno == nil)
        let findError = #expect(throws: CGroupError.self) { try tree.find(path) }
        #expect(findError?.kind == .outsideRoot)
    }

    @Test(arguments: ["../secret", "a/cgroup.procs", "/etc/passwd", "", "..", ".", "x\0y"])
    func fileNamesThatAreNotOneComponentAreRefused(file: String) throws {
        let tree = try fake.tree(resolution: .openat2)
        let group = try tree.group("a")
        #expect(throws: CGroupError.self) { try group.read(file) }
        let error = #expect(throws: CGroupError.self) { try group.write(file, "1") }
        #expect(error?.kind == .outsideRoot)
        #expect(fake.contents("a", "cgroup.procs") == "")
    }

    @Test(arguments: resolutions)
    func aSymbolicLinkToADirectoryOutsideTheRootIsRefused(resolution: CGroupFS.Resolution) throws {
        let tree = try fake.tree(resolution: resolution)
        try FileManager.default.createSymbolicLink(atPath: fake.full("escape"), withDestinationPath: outside)
        let escape = try tree.group("escape")
        let readError = #expect(throws: CGroupError.self) { try escape.read("secret") }
        #expect(readError?.kind == .outsideRoot)
        let writeError = #expect(throws: CGroupError.self) { try escape.write("secret", "changed") }
        #expect(writeError?.kind == .outsideRoot)
        #expect(throws: CGroupError.self) { try escape.procs }
        #expect(throws: CGroupError.self) { try escape.exists }
        #expect(throws: CGroupError.self) { try escape.create("new") }
        #expect(try String(contentsOfFile: outside + "/secret", encoding: .utf8) == "original\n")
        #expect(!FileManager.default.fileExists(atPath: outside + "/new"))
        #expect(try !tree.root.children().map(\.name).contains("escape"))
    }

    @Test(arguments: resolutions)
    func aSymbolicLinkToAFileOutsideTheRootIsRefused(resolution: CGroupFS.Resolution) throws {
        let tree = try fake.tree(resolution: resolution)
        try FileManager.default.createSymbolicLink(
            atPath: fake.full("a") + "/memory.max", withDestinationPath: outside + "/secret")
        let group = try tree.group("a")
        let error = #expect(throws: CGroupError.self) { try group.write("memory.max", "changed") }
        #expect(error?.kind == .outsideRoot)
        #expect(throws: CGroupError.self) { try group.read("memory.max") }
        #expect(try String(contentsOfFile: outside + "/secret", encoding: .utf8) == "original\n")
        #expect(try !group.files().contains("memory.max"))
    }

    /// openat2 follows a link that stays beneath the root; the fallback follows none.
    @Test(arguments: resolutions)
    func aSymbolicLinkThatStaysInsideTheRoot(resolution: CGroupFS.Resolution) throws {
        let tree = try fake.tree(resolution: resolution)
        try FileManager.default.createSymbolicLink(atPath: fake.full("alias"), withDestinationPath: "a")
        let alias = try tree.group("alias")
        switch resolution {
        case .openat2: #expect(try alias.read("cgroup.type") == "domain\n")
        case .componentWalk: #expect(throws: CGroupError.self) { try alias.read("cgroup.type") }
        }
    }

    @Test(arguments: resolutions)
    func writingAFileThatDoesNotExistFailsWithENOENTAndCreatesNothing(resolution: CGroupFS.Resolution) throws {
        let tree = try fake.tree(resolution: resolution)
        let group = try tree.group("a")
        let error = #expect(throws: CGroupError.self) { try group.write("memory.max", "1G") }
        #expect(error?.kind == .system)
        #expect(error?.errno == ENOENT)
        #expect(error?.file == "memory.max" && error?.value == "1G" && error?.path == "a")
        #expect(fake.contents("a", "memory.max") == nil)
        #expect(throws: CGroupError.self) { try tree.root.write("cgroup.freeze", "1") }
        #expect(fake.contents("", "cgroup.freeze") == nil)
    }

    @Test(arguments: resolutions)
    func readingAndWritingWorkThroughBothResolutions(resolution: CGroupFS.Resolution) throws {
        let tree = try fake.tree(resolution: resolution)
        try fake.mkdirLikeKernel("a/b")
        let group = try tree.group("a/b")
        try group.write("cgroup.max.depth", "3")
        #expect(fake.contents("a/b", "cgroup.max.depth") == "3")
        #expect(try group.read("cgroup.max.depth") == "3")
        #expect(try tree.root.read("cgroup.procs") == "1\n")
        #expect(try tree.root.children().map(\.name) == ["a"])
    }

    @Test func readIfPresentIsNilForAMissingFileButThrowsForAMissingGroup() throws {
        let tree = try fake.tree(resolution: .openat2)
        #expect(try tree.group("a").readIfPresent("memory.max") == nil)
        #expect(try tree.group("a").readIfPresent("cgroup.type") == "domain\n")
        let error = #expect(throws: CGroupError.self) { try tree.group("ghost").readIfPresent("cgroup.type") }
        #expect(error?.errno == ENOENT)
        #expect(error?.message == "no such cgroup")
    }

    @Test func aLargeFileIsReadWhole() throws {
        let tree = try fake.tree(resolution: .openat2)
        let pids = (1...20_000).map(String.init).joined(separator: "\n") + "\n"
        try fake.set("a", "cgroup.procs", pids)
        #expect(try tree.group("a").read("cgroup.procs") == pids)
        #expect(try tree.group("a").procs.count == 20_000)
    }

    @Test func thisKernelHasOpenat2() throws {
        let fake = try FakeCGroupFS()
        defer { fake.remove() }
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let version = release.split(separator: ".").prefix(2).compactMap { Int($0) }
        try #require(version.count == 2)
        let expected: CGroupFS.Resolution = (version[0], version[1]) >= (5, 6) ? .openat2 : .componentWalk
        #expect(try CGroupFS(root: fake.root).resolution == expected)
    }
}
