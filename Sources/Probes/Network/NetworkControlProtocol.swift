// The network probe's wire protocol (docs: the comment below is the specification).
//
// Everything goes through the server's one TCP port (default 5301); UDP tests also use one UDP
// port the server names (the same number when it is free).
//
// Frames: a 4-byte big-endian length, then that many bytes of JSON encoding one `NetFrame`.
//
// A connection's first frame says what it is:
// - `hello` opens a control connection (one per client run). The server answers `welcome`, or
//   `refused` (busy with another client's test; protocol version differs; garbage).
//   Then, for each test: client `request` → server `ready` (a cookie, and for UDP the port) or
//   `refused`; the client opens the test's data connections (TCP), each starting with a `stream`
//   frame carrying the cookie, or for a server-to-client UDP test sends `udp hello` datagrams
//   until the server knows its address; the server answers `start` when everything is in place,
//   and both sides start their clocks. Senders send for the test's duration, then shut down
//   their side of the connection; receivers read to the end. For client-to-server UDP the client
//   sends `senderDone` with its counts. The server then sends `result` (its side's counts) or
//   `failed`. After the last test the client sends `bye`.
// - `stream` opens a data connection of the running test (TCP throughput or RTT).
//
// UDP datagrams: 8-byte cookie, 8-byte sequence number (UInt64.max: a hello), 8-byte send time
// (sender's CLOCK_MONOTONIC, ns), all big-endian, then padding to the datagram size.
import Foundation

enum NetProtocol {
    static let name = "nodeagent-netprobe"
    static let version = 1
    static let maximumFrame = 64 << 20
    /// The first frame of a connection (hello or stream) is small.
    static let maximumFirstFrame = 64 << 10
    /// Seconds a server waits for a connection's first frame and for a test's data connections.
    static let handshakeTimeout: UInt64 = 10_000_000_000
    /// Seconds a server keeps an idle control connection between tests.
    static let idleTimeout: UInt64 = 60_000_000_000
    /// Nanoseconds a UDP receiver keeps listening after the sender says it is done.
    static let udpDrain: UInt64 = 300_000_000
    static let udpHeader = 24
    static let udpHelloSequence = UInt64.max
}

/// Who the data of a connection goes to.
enum NetStreamRole: String, Codable, Sendable {
    /// Client sends, server receives.
    case upload
    /// Server sends, client receives.
    case download
    /// Client pings, server echoes.
    case echo
}

struct NetHello: Codable, Sendable {
    var `protocol`: String
    var version: Int
    var software: String
}

struct NetStreamHello: Codable, Sendable {
    var cookie: String
    var role: NetStreamRole
    var index: Int
}

struct NetWelcome: Codable, Sendable {
    var `protocol`: String
    var version: Int
    var software: String
}

struct NetRefusal: Codable, Sendable {
    enum Reason: String, Codable, Sendable {
        case busy, version, `protocol`, limits, invalid
    }
    var reason: Reason
    var message: String
    var version: Int
}

enum NetTestKind: String, Codable, Sendable {
    case tcp, rtt, udp
}

struct NetTestRequest: Codable, Sendable {
    var kind: NetTestKind
    var direction: NetworkDirection
    var streams: Int
    var duration: Double
    var messageSize: Int
    var socketBufferSize: Int?
    var interval: Double
    /// TCP: how long the server's receivers spin (`Configuration.receiveSpinMicroseconds`);
    /// absent from older clients, which get the default.
    var receiveSpinMicroseconds: Int? = nil
    /// UDP only.
    var bitsPerSecond: Double?
    var datagramSize: Int?
}

struct NetReady: Codable, Sendable {
    var cookie: String
    var udpPort: UInt16?
}

struct NetSenderDone: Codable, Sendable {
    var packets: UInt64
    var bytes: UInt64
    var seconds: Double
}

/// One stream as the server saw it.
struct NetStreamReport: Codable, Sendable {
    var role: NetStreamRole
    var index: Int
    var bytesSent: UInt64
    var bytesReceived: UInt64
    /// Seconds from the test's start on the server's clock.
    var firstByte: Double?
    var lastByte: Double?
    var retransmits: UInt64?
    var error: String?
}

struct NetUDPReport: Codable, Sendable {
    /// Receiver side (client-to-server).
    var received: UInt64?
    var distinct: UInt64?
    var duplicates: UInt64?
    var outOfOrder: UInt64?
    var jitterNanoseconds: Double?
    var distinctBytes: UInt64?
    var firstArrival: Double?
    var lastArrival: Double?
    /// Sender side (server-to-client).
    var sent: NetSenderDone?
}

struct NetServerReport: Codable, Sendable {
    var streams: [NetStreamReport]
    /// Bytes received per interval, summed over the server's receiving streams.
    var receivedBuckets: [UInt64]
    var udp: NetUDPReport?
}

enum NetFrame: Codable, Sendable {
    case hello(NetHello)
    case stream(NetStreamHello)
    case welcome(NetWelcome)
    case refused(NetRefusal)
    case request(NetTestRequest)
    case ready(NetReady)
    case start
    case senderDone(NetSenderDone)
    case result(NetServerReport)
    case failed(String)
    case bye

    var name: String {
        switch self {
        case .hello: "hello"
        case .stream: "stream"
        case .welcome: "welcome"
        case .refused: "refused"
        case .request: "request"
        case .ready: "ready"
        case .start: "start"
        case .senderDone: "senderDone"
        case .result: "result"
        case .failed: "failed"
        case .bye: "bye"
        }
    }
}

extension NetSocket {
    func send(_ frame: NetFrame) throws {
        let body = try JSONEncoder().encode(frame)
        var data = Data(capacity: body.count + 4)
        withUnsafeBytes(of: UInt32(body.count).bigEndian) { data.append(contentsOf: $0) }
        data.append(body)
        try data.withUnsafeBytes { try sendAll($0) }
    }

    /// The next frame; nil if the peer closed the connection cleanly before it.
    /// Throws `NetIOError.garbage` when the bytes are not a frame of this protocol.
    func receiveFrame(deadline: UInt64, maximum: Int = NetProtocol.maximumFrame) throws -> NetFrame? {
        var header = [UInt8](repeating: 0, count: 4)
        guard try header.withUnsafeMutableBytes({ try receiveExactly($0, deadline: deadline) }) else { return nil }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        guard length >= 2, length <= maximum else {
            throw NetIOError.garbage("it sent bytes that are not a probe frame (\(NetSocket.printable(header)))")
        }
        var body = Data(count: length)
        try body.withUnsafeMutableBytes {
            guard try receiveExactly($0, deadline: deadline) else { throw NetIOError.closed }
        }
        do {
            return try JSONDecoder().decode(NetFrame.self, from: body)
        } catch {
            throw NetIOError.garbage("it sent a frame this version does not understand (\(NetSocket.printable(Array(body.prefix(60)))))")
        }
    }

    static func printable(_ bytes: [UInt8]) -> String {
        let text = bytes.map { (32...126).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
        return "\"\(text)\""
    }
}
