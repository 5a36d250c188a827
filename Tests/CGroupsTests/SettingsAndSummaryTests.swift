@testable import CGroups
import Foundation
import Testing

@Suite("Operator settings and summaries")
struct SettingsAndSummaryTests {
    @Test func settingsBecomeValidatedWritesInTheKernelsOrder() throws {
        let resources = try CGroupResources(settings: [
            ("memory.max", "512M"), ("cpu.max", "50000 100000"), ("pids.max", "100"), ("memory.high", "max"),
            ("io.max", "8:16 wbps=10M riops=1000"), ("cpu.weight", "200"), ("hugetlb.2MB.max", "4M"),
        ])
        let writes = try resources.writes()
        let files = writes.map(\.file)
        #expect(files.firstIndex(of: "pids.max")! < files.firstIndex(of: "memory.max")!)
        #expect(files.firstIndex(of: "memory.high")! < files.firstIndex(of: "memory.max")!)
        let values = Dictionary(writes.map { ($0.file, $0.value) }, uniquingKeysWith: { $1 })
        #expect(values["memory.max"] == "536870912")
        #expect(values["memory.high"] == "max")
        #expect(values["cpu.max"] == "50000 100000")
        #expect(values["cpu.weight"] == "200")
        #expect(values["pids.max"] == "100")
        #expect(values["io.max"]?.hasPrefix("8:16 ") == true)
        #expect(values["io.max"]?.contains("wbps=10485760") == true)
        #expect(values["io.max"]?.contains("riops=1000") == true)
        #expect(values["hugetlb.2MB.max"] == "4194304")
        #expect(resources.requiredControllers.contains("hugetlb"))
    }

    @Test(arguments: [
        ("cpu.weight", "0", CGroupError.Kind.invalidValue),
        ("cpu.weight", "lots", .invalidValue),
        ("memory.max", "-1", .invalidValue),
        ("memory.max", "1GB", .invalidValue),
        ("io.max", "8:16 wbps", .invalidValue),
        ("io.max", "8:16 bogus=1", .invalidValue),
        ("memory.oom.group", "maybe", .invalidValue),
        ("cgroup.procs", "1", .invalidValue),
        ("hugetlb.3MB.max", "4M", .invalidValue),
    ])
    func badSettingsAreRefusedNamingTheFile(file: String, value: String, kind: CGroupError.Kind) {
        do {
            _ = try CGroupResources(settings: [(file, value)]).writes()
            Issue.record("accepted \(file)=\(value)")
        } catch {
            #expect(error.kind == kind)
            #expect(error.file == file)
        }
    }

    @Test func aSummaryReadsWhatIsThereAndLeavesTheRestNil() throws {
        let fake = try FakeCGroupFS(controllers: ["cpu", "memory", "pids"])
        defer { fake.remove() }
        try fake.set("", "cgroup.subtree_control", "memory pids\n")
        try fake.mkdirLikeKernel("vm1")
        try fake.set("vm1", "memory.current", "1048576\n")
        try fake.set("vm1", "memory.max", "max\n")
        try fake.set("vm1", "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
        try fake.set("vm1", "cgroup.events", "populated 1\nfrozen 0\n")
        let summary = try fake.tree().group("vm1").summary()
        #expect(summary.memoryCurrent == 1_048_576)
        #expect(summary.memoryMax == nil)
        #expect(summary.cpuUsageMicroseconds == 1_500_000)
        #expect(summary.cpuThrottledPeriods == nil)
        #expect(summary.pidsCurrent == 0)
        #expect(summary.cpuPressure == 0)
        #expect(summary.populated == true)
        #expect(summary.frozen == false)
    }

    @Test func aV1HierarchyOrTheHybridTmpfsIsNeverOpenedForWriting() throws {
        for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/memory"] {
            guard let tree = try? CGroupTree(root: root), !tree.isCgroup2 else { continue }
            #expect(throws: CGroupError.self) { try CGroupTree.open(root: root) }
        }
        if let detected = try? CGroupTree.detect() { #expect(detected.isCgroup2) }
    }
}
