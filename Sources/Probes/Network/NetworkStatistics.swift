// The network probe's maths: throughput from bytes and times, latency percentiles from an
// HdrHistogram, per-interval samples, and UDP loss/reordering/jitter (RFC 3550).
import Histogram

enum NetworkMath {
    /// Bits per second of `bytes` moved in `seconds` (0 for an empty or zero span).
    static func bitsPerSecond(bytes: UInt64, seconds: Double) -> Double {
        seconds > 0 ? Double(bytes) * 8 / seconds : 0
    }

    /// Samples from per-interval byte counts. Bucket `k` covers [k·interval, (k+1)·interval)
    /// seconds from the start; the last ends at `end` if that is earlier (a sample shorter than a
    /// hundredth of the interval is folded into the one before, so no sample shows a wild rate).
    static func intervals(buckets: [UInt64], interval: Double, end: Double) -> [NetworkInterval] {
        var result: [NetworkInterval] = []
        for (index, bytes) in buckets.enumerated() {
            let start = Double(index) * interval
            var stop = Double(index + 1) * interval
            if index == buckets.count - 1, end > start, end < stop { stop = end }
            if stop - start < interval / 100, var last = result.popLast() {
                last.end = stop
                last.bytes += bytes
                last.bitsPerSecond = bitsPerSecond(bytes: last.bytes, seconds: last.end - last.start)
                result.append(last)
                continue
            }
            result.append(NetworkInterval(start: start, end: stop, bytes: bytes, bitsPerSecond: bitsPerSecond(bytes: bytes, seconds: stop - start)))
        }
        return result
    }

    /// Element-wise sum of bucket arrays of different lengths.
    static func sumBuckets(_ arrays: [[UInt64]]) -> [UInt64] {
        var sum = [UInt64](repeating: 0, count: arrays.map(\.count).max() ?? 0)
        for array in arrays { for (index, value) in array.enumerated() { sum[index] += value } }
        return sum
    }
}

/// Per-interval byte counts kept by one worker on its own (no sharing on the hot path).
struct NetBuckets {
    let reference: UInt64
    let width: UInt64
    var counts: [UInt64] = []

    init(reference: UInt64, width: UInt64) {
        self.reference = reference
        self.width = max(width, 1)
        counts.reserveCapacity(64)
    }

    @inline(__always)
    mutating func add(_ bytes: UInt64, at now: UInt64) {
        let index = now > reference ? Int((now - reference) / width) : 0
        if index >= counts.count { counts.append(contentsOf: repeatElement(0, count: index - counts.count + 1)) }
        counts[index] &+= bytes
    }
}

/// Round-trip times in nanoseconds, summarised in microseconds.
struct NetLatencyRecorder {
    /// 1 ns ... 100 s at 3 significant digits; larger values are recorded as 100 s.
    static let highest: UInt64 = 100_000_000_000
    private(set) var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highest, numberOfSignificantValueDigits: .three)

    mutating func record(nanoseconds: UInt64) {
        _ = histogram.record(min(max(nanoseconds, 1), Self.highest))
    }

    var summary: NetworkLatency {
        let us = { (ns: UInt64) in Double(ns) / 1000 }
        guard histogram.totalCount > 0 else {
            return NetworkLatency(count: 0, minimum: 0, maximum: 0, mean: 0, standardDeviation: 0, p50: 0, p90: 0, p99: 0, p999: 0, distribution: [])
        }
        var distribution: [NetworkPercentile] = []
        for point in histogram.percentiles(ticksPerHalfDistance: 5) {
            distribution.append(NetworkPercentile(percentile: point.percentileLevelIteratedTo, microseconds: us(point.value)))
            if point.percentileLevelIteratedTo >= 100 { break }
        }
        return NetworkLatency(
            count: histogram.totalCount,
            minimum: us(histogram.min), maximum: us(histogram.maxRecorded),
            mean: histogram.mean / 1000, standardDeviation: histogram.stdDeviation / 1000,
            p50: us(histogram.valueAtPercentile(50)), p90: us(histogram.valueAtPercentile(90)),
            p99: us(histogram.valueAtPercentile(99)), p999: us(histogram.valueAtPercentile(99.9)),
            distribution: distribution)
    }
}

/// What a UDP receiver makes of the datagrams it gets: counts, loss, reordering, duplicates and
/// RFC 3550 interarrival jitter. Sequence numbers start at 0 and go up by one per datagram.
struct NetUDPReceiverStatistics: Sendable {
    /// How far back (in sequence numbers) duplicates are recognised; an older straggler is
    /// counted as out of order, never as a duplicate.
    static let window: UInt64 = 1 << 16

    /// Datagrams of the test received, including duplicates.
    private(set) var received: UInt64 = 0
    private(set) var duplicates: UInt64 = 0
    private(set) var outOfOrder: UInt64 = 0
    /// Highest sequence number seen (valid when `received > 0`).
    private(set) var highest: UInt64 = 0
    /// RFC 3550 jitter estimate, nanoseconds.
    private(set) var jitter: Double = 0
    private var lastTransit: Int64?
    private var seen = [UInt64](repeating: 0, count: Int(window / 64))

    /// Distinct datagrams received.
    var distinct: UInt64 { received - duplicates }

    /// Datagrams missing out of `sent` (out of `highest + 1` if the sender's count is unknown).
    func lost(sent: UInt64?) -> UInt64 {
        let expected = sent ?? (received > 0 ? highest + 1 : 0)
        return expected > distinct ? expected - distinct : 0
    }

    private func isSeen(_ sequence: UInt64) -> Bool {
        let slot = sequence % Self.window
        return seen[Int(slot / 64)] & (1 << (slot % 64)) != 0
    }

    private mutating func mark(_ sequence: UInt64, _ on: Bool) {
        let slot = sequence % Self.window
        if on { seen[Int(slot / 64)] |= 1 << (slot % 64) } else { seen[Int(slot / 64)] &= ~(1 << (slot % 64)) }
    }

    /// Records one datagram: its sequence number, the sender's clock when it was sent and the
    /// receiver's clock when it arrived (nanoseconds; the two clocks need not agree). Returns
    /// false for a duplicate.
    @discardableResult
    mutating func record(sequence: UInt64, sent: UInt64, arrived: UInt64) -> Bool {
        received += 1
        if received == 1 {
            highest = sequence
            mark(sequence, true)
        } else if sequence > highest {
            // Forget the slots the window slides past, so they can be seen afresh.
            let gap = sequence - highest
            if gap >= Self.window {
                for index in seen.indices { seen[index] = 0 }
            } else {
                var s = highest + 1
                while s < sequence { mark(s, false); s += 1 }
            }
            highest = sequence
            mark(sequence, true)
        } else if highest - sequence < Self.window {
            if isSeen(sequence) {
                duplicates += 1
                return false
            }
            mark(sequence, true)
            outOfOrder += 1
        } else {
            outOfOrder += 1
        }
        // RFC 3550 6.4.1: D(i-1,i) = (Rj - Ri) - (Sj - Si) = transit_j - transit_i; J += (|D| - J) / 16.
        let transit = Int64(bitPattern: arrived &- sent)
        if let lastTransit {
            let d = Double(transit &- lastTransit).magnitude
            jitter += (d - jitter) / 16
        }
        lastTransit = transit
        return true
    }
}
