import Foundation
@testable import Probes
import Synchronization
import TestSupport
import Testing

@Suite("Memory probe: bandwidth maths and pattern values")
struct MemoryMathTests {
    @Test func bytesMovedPerKernelCountArraysLikeSTREAM() {
        let n = 1_000_003
        #expect(MemoryBandwidthKernel.copy.bytesMoved(elementsPerArray: n) == 2 * n * 8)
        #expect(MemoryBandwidthKernel.scale.bytesMoved(elementsPerArray: n) == 2 * n * 8)
        #expect(MemoryBandwidthKernel.add.bytesMoved(elementsPerArray: n) == 3 * n * 8)
        #expect(MemoryBandwidthKernel.triad.bytesMoved(elementsPerArray: n) == 3 * n * 8)
        #expect(MemoryBandwidthKernel.read.bytesMoved(elementsPerArray: n) == n * 8)
        #expect(MemoryBandwidthKernel.write.bytesMoved(elementsPerArray: n) == n * 8)
        #expect(MemoryBandwidthKernel.stream == [.copy, .scale, .add, .triad])
    }

    @Test func ratesAreBytesOverPassTimesInDecimalMegabytes() {
        let s = MemoryBandwidthRunner.summary(kernel: .triad, bytesPerPass: 24_000_000, times: [0.004, 0.002, 0.003])
        #expect(s.bestMBps == 12_000)
        #expect(s.worstMBps == 6_000)
        #expect(abs(s.averageMBps - 8_000) < 1e-9)
        #expect(s.minSeconds == 0.002)
        #expect(s.maxSeconds == 0.004)
        #expect(abs(s.averageSeconds - 0.003) < 1e-15)
        #expect(s.samplesMBps == [6_000, 12_000, 8_000])
        let many = MemoryBandwidthRunner.summary(kernel: .copy, bytesPerPass: 1_000_000, times: Array(repeating: 0.001, count: 1000))
        #expect(many.samplesMBps.count == 200)
        #expect(many.samplesMBps.allSatisfy { abs($0 - 1000) < 1e-9 })
        #expect(MemoryBandwidthRunner.summary(kernel: .add, bytesPerPass: 1, times: []).bestMBps == 0)
    }

