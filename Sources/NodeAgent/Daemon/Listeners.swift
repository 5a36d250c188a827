import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import Logging
import NIOCore
import X509

/// The identities a client certificate presents: its subject CN and its SAN DNS names and URIs.
enum ClientIdentity {
    static func names(_ certificate: Certificate) -> [String] {
        var names: [String] = []
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                names.append("\(attribute.value)")
            }
        }
        if let sans = try? certificate.extensions.subjectAlternativeNames {
            for name in sans {
                switch name {
                case .dnsName(let dns): names.append(dns)
                case .uniformResourceIdentifier(let uri): names.append(uri)
                default: break
                }
            }
        }
        return names
    }
}

/// Refuses every RPC on the TCP listener from a client whose certificate (already verified
/// against `api.tls_client_ca` by the TLS handshake) names no identity on the allow-list.
struct AllowListInterceptor: ServerInterceptor {
    let allowed: LockedValue<Set<String>>
    let logger: Logger

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let certificate = (context.transportSpecific as? HTTP2ServerTransport.Posix.Context)?.peerCertificate
        guard let certificate else {
            throw RPCError(code: .unauthenticated, message: "a client certificate is required")
        }
        let names = ClientIdentity.names(certificate)
        let allowed = allowed.get()
        guard names.contains(where: allowed.contains) else {
            logger.warning(
                "refused a client outside api.allowed_clients",
                metadata: ["peer": "\(context.remotePeer)", "identities": "\(names.joined(separator: ","))", "method": "\(context.descriptor)"])
            throw RPCError(
                code: .permissionDenied,
                message: "client identity \(names.isEmpty ? "(none)" : names.joined(separator: ", ")) is not in api.allowed_clients")
        }
        return try await next(request, context)
    }
}

/// One bound listener: its server and what it says about itself.
struct Listener: Sendable {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix
    let description: String
    /// A unix socket's path, so it can be removed at shutdown.
    let socketPath: String?
}

/// Why a listener could not be set up; `nodeagent serve` maps each case to its exit code.
public enum ListenerError: Error, Sendable, CustomStringConvertible {
    /// The unix socket's directory cannot be created.
    case socketDirectory(FileSystemError)
    /// Another process (another agent) listens on the unix socket.
    case socketInUse(path: String)
    /// The unix socket cannot be put in place (a file that is not a socket is in the way, its
    /// mode cannot be set).
    case socket(path: String, reason: String)
    /// The TLS material is missing or unreadable.
    case tls(reason: String)
    /// A listener could not bind its address (in use, not available on this host).
    case bind(listener: String, reason: String)
    /// The network probe server could not bind its address.
    case netServer(address: String, reason: String)

    public var description: String {
        switch self {
        case .socketDirectory(let error): "unix socket: \(error)"
        case .socketInUse(let path): "unix socket \(path): another process is listening on it (is an agent already running?)"
        case .socket(let path, let reason): "unix socket \(path): \(reason)"
        case .tls(let reason): "TLS: \(reason)"
        case .bind(let listener, let reason): "cannot listen on \(listener): \(reason)"
        case .netServer(let address, let reason): "burnin.net_server_listen \(address): \(reason)"
        }
    }
}

enum Listeners {
    /// The largest request message the agent reads (4 MiB); a longer one is answered with
    /// RESOURCE_EXHAUSTED by `StreamGuard` before it is buffered.
    static let maxRequestSize = 4 << 20

    /// The listen(2) backlog: connections the kernel queues before the agent accepts them. The
    /// kernel caps it at net.core.somaxconn (4096 on current kernels). NIO's default, 128, made a
    /// burst of 200 clients connecting at once fail with UNAVAILABLE (on a unix socket a full
    /// backlog refuses the connect at once).
    static let listenBacklog: Int32 = 4096

