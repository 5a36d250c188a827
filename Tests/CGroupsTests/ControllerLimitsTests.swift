import CGroups
import Testing

@Suite("pids, hugetlb, misc and rdma controllers")
struct ControllerLimitsTests {
    @Test("pids.max: a count, max, and refusal above PID_MAX_LIMIT")
    func pids() throws {
        #expect(try PIDsController.Resources(max: .value(100)).writes().map(\.value) == ["100"])
        #expect(try PIDsController.Resources(max: .max).writes().map(\.file) == ["pids.max"])
        #expect(try PIDsController.Resources(max: .value(0)).writes().map(\.value) == ["0"])
        #expect(try PIDsController.Resources(max: .value(4_194_304)).writes().count == 1)
        let error = #expect(throws: CGroupError.self) { try PIDsController.Resources(max: .value(4_194_305)).writes() }
        #expect(error?.file == "pids.max")
        #expect(error?.value == "4194305")
        #expect(error?.message.contains("max") == true)
        #expect(try PIDsController.Resources().writes().isEmpty)
    }

    @Test("pids files of a group that hit its limit (guest 6.1)")
    func pidsStats() throws {
        #expect(try PIDsEvents(parsing: try KernelFixture.guest("forks/pids.events")).max == 1)
        #expect(try PIDsEvents(parsing: try KernelFixture.guest("work/job/pids.events")).max == 0)
        #expect(
            try CGroupText.value(try KernelFixture.guest("forks/pids.max"), file: "pids.max", as: CGroupLimit<UInt64>.self)
                == .value(3))
        #expect(try CGroupText.value(try KernelFixture.guest("work/job/pids.peak"), file: "pids.peak", as: UInt64.self) == 3)
        #expect(try PIDsEvents(parsing: "max 2\nmax.imposed 5\n").extra == ["max.imposed": 5])
        #expect(throws: CGroupError.self) { try PIDsEvents(parsing: "\n") }
    }

    @Test("hugetlb limits by ascending size, max before rsvd.max")
    func hugetlbWrites() throws {
        let resources = HugeTLBController.Resources(
            limits: [.oneGiB: .value(.gibibytes(2)), .twoMiB: .value(.mebibytes(4))],
            reservationLimits: [.twoMiB: .max])
        #expect(
            try resources.writes().map { "\($0.file)=\($0.value)" } == [
                "hugetlb.2MB.max=4194304", "hugetlb.2MB.rsvd.max=max", "hugetlb.1GB.max=2147483648",
            ])
    }

    @Test("a hugetlb limit that is not a whole number of pages is refused, naming the size")
    func hugetlbRounding() {
        let resources = HugeTLBController.Resources(limits: [.twoMiB: .value(.mebibytes(3))])
        let error = #expect(throws: CGroupError.self) { try resources.writes() }
        #expect(error?.file == "hugetlb.2MB.max")
        #expect(error?.value == "3145728")
        #expect(error?.message.contains("limits[2MB]") == true)
        #expect(error?.message.contains("2097152") == true)
    }

    @Test("hugetlb files of the guest group")
    func hugetlbStat() throws {
        let stat = try HugeTLBStat(
            size: .twoMiB, current: try KernelFixture.guest("work/job/hugetlb.2MB.current"),
            max: try KernelFixture.guest("work/job/hugetlb.2MB.max"),
            events: try KernelFixture.guest("work/job/hugetlb.2MB.events"))
        #expect(stat.current == 0)
        #expect(stat.max == .value(.mebibytes(4)))
        #expect(stat.maxEvents == 0)
        #expect(HugeTLBController.statFiles(pageSizes: [.twoMiB]).contains("hugetlb.2MB.rsvd.max"))
        #expect(HugeTLBController.statFiles.first == "hugetlb.2MB.current")
    }

    @Test("misc and rdma files are empty without such resources (guest 6.1)")
    func emptyReadOnly() throws {
        #expect(
            try MiscController.usage(
                capacity: try KernelFixture.guest("misc.capacity"), current: try KernelFixture.guest("work/job/misc.current"),
                max: try KernelFixture.guest("work/job/misc.max"), events: try KernelFixture.guest("work/job/misc.events")
            ).isEmpty)
        #expect(try RDMADeviceResources.parse(try KernelFixture.guest("work/job/rdma.current"), file: "rdma.current").isEmpty)
        #expect(try RDMADeviceResources.parse(try KernelFixture.guest("work/job/rdma.max"), file: "rdma.max").isEmpty)
    }

    /// No host or guest here has SEV or RDMA devices, so these texts follow the formats of
    /// Documentation/admin-guide/cgroup-v2.rst and the kernel's misc/rdma show functions.
    @Test("misc and rdma texts in the kernel's documented formats")
    func documentedFormats() throws {
        let misc = try MiscController.usage(
            capacity: "sev 50\nsev_es 10\n", current: "sev 3\nsev_es 0\n", max: "sev max\nsev_es 4\n",
            events: "sev.max 0\nsev_es.max 2\n")
        #expect(misc.map(\.name) == ["sev", "sev_es"])
        #expect(misc[1].capacity == 10 && misc[1].current == 0 && misc[1].max == .value(4) && misc[1].maxEvents == 2)
        #expect(misc[0].max == .max)
        let rdma = try RDMADeviceResources.parse(
            "mlx4_0 hca_handle=2 hca_object=2000\nocrdma1 hca_handle=3 hca_object=max\n", file: "rdma.max")
        #expect(
            rdma == [
                RDMADeviceResources(device: "mlx4_0", hcaHandle: .value(2), hcaObject: .value(2000)),
                RDMADeviceResources(device: "ocrdma1", hcaHandle: .value(3), hcaObject: .max),
            ])
        #expect(throws: CGroupError.self) { try MiscController.usage(current: "sev x\n") }
        #expect(throws: CGroupError.self) { try RDMADeviceResources.parse("mlx4_0 hca_handle=lots\n", file: "rdma.max") }
    }
}
