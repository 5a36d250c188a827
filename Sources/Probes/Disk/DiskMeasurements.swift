// The maths of a phase's numbers: latency percentiles (HdrHistogram), throughput and IOPS,
// and throughput over time.
import Histogram

/// Latencies of one phase, in nanoseconds, summarised in microseconds.
struct DiskLatencyRecorder {
    /// 1 ns to one hour at 3 significant digits (about 0.1 % resolution).
    private(set) var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)

    @inline(__always)
    mutating func record(nanoseconds: UInt64) {
        histogram.record(Swift.min(Swift.max(nanoseconds, 1), 3_600_000_000_000))
    }

    var count: UInt64 { histogram.totalCount }

    func summary() -> DiskLatencySummary {
        let h = histogram
        guard h.totalCount > 0 else {
            return DiskLatencySummary(count: 0, minimum: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, maximum: 0, histogram: [])
        }
        func us(_ ns: UInt64) -> Double { Double(ns) / 1000 }
        return DiskLatencySummary(
            count: h.totalCount,
            minimum: us(h.min),
            mean: h.mean / 1000,
            p50: us(h.valueAtPercentile(50)),
            p90: us(h.valueAtPercentile(90)),
            p99: us(h.valueAtPercentile(99)),
            p999: us(h.valueAtPercentile(99.9)),
            maximum: us(h.maxRecorded),
            histogram: Self.buckets(h))
    }

    /// Counts in buckets doubling from 1 µs: (0, 1 µs], (1, 2], (2, 4], … up to the maximum.
    static func buckets(_ h: Histogram<UInt64>) -> [DiskLatencyBucket] {
        var result: [DiskLatencyBucket] = []
        var upper: UInt64 = 1000
        var below: UInt64 = 0
        let total = h.totalCount
        while below < total {
            // count(within:) works on equivalent ranges, so bucket edges follow the histogram's resolution.
            let cumulative = h.count(within: 0...upper)
            result.append(DiskLatencyBucket(upperBound: Double(upper) / 1000, count: cumulative - below))
            below = cumulative
            if upper > UInt64.max / 4 { break }
            upper *= 2
        }
        while let first = result.first, first.count == 0 { result.removeFirst() }
        return result
    }
}

/// Throughput and IOPS of `bytes` and `operations` done in `duration` seconds (0 when the
/// duration is 0).
func diskRates(bytes: UInt64, operations: UInt64, duration: Double) -> (bytesPerSecond: Double, iops: Double) {
    guard duration > 0 else { return (0, 0) }
    return (Double(bytes) / duration, Double(operations) / duration)
}

/// Completions counted per interval of a phase, turned into throughput-over-time samples.
struct DiskThroughputTimeline {
    let interval: UInt64
    private(set) var bytes: [UInt64] = []
    private(set) var operations: [UInt64] = []

    /// `intervalNanoseconds` > 0.
    init(intervalNanoseconds: UInt64) {
        interval = Swift.max(intervalNanoseconds, 1)
    }

    /// Counts a completion `at` nanoseconds after the phase started.
    @inline(__always)
    mutating func add(at: UInt64, bytes count: UInt64, operations ops: UInt64 = 1) {
        let index = Int(at / interval)
        if index >= bytes.count {
            let missing = index + 1 - bytes.count
            bytes.append(contentsOf: repeatElement(0, count: missing))
            operations.append(contentsOf: repeatElement(0, count: missing))
        }
        bytes[index] &+= count
        operations[index] &+= ops
    }

    /// One sample per interval up to `phaseDuration` nanoseconds; the last interval is as long
    /// as what remains of the phase (completions counted after it belong to it). A last
    /// interval shorter than half an interval is merged into the one before: the few I/O
    /// completing after the phase stopped issuing would otherwise show as a spike.
    func samples(phaseDuration: UInt64) -> [DiskThroughputSample] {
        guard phaseDuration > 0 || !bytes.isEmpty else { return [] }
        var count = Swift.max(1, Int((phaseDuration + interval - 1) / interval))
        if count > 1 && phaseDuration - UInt64(count - 1) * interval < interval / 2 { count -= 1 }
        var b = [UInt64](repeating: 0, count: count)
        var o = [UInt64](repeating: 0, count: count)
        for i in bytes.indices {
            let j = Swift.min(i, count - 1)
            b[j] &+= bytes[i]
            o[j] &+= operations[i]
        }
        var result: [DiskThroughputSample] = []
        result.reserveCapacity(count)
        for i in 0..<count {
            let start = UInt64(i) * interval
            let end = i == count - 1 && phaseDuration > start ? phaseDuration : start + interval
            let seconds = Double(end - start) / 1e9
            result.append(DiskThroughputSample(
                start: Double(start) / 1e9, duration: seconds,
                bytesPerSecond: Double(b[i]) / seconds, iops: Double(o[i]) / seconds))
        }
        return result
    }
}
