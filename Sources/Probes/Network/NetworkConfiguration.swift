// What the network probe's client asks for. Every field has a default, and a missing key in a
// decoded configuration (a TOML profile, a JSON request) takes it.
import Foundation

/// Which way data flows in a test.
public enum NetworkDirection: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The client sends, the server receives and measures ("upload", iperf3's default).
    case clientToServer = "client-to-server"
    /// The server sends, the client receives and measures (iperf3's `-R`).
    case serverToClient = "server-to-client"
    /// Both at once on separate connections, each direction measured by its receiver
    /// (iperf3's `--bidir`). TCP only.
    case bidirectional

    public var description: String { rawValue }
}

extension NetworkProbe {
    /// How long receivers spin by default (`Configuration.receiveSpinMicroseconds`), in
    /// microseconds; also what a server uses for a client that does not say.
    public static let defaultReceiveSpinMicroseconds = 50
    /// The longest receive spin a client may ask for (and a server accepts), in microseconds.
    public static let maximumReceiveSpinMicroseconds = 10_000

    /// What the client measures against a `NetworkProbeServer`. The tests run in this order:
    /// round-trip latency (on an idle path), then TCP throughput for every combination of
    /// `streams` × `directions`, then UDP for each of `udp.directions`.
    public struct Configuration: Sendable, Codable, Equatable {
        /// The server's host name or numeric address (IPv4 or IPv6).
        public var host: String
        /// The server's TCP port; UDP tests use the UDP port the server names.
        public var port: UInt16
        /// Parallel TCP connections per throughput test; one test for each entry.
        public var streams: [Int]
        /// Directions of the TCP throughput tests; one test for each entry (and each `streams`).
        public var directions: [NetworkDirection]
        /// Seconds each TCP throughput test sends for.
        public var duration: Double
        /// Bytes per `send(2)` (and per `recv(2)` buffer) on throughput streams, like iperf3's
        /// `--length` (its default for TCP, 128 KiB, is this one's).
        public var messageSize: Int
        /// SO_SNDBUF and SO_RCVBUF for throughput streams on both sides. Nil (the default) leaves the
        /// kernel's autotuning on, which is what reaches line rate on most paths.
        public var socketBufferSize: Int?
        /// Seconds per throughput sample in the results' `intervals` (and between progress reports).
        public var interval: Double
        /// Microseconds a receiving thread (the server's for client-to-server, the client's for
        /// server-to-client) keeps reading, yielding the CPU between tries, after its socket runs
        /// dry, before it sleeps until data arrives. Waking a sleeping receiver for every segment
        /// costs the CPU that delivers the data, so the spin raises what one stream reaches (about
        /// 2x on loopback) at the price of up to one core per receiving stream while data flows.
        /// 0: sleep at once, as iperf3 does. 0...10000.
        public var receiveSpinMicroseconds: Int
        /// The round-trip latency test; nil skips it.
        public var rtt: RTTTest?
        /// The UDP loss and jitter test; nil (the default) skips it.
        public var udp: UDPTest?
        /// Seconds to wait for a connection to the server, and for the server's answers that do
        /// not wait on a test.
        public var connectTimeout: Double
        /// A network namespace to open the client's sockets in (a file such as `/run/netns/NAME`, as
        /// `ip netns add` makes); nil: the process's own. Needs CAP_SYS_ADMIN.
        public var networkNamespace: String?

