@testable import Probes
import Testing

@Suite("Disk probe: the maths")
struct DiskMathTests {
    @Test func percentilesOfOneToAThousandMicroseconds() {
        var recorder = DiskLatencyRecorder()
        for us in 1...1000 { recorder.record(nanoseconds: UInt64(us) * 1000) }
        let s = recorder.summary()
        #expect(s.count == 1000)
        // HdrHistogram at 3 significant digits: within 0.1 %.
        func close(_ value: Double, _ expected: Double) -> Bool { abs(value - expected) <= expected * 0.001 }
        #expect(close(s.minimum, 1), "\(s.minimum)")
        #expect(close(s.p50, 500), "\(s.p50)")
        #expect(close(s.p90, 900), "\(s.p90)")
        #expect(close(s.p99, 990), "\(s.p99)")
        #expect(close(s.p999, 999), "\(s.p999)")
        #expect(s.maximum == 1000)
        #expect(close(s.mean, 500.5), "\(s.mean)")
    }

    @Test func aFewSlowOutliersShowInTheTailOnly() {
        var recorder = DiskLatencyRecorder()
        for _ in 0..<9_990 { recorder.record(nanoseconds: 100_000) }  // 100 µs
        for _ in 0..<10 { recorder.record(nanoseconds: 50_000_000) }  // 50 ms
        let s = recorder.summary()
        #expect(abs(s.p50 - 100) <= 0.1)
        #expect(abs(s.p99 - 100) <= 0.1)
        // 99.9 % of 10 000 is the 9 990th value: still 100 µs; the 9 991st is 50 ms.
        #expect(abs(s.p999 - 100) <= 0.1, "\(s.p999)")
        #expect(s.maximum == 50_000)
        let buckets = s.histogram
        #expect(buckets.reduce(0) { $0 + $1.count } == 10_000)
        #expect(buckets.first { $0.upperBound == 128 }?.count == 9_990)
        #expect(buckets.first { $0.upperBound == 65_536 }?.count == 10)
        #expect(buckets.first!.upperBound == 128, "empty leading buckets are dropped")
    }

    @Test func emptyRecorderSummarisesToZeros() {
        let s = DiskLatencyRecorder().summary()
        #expect(s.count == 0 && s.p99 == 0 && s.maximum == 0 && s.histogram.isEmpty)
    }

    @Test func throughputAndIOPSFromCountsAndDuration() {
        let r = diskRates(bytes: 3 << 30, operations: 3072, duration: 2)
        #expect(r.bytesPerSecond == Double(3 << 30) / 2)
        #expect(r.iops == 1536)
        let small = diskRates(bytes: 400_000 * 4096, operations: 400_000, duration: 2.5)
        #expect(small.iops == 160_000)
        #expect(small.bytesPerSecond == 160_000 * 4096)
        #expect(diskRates(bytes: 10, operations: 1, duration: 0) == (0, 0))
    }

    @Test func throughputOverTimeSamples() {
        var timeline = DiskThroughputTimeline(intervalNanoseconds: 1_000_000_000)
        // 2.5 s phase: 100 MB in the first second, 50 MB in the second, 10 MB in the last half second.
        timeline.add(at: 100_000_000, bytes: 60_000_000, operations: 60)
        timeline.add(at: 999_999_999, bytes: 40_000_000, operations: 40)
        timeline.add(at: 1_500_000_000, bytes: 50_000_000, operations: 50)
        timeline.add(at: 2_400_000_000, bytes: 5_000_000, operations: 5)
        timeline.add(at: 2_500_000_000, bytes: 5_000_000, operations: 5)  // the very last completion
        let samples = timeline.samples(phaseDuration: 2_500_000_000)
        #expect(samples.count == 3)
        #expect(samples.map(\.start) == [0, 1, 2])
        #expect(samples.map(\.duration) == [1, 1, 0.5])
        #expect(samples.map(\.bytesPerSecond) == [100_000_000, 50_000_000, 20_000_000])
        #expect(samples.map(\.iops) == [100, 50, 20])
        // The few completions after the last whole interval (here 0.1 s) join the interval before.
        var tail = DiskThroughputTimeline(intervalNanoseconds: 1_000_000_000)
        tail.add(at: 500_000_000, bytes: 1_000)
        tail.add(at: 1_500_000_000, bytes: 1_000)
        tail.add(at: 2_050_000_000, bytes: 100)
        let merged = tail.samples(phaseDuration: 2_100_000_000)
        #expect(merged.map(\.duration) == [1, 1.1])
        #expect(merged.map { ($0.bytesPerSecond * 1e6).rounded() / 1e6 } == [1_000, 1_000])
        // A quiet second in the middle is a zero sample, not a gap.
        var gap = DiskThroughputTimeline(intervalNanoseconds: 1_000_000_000)
        gap.add(at: 0, bytes: 1)
        gap.add(at: 2_100_000_000, bytes: 1)
        #expect(gap.samples(phaseDuration: 3_000_000_000).map(\.bytesPerSecond) == [1, 0, 1])
    }

    @Test func xxHash64MatchesTheReferenceVectors() {
        #expect(DiskXXHash64.hash([]) == 0xEF46_DB37_51D8_E999)
        #expect(DiskXXHash64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(DiskXXHash64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(DiskXXHash64.hash(Array("Nobody inspects the spammish repetition".utf8)) == 0xFBCE_A83C_8A37_8BF1)
        // Lengths that take every path (stripes, 8-byte words, a 4-byte word, single bytes).
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let hashes = Set((0..<80).map { DiskXXHash64.hash(Array(long.prefix($0))) })
        #expect(hashes.count == 80)
    }
}
