import CGroups
import Testing

@Suite("Weights, CPU bandwidth and cgroup v1 conversions")
struct ValuesWeightTests {
    @Test("cpu.weight accepts 1...10000 only")
    func cpuWeightRange() throws {
        #expect(try CPUWeight(1).value == 1)
        #expect(try CPUWeight(10000).value == 10000)
        for bad: UInt64 in [0, 10001] {
            let error = #expect(throws: CGroupError.self) { try CPUWeight(bad) }
            #expect(error?.file == "cpu.weight")
            #expect(error?.value == String(bad))
        }
        #expect(CPUWeight.default.value == 100)
    }

    @Test("cpu.weight.nice accepts -20...19 only")
    func niceRange() throws {
        #expect(try CPUWeightNice(-20).fileText == "-20")
        #expect(try CPUWeightNice(fileText: "-4\n", file: "cpu.weight.nice").value == -4)
        #expect(throws: CGroupError.self) { try CPUWeightNice(20) }
        #expect(throws: CGroupError.self) { try CPUWeightNice(-21) }
    }

    @Test("io.weight accepts 1...10000 only")
    func ioWeightRange() throws {
        #expect(try IOWeight(10000).fileText == "10000")
        let error = #expect(throws: CGroupError.self) { try IOWeight(0) }
        #expect(error?.file == "io.weight")
    }

    /// Pairs from current runc (opencontainers/cgroups after runc PR #4785): the curve keeps
    /// the three fixed points 2 → 1, 1024 → 100, 262144 → 10000.
    @Test(
        "cpu.shares convert to cpu.weight as current runc does",
        arguments: [
            (1, 1), (2, 1), (3, 2), (10, 4), (100, 17), (512, 59), (1024, 100), (2048, 174), (4096, 303),
            (100_000, 4340), (262_143, 10000), (262_144, 10000), (1_000_000, 10000),
        ] as [(UInt64, UInt64)])
    func sharesToWeight(shares: UInt64, weight: UInt64) throws {
        #expect(try CPUWeight(v1Shares: shares).value == weight)
    }

    @Test("cpu.shares 0 (unset) has no weight")
    func zeroShares() {
        #expect(throws: CGroupError.self) { try CPUWeight(v1Shares: 0) }
    }

    @Test(
        "blkio.weight converts linearly onto io.weight",
        arguments: [
            (10, 1), (100, 910), (500, 4950), (1000, 10000),
        ] as [(UInt64, UInt64)])
    func blkioToIOWeight(blkio: UInt64, weight: UInt64) throws {
        #expect(try IOWeight(v1BlkioWeight: blkio).value == weight)
    }

    @Test("blkio.weight outside 10...1000 is refused", arguments: [0, 9, 1001] as [UInt64])
    func blkioOutOfRange(blkio: UInt64) {
        #expect(throws: CGroupError.self) { try IOWeight(v1BlkioWeight: blkio) }
    }

    @Test("cpu.max checks the kernel's period and quota ranges")
    func cpuMaxRanges() throws {
        #expect(try CPUMax(quota: .value(1000), period: 1000).fileText == "1000 1000")
        #expect(try CPUMax(quota: .max, period: 1_000_000).fileText == "max 1000000")
        #expect(CPUMax.unlimited.fileText == "max 100000")
        for (quota, period) in [
            (CGroupLimit<UInt64>.value(999), UInt64(100_000)), (.max, 999), (.max, 1_000_001),
            (.value(1 << 44), 100_000),
        ] {
            let error = #expect(throws: CGroupError.self) { try CPUMax(quota: quota, period: period) }
            #expect(error?.file == "cpu.max")
            #expect(error?.value == "\(quota.fileText) \(period)")
        }
    }

    @Test("cpu.max from a CPU count")
    func cpuMaxFromCPUs() throws {
        #expect(try CPUMax(cpus: 1.5).fileText == "150000 100000")
        #expect(try CPUMax(cpus: 0.25, period: 10_000).fileText == "2500 10000")
        #expect(try CPUMax(quota: .value(50_000)).cpus == 0.5)
        #expect(throws: CGroupError.self) { try CPUMax(cpus: 0) }
        #expect(throws: CGroupError.self) { try CPUMax(cpus: .nan) }
        #expect(throws: CGroupError.self) { try CPUMax(cpus: 0.001) }  // 100 µs < 1000 µs
    }

    @Test(
        "cfs_quota_us/cfs_period_us convert to cpu.max as runc does",
        arguments: [
            (-1, 100_000, "max 100000"), (0, 0, "max 100000"), (50_000, 0, "50000 100000"),
            (20_000, 50_000, "20000 50000"), (-1, 250_000, "max 250000"),
        ] as [(Int64, UInt64, String)])
    func cfsToCPUMax(quota: Int64, period: UInt64, text: String) throws {
        #expect(try CPUMax(v1Quota: quota, v1Period: period).fileText == text)
    }

    @Test("a v1 quota below the kernel's minimum or below -1 is refused")
    func cfsRefused() {
        #expect(throws: CGroupError.self) { try CPUMax(v1Quota: -2, v1Period: 100_000) }
        #expect(throws: CGroupError.self) { try CPUMax(v1Quota: 500, v1Period: 100_000) }
    }

    @Test("memory.limit_in_bytes -1 and v1's read-back unlimited become max")
    func v1MemoryLimit() throws {
        #expect(try CGroupLimit<ByteSize>(v1LimitInBytes: -1) == .max)
        #expect(try CGroupLimit<ByteSize>(v1LimitInBytes: 9_223_372_036_854_771_712) == .max)
        #expect(try CGroupLimit<ByteSize>(v1LimitInBytes: 536_870_912) == .value(.mebibytes(512)))
        let error = #expect(throws: CGroupError.self) { try CGroupLimit<ByteSize>(v1LimitInBytes: -5) }
        #expect(error?.file == "memory.max")
    }

    @Test("memory.memsw.limit_in_bytes converts to memory.swap.max as runc does")
    func v1Swap() throws {
        typealias Limit = CGroupLimit<ByteSize>
        #expect(try Limit.swapMax(v1MemorySwap: 0, v1Memory: -1) == .max)
        #expect(try Limit.swapMax(v1MemorySwap: -1, v1Memory: 1 << 30) == .max)
        #expect(try Limit.swapMax(v1MemorySwap: 0, v1Memory: 1 << 30) == nil)
        #expect(try Limit.swapMax(v1MemorySwap: 3 << 30, v1Memory: 1 << 30) == .value(.gibibytes(2)))
        #expect(try Limit.swapMax(v1MemorySwap: 1 << 30, v1Memory: 1 << 30) == .value(0))
        #expect(try Limit.swapMax(v1MemorySwap: 1 << 30, v1Memory: -1) == .value(.gibibytes(1)))
        #expect(throws: CGroupError.self) { try Limit.swapMax(v1MemorySwap: 1 << 29, v1Memory: 1 << 30) }
        #expect(throws: CGroupError.self) { try Limit.swapMax(v1MemorySwap: 1 << 30, v1Memory: 0) }
        #expect(throws: CGroupError.self) { try Limit.swapMax(v1MemorySwap: -7, v1Memory: 1 << 30) }
    }
}
