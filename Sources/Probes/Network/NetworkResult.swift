// What the network probe measured. These types are embedded as they are in the burn-in's JSON
// report, so every field is documented and its unit named. Rates are payload bits per second
// (TCP or UDP payload, no headers), like iperf3's; times are seconds unless a name says
// otherwise; latencies are microseconds.
public import Foundation

/// Everything one client run measured against one server.
public struct NetworkResult: Sendable, Codable, Equatable {
    /// The server as configured, "host:port".
    public var server: String
    /// The numeric address the control connection reached, "address:port" ("[v6]:port").
    public var serverAddress: String
    /// The server's software, from its welcome (e.g. "nodeagent-netprobe").
    public var serverSoftware: String
    /// The control protocol version both sides spoke.
    public var protocolVersion: Int
    /// When the run started (wall clock).
    public var startedAt: Date
    /// When the run ended (wall clock).
    public var finishedAt: Date
    /// The configuration the run used.
    public var configuration: NetworkProbe.Configuration
    /// The round-trip latency test; nil if not configured.
    public var rtt: NetworkRTTResult?
    /// One entry per TCP throughput test, in the order run.
    public var tcp: [NetworkTCPResult]
    /// One entry per UDP test, in the order run (empty if not configured).
    public var udp: [NetworkUDPResult]
}

/// Which end of the test measured a figure.
public enum NetworkEndpoint: String, Sendable, Codable {
    case client
    case server
}

/// One TCP throughput test: `streams` connections per direction, for `duration` seconds.
public struct NetworkTCPResult: Sendable, Codable, Equatable {
    /// Parallel connections in each direction.
    public var streams: Int
    /// The direction(s) tested.
    public var direction: NetworkDirection
    /// Seconds the senders were asked to send for.
    public var duration: Double
    /// Bytes per send/recv call.
    public var messageSize: Int
    /// Data from the client to the server, measured by the server (nil if not tested).
    public var clientToServer: NetworkTransfer?
    /// Data from the server to the client, measured by the client (nil if not tested).
    public var serverToClient: NetworkTransfer?

    /// The sum of both directions' throughput (bits per second).
    public var bitsPerSecond: Double {
        (clientToServer?.bitsPerSecond ?? 0) + (serverToClient?.bitsPerSecond ?? 0)
    }
}

/// The data that went one way in a TCP test, over all its streams.
public struct NetworkTransfer: Sendable, Codable, Equatable {
    /// The end that received the data and measured the throughput.
    public var measuredBy: NetworkEndpoint
    /// Bytes the senders handed to the kernel, all streams.
    public var bytesSent: UInt64
    /// Bytes the receivers read, all streams (equal to `bytesSent` when every stream ended cleanly).
    public var bytesReceived: UInt64
    /// Seconds from the first byte received on any stream to the last byte (the end of the last
    /// stream), on the receiver's clock.
    public var seconds: Double
    /// `bytesReceived` × 8 ÷ `seconds`.
    public var bitsPerSecond: Double
    /// TCP segments retransmitted by the senders (the kernel's `tcpi_total_retrans`, summed), if
    /// the sender's kernel tells.
    public var retransmits: UInt64?
    /// Each stream on its own, by stream index.
    public var streams: [NetworkStreamResult]
    /// Throughput over time, all streams together: consecutive samples of `interval` seconds
    /// from the start of the test on the receiver's clock (the last one may be shorter).
    public var intervals: [NetworkInterval]
}

/// One TCP connection of a throughput test.
public struct NetworkStreamResult: Sendable, Codable, Equatable {
    /// 0-based index of the stream within its direction.
    public var index: Int
    /// Bytes its sender handed to the kernel.
    public var bytesSent: UInt64
    /// Bytes its receiver read.
    public var bytesReceived: UInt64
    /// Seconds from its first to its last byte received, on the receiver's clock.
    public var seconds: Double
    /// `bytesReceived` × 8 ÷ `seconds`.
    public var bitsPerSecond: Double
    /// Segments its sender retransmitted, if known.
    public var retransmits: UInt64?
}

