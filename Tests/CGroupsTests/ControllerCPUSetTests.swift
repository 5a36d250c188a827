import CGroups
import Testing

@Suite("cpuset controller")
struct ControllerCPUSetTests {
    private func lines(_ resources: CPUSetController.Resources) throws -> [String] {
        try resources.writes().map { "\($0.file)=\($0.value)" }
    }

    @Test("cpus and mems before a partition is formed")
    func formPartition() throws {
        let resources = CPUSetController.Resources(
            cpus: try CPUSetList(parsing: "2-3"), mems: [0], cpusExclusive: [2, 3], partition: .root)
        #expect(
            try lines(resources) == [
                "cpuset.cpus=2-3", "cpuset.cpus.exclusive=2-3", "cpuset.mems=0", "cpuset.cpus.partition=root",
            ])
    }

    @Test("dissolving a partition comes before the CPU changes")
    func dissolvePartition() throws {
        let resources = CPUSetController.Resources(cpus: try CPUSetList(parsing: "0-7"), partition: .member)
        #expect(try lines(resources) == ["cpuset.cpus.partition=member", "cpuset.cpus=0-7"])
    }

    @Test("an empty list is written as an empty value (inherit the parent's)")
    func emptyList() throws {
        #expect(try lines(.init(cpus: CPUSetList())) == ["cpuset.cpus="])
    }

    @Test("exclusive CPUs outside cpus, and a partition with no CPUs, are refused")
    func refusals() throws {
        let outside = CPUSetController.Resources(cpus: [0, 1], cpusExclusive: [2])
        let error = #expect(throws: CGroupError.self) { try outside.writes() }
        #expect(error?.file == "cpuset.cpus.exclusive")
        #expect(error?.message.contains("cpusExclusive") == true)
        let noCPUs = CPUSetController.Resources(cpus: CPUSetList(), partition: .isolated)
        let partitionError = #expect(throws: CGroupError.self) { try noCPUs.writes() }
        #expect(partitionError?.file == "cpuset.cpus.partition")
        #expect(partitionError?.message.contains("partition") == true)
    }

    @Test("the guest's cpuset files read back")
    func readBack() throws {
        #expect(
            try CGroupText.value(
                try KernelFixture.guest("cpuset.cpus.effective"), file: "cpuset.cpus.effective", as: CPUSetList.self
            ).fileText == "0-1")
        #expect(
            try CGroupText.value(try KernelFixture.guest("part/cpuset.mems"), file: "cpuset.mems", as: CPUSetList.self).isEmpty)
        let member = try CGroupText.value(
            try KernelFixture.guest("work/job/cpuset.cpus.partition"), file: "cpuset.cpus.partition",
            as: CPUSetPartitionState.self)
        #expect(member == CPUSetPartitionState(partition: .member))
        let invalid = try CGroupText.value(
            try KernelFixture.guest("p2/cpuset.cpus.partition"), file: "cpuset.cpus.partition", as: CPUSetPartitionState.self)
        #expect(
            invalid == CPUSetPartitionState(partition: .root, isValid: false, reason: "Cpu list in cpuset.cpus not exclusive"))
    }
}
