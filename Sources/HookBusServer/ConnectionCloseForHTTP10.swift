import NIOCore
import NIOHTTP1

/// Closes the connection of a request that did not ask to keep it: an HTTP/1.0 request without
/// `Connection: keep-alive` (or any request with `Connection: close`) gets `Connection: close`
/// added to its head, so the router's answer and the fast path's hand-off both end the
/// connection after the answer, as RFC 9112 §9.3 says.
///
/// Why a handler of its own: the request's HTTP version is gone once NIO's head becomes a
/// swift-http-types `HTTPRequest` (Hummingbird's codec), and Hummingbird then kept every
/// HTTP/1.0 connection open. So it sits right after NIO's request decoder, where the version is
/// still known. Hummingbird only lets handlers be added after its codec; `Installer` is added
/// there and puts this handler in its place, then leaves.
final class ConnectionCloseForHTTP10: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case var .head(head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        // An HTTP/1.1 connection needs nothing of this handler (its `Connection: close` reaches
        // the router as sent): it leaves, so kept-alive connections pay for it once, not per
        // request. A client does not change its version on one connection.
        if head.version.major == 1 && head.version.minor >= 1 {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        guard !head.isKeepAlive, !head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) else {
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
                try pipeline.addHandler(ConnectionCloseForHTTP10(), position: .after(decoder))
            } catch {
                // Without NIO's decoder there is no HTTP/1 to judge: nothing to install.
            }
            pipeline.removeHandler(context: context, promise: nil)
        }
    }
}
