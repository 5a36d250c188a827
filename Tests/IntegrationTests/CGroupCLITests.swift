import Foundation
import TestSupport
import Testing

/// `nodeagent cgroup` on the host's real unified hierarchy (hybrid host: only what v2 offers
/// here — groups, procs, freeze, kill, PSI; limits are tested inside a guest).
@Suite(
    "nodeagent cgroup on the host", .serialized,
    .enabled(
        if: access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0,
        "needs the writable cgroup2 hierarchy at /sys/fs/cgroup/unified"))
struct CGroupCLITests {
    func cli(_ arguments: [String]) throws -> CommandResult {
        try execute(CLITests.binary, ["cgroup"] + arguments + ["--root", "/sys/fs/cgroup/unified"])
    }

    @Test func anOperatorCreatesFreezesKillsAndRemovesAGroup() async throws {
        let name = "nodeagent-cli-\(UUID().uuidString.prefix(6))"
        let sleeper = try spawn("/bin/sleep", ["120"])
        try await withCleanup {
            #expect(try cli(["create", name]).status == 0)
            #expect(try cli(["move", "\(sleeper)", name]).status == 0)
            let shown = try #require(try JSONSerialization.jsonObject(with: Data(cli(["show", name, "--json"]).stdout.utf8)) as? [String: String])
            #expect(shown["cgroup.procs"] == "\(sleeper)")
            #expect(shown["cgroup.events"]?.contains("populated 1") == true)

            #expect(try cli(["freeze", name]).status == 0)
            let tree = try #require(try JSONSerialization.jsonObject(with: Data(cli(["tree", name, "--json"]).stdout.utf8)) as? [[String: Any]])
            #expect(tree.first?["frozen"] as? Bool == true)
            #expect(tree.first?["processes"] as? Int == 1)
            #expect(try cli(["thaw", name]).status == 0)

            // The host offers no memory controller: the kernel's refusal is explained.
            let refused = try cli(["set", name, "memory.max=64M"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("not enabled"))
            let invalid = try cli(["set", name, "memory.max=64MB"])
            #expect(invalid.status == 65)

            #expect(try cli(["kill", name]).status == 0)
            #expect(WIFSIGNALED(reap(sleeper)))
            #expect(try cli(["remove", name]).status == 0)
            #expect(try cli(["show", name]).status == 2)
        } cleanup: {
            kill(sleeper, SIGKILL)
            _ = try? cli(["remove", name, "--kill"])
        }
    }

    @Test func pathsOutsideTheRootAndV1HierarchiesAreRefused() throws {
        #expect(try cli(["show", "../../etc"]).status == 65)
        let v1 = try execute(CLITests.binary, ["cgroup", "tree", "--root", "/sys/fs/cgroup/memory"])
        #expect(v1.status == 69)
        #expect(v1.stderr.contains("not a cgroup2 mount"))
    }
}

private func WIFSIGNALED(_ status: Int32) -> Bool { status & 0x7f != 0 && status & 0x7f != 0x7f }
