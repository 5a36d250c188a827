import Foundation
@testable import Probes
import Testing

@Suite("Network probe maths")
struct NetworkMathTests {
    @Test func throughputFromBytesAndSeconds() {
        #expect(NetworkMath.bitsPerSecond(bytes: 1_250_000_000, seconds: 10) == 1e9)
        #expect(NetworkMath.bitsPerSecond(bytes: 3, seconds: 0.5) == 48)
        #expect(NetworkMath.bitsPerSecond(bytes: 1000, seconds: 0) == 0)
    }

    @Test func intervalsFromBuckets() {
        let samples = NetworkMath.intervals(buckets: [100, 200, 50], interval: 1, end: 2.5)
        #expect(samples == [
            NetworkInterval(start: 0, end: 1, bytes: 100, bitsPerSecond: 800),
            NetworkInterval(start: 1, end: 2, bytes: 200, bitsPerSecond: 1600),
            NetworkInterval(start: 2, end: 2.5, bytes: 50, bitsPerSecond: 800),
        ])
        // A sliver at the end (1 ms of a 1 s interval) joins the sample before it.
        let folded = NetworkMath.intervals(buckets: [100, 200, 1], interval: 1, end: 2.001)
        #expect(folded.count == 2)
        #expect(folded[1].start == 1 && abs(folded[1].end - 2.001) < 1e-12 && folded[1].bytes == 201)
        #expect(abs(folded[1].bitsPerSecond - 201 * 8 / 1.001) < 1e-9)
        #expect(NetworkMath.sumBuckets([[1, 2], [10, 20, 30], []]) == [11, 22, 30])
    }

    @Test func transferFromStreams() {
        // Two streams on the receiver's clock: the span runs from the earliest first byte to the
        // latest last byte.
        let transfer = NetClientSession.transfer(
            measuredBy: .server,
            streams: [(0, 1_000_000, 1_000_000, 0.5, 2.5, 3), (1, 3_000_000, 3_000_000, 0.25, 4.25, nil)],
            buckets: [1_000_000, 2_000_000, 1_000_000], interval: 2)
        #expect(transfer.bytesSent == 4_000_000)
        #expect(transfer.bytesReceived == 4_000_000)
        #expect(transfer.seconds == 4)
        #expect(transfer.bitsPerSecond == 8_000_000)
        #expect(transfer.retransmits == 3)
        #expect(transfer.streams.map(\.bitsPerSecond) == [4_000_000, 6_000_000])
        #expect(transfer.intervals.map(\.bytes) == [1_000_000, 2_000_000, 1_000_000])
        #expect(transfer.intervals.map(\.end) == [2, 4, 4.25])
        #expect(transfer.intervals.last?.bitsPerSecond == 32_000_000)
    }

    @Test func percentilesOfOneToAThousandMicroseconds() {
        var recorder = NetLatencyRecorder()
        for us in 1...1000 { recorder.record(nanoseconds: UInt64(us) * 1000) }
        let l = recorder.summary
        #expect(l.count == 1000)
        #expect(l.minimum == 1)
        #expect(l.maximum == 1000)
        // HdrHistogram with 3 significant digits: within 0.1% of the exact order statistic.
        for (value, exact) in [(l.p50, 500.0), (l.p90, 900.0), (l.p99, 990.0), (l.p999, 999.0)] {
            #expect(abs(value - exact) <= exact * 0.001, "\(value) vs \(exact)")
        }
        #expect(abs(l.mean - 500.5) < 0.5)
        #expect(abs(l.standardDeviation - 288.67) < 0.5)
        #expect(l.distribution.first!.percentile < 1)
        #expect(l.distribution.last!.percentile == 100)
        #expect(l.distribution.map(\.microseconds) == l.distribution.map(\.microseconds).sorted())
    }

    @Test func percentilesOfATailHeavySet() {
        var recorder = NetLatencyRecorder()
        for _ in 0..<990 { recorder.record(nanoseconds: 10_000) }
        for _ in 0..<10 { recorder.record(nanoseconds: 5_000_000) }
        let l = recorder.summary
        #expect(abs(l.p50 - 10) <= 0.01)
        #expect(abs(l.p99 - 10) <= 0.01)
        #expect(abs(l.p999 - 5000) <= 5)
        #expect(l.maximum == 5000)
        #expect(NetLatencyRecorder().summary.count == 0)
    }

    @Test func udpLossReorderingDuplicatesAndJitter() {
        // (sequence, sender's clock, receiver's clock): 6 and 9 never arrive, 3 and 7 come late,
        // 5 comes twice.
        let datagrams: [(UInt64, UInt64, UInt64)] = [
            (0, 0, 100), (1, 10, 115), (2, 20, 120), (4, 40, 150), (3, 30, 160), (5, 50, 170), (5, 50, 171), (8, 80, 200), (7, 70, 205),
        ]
        var statistics = NetUDPReceiverStatistics()
        let fresh = datagrams.map { statistics.record(sequence: $0.0, sent: $0.1 + 1_000_000, arrived: $0.2) }
        #expect(fresh == [true, true, true, true, true, true, false, true, true])
        #expect(statistics.received == 9)
        #expect(statistics.duplicates == 1)
        #expect(statistics.distinct == 8)
        #expect(statistics.outOfOrder == 2)
        #expect(statistics.highest == 8)
        #expect(statistics.lost(sent: 10) == 2)
        #expect(statistics.lost(sent: nil) == 1)
        // RFC 3550: transits 100 105 100 110 130 120 120 135 (the duplicate skipped), J += (|D| − J)/16.
        // The sender's clock being 1 ms off changes nothing.
        #expect(abs(statistics.jitter - 3.438060600310564) < 1e-12)
    }

    @Test func udpDuplicateWindowSlides() {
        var statistics = NetUDPReceiverStatistics()
        let window = NetUDPReceiverStatistics.window
        statistics.record(sequence: 0, sent: 0, arrived: 0)
        statistics.record(sequence: window, sent: 0, arrived: 0)  // same slot as 0, a new datagram
        #expect(statistics.duplicates == 0)
        statistics.record(sequence: window, sent: 0, arrived: 0)
        #expect(statistics.duplicates == 1)
        statistics.record(sequence: 0, sent: 0, arrived: 0)  // too old to tell: late, not a duplicate
        #expect(statistics.outOfOrder == 1)
        statistics.record(sequence: 3 * window, sent: 0, arrived: 0)  // a jump beyond the window forgets everything
        statistics.record(sequence: 3 * window - 1, sent: 0, arrived: 0)
        #expect(statistics.duplicates == 1)
        #expect(statistics.outOfOrder == 2)
        #expect(statistics.lost(sent: 3 * window + 1) == 3 * window + 1 - 5)
    }

    @Test func configurationDecodesWithDefaults() throws {
        let decoded = try JSONDecoder().decode(NetworkProbe.Configuration.self, from: Data(#"{"host": "node7", "streams": [8]}"#.utf8))
        var expected = NetworkProbe.Configuration(host: "node7")
        expected.streams = [8]
        #expect(decoded == expected)
        #expect(decoded.rtt == NetworkProbe.RTTTest())
        let noRTT = try JSONDecoder().decode(NetworkProbe.Configuration.self, from: Data(#"{"host": "h", "rtt": null, "udp": {"bitsPerSecond": 1e6}}"#.utf8))
        #expect(noRTT.rtt == nil)
        #expect(noRTT.udp == NetworkProbe.UDPTest(bitsPerSecond: 1e6))
        // A configuration without RTT stays without it through JSON (the report embeds it).
        let roundTrip = try JSONDecoder().decode(NetworkProbe.Configuration.self, from: JSONEncoder().encode(noRTT))
        #expect(roundTrip == noRTT)
        let full = NetworkProbe.Configuration(host: "h", socketBufferSize: 1 << 20, udp: .init(), networkNamespace: "/run/netns/x")
        #expect(try JSONDecoder().decode(NetworkProbe.Configuration.self, from: JSONEncoder().encode(full)) == full)
    }

    @Test func configurationValidation() {
        func problem(_ change: (inout NetworkProbe.Configuration) -> Void) -> String? {
            var configuration = NetworkProbe.Configuration(host: "h")
            change(&configuration)
            do {
                try configuration.validate()
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(problem { _ in } == nil)
        #expect(problem { $0.streams = [0] }?.contains("streams") == true)
        #expect(problem { $0.duration = 0 }?.contains("duration") == true)
        #expect(problem { $0.messageSize = 0 }?.contains("messageSize") == true)
        #expect(problem { $0.rtt?.messageSize = 4 }?.contains("rtt.messageSize") == true)
        #expect(problem { $0.udp = .init(directions: [.bidirectional]) }?.contains("bidirectional") == true)
        #expect(problem { $0.udp = .init(datagramSize: 16) }?.contains("udp.datagramSize") == true)
        #expect(problem { $0.receiveSpinMicroseconds = 0 } == nil)
        #expect(problem { $0.receiveSpinMicroseconds = 10_000 } == nil)
        #expect(problem { $0.receiveSpinMicroseconds = -1 }?.contains("receiveSpinMicroseconds must be 0...10000, not -1") == true)
        #expect(problem { $0.receiveSpinMicroseconds = 10_001 }?.contains("receiveSpinMicroseconds") == true)
    }

    @Test func receiveSpinDefaultsAndDecodes() throws {
        #expect(NetworkProbe.Configuration(host: "h").receiveSpinMicroseconds == 50)
        let bare = try JSONDecoder().decode(NetworkProbe.Configuration.self, from: Data(#"{"host": "h"}"#.utf8))
        #expect(bare.receiveSpinMicroseconds == 50)
        let off = try JSONDecoder().decode(NetworkProbe.Configuration.self, from: Data(#"{"host": "h", "receiveSpinMicroseconds": 0}"#.utf8))
        #expect(off.receiveSpinMicroseconds == 0)
        let again = try JSONDecoder().decode(NetworkProbe.Configuration.self, from: JSONEncoder().encode(off))
        #expect(again == off)
        // A request from a client that predates the field decodes with no spin named.
        let old = #"{"kind": "tcp", "direction": "client-to-server", "streams": 1, "duration": 1, "messageSize": 131072, "interval": 1}"#
        #expect(try JSONDecoder().decode(NetTestRequest.self, from: Data(old.utf8)).receiveSpinMicroseconds == nil)
    }
}