/// A throughput sample.
public struct NetworkInterval: Sendable, Codable, Equatable {
    /// Start of the sample, seconds from the start of the test.
    public var start: Double
    /// End of the sample, seconds from the start of the test.
    public var end: Double
    /// Payload bytes received in the sample.
    public var bytes: UInt64
    /// `bytes` × 8 ÷ (`end` − `start`).
    public var bitsPerSecond: Double
}

/// The round-trip latency test.
public struct NetworkRTTResult: Sendable, Codable, Equatable {
    /// Bytes per message (each way).
    public var messageSize: Int
    /// Seconds between the starts of consecutive round trips asked for (0: back to back).
    public var interval: Double
    /// Seconds the test ran.
    public var seconds: Double
    /// Round trips per second achieved.
    public var roundTripsPerSecond: Double
    /// The distribution of round-trip times: from the client's send to the end of the echo's
    /// receipt, including both kernels' TCP stacks and the server's echo.
    public var latency: NetworkLatency
}

/// A latency distribution from an HdrHistogram (3 significant digits), in microseconds.
public struct NetworkLatency: Sendable, Codable, Equatable {
    /// Values recorded.
    public var count: UInt64
    /// Smallest value recorded (exact).
    public var minimum: Double
    /// Largest value recorded (exact).
    public var maximum: Double
    /// Arithmetic mean.
    public var mean: Double
    /// Standard deviation.
    public var standardDeviation: Double
    /// Median: the largest value that half of the values are at or below (percentiles are exact
    /// to the histogram's precision, 0.1%).
    public var p50: Double
    /// 90th percentile.
    public var p90: Double
    /// 99th percentile.
    public var p99: Double
    /// 99.9th percentile.
    public var p999: Double
    /// Points of the cumulative distribution for plots (HdrHistogram's percentile iteration, 5
    /// ticks per half distance), from the smallest value to 100%.
    public var distribution: [NetworkPercentile]
}

/// One point of a latency distribution.
public struct NetworkPercentile: Sendable, Codable, Equatable {
    /// Share of the values at or below `microseconds`, 0...100.
    public var percentile: Double
    public var microseconds: Double
}

/// One UDP test in one direction.
public struct NetworkUDPResult: Sendable, Codable, Equatable {
    /// Which way the datagrams went; the receiver measured.
    public var direction: NetworkDirection
    /// The end that received and measured.
    public var measuredBy: NetworkEndpoint
    /// The payload rate the sender aimed at.
    public var targetBitsPerSecond: Double
    /// The payload rate the sender reached: bytes sent × 8 ÷ its sending time.
    public var sentBitsPerSecond: Double
    /// UDP payload bytes per datagram.
    public var datagramSize: Int
    /// Seconds the sender sent for.
    public var duration: Double
    /// Datagrams the sender sent (`send(2)` accepted them).
    public var packetsSent: UInt64
    /// Distinct datagrams of the test the receiver got (duplicates not counted).
    public var packetsReceived: UInt64
    /// `packetsSent` − `packetsReceived` (never negative).
    public var packetsLost: UInt64
    /// `packetsLost` as a percentage of `packetsSent`.
    public var lossPercent: Double
    /// Datagrams received more than once (beyond the first copy).
    public var duplicates: UInt64
    /// Datagrams that arrived after one with a higher sequence number (late, reordered).
    public var outOfOrder: UInt64
    /// Interarrival jitter as RFC 3550 (6.4.1) defines it: the running mean, with gain 1/16, of
    /// the change in one-way transit time between consecutive datagrams in arrival order,
    /// microseconds. Clock offsets between the hosts cancel out.
    public var jitterMicroseconds: Double
    /// Payload bits per second received: distinct payload bytes × 8 ÷ `seconds`.
    public var bitsPerSecond: Double
    /// Seconds from the first to the last datagram received, on the receiver's clock.
    public var seconds: Double
    /// Received payload over time, as for TCP.
    public var intervals: [NetworkInterval]
}
