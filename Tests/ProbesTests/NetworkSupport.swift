import Foundation
@testable import Probes
import Synchronization
import Testing

/// Lines a server logs, kept and streamed so a test can wait for an event without sleeping.
final class NetworkServerLog: Sendable {
    let lines = Mutex<[String]>([])
    let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
    }

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
        continuation.yield(line)
    }

    /// Waits for a line satisfying `predicate` (the stream has every line since the start).
    func waitFor(_ predicate: (String) -> Bool) async -> String? {
        for await line in stream where predicate(line) { return line }
        return nil
    }
}

/// Runs an in-process server (by default on 127.0.0.1, a free port) around `body`, then stops it
/// by cancellation and waits until it has stopped.
func withNetworkServer<T: Sendable>(
    _ configuration: NetworkProbeServer.Configuration = .init(host: "127.0.0.1", port: 0),
    log: NetworkServerLog = NetworkServerLog(),
    _ body: (NetworkProbeServer) async throws -> T
) async throws -> T {
    let server = try NetworkProbeServer(configuration: configuration)
    let task = Task { try await server.run(log: { log.append($0) }) }
    do {
        let result = try await body(server)
        task.cancel()
        try await task.value
        return result
    } catch {
        task.cancel()
        _ = try? await task.value
        throw error
    }
}

/// A client configuration for short runs against `port` on `host`.
func networkQuickConfiguration(_ host: String = "127.0.0.1", port: UInt16, streams: [Int] = [1], directions: [NetworkDirection] = [.clientToServer],
                        duration: Double = 0.5) -> NetworkProbe.Configuration {
    NetworkProbe.Configuration(host: host, port: port, streams: streams, directions: directions, duration: duration, interval: 0.25, rtt: nil)
}

/// The byte counts and rates of one direction of a TCP test are consistent with each other.
func checkNetworkTransfer(_ transfer: NetworkTransfer?, streams: Int, measuredBy: NetworkEndpoint, duration: Double,
                   minimumBitsPerSecond: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let transfer else {
        Issue.record("missing transfer", sourceLocation: sourceLocation)
        return
    }
    #expect(transfer.measuredBy == measuredBy, sourceLocation: sourceLocation)
    #expect(transfer.bytesReceived > 0, sourceLocation: sourceLocation)
    #expect(transfer.bytesSent == transfer.bytesReceived, "every byte sent was received", sourceLocation: sourceLocation)
    #expect(transfer.streams.count == streams, sourceLocation: sourceLocation)
    #expect(transfer.streams.map(\.index) == Array(0..<streams), sourceLocation: sourceLocation)
    for stream in transfer.streams {
        #expect(stream.bytesReceived > 0 && stream.bytesSent == stream.bytesReceived, "stream \(stream.index)", sourceLocation: sourceLocation)
    }
    #expect(transfer.streams.reduce(0) { $0 + $1.bytesReceived } == transfer.bytesReceived, sourceLocation: sourceLocation)
    #expect(transfer.intervals.reduce(0) { $0 + $1.bytes } == transfer.bytesReceived, "samples add up", sourceLocation: sourceLocation)
    // The senders stop after `duration`; the receivers see the first to the last byte.
    #expect(transfer.seconds > duration * 0.8 && transfer.seconds < duration + 5, "\(transfer.seconds) s", sourceLocation: sourceLocation)
    #expect(abs(transfer.bitsPerSecond - Double(transfer.bytesReceived) * 8 / transfer.seconds) < 1, sourceLocation: sourceLocation)
    #expect(transfer.bitsPerSecond > minimumBitsPerSecond && transfer.bitsPerSecond < 1e13, "\(transfer.bitsPerSecond) bit/s", sourceLocation: sourceLocation)
}