        public init(
            host: String, port: UInt16 = NetworkProbeServer.defaultPort, streams: [Int] = [1, 4],
            directions: [NetworkDirection] = [.clientToServer, .serverToClient, .bidirectional],
            duration: Double = 10, messageSize: Int = 128 * 1024, socketBufferSize: Int? = nil,
            interval: Double = 1, receiveSpinMicroseconds: Int = NetworkProbe.defaultReceiveSpinMicroseconds,
            rtt: RTTTest? = RTTTest(), udp: UDPTest? = nil, connectTimeout: Double = 5, networkNamespace: String? = nil
        ) {
            self.host = host
            self.port = port
            self.streams = streams
            self.directions = directions
            self.duration = duration
            self.messageSize = messageSize
            self.socketBufferSize = socketBufferSize
            self.interval = interval
            self.receiveSpinMicroseconds = receiveSpinMicroseconds
            self.rtt = rtt
            self.udp = udp
            self.connectTimeout = connectTimeout
            self.networkNamespace = networkNamespace
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration(host: try c.decode(String.self, forKey: .host))
            self.init(
                host: d.host,
                port: try c.decodeIfPresent(UInt16.self, forKey: .port) ?? d.port,
                streams: try c.decodeIfPresent([Int].self, forKey: .streams) ?? d.streams,
                directions: try c.decodeIfPresent([NetworkDirection].self, forKey: .directions) ?? d.directions,
                duration: try c.decodeIfPresent(Double.self, forKey: .duration) ?? d.duration,
                messageSize: try c.decodeIfPresent(Int.self, forKey: .messageSize) ?? d.messageSize,
                socketBufferSize: try c.decodeIfPresent(Int.self, forKey: .socketBufferSize),
                interval: try c.decodeIfPresent(Double.self, forKey: .interval) ?? d.interval,
                receiveSpinMicroseconds: try c.decodeIfPresent(Int.self, forKey: .receiveSpinMicroseconds) ?? d.receiveSpinMicroseconds,
                rtt: c.contains(.rtt) ? try c.decodeIfPresent(RTTTest.self, forKey: .rtt) : d.rtt,
                udp: try c.decodeIfPresent(UDPTest.self, forKey: .udp),
                connectTimeout: try c.decodeIfPresent(Double.self, forKey: .connectTimeout) ?? d.connectTimeout,
                networkNamespace: try c.decodeIfPresent(String.self, forKey: .networkNamespace))
        }

        enum CodingKeys: String, CodingKey {
            case host, port, streams, directions, duration, messageSize, socketBufferSize, interval, receiveSpinMicroseconds, rtt, udp
            case connectTimeout, networkNamespace
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(host, forKey: .host)
            try c.encode(port, forKey: .port)
            try c.encode(streams, forKey: .streams)
            try c.encode(directions, forKey: .directions)
            try c.encode(duration, forKey: .duration)
            try c.encode(messageSize, forKey: .messageSize)
            try c.encodeIfPresent(socketBufferSize, forKey: .socketBufferSize)
            try c.encode(interval, forKey: .interval)
            try c.encode(receiveSpinMicroseconds, forKey: .receiveSpinMicroseconds)
            // Explicitly null when off: a missing key means the default test.
            try c.encode(rtt, forKey: .rtt)
            try c.encodeIfPresent(udp, forKey: .udp)
            try c.encode(connectTimeout, forKey: .connectTimeout)
            try c.encodeIfPresent(networkNamespace, forKey: .networkNamespace)
        }

        /// Checks the values; throws `NetworkProbeError.invalidConfiguration` naming the first bad one.
        public func validate() throws {
            func bad(_ text: String) -> NetworkProbeError { .invalidConfiguration(text) }
            guard !host.isEmpty else { throw bad("host is empty") }
            guard port > 0 else { throw bad("port must be 1...65535") }
            guard streams.allSatisfy({ (1...1024).contains($0) }) else {
                throw bad("streams must each be 1...1024, not \(streams)")
            }
            guard duration > 0, duration.isFinite else { throw bad("duration must be > 0 seconds, not \(duration)") }
            guard (1...16 << 20).contains(messageSize) else { throw bad("messageSize must be 1...16777216 bytes, not \(messageSize)") }
            if let socketBufferSize, !(4096...1 << 30).contains(socketBufferSize) {
                throw bad("socketBufferSize must be 4096...1073741824 bytes, not \(socketBufferSize)")
            }
            guard interval >= 0.01, interval.isFinite else { throw bad("interval must be >= 0.01 seconds, not \(interval)") }
            guard (0...NetworkProbe.maximumReceiveSpinMicroseconds).contains(receiveSpinMicroseconds) else {
                throw bad("receiveSpinMicroseconds must be 0...\(NetworkProbe.maximumReceiveSpinMicroseconds), not \(receiveSpinMicroseconds)")
            }
            guard connectTimeout > 0, connectTimeout.isFinite else { throw bad("connectTimeout must be > 0 seconds") }
            if let rtt { try rtt.validate() }
            if let udp { try udp.validate() }
        }
    }

    /// Round-trip latency: one TCP connection (TCP_NODELAY on both ends) on which the client
    /// sends a small message and waits for the server to echo it, over and over.
    public struct RTTTest: Sendable, Codable, Equatable {
        /// Seconds to measure for.
        public var duration: Double
        /// Stop after this many round trips, even before `duration`; nil: only the duration counts.
        public var count: Int?
        /// Seconds from the start of one round trip to the start of the next; 0 (the default):
        /// back to back.
        public var interval: Double
        /// Bytes per message (at least 8: the sequence number the echo is checked against).
        public var messageSize: Int

