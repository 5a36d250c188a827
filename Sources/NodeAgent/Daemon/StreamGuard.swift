import NIOCore
import NIOHPACK
import NIOHTTP2

/// The first handler on every HTTP/2 stream of both listeners (one per call: each handler added
/// to a stream is an allocation on every call). It does three things before gRPC sees the call:
///
/// - **Caller stamp**: removes a client's `nodeagent-caller` header and, on the unix socket,
///   stamps the peer's credentials in its place (`CallerIdentity.swift`).
/// - **Oversized requests**: follows the gRPC length prefixes in the DATA frames and answers the
///   first message longer than `limit` with RESOURCE_EXHAUSTED before a byte of it is buffered.
///   (grpc-swift-nio-transport 2.9 refuses such a message in its deframer but turns the failure
///   into a reset stream, which a client sees as CANCELLED with no reason.)
/// - **Deadlines**: takes the call's `grpc-timeout` header off and enforces it with one timer on
///   the connection's event loop, cancelled when the call ends: when it passes first, the client
///   gets DEADLINE_EXCEEDED and the stream is closed, which cancels the call's handler (as
///   grpc-swift's own timeout does). grpc-swift 2 runs each call with a timeout in a task group
///   with a `Task.sleep` child, and on Linux a cancelled sleep keeps its memory until the time
///   it would have woken: a controller that sets a 60 s deadline on every call (grpcio, the Go
///   client) made the agent's memory grow by about 1.7 KB per call for a minute (200 callers:
///   14 → 136 MB of anonymous memory in 20 s) and cost a quarter of its throughput.
///
/// A refusal sends the status itself: response headers if none went out, trailers with
/// `grpc-status` and `grpc-message`, then RST_STREAM(NO_ERROR) (RFC 9113 section 8.1's way to ask
/// a client to stop sending a request "without error"); the rest of the stream is dropped in both
/// directions and the stream is closed.
final class StreamGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let limit: Int
    /// The caller's identity to stamp on the request headers (unix socket), or nil.
    let stamp: String?
    /// The bytes of a length prefix read so far (a prefix may span DATA frames).
    private var prefix: [UInt8] = []
    /// Bytes of the current message's body still to come.
    private var remaining = 0
    /// Whether response headers have gone out (then a status goes in trailers).
    private var sentHeaders = false
    /// Whether the stream's status has gone out (ours or the handler's).
    private var finished = false
    /// Whether this guard answered the call (then the rest is dropped both ways).
    private var refused = false
    private var deadline: Scheduled<Void>?

    /// The guard for a stream of `channel`: the stamp comes from its connection's
    /// `PeerCredentialsHolder`, if it has one.
    init(streamOf channel: any Channel, limit: Int) {
        self.limit = limit
        CallActivity.note()
        let holder = try? channel.parent?.pipeline.syncOperations.handler(type: PeerCredentialsHolder.self)
        stamp = holder.map { Caller.describe($0.credentials) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .headers(var headers):
            headers.headers.remove(name: Caller.header)
            if let stamp { headers.headers.add(name: Caller.header, value: stamp) }
            if let timeout = headers.headers.first(name: "grpc-timeout") {
                headers.headers.remove(name: "grpc-timeout")
                if let delay = Self.timeAmount(grpcTimeout: timeout) { startDeadline(context: context, delay: delay, header: timeout) }
            }
            context.fireChannelRead(wrapInboundOut(.headers(headers)))
        case .data(let frame):
            if case .byteBuffer(let buffer) = frame.data, let length = oversizedLength(in: buffer) {
                refuse(
                    context: context, status: 8,
                    message: "the request message is \(length) bytes, over the agent's limit of \(limit) bytes (\(limit >> 20) MiB)")
                return
            }
            context.fireChannelRead(data)
        default:
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !refused else {
            promise?.succeed()
            return
        }
        if case .headers(let headers) = unwrapOutboundIn(data) {
            if headers.endStream {
                finished = true
                stopDeadline()
            }
            sentHeaders = true
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopDeadline()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopDeadline()
    }

    // MARK: Deadlines

    private func startDeadline(context: ChannelHandlerContext, delay: TimeAmount, header: String) {
        stopDeadline()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            deadline = nil
            guard !finished else { return }
            refuse(context: context, status: 4, message: "the call's deadline (grpc-timeout \(header)) passed before the agent answered")
        }
    }

    private func stopDeadline() {
        deadline?.cancel()
        deadline = nil
    }

    /// A deadline further away than this is no deadline (the largest value, 99999999H, is
    /// 11,000 years, more nanoseconds than an Int64 holds).
    static let longestDeadline: Int64 = 366 * 24 * 3600 * 1_000_000_000

    /// A `grpc-timeout` value: up to 8 digits and a unit (H, M, S, m, u, n). Nil when malformed
    /// (then, as grpc-swift does, the call has no deadline) or over a year away.
    static func timeAmount(grpcTimeout value: String) -> TimeAmount? {
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8.count <= 9, let unit = utf8.last else { return nil }
        var amount: Int64 = 0
        for byte in utf8.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        let nanosecondsPerUnit: Int64
        switch unit {
        case UInt8(ascii: "H"): nanosecondsPerUnit = 3600 * 1_000_000_000
        case UInt8(ascii: "M"): nanosecondsPerUnit = 60 * 1_000_000_000
        case UInt8(ascii: "S"): nanosecondsPerUnit = 1_000_000_000
        case UInt8(ascii: "m"): nanosecondsPerUnit = 1_000_000
        case UInt8(ascii: "u"): nanosecondsPerUnit = 1000
        case UInt8(ascii: "n"): nanosecondsPerUnit = 1
        default: return nil
        }
        let (nanoseconds, overflow) = amount.multipliedReportingOverflow(by: nanosecondsPerUnit)
        guard !overflow, nanoseconds <= longestDeadline else { return nil }
        return .nanoseconds(nanoseconds)
    }

    // MARK: Oversized requests

    /// Walks the message framing through `buffer`; returns the length of the first message whose
    /// prefix announces more than `limit` bytes.
    private func oversizedLength(in buffer: ByteBuffer) -> Int? {
        var view = buffer.readableBytesView[...]
        while !view.isEmpty {
            if remaining > 0 {
                let skipped = min(remaining, view.count)
                view = view.dropFirst(skipped)
                remaining -= skipped
                continue
            }
            let needed = 5 - prefix.count
            prefix.append(contentsOf: view.prefix(needed))
            view = view.dropFirst(needed)
            guard prefix.count == 5 else { break }
            // 1 byte compression flag, then the length as a big-endian UInt32.
            let length = prefix[1...4].reduce(0) { ($0 << 8) | Int($1) }
            prefix.removeAll(keepingCapacity: true)
            if length > limit { return length }
            remaining = length
        }
        return nil
    }

    // MARK: Answering

    /// Sends `status` with `message`, stops the stream in both directions and closes it (which
    /// cancels the call's handler, if it runs).
    private func refuse(context: ChannelHandlerContext, status: Int, message: String) {
        finished = true
        refused = true
        stopDeadline()
        var headers: HPACKHeaders = sentHeaders ? [:] : [":status": "200", "content-type": "application/grpc"]
        headers.add(name: "grpc-status", value: String(status))
        headers.add(name: "grpc-message", value: Self.percentEncoded(message))
        let trailers = HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: true))
        // A complete response, then RST_STREAM(NO_ERROR). Frames leave in order.
        context.write(wrapOutboundOut(trailers), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil)
        context.close(promise: nil)
    }

    /// grpc-message is percent-encoded outside printable ASCII (and '%' itself).
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7e && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
