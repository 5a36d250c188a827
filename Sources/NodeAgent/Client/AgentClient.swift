public import AgentAPI
import GRPCCore
public import GRPCNIOTransportHTTP2

/// Where and how to reach an agent's API.
public enum AgentEndpoint: Sendable, CustomStringConvertible {
    /// The local admins' unix socket.
    case unix(path: String)
    /// TCP with mutual TLS: the client's certificate and key, and the CA that signed the server's
    /// (whose certificate must name `host`).
    case tls(host: String, port: Int, certificate: String, key: String, ca: String)
    /// Plaintext TCP (an agent started with --insecure).
    case insecure(host: String, port: Int)

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tls(let host, let port, _, _, _): "\(host):\(port) (mTLS)"
        case .insecure(let host, let port): "\(host):\(port) (plaintext)"
        }
    }

    /// The client transport for this endpoint.
    public func transport() throws -> HTTP2ClientTransport.Posix {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.connection.maxIdleTime = nil
        switch self {
        case .unix(let path):
            return try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: path), transportSecurity: .plaintext, config: config)
        case .insecure(let host, let port):
            return try HTTP2ClientTransport.Posix(target: .dns(host: host, port: port), transportSecurity: .plaintext, config: config)
        case .tls(let host, let port, let certificate, let key, let ca):
            let security = HTTP2ClientTransport.Posix.TransportSecurity.mTLS(
                certificateChain: [.file(path: certificate, format: .pem)], privateKey: .file(path: key, format: .pem)
            ) { tls in
                tls.trustRoots = .certificates([.file(path: ca, format: .pem)])
                tls.serverCertificateVerification = .fullVerification
            }
            return try HTTP2ClientTransport.Posix(
                target: .dns(host: host, port: port), transportSecurity: security, config: config)
        }
    }
}

/// A client of the agent's API: the service stubs over one connection, plus the waiting
/// that every mutating call needs (submit, then watch the task until it is terminal).
public struct AgentClient: Sendable {
    public let node: Nodeagent_V1_Node.Client<HTTP2ClientTransport.Posix>
    public let guests: Nodeagent_V1_Guests.Client<HTTP2ClientTransport.Posix>
    public let volumes: Nodeagent_V1_Volumes.Client<HTTP2ClientTransport.Posix>
    public let cgroups: Nodeagent_V1_CGroups.Client<HTTP2ClientTransport.Posix>
    public let tasks: Nodeagent_V1_Tasks.Client<HTTP2ClientTransport.Posix>
    public let events: Nodeagent_V1_Events.Client<HTTP2ClientTransport.Posix>
    public let burnin: Nodeagent_V1_BurnIn.Client<HTTP2ClientTransport.Posix>

    init(_ client: GRPCClient<HTTP2ClientTransport.Posix>) {
        node = .init(wrapping: client)
        guests = .init(wrapping: client)
        volumes = .init(wrapping: client)
        cgroups = .init(wrapping: client)
        tasks = .init(wrapping: client)
        events = .init(wrapping: client)
        burnin = .init(wrapping: client)
    }

    /// Connects, runs `body`, and closes the connection.
    public static func with<Result: Sendable>(
        _ endpoint: AgentEndpoint, _ body: (AgentClient) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(transport: try endpoint.transport()) { client in
            try await body(AgentClient(client))
        }
    }

    /// Watches a task until it is terminal and returns its last state; `progress` hears every
    /// update on the way.
    public func wait(
        for task: Nodeagent_V1_Task, progress: @escaping @Sendable (Nodeagent_V1_Task) -> Void = { _ in }
    ) async throws -> Nodeagent_V1_Task {
        if task.isTerminal { return task }
        var request = Nodeagent_V1_WatchTaskRequest()
        request.id = task.id
        return try await tasks.watch(request) { response in
            var last = task
            for try await update in response.messages {
                progress(update)
                last = update
            }
            return last
        }
    }
}

extension Nodeagent_V1_Task {
    /// Succeeded, failed or cancelled.
    public var isTerminal: Bool {
        switch state {
        case .succeeded, .failed, .cancelled: true
        default: false
        }
    }
}