        public init(duration: Double = 2, count: Int? = nil, interval: Double = 0, messageSize: Int = 64) {
            self.duration = duration
            self.count = count
            self.interval = interval
            self.messageSize = messageSize
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = RTTTest()
            self.init(
                duration: try c.decodeIfPresent(Double.self, forKey: .duration) ?? d.duration,
                count: try c.decodeIfPresent(Int.self, forKey: .count),
                interval: try c.decodeIfPresent(Double.self, forKey: .interval) ?? d.interval,
                messageSize: try c.decodeIfPresent(Int.self, forKey: .messageSize) ?? d.messageSize)
        }

        func validate() throws {
            guard duration > 0, duration.isFinite else { throw NetworkProbeError.invalidConfiguration("rtt.duration must be > 0 seconds") }
            if let count, count < 1 { throw NetworkProbeError.invalidConfiguration("rtt.count must be >= 1") }
            guard interval >= 0, interval.isFinite else { throw NetworkProbeError.invalidConfiguration("rtt.interval must be >= 0 seconds") }
            guard (8...65536).contains(messageSize) else {
                throw NetworkProbeError.invalidConfiguration("rtt.messageSize must be 8...65536 bytes, not \(messageSize)")
            }
        }
    }

    /// UDP loss, reordering and jitter: datagrams sent at a fixed rate, each carrying a sequence
    /// number and the sender's send time.
    public struct UDPTest: Sendable, Codable, Equatable {
        /// Payload bits per second the sender aims at.
        public var bitsPerSecond: Double
        /// UDP payload bytes per datagram (at least 32; keep it under the path MTU less 48 bytes of
        /// headers to avoid IP fragmentation).
        public var datagramSize: Int
        /// Seconds to send for, per direction.
        public var duration: Double
        /// Directions to test, one after the other (`bidirectional` is not supported for UDP).
        public var directions: [NetworkDirection]

        public init(bitsPerSecond: Double = 100_000_000, datagramSize: Int = 1400, duration: Double = 5,
                    directions: [NetworkDirection] = [.clientToServer]) {
            self.bitsPerSecond = bitsPerSecond
            self.datagramSize = datagramSize
            self.duration = duration
            self.directions = directions
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = UDPTest()
            self.init(
                bitsPerSecond: try c.decodeIfPresent(Double.self, forKey: .bitsPerSecond) ?? d.bitsPerSecond,
                datagramSize: try c.decodeIfPresent(Int.self, forKey: .datagramSize) ?? d.datagramSize,
                duration: try c.decodeIfPresent(Double.self, forKey: .duration) ?? d.duration,
                directions: try c.decodeIfPresent([NetworkDirection].self, forKey: .directions) ?? d.directions)
        }

        func validate() throws {
            guard bitsPerSecond >= 1000, bitsPerSecond <= 1e12 else {
                throw NetworkProbeError.invalidConfiguration("udp.bitsPerSecond must be 1000...1e12, not \(bitsPerSecond)")
            }
            guard (32...65507).contains(datagramSize) else {
                throw NetworkProbeError.invalidConfiguration("udp.datagramSize must be 32...65507 bytes, not \(datagramSize)")
            }
            guard duration > 0, duration.isFinite else { throw NetworkProbeError.invalidConfiguration("udp.duration must be > 0 seconds") }
            guard !directions.contains(.bidirectional) else {
                throw NetworkProbeError.invalidConfiguration("udp.directions: bidirectional is not supported for UDP; list both directions instead")
            }
        }
    }
}

/// Where the client's run has got to, reported about once per `interval`.
public struct NetworkProgress: Sendable, CustomStringConvertible {
    /// The running test, e.g. "rtt", "tcp 4 streams client-to-server", "udp server-to-client".
    public var test: String
    /// 1-based number of the running test.
    public var testNumber: Int
    /// How many tests the run has.
    public var testCount: Int
    /// Share of the whole run's planned sending time done, 0...1.
    public var fraction: Double
    /// The rate this client saw over the last interval (bits per second of payload it sent plus
    /// received; for `rtt`, round trips per second), when a test is sending.
    public var currentRate: Double?

    public var description: String {
        let rate = currentRate.map { test == "rtt" ? String(format: ", %.0f round trips/s", $0) : String(format: ", %.2f Gbit/s", $0 / 1e9) } ?? ""
        return String(format: "[%d/%d] %@ %.0f%%", testNumber, testCount, test, fraction * 100) + rate
    }
}
