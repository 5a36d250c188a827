import CGroups
import Testing

@Suite("CPU lists, devices, huge page sizes, partitions, percentages")
struct ValuesListTests {
    @Test(
        "cpuset lists parse, merge and render canonically",
        arguments: [
            ("0-3,8", "0-3,8", 5), ("8,0-3", "0-3,8", 5), ("0,1,2,3", "0-3", 4), ("0-1,1-4", "0-4", 5),
            ("5", "5", 1), ("", "", 0), ("0-3,8\n", "0-3,8", 5), ("2-2", "2", 1), ("0-3,4-7", "0-7", 8),
        ] as [(String, String, Int)])
    func cpuLists(text: String, canonical: String, count: Int) throws {
        let list = try CPUSetList(parsing: text)
        #expect(list.fileText == canonical)
        #expect(list.count == count)
    }

    @Test(
        "malformed cpuset lists are refused with the file and text",
        arguments: [
            "3-1", "a", "1,,2", "1-", "-1", "0-3 8", "1;2", "0x1", ",",
        ])
    func badCPULists(text: String) {
        let error = #expect(throws: CGroupError.self) { try CPUSetList(parsing: text, file: "cpuset.mems") }
        #expect(error?.kind == .invalidValue)
        #expect(error?.file == "cpuset.mems")
        #expect(error?.value == text)
    }

    @Test("set relations of cpuset lists")
    func cpuListRelations() throws {
        let all = try CPUSetList(parsing: "0-7")
        let some: CPUSetList = [2, 3, 5]
        #expect(some.fileText == "2-3,5")
        #expect(some.isSubset(of: all))
        #expect(!all.isSubset(of: some))
        #expect(some.overlaps(try CPUSetList(parsing: "5-6")))
        #expect(!some.overlaps(try CPUSetList(parsing: "6-7")))
        #expect(some.numbers == [2, 3, 5])
        #expect(CPUSetList(ranges: [4...6, 0...1, 2...3]).fileText == "0-6")
        #expect(some.contains(5) && !some.contains(4))
    }

    @Test("device numbers")
    func deviceNumbers() throws {
        #expect(try DeviceNumber(fileText: "254:16", file: "io.stat") == DeviceNumber(major: 254, minor: 16))
        #expect(DeviceNumber(major: 8, minor: 0).fileText == "8:0")
        for bad in ["8", "8:", ":0", "a:b", "8:0:1", "-1:0"] {
            #expect(throws: CGroupError.self) { try DeviceNumber(fileText: bad, file: "io.max") }
        }
    }

    @Test("huge page sizes use the kernel's names")
    func hugePageSizes() throws {
        #expect(HugePageSize.twoMiB.name == "2MB")
        #expect(HugePageSize.oneGiB.name == "1GB")
        #expect(try HugePageSize(bytes: 64 << 10).name == "64KB")
        #expect(try HugePageSize(bytes: 32 << 20).name == "32MB")
        #expect(try HugePageSize(name: "1GB") == .oneGiB)
        #expect(HugePageSize(fileName: "hugetlb.2MB.rsvd.max") == .twoMiB)
        #expect(HugePageSize(fileName: "memory.max") == nil)
        #expect(HugePageSize.twoMiB.file("events") == "hugetlb.2MB.events")
        #expect(throws: CGroupError.self) { try HugePageSize(bytes: 3 << 20) }
        #expect(throws: CGroupError.self) { try HugePageSize(name: "2MiB") }
    }

    @Test("partition states read back with validity and reason")
    func partitionStates() throws {
        let invalid = try CPUSetPartitionState(
            fileText: "root invalid (Cpu list in cpuset.cpus not exclusive)\n", file: "cpuset.cpus.partition")
        #expect(invalid.partition == .root)
        #expect(!invalid.isValid)
        #expect(invalid.reason == "Cpu list in cpuset.cpus not exclusive")
        #expect(invalid.fileText == "root invalid (Cpu list in cpuset.cpus not exclusive)")
        let old = try CPUSetPartitionState(fileText: "isolated invalid", file: "cpuset.cpus.partition")
        #expect(old.partition == .isolated && !old.isValid && old.reason == nil)
        #expect(try CPUSetPartitionState(fileText: "member", file: "cpuset.cpus.partition").isValid)
        #expect(throws: CGroupError.self) { try CPUSetPartitionState(fileText: "root bogus", file: "p") }
        #expect(throws: CGroupError.self) { try CPUSetPartitionState(fileText: "leader", file: "p") }
    }

    @Test("percentages keep two decimals and refuse values outside 0...100")
    func percentages() throws {
        #expect(try Percentage(12.34).fileText == "12.34")
        #expect(try Percentage(parsing: "50%").fileText == "50.00")
        #expect(try Percentage(parsing: "12.5").hundredths == 1250)
        #expect(try Percentage(parsing: "0.05").fileText == "0.05")
        #expect(try Percentage(fileText: "100.00\n", file: "cpu.uclamp.max").percent == 100)
        #expect(try Percentage(50).of(8 << 30) == 4 << 30)
        #expect(try CGroupLimit<Percentage>(fileText: "max", file: "cpu.uclamp.max") == .max)
        for bad in ["100.01", "-1", "12.345", "abc", "", "1e2"] {
            let error = #expect(throws: CGroupError.self) { try Percentage(parsing: bad, file: "cpu.uclamp.min") }
            #expect(error?.file == "cpu.uclamp.min")
        }
        #expect(throws: CGroupError.self) { try Percentage(100.5) }
        #expect(throws: CGroupError.self) { try Percentage(.infinity) }
    }
}