    @Test func threadChunksCoverTheArraysExactlyOnLineBoundaries() {
        for elements in [64, 1000, 1_048_576, 16_777_219] {
            for threads in 1...5 {
                let chunks = (0..<threads).map { MemoryBandwidthArrays.chunk($0, of: threads, elements: elements) }
                #expect(chunks.first?.lowerBound == 0)
                #expect(chunks.last?.upperBound == elements)
                for (a, b) in zip(chunks, chunks.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                #expect(chunks.dropLast().allSatisfy { $0.lowerBound % 8 == 0 && $0.count % 8 == 0 })
            }
        }
    }

    @Test func validationFindsAWrongElement() {
        let n = 4096
        let a = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let b = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let c = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { [a, b, c].forEach { $0.deallocate() } }
        let arrays = MemoryBandwidthArrays(a: a, b: b, c: c, elements: n)
        arrays.initialize(0..<n)
        var expected = MemoryBandwidthArrays.initialValues
        for _ in 0..<3 {
            for kernel in MemoryBandwidthKernel.allCases {
                _ = arrays.run(kernel, 0..<n)
                kernel.apply(&expected)
            }
        }
        #expect(arrays.validate(expected: expected) == nil)
        b[1234] = Double(bitPattern: b[1234].bitPattern ^ 1 << 40)
        #expect(arrays.validate(expected: expected)?.hasPrefix("b[1234] = ") == true)
    }

    @Test func patternValuesFollowMemtester() {
        let address: UInt64 = 0x7f00_dead_b000
        #expect(MemoryPattern.stuckAddress.value(pass: 0, index: 0, address: address) == address)
        #expect(MemoryPattern.stuckAddress.value(pass: 0, index: 1, address: address) == ~address)
        #expect(MemoryPattern.stuckAddress.value(pass: 1, index: 0, address: address) == ~address)
        #expect(MemoryPattern.ownAddress.value(pass: 0, index: 9, address: address) == address)
        #expect(MemoryPattern.ownAddress.value(pass: 1, index: 9, address: address) == ~address)
        #expect(MemoryPattern.walkingOnes.value(pass: 0, index: 5, address: 0) == 1)
        #expect(MemoryPattern.walkingOnes.value(pass: 63, index: 5, address: 0) == 1 << 63)
        #expect(MemoryPattern.walkingOnes.value(pass: 64, index: 5, address: 0) == 1 << 63)
        #expect(MemoryPattern.walkingOnes.value(pass: 127, index: 5, address: 0) == 1)
        #expect(MemoryPattern.walkingZeros.value(pass: 3, index: 0, address: 0) == ~UInt64(8))
        #expect(MemoryPattern.checkerboard.value(pass: 0, index: 0, address: 0) == 0x5555_5555_5555_5555)
        #expect(MemoryPattern.checkerboard.value(pass: 0, index: 1, address: 0) == 0xAAAA_AAAA_AAAA_AAAA)
        #expect(MemoryPattern.checkerboard.value(pass: 1, index: 0, address: 0) == 0xAAAA_AAAA_AAAA_AAAA)
        #expect(MemoryPattern.solidBits.value(pass: 0, index: 0, address: 0) == ~0)
        #expect(MemoryPattern.solidBits.value(pass: 0, index: 1, address: 0) == 0)
        #expect(MemoryPattern.solidBits.value(pass: 1, index: 0, address: 0) == 0)
        let random = (0..<64).map { MemoryPattern.randomValue.value(pass: 0, index: $0, address: 0) }
        #expect(Set(random).count == 64)
        #expect(MemoryPattern.randomValue.value(pass: 1, index: 0, address: 0) != random[0])
        #expect(MemoryPattern.walkingOnes.selectedPasses(limit: nil).count == 128)
        #expect(MemoryPattern.walkingOnes.selectedPasses(limit: 4) == [0, 32, 64, 96])
        #expect(MemoryPattern.ownAddress.selectedPasses(limit: 4) == [0, 1])
    }

    /// The fill and verify loops agree with `value(pass:index:address:)` for every pattern and a
    /// range that starts on an odd word.
    @Test(arguments: MemoryPattern.allCases)
    func fillAndVerifyAgreeWithTheValues(pattern: MemoryPattern) {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 2000)
        defer { words.deallocate() }
        let base = UInt64(UInt(bitPattern: words))
        for pass in pattern.selectedPasses(limit: 3) {
            MemoryPatternLoops.fill(pattern, pass: pass, words, 1..<1999, base: base)
            for i in 1..<1999 {
                #expect(words[i] == pattern.value(pass: pass, index: i, address: base &+ UInt64(i) &* 8))
            }
            var mismatches: [Int] = []
            #expect(MemoryPatternLoops.verify(pattern, pass: pass, words, 1..<1999, base: base) { i, _, _ in mismatches.append(i) } == 0)
            words[1500] ^= 1 << 17
            #expect(MemoryPatternLoops.verify(pattern, pass: pass, words, 1..<1999, base: base) { i, _, _ in mismatches.append(i) } == 1)
            #expect(mismatches == [1500])
        }
    }

    @Test func aPartialConfigurationKeepsTheDefaults() throws {
        let json = #"{"patternBytes": 1048576, "patterns": ["walking-ones"], "patternRounds": 2}"#
        let config = try JSONDecoder().decode(MemoryProbe.Configuration.self, from: Data(json.utf8))
        #expect(config.patternBytes == 1 << 20)
        #expect(config.patterns == [.walkingOnes])
        #expect(config.patternRounds == 2)
        #expect(config.kernels == MemoryBandwidthKernel.stream)
        #expect(config.llcMultiple == 4)
        #expect(config.minimumArrayBytes == 64 << 20)
    }
}

extension CoreLoadTests {
    @Suite("Memory probe")
    struct MemoryProbeTests {
        @Test func bandwidthRunsOnOneAndOnEveryCoreAndValidates() async throws {
            let cpus = cpuProbeTestCPUs()
            let config = MemoryProbe.Configuration(
                arrayBytes: 4 << 20, repetitions: 4, kernels: MemoryBandwidthKernel.allCases, patterns: [])
            let result = try await MemoryProbe(configuration: config).run()
            #expect(result.bandwidth.map(\.threads) == (cpus.count > 1 ? [1, cpus.count] : [1]))
            #expect(result.patterns == nil)
            #expect(result.memoryErrors == 0)
            for run in result.bandwidth {
                #expect(run.validated == true)
                #expect(run.arrayBytes == 4 << 20)
                #expect(run.elementsPerArray == (4 << 20) / 8)
                #expect(run.repetitions == 4)
                #expect(run.pinErrors.isEmpty)
                #expect(run.kernels.map(\.kernel) == MemoryBandwidthKernel.allCases)
                for k in run.kernels {
                    #expect(k.bytesPerPass == k.kernel.arraysTouched * run.elementsPerArray * 8)
                    #expect(k.samplesMBps.count == 3, "the first of 4 passes is not counted")
                    #expect(k.bestMBps >= k.averageMBps && k.averageMBps >= k.worstMBps && k.worstMBps > 0)
                    #expect(abs(k.bestMBps - Double(k.bytesPerPass) / k.minSeconds / 1e6) < 1e-6 * k.bestMBps)
                }
            }
            #expect(result.bestTriadMBps == result.bandwidth.flatMap(\.kernels).filter { $0.kernel == .triad }.map(\.bestMBps).max())
            #expect(result.bandwidth.allSatisfy { $0.synchronizedPasses })
            let data = try JSONEncoder().encode(result)
            #expect(try JSONDecoder().decode(MemoryResult.self, from: data) == result)
        }

