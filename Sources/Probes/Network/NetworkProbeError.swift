// The network probe's errors: each names the peer and the reason.

/// Why a network test could not run or was cut short.
public enum NetworkProbeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration does not make sense (the text names the field).
    case invalidConfiguration(String)
    /// The server's host name could not be resolved.
    case resolution(host: String, reason: String)
    /// Nothing listens at the peer's port (ECONNREFUSED).
    case connectionRefused(peer: String)
    /// The peer did not answer in time; `during` names what was awaited.
    case timeout(peer: String, during: String, seconds: Double)
    /// The peer could not be reached (no route, network unreachable, ...).
    case unreachable(peer: String, reason: String)
    /// The peer answered, but not as a nodeagent network probe of a compatible protocol.
    case protocolMismatch(peer: String, reason: String)
    /// Both sides speak the probe protocol, but different versions of it.
    case versionMismatch(peer: String, localVersion: Int, peerVersion: Int)
    /// The server is running another test (it runs one at a time).
    case busy(peer: String, message: String)
    /// The server refused the test (e.g. over its limits).
    case refused(peer: String, reason: String)
    /// The connection broke during a test, or the peer reported a failure.
    case connectionLost(peer: String, during: String, reason: String)
    /// A socket could not be opened, bound or listened on.
    case socket(address: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let text):
            "invalid network probe configuration: \(text)"
        case .resolution(let host, let reason):
            "cannot resolve \(host): \(reason)"
        case .connectionRefused(let peer):
            "connection to \(peer) refused: no network probe server listens there (start one with `nodeagent burnin net-server`)"
        case .timeout(let peer, let during, let seconds):
            "\(peer) did not answer within \(formatSeconds(seconds)) (\(during))"
        case .unreachable(let peer, let reason):
            "cannot reach \(peer): \(reason)"
        case .protocolMismatch(let peer, let reason):
            "\(peer) is not a compatible nodeagent network probe: \(reason)"
        case .versionMismatch(let peer, let local, let remote):
            "\(peer) speaks network probe protocol version \(remote), this side speaks version \(local)"
        case .busy(let peer, let message):
            "\(peer) is busy: \(message)"
        case .refused(let peer, let reason):
            "\(peer) refused the test: \(reason)"
        case .connectionLost(let peer, let during, let reason):
            "lost \(peer) during \(during): \(reason)"
        case .socket(let address, let reason):
            "cannot open a socket on \(address): \(reason)"
        }
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
}
