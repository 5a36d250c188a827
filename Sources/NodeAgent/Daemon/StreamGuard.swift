import NIOCore
import NIOHPACK
import NIOHTTP2

/// Answers a request message longer than the agent's limit with RESOURCE_EXHAUSTED, before a
/// byte of it is buffered.
///
/// grpc-swift-nio-transport 2.9 refuses such a message in its deframer but turns the failure into
/// a reset stream, which a client sees as CANCELLED with no reason. This handler sits first on
/// every HTTP/2 stream (`ChannelDebuggingCallbacks.onAcceptHTTP2Stream`), follows the gRPC
/// length prefixes in the DATA frames, and at the first prefix over `limit` sends the status
/// itself (trailers with `grpc-status: 8` and a message naming the size and the limit), drops the
/// rest of the stream in both directions and closes it.
final class OversizedRequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    let limit: Int
    /// The bytes of a length prefix read so far (a prefix may span DATA frames).
    private var prefix: [UInt8] = []
    /// Bytes of the current message's body still to come.
    private var remaining = 0
    /// Whether response headers have gone out (then the status goes in trailers).
    private var sentHeaders = false
    private var rejected = false

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !rejected else { return }
        let payload = unwrapInboundIn(data)
        if case .data(let frame) = payload, case .byteBuffer(let buffer) = frame.data,
            let length = oversizedLength(in: buffer)
        {
            reject(context: context, length: length)
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !rejected else {
            promise?.succeed()
            return
        }
        if case .headers = unwrapOutboundIn(data) { sentHeaders = true }
        context.write(data, promise: promise)
    }

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

    private func reject(context: ChannelHandlerContext, length: Int) {
        rejected = true
        var headers: HPACKHeaders = sentHeaders ? [:] : [":status": "200", "content-type": "application/grpc"]
        headers.add(name: "grpc-status", value: "8")
        headers.add(
            name: "grpc-message",
            value: Self.percentEncoded(
                "the request message is \(length) bytes, over the agent's limit of \(limit) bytes (\(limit >> 20) MiB)"))
        let trailers = HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: true))
        // A complete response, then RST_STREAM(NO_ERROR): RFC 9113 section 8.1's way to ask a
        // client to stop sending a request "without error". Frames leave in order.
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
