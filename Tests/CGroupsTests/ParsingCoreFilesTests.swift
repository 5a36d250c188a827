import CGroups
import Testing

@Suite("cgroup.* core files from real kernels")
struct ParsingCoreFilesTests {
    @Test("cgroup.events: a frozen populated group, an empty one")
    func events() throws {
        let job = try CGroupEvents(parsing: try KernelFixture.guest("work/job/cgroup.events"))
        #expect(job == CGroupEvents(populated: true, frozen: true))
        let empty = try CGroupEvents(parsing: try KernelFixture.guest("empty/cgroup.events"))
        #expect(empty == CGroupEvents(populated: false, frozen: false))
    }

    @Test("cgroup.events: unknown keys kept, missing populated or non-flag values refused")
    func eventsMalformed() throws {
        #expect(try CGroupEvents(parsing: "populated 1\nfrozen 0\nnew 3\n").extra == ["new": 3])
        #expect(try CGroupEvents(parsing: "populated 0\n").frozen == nil)
        let missing = #expect(throws: CGroupError.self) { try CGroupEvents(parsing: "frozen 0\n") }
        #expect(missing?.file == "cgroup.events")
        #expect(missing?.message.contains("populated") == true)
        #expect(throws: CGroupError.self) { try CGroupEvents(parsing: "populated 2\n") }
    }

    @Test("cgroup.stat of the guest tree and the host, whose newer nr_subsys_* keys are kept")
    func stat() throws {
        let guestRoot = try CGroupStat(parsing: try KernelFixture.guest("cgroup.stat"))
        #expect(guestRoot == CGroupStat(descendants: 10, dyingDescendants: 0))
        #expect(try CGroupStat(parsing: try KernelFixture.guest("work/cgroup.stat")).descendants == 1)
        let host = try CGroupStat(parsing: try KernelFixture.host("cgroup.stat"))
        #expect(host.descendants == 0)
        #expect(
            host.extra == [
                "nr_subsys_perf_event": 1, "nr_subsys_hugetlb": 1, "nr_dying_subsys_perf_event": 0,
                "nr_dying_subsys_hugetlb": 0,
            ])
        #expect(throws: CGroupError.self) { try CGroupStat(parsing: "nr_descendants 1\n") }
    }

    @Test("cgroup.controllers and cgroup.subtree_control")
    func controllers() throws {
        let all = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]
        #expect(try CGroupText.words(try KernelFixture.guest("cgroup.controllers"), file: "cgroup.controllers") == all)
        #expect(
            try CGroupText.words(try KernelFixture.guest("work/cgroup.subtree_control"), file: "cgroup.subtree_control") == all)
        #expect(
            try CGroupText.words(try KernelFixture.guest("work/job/cgroup.subtree_control"), file: "cgroup.subtree_control") == []
        )
        #expect(try CGroupText.words(try KernelFixture.host("cgroup.controllers"), file: "cgroup.controllers") == ["hugetlb"])
    }

    @Test("cgroup.procs and cgroup.threads")
    func procs() throws {
        #expect(try CGroupText.pids(try KernelFixture.guest("work/job/cgroup.procs"), file: "cgroup.procs") == [332, 333])
        let rootThreads = try CGroupText.pids(try KernelFixture.guest("cgroup.threads"), file: "cgroup.threads")
        #expect(rootThreads.first == 1)
        #expect(rootThreads.count > 50)
        #expect(try CGroupText.pids(try KernelFixture.guest("work/cgroup.procs"), file: "cgroup.procs") == [])
    }

    @Test("single-value core files: freeze, max.depth, type")
    func singleValues() throws {
        #expect(try CGroupText.flag(try KernelFixture.guest("work/job/cgroup.freeze"), file: "cgroup.freeze"))
        #expect(
            try CGroupText.value(
                try KernelFixture.guest("cgroup.max.depth"), file: "cgroup.max.depth", as: CGroupLimit<UInt64>.self)
                == .max)
        #expect(try CGroupText.singleLine(try KernelFixture.guest("thr/t2/cgroup.type"), file: "cgroup.type") == "domain invalid")
    }
}