        /// sysbench's method: every thread runs a kernel's passes on its own; the arrays still
        /// validate and every byte is counted.
        @Test(.enabled(if: cpuProbeTestCPUs().count >= 2))
        func freeRunningThreadsCountAllBytesAndValidate() async throws {
            let config = MemoryProbe.Configuration(
                arrayBytes: 4 << 20, repetitions: 5, kernels: MemoryBandwidthKernel.allCases, singleThreaded: false,
                synchronizedPasses: false, patterns: [])
            let progress = Mutex<[MemoryProgress]>([])
            let result = try await MemoryProbe(configuration: config).run { p in progress.withLock { $0.append(p) } }
            let run = try #require(result.bandwidth.first)
            #expect(result.bandwidth.count == 1)
            #expect(!run.synchronizedPasses)
            #expect(run.threads == cpuProbeTestCPUs().count)
            #expect(run.validated == true)
            #expect(run.repetitions == 5)
            for k in run.kernels {
                #expect(k.bytesPerPass == k.kernel.arraysTouched * run.elementsPerArray * 8)
                #expect(k.samplesMBps.count == 5, "every pass counts")
                #expect(k.averageMBps > 0 && k.bestMBps >= k.worstMBps && k.worstMBps > 0)
                #expect(k.minSeconds <= k.averageSeconds && k.averageSeconds <= k.maxSeconds)
            }
        }

        @Test func everyPatternPassesOnSoundMemory() async throws {
            let progress = Mutex<[MemoryProgress]>([])
            let config = MemoryProbe.Configuration(
                bandwidth: false, patternBytes: 8 << 20, patternPassLimit: 3, patternRounds: 2)
            let result = try await MemoryProbe(configuration: config).run { p in progress.withLock { $0.append(p) } }
            let report = try #require(result.patterns)
            #expect(report.totalFailures == 0)
            #expect(report.failures.isEmpty)
            #expect(report.bytesTested == 8 << 20)
            #expect(report.locked, "\(report.lockError ?? "")")
            #expect(report.cores == cpuProbeTestCPUs())
            #expect(report.patterns.map(\.pattern) == MemoryPattern.allCases)
            for p in report.patterns {
                #expect(p.passes == 2 * p.pattern.selectedPasses(limit: 3).count)
                #expect(p.bytesProcessed == p.passes * 2 * (8 << 20))
                #expect(p.seconds > 0)
            }
            #expect(result.memoryErrors == 0)
            #expect(result.patternErrors == 0)
            #expect(result.bandwidth.isEmpty)
            #expect(progress.withLock { $0.allSatisfy { $0.phase == "patterns" && $0.fractionComplete <= 1 } })
        }