    /// gRPC's limits, the same on both listeners.
    ///
    /// - HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS is advertised (`api.max_concurrent_streams`), so a
    ///   client queues calls beyond it on its side. Without it, swift-nio-http2 enforced an
    ///   unadvertised limit of 100 and tore the whole connection down (GOAWAY, PROTOCOL_ERROR) at
    ///   the 101st concurrent call.
    /// - Request messages over `maxRequestSize` are refused with RESOURCE_EXHAUSTED, and a call's
    ///   deadline (grpc-timeout) is enforced with one event-loop timer (`StreamGuard`).
    /// - On the unix socket (`peerCredentials`), each connection's peer credentials are kept for
    ///   the audit trail (`CallerIdentity.swift`).
    static func transportConfig(maxConcurrentStreams: Int, peerCredentials: Bool) -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.rpc.maxRequestPayloadSize = maxRequestSize
        config.http2.maxConcurrentStreams = maxConcurrentStreams
        config.channelDebuggingCallbacks.onBindTCPListener = { channel in
            // Runs before bind(2) and listen(2): the option is applied by listen.
            channel.setOption(ChannelOptions.backlog, value: listenBacklog)
        }
        if peerCredentials {
            config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in PeerCredentialsHolder.attach(to: channel) }
        }
        config.channelDebuggingCallbacks.onAcceptHTTP2Stream = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(StreamGuard(streamOf: channel, limit: maxRequestSize), position: .first)
            }
        }
        return config
    }

    /// The local admins' socket. A stale socket file (nobody listening) is replaced; a live one
    /// means another agent runs, which is refused.
    static func unix(path: String, mode: Int, maxConcurrentStreams: Int, services: [any RegistrableRPCService]) throws -> Listener {
        do throws(FileSystemError) {
            try LocalFiles.createDirectory(LocalFiles.parentDirectory(of: path), mode: 0o750)
        } catch {
            throw ListenerError.socketDirectory(error)
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw ListenerError.socket(path: path, reason: "exists and is not a socket; refusing to replace it")
            }
            if isListening(path) { throw ListenerError.socketInUse(path: path) }
            unlink(path)
        }
        let transport = HTTP2ServerTransport.Posix(
            address: .unixDomainSocket(path: path), transportSecurity: .plaintext,
            config: transportConfig(maxConcurrentStreams: maxConcurrentStreams, peerCredentials: true))
        return Listener(
            server: GRPCServer(transport: transport, services: services, interceptors: [CallerInterceptor(), ReadAdmissionInterceptor()]), transport: transport,
            description: "unix:\(path)", socketPath: path)
    }

    /// The controller's TCP listener: mutual TLS, client certificates verified against the CA
    /// and then checked against the allow-list; or plaintext with `insecure` (development only).
    static func tcp(
        _ address: HostAndPort, api: AgentConfig.API, insecure: Bool, allowed: LockedValue<Set<String>>, logger: Logger,
        services: [any RegistrableRPCService]
    ) throws -> Listener {
        let socketAddress: GRPCNIOTransportCore.SocketAddress =
            address.host.contains(":") ? .ipv6(host: address.host, port: address.port) : .ipv4(host: address.host, port: address.port)
        let limits = transportConfig(maxConcurrentStreams: api.maxConcurrentStreams, peerCredentials: false)
        if insecure {
            let transport = HTTP2ServerTransport.Posix(address: socketAddress, transportSecurity: .plaintext, config: limits)
            return Listener(
                server: GRPCServer(transport: transport, services: services, interceptors: [CallerInterceptor(), ReadAdmissionInterceptor()]), transport: transport,
                description: "tcp:\(address) (PLAINTEXT, --insecure)", socketPath: nil)
        }
        for (key, path) in [("api.tls_certificate", api.tlsCertificate), ("api.tls_key", api.tlsKey), ("api.tls_client_ca", api.tlsClientCA)] {
            guard !path.isEmpty else { throw ListenerError.tls(reason: "\(key) is required for the TCP listener (or run with --insecure)") }
            guard FileManager.default.isReadableFile(atPath: path) else { throw ListenerError.tls(reason: "\(key): cannot read \(path)") }
        }
        let security = HTTP2ServerTransport.Posix.TransportSecurity.mTLS(
            certificateChain: [.file(path: api.tlsCertificate, format: .pem)],
            privateKey: .file(path: api.tlsKey, format: .pem)
        ) { tls in
            tls.trustRoots = .certificates([.file(path: api.tlsClientCA, format: .pem)])
            tls.clientCertificateVerification = .noHostnameVerification
        }
        let transport = HTTP2ServerTransport.Posix(address: socketAddress, transportSecurity: security, config: limits)
        let server = GRPCServer(
            transport: transport, services: services,
            interceptors: [
                AllowListInterceptor(allowed: allowed, logger: logger), CallerInterceptor(),
                ReadAdmissionInterceptor(),
            ])
        return Listener(server: server, transport: transport, description: "tcp:\(address) (mTLS)", socketPath: nil)
    }

    /// Whether something accepts connections on a unix socket.
    private static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(107))
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }
}
