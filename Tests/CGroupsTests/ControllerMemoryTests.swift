import CGroups
import Testing

@Suite("memory controller: resources, memory.stat, events")
struct ControllerMemoryTests {
    private func lines(_ resources: MemoryController.Resources) throws -> [String] {
        try resources.writes().map { "\($0.file)=\($0.value)" }
    }

    @Test("every field in the documented order: oom.group, swap, zswap, protections, high, max")
    func fullOrder() throws {
        let resources = MemoryController.Resources(
            min: .value(.mebibytes(4)), low: .value(.mebibytes(8)), high: .value(.mebibytes(150)),
            max: .value(.mebibytes(200)), swapHigh: .max, swapMax: .value(.mebibytes(32)), zswapMax: .value(0),
            zswapWriteback: false, oomGroup: true)
        #expect(
            try lines(resources) == [
                "memory.oom.group=1", "memory.swap.max=33554432", "memory.swap.high=max", "memory.zswap.max=0",
                "memory.zswap.writeback=0", "memory.min=4194304", "memory.low=8388608", "memory.high=157286400",
                "memory.max=209715200",
            ])
    }

    @Test("single fields and max")
    func singleFields() throws {
        #expect(try lines(.init(max: .max)) == ["memory.max=max"])
        #expect(try lines(.init(oomGroup: false)) == ["memory.oom.group=0"])
        #expect(try lines(.init(low: .max)) == ["memory.low=max"])
        #expect(try lines(.init()) == [])
    }

    @Test("protections above the hard limit are refused, naming the field", arguments: ["min", "low"])
    func protectionAboveMax(field: String) throws {
        let big: CGroupLimit<ByteSize> = .value(.gibibytes(2))
        let resources =
            field == "min"
            ? MemoryController.Resources(min: big, max: .value(.gibibytes(1)))
            : MemoryController.Resources(low: big, max: .value(.gibibytes(1)))
        let error = #expect(throws: CGroupError.self) { try resources.writes() }
        #expect(error?.kind == .invalidValue)
        #expect(error?.file == "memory.\(field)")
        #expect(error?.value == "2147483648")
        #expect(error?.message.hasPrefix("\(field) ") == true)
        // Equal is fine; so is any protection under an unlimited max.
        #expect(try !lines(.init(min: .value(.gibibytes(1)), max: .value(.gibibytes(1)))).isEmpty)
        #expect(try !lines(.init(low: big, max: .max)).isEmpty)
    }

    @Test("memory.stat of a reclaimed, swapped group (guest 6.1): typed keys and the rest in extra")
    func stat() throws {
        let stat = try MemoryStat(parsing: try KernelFixture.guest("work/job/memory.stat"))
        #expect(stat.anon == 106_496)
        #expect(stat.file == 0)
        #expect(stat.kernel == 204_800)
        #expect(stat.kernelStack == 32768)
        #expect(stat.pageTables == 40960)
        #expect(stat.sock == 0)
        #expect(stat.shmem == 0)
        #expect(stat.swapCached == 4096)
        #expect(stat.inactiveAnon == 102_400)
        #expect(stat.activeAnon == 8192)
        #expect(stat.slabReclaimable == 50336)
        #expect(stat.slabUnreclaimable == 32848)
        #expect(stat.pageFaults == 10250)
        #expect(stat.majorPageFaults == 5)
        #expect(stat.pagesScanned == 88720)
        #expect(stat.pagesStolen == 8035)
        #expect(stat.zswap == nil)  // 6.1 Debian cloud kernel: no zswap
        #expect(stat.extra["slab"] == 83184)
        #expect(stat.extra["thp_fault_alloc"] == 79)
        #expect(stat.extra["sec_pagetables"] == 0)
        #expect(stat.extra["pgscan_direct"] == 88720)
        #expect(stat.extra.count == 20)  // 47 keys, 27 typed
    }

    @Test("memory.stat of the root (shmem from tmpfs)")
    func rootStat() throws {
        let stat = try MemoryStat(parsing: try KernelFixture.guest("memory.stat"))
        #expect(stat.shmem == 2_732_032)
        #expect(stat.fileMapped == 1_765_376)
        #expect(stat.percpu == 7008)
    }

    @Test("memory.events: an OOM kill, and memory.high breaches")
    func events() throws {
        let oom = try MemoryEvents(parsing: try KernelFixture.guest("oom/memory.events"))
        #expect(oom.max == 35)
        #expect(oom.oom == 1)
        #expect(oom.oomKill == 1)
        #expect(oom.oomGroupKill == 0)
        #expect(oom.extra == [:])
        let job = try MemoryEvents(parsing: try KernelFixture.guest("work/job/memory.events.local"), file: "memory.events.local")
        #expect(job.high == 1)
        #expect(job.low == 0)
    }

    @Test("memory.events with a missing key names the key; unknown keys are kept")
    func eventsMalformed() throws {
        let error = #expect(throws: CGroupError.self) { try MemoryEvents(parsing: "low 0\nhigh 0\nmax 0\noom 0\n") }
        #expect(error?.message.contains("oom_kill") == true)
        let newer = try MemoryEvents(parsing: "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\nsock_throttled 4\n")
        #expect(newer.extra == ["sock_throttled": 4])
    }

    @Test("memory.swap.events and the single-value memory files")
    func swapAndCurrent() throws {
        let swap = try MemorySwapEvents(parsing: try KernelFixture.guest("work/job/memory.swap.events"))
        #expect(swap.high == 0)
        #expect(swap.max == 34565)
        #expect(swap.fail == 34638)
        func value(_ file: String) throws -> CGroupLimit<ByteSize> {
            try CGroupText.value(try KernelFixture.guest("work/job/\(file)"), file: file)
        }
        #expect(try value("memory.current") == .value(319_488))
        #expect(try value("memory.peak") == .value(177_971_200))
        #expect(try value("memory.max") == .value(.mebibytes(200)))
        #expect(try value("memory.high") == .value(.mebibytes(150)))
        #expect(try value("memory.low") == .value(.mebibytes(8)))
        #expect(try value("memory.min") == .value(.mebibytes(4)))
        #expect(try value("memory.swap.max") == .value(.mebibytes(32)))
        #expect(try value("memory.swap.high") == .max)
        #expect(try CGroupText.flag(try KernelFixture.guest("work/job/memory.oom.group"), file: "memory.oom.group"))
    }

    @Test("memory.numa_stat is nested keyed (stat name, then per-node fields)")
    func numaStat() throws {
        let numa = try NestedKeyedFile(parsing: try KernelFixture.guest("work/job/memory.numa_stat"), file: "memory.numa_stat")
        #expect(numa["anon"]?["N0"] == "106496")
        #expect(numa["slab_reclaimable"]?["N0"] == "50336")
    }
}
