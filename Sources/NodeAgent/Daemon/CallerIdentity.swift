import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import X509

/// Who made the call being served, for the audit trail: forced changes to protected or foreign
/// guests, and every submitted task, are logged with it.
///
/// - On the TCP listener: the identities of the client certificate (already checked against
///   `api.allowed_clients`) and the peer address.
/// - On the unix socket: the peer's uid and pid, from `SO_PEERCRED` taken by the kernel when
///   the connection was accepted (`PeerCredentialsHolder`) and stamped on each call's headers
///   (`StreamGuard`), which first removes anything a client put under that name.
enum Caller {
    /// The caller of the unary call being served; nil outside a call.
    @TaskLocal static var current: String?

    /// The request header that carries a unix peer's credentials from the transport to the
    /// interceptor. Never trusted from a client: `StreamGuard` removes it from every request.
    static let header = "nodeagent-caller"

    /// "uid 0, pid 1234, unix socket" (no name lookup: NSS may block, and this runs on an
    /// event loop).
    static func describe(_ credentials: PeerCredential) -> String {
        "uid \(credentials.uid), pid \(credentials.pid), unix socket"
    }
}

/// Puts the caller's identity in `Caller.current` while the call's handler runs.
struct CallerInterceptor: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let identity: String
        if let certificate = (context.transportSpecific as? HTTP2ServerTransport.Posix.Context)?.peerCertificate {
            identity = "certificate \(ClientIdentity.names(certificate).joined(separator: ", ")), \(context.remotePeer)"
        } else if let stamped = request.metadata[stringValues: Caller.header].first(where: { _ in true }) {
            identity = stamped
        } else {
            identity = context.remotePeer
        }
        return try await Caller.$current.withValue(identity) { try await next(request, context) }
    }
}

/// The kernel's `struct ucred` (SO_PEERCRED): the connecting process's pid, uid and gid.
struct PeerCredential: Sendable {
    var pid: pid_t = 0
    var uid: uid_t = 0
    var gid: gid_t = 0
}

/// Holds the credentials of a unix-socket connection's peer, on the connection's pipeline, for
/// `StreamGuard` on its streams.
final class PeerCredentialsHolder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let credentials: PeerCredential

    init(_ credentials: PeerCredential) { self.credentials = credentials }

    /// For `ChannelDebuggingCallbacks.onAcceptTCPConnection` of the unix listener: asks the
    /// kernel who connected and keeps it on the connection.
    static func attach(to channel: any Channel) -> EventLoopFuture<Void> {
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededVoidFuture() }
        let credentials: EventLoopFuture<PeerCredential> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return credentials.flatMapThrowing { credentials in
            try channel.pipeline.syncOperations.addHandler(PeerCredentialsHolder(credentials))
        }.recover { _ in }
    }
}
