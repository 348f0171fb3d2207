import NIOCore
import NIOHTTP1

/// Closes the connection of every request that did not ask to keep it: an HTTP/1.0 request
/// without `Connection: keep-alive`, and any request whose `Connection` field has the `close`
/// option however it is written (`Close`, `close, TE`). Its head gets exactly
/// `Connection: close`, so the router's answer and the fast path's hand-off both end the
/// connection after the answer, as RFC 9112 §9.3 and §9.6 say.
///
/// Why a handler of its own: once NIO's head becomes a swift-http-types `HTTPRequest`
/// (Hummingbird's codec), the version and NIO's keep-alive verdict are gone, and Hummingbird
/// closes only for a `Connection` value that is exactly `close` — it kept every HTTP/1.0
/// connection open. So this sits right after NIO's request decoder, where `isKeepAlive` (the
/// decoder's own verdict, no parsing here) is still known. Hummingbird only lets handlers be
/// added after its codec; `Installer` is added there and puts this handler in its place.
final class ConnectionCloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case var .head(head) = unwrapInboundIn(data), !head.isKeepAlive else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// Added with Hummingbird's additional handlers; installs the handler after the decoder.
    final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        func handlerAdded(context: ChannelHandlerContext) {
            let pipeline = context.pipeline.syncOperations
            do {
                let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try pipeline.addHandler(ConnectionCloseHandler(), position: .after(decoder))
            } catch {
                // Hummingbird's HTTP/1 pipeline always has NIO's decoder; a version without it
                // would leave closing to Hummingbird alone, which the protocol tests catch.
                assertionFailure("no HTTP request decoder to put ConnectionCloseHandler after: \(error)")
            }
            pipeline.removeHandler(context: context, promise: nil)
        }
    }
}
