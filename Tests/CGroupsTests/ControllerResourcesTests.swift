import CGroups
import Testing

@Suite("CGroupResources: every controller together")
struct ControllerResourcesTests {
    @Test("controllers apply in runc's order: pids, memory, io, cpu, cpuset, hugetlb")
    func order() throws {
        let resources = CGroupResources(
            cpu: .init(max: try CPUMax(quota: .value(50000))), cpuset: .init(cpus: [0]),
            memory: .init(max: .value(.mebibytes(512)), oomGroup: true),
            io: .init(weight: try IOWeight(50)), pids: .init(max: .value(64)),
            hugetlb: .init(limits: [.twoMiB: .value(0)]))
        #expect(
            try resources.writes().map(\.file) == [
                "pids.max", "memory.oom.group", "memory.max", "io.weight", "cpu.max", "cpuset.cpus", "hugetlb.2MB.max",
            ])
        #expect(resources.requiredControllers == ["pids", "memory", "io", "cpu", "cpuset", "hugetlb"])
    }

    @Test("empty or absent controllers write nothing and need nothing")
    func empty() throws {
        let resources = CGroupResources(cpu: .init(), memory: .init(max: .max))
        #expect(try resources.writes().map(\.file) == ["memory.max"])
        #expect(resources.requiredControllers == ["memory"])
        #expect(try CGroupResources().writes().isEmpty)
    }

    @Test("one refused controller refuses the whole set")
    func refusal() throws {
        let resources = CGroupResources(
            cpu: .init(max: try CPUMax(quota: .value(10000)), maxBurst: 20000), pids: .init(max: .value(10)))
        let error = #expect(throws: CGroupError.self) { try resources.writes() }
        #expect(error?.file == "cpu.max.burst")
    }
}