        /// A bit flipped between a pass's write and its read-back is reported at its word's
        /// offset, with the pattern, the pass and the wrong bit, by whichever thread owns it.
        @Test(arguments: MemoryPattern.allCases)
        func anInjectedBitFlipIsCaughtAtItsOffset(pattern: MemoryPattern) async throws {
            let bytes = 8 << 20
            let offset = bytes - 3 * 4096 + 5  // in the last thread's share, byte 5 of its word
            let pass = pattern.selectedPasses(limit: 2).last!
            let config = MemoryProbe.Configuration(
                bandwidth: false, patterns: [pattern], patternBytes: bytes, patternPassLimit: 2,
                faultInjection: MemoryFaultInjection(pattern: pattern, pass: pass, offset: offset, bit: 3))
            let result = try await MemoryProbe(configuration: config).run()
            let report = try #require(result.patterns)
            #expect(report.totalFailures == 1)
            let failure = try #require(report.failures.first)
            #expect(failure.pattern == pattern)
            #expect(failure.pass == pass)
            #expect(failure.round == 0)
            #expect(failure.offset == offset & ~7)
            #expect(failure.differingBits == "0x0000080000000000", "bit 3 of byte 5 = bit 43")
            let expected = pattern.value(pass: pass, index: offset / 8, address: 0)
            if pattern != .stuckAddress && pattern != .ownAddress {
                #expect(failure.expected == MemoryPatternRunner.hex(expected))
            }
            #expect(failure.core == cpuProbeTestCPUs().last)
            if getuid() == 0 { #expect(failure.physicalAddress != nil, "root reads /proc/self/pagemap") }
            #expect(result.memoryErrors == 1)
            #expect(result.findings.contains { $0.hasPrefix("1 word(s) read back wrong: \(pattern.rawValue) pass \(pass) at offset \(offset & ~7)") })
        }

        @Test func cancellingTheTaskStopsThePatternsAndReportsWhatRan() async throws {
            let started = Mutex(false)
            let config = MemoryProbe.Configuration(bandwidth: false, patternBytes: 256 << 20, patternRounds: 100)
            let task = Task {
                try await MemoryProbe(configuration: config).run { p in
                    if p.fractionComplete > 0 { started.withLock { $0 = true } }
                }
            }
            try await waitUntil("the pattern tests make progress", timeout: .seconds(120)) { started.withLock { $0 } }
            let clock = ContinuousClock()
            let cancelledAt = clock.now
            task.cancel()
            let result = try await task.value
            #expect(clock.now - cancelledAt < .seconds(10))
            #expect(result.interrupted)
            let report = try #require(result.patterns)
            let passes = report.patterns.reduce(0) { $0 + $1.passes }
            #expect(passes > 0)
            #expect(passes < 100 * MemoryPattern.allCases.reduce(0) { $0 + $1.passes })
            #expect(report.totalFailures == 0)
        }

        /// A sysfs without cache sizes or EDAC: the arrays fall back to the minimum size and
        /// EDAC is skipped, not failed.
        @Test func absentCacheAndEDACFilesAreSkippedNotFailed() async throws {
            try await withTemporaryDirectory("memory-fake-sysfs") { dir in
                let tree = HealthFakeTree(dir)
                let cpu = cpuProbeTestCPUs()[0]
                try tree.write("sys/devices/system/cpu/online", "\(cpu)\n")
                let config = MemoryProbe.Configuration(
                    minimumArrayBytes: 2 << 20, repetitions: 2, patterns: [.solidBits], patternBytes: 1 << 20,
                    patternPassLimit: 2, sysfsRoot: tree.path("sys"), procRoot: tree.path("proc"))
                let result = try await MemoryProbe(configuration: config).run()
                #expect(result.lastLevelCache.status == .skipped)
                #expect(result.lastLevelCache.reason?.contains("cache") == true)
                #expect(result.bandwidth.map(\.arrayBytes) == [2 << 20], "one CPU online: single-threaded only")
                #expect(result.bandwidth.first?.validated == true)
                #expect(result.edac.status == .skipped)
                #expect(result.edac.reason?.contains("EDAC") == true)
                #expect(result.memoryErrors == 0)
                #expect(!result.findings.contains { $0.contains("EDAC") })
            }
        }

        @Test func arraysAreSizedFromTheLastLevelCache() async throws {
            try await withTemporaryDirectory("memory-cache") { dir in
                let tree = HealthFakeTree(dir)
                let cpu = cpuProbeTestCPUs()[0]
                try tree.write("sys/devices/system/cpu/online", "\(cpu)\n")
                let cache = "sys/devices/system/cpu/cpu0/cache"
                for (index, level, type, size) in [
                    (0, 1, "Data", "48K"), (1, 1, "Instruction", "32K"), (2, 2, "Unified", "1024K"),
                    (3, 3, "Unified", "1536K"),
                ] {
                    try tree.write("\(cache)/index\(index)/level", "\(level)\n")
                    try tree.write("\(cache)/index\(index)/type", "\(type)\n")
                    try tree.write("\(cache)/index\(index)/size", "\(size)\n")
                }
                let config = MemoryProbe.Configuration(
                    llcMultiple: 2, minimumArrayBytes: 1 << 20, repetitions: 2, kernels: [.triad], patterns: [],
                    sysfsRoot: tree.path("sys"))
                let result = try await MemoryProbe(configuration: config).run()
                #expect(result.lastLevelCache.level == 3)
                #expect(result.lastLevelCache.bytes == 1536 << 10)
                #expect(result.bandwidth.first?.arrayBytes == 3 << 20)
            }
        }
    }
}
