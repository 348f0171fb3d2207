import Foundation
import HookBus
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The accept fast path: a well-formed `POST /api/v1/hooks/{hook}` or
/// `POST /api/v1/webhooks/{name}` is answered on its connection's event loop, in the channel pipeline Hummingbird builds, before the request would
/// be handed to a task.
///
/// Why: that hand-off is most of an accept's cost. On the 2-core build machine Hummingbird's
/// async path took 100–110 µs of CPU per request of the 120–150 µs an accept cost, while NIO's
/// pipeline alone answers in about 40 µs; without it the server cannot reach 15,000 durable
/// accepts/s there (see the README's performance section).
///
/// It takes only the happy path. Whether a request is admitted is `HookAdmission`'s to say —
/// the same functions, in the same order, that the route asks — so the two cannot drift. What
/// this handler decides is only *where* it may answer: a body of declared length read whole,
/// no query string (`?wait=`), no `Expect` or `Transfer-Encoding`, a connection kept alive, no
/// judged field given twice. Anything else, and every refusal of the policy, goes to
/// Hummingbird's route unchanged, which answers it with its precise error and counts it.
/// Nothing is refused here. `server.fast_path: false` removes this handler.
///
/// HTTP/1.1 answers go out in request order: while a request handed to the route has not been
/// answered, the following ones go there too; while a fast-path answer waits for its commit,
/// the connection's later requests wait in order (reading from the socket stops once a few are
/// waiting), and a close asked for meanwhile (graceful shutdown) happens after the answer.
final class HookAcceptFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Mode {
        case idle
        /// A request the fast path may take, its body being read.
        case collecting(request: HTTPRequest, target: Target, head: HookAdmission.Head, body: [UInt8])
        /// A request going to the route, part by part.
        case passing
        /// A fast-path answer waits for its commit.
        case awaitingCommit
    }

    private let state: ServerState
    private let admission: HookAdmission
    private var mode = Mode.idle
    /// Requests handed to the route whose answer has not ended yet.
    private var routed = 0
    /// What reaches the handler from the socket: a request's part, an error (bytes NIO could not
    /// parse), or the end of the client's input (a half-close: Hummingbird allows them).
    private enum Inbound {
        case part(HTTPRequestPart)
        case error(any Error)
        case inputClosed
    }

    /// What arrived while an answer waited for its commit, handled after it in arrival order:
    /// a parse error or the end of input passed on before the answer would let the route answer
    /// or close first.
    private var held = CircularBuffer<Inbound>()
    private var readHeld = false
    /// A close asked for while a request was in flight here (collecting or awaiting its commit),
    /// done once that request is answered — by the fast path or by the route.
    private var closeHeld: (mode: CloseMode, promise: EventLoopPromise<Void>?)?
    /// Whether parts were handed to the route since the last read-complete went on.
    private var routedParts = false
    private var removed = false
    /// The context of NIO's response encoder, the handler nearest the socket: an answer written
    /// there goes out as the bytes it is. See `answer`.
    private var socketSide: ChannelHandlerContext?

    static let prefix = "/api/v1/hooks/"
    static let webhookPrefix = "/api/v1/webhooks/"

    /// What a request the fast path may take is for.
    enum Target {
        case hook(Substring)
        case webhook(WebhookEndpoint)
    }

    private var awaitingCommit: Bool {
        if case .awaitingCommit = mode { return true }
        return false
    }

    init(state: ServerState) {
        self.state = state
        admission = HookAdmission(state: state)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        socketSide = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        removed = true
        socketSide = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if awaitingCommit {
            held.append(.part(part))
            return
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (mode, part) {
        case let (.idle, .head(request)):
            if routed == 0, let (target, head) = fastTarget(request) {
                mode = .collecting(request: request, target: target, head: head, body: [])
            } else {
                route(part, context: context)
            }
        case (.collecting(let request, let target, let head, var body), .body(let buffer)):
            mode = .idle  // drop the reference while appending, so `body` is not copied
            body.append(contentsOf: buffer.readableBytesView)
            mode = .collecting(request: request, target: target, head: head, body: body)
        case let (.collecting(request, target, head, body), .end(trailers)):
            if trailers == nil, let (event, settled) = acceptable(target, request: request, head: head, body: body) {
                accept(event, key: head.idempotencyKey, settled: settled, context: context)
            } else {
                mode = .idle
                route(.head(request), context: context)
                if !body.isEmpty { route(.body(ByteBuffer(bytes: body)), context: context) }
                route(part, context: context)
            }
        default:
            route(part, context: context)
        }
    }

    /// Hands a part to the route (through Hummingbird's handlers after this one).
    private func route(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head:
            routed += 1
            mode = .passing
        case .end:
            mode = .idle
        case .body:
            break
        }
        routedParts = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// The target (and what admission read of the head) of a request the fast path may take,
    /// judged on its head alone: where it may answer (a body of declared length, nothing to
    /// negotiate, a connection kept alive, no field given twice), then the admission policy's
    /// steps that judge a head. A request either refuses goes to the route, which asks the same
    /// policy and answers.
    private func fastTarget(_ request: HTTPRequest) -> (target: Target, head: HookAdmission.Head)? {
        guard socketSide != nil, request.method == .post, let path = request.path else { return nil }
        let isHook = path.hasPrefix(Self.prefix)
        guard isHook || path.hasPrefix(Self.webhookPrefix) else { return nil }
        let name = path.dropFirst(isHook ? Self.prefix.count : Self.webhookPrefix.count)
        guard !name.isEmpty, !name.contains(where: { $0 == "/" || $0 == "?" || $0 == "%" }) else { return nil }
        let head = HookAdmission.Head(request.headerFields, authority: request.authority)
        // A large body is read off the event loop, by the route (`BodyWork`).
        guard !head.expects, !head.transferEncoding, head.repeated == nil, let length = head.contentLength, length > 0, length <= BodyWork.inlineLimit else { return nil }
        if let connection = head.connection, connection.lowercased() != "keep-alive" { return nil }
        if isHook {
            guard case .success = admission.authenticate(head), admission.checkLimits(head) == nil else { return nil }
            return (.hook(name), head)
        }
        // A signed webhook authenticates over its body: that step comes when the body is
        // complete.
        guard case let .success(endpoint) = admission.webhookEndpoint(name),
              admission.checkWebhookLimits(endpoint, head: head) == nil else { return nil }
        if let early = admission.authenticateWebhookHead(endpoint, fields: request.headerFields, query: [:]), case .failure = early { return nil }
        return (.webhook(endpoint), head)
    }

    /// The event to store for a complete request (the policy's remaining steps), or nil when
    /// the route must answer.
    private func acceptable(_ target: Target, request: HTTPRequest, head: HookAdmission.Head, body: [UInt8]) -> (Event, Bool)? {
        let admitted: Result<Event, APIError>
        switch target {
        case let .hook(hook):
            admitted = admission.admitHook(String(hook), head: head, body: body)
        case let .webhook(endpoint):
            // No query string reaches here, so a query-token scheme finds none and the route answers.
            guard case let .success(verified) = admission.authenticateWebhook(endpoint, fields: request.headerFields, query: [:], body: body) else { return nil }
            admitted = admission.admitWebhook(endpoint, verified: verified, head: head, fields: request.headerFields, body: body)
        }
        guard case let .success(event) = admitted else { return nil }
        return (event, state.engine.router.storesDone(event))
    }

    private func accept(_ event: Event, key: String?, settled: Bool, context: ChannelHandlerContext) {
        mode = .awaitingCommit
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        state.accepts.enqueue(event, idempotencyKey: key, settled: settled) { result in
            loop.execute {
                let (handler, context) = bound.value
                handler.answer(result, context: context)
            }
        }
    }

    private func answer(_ result: Result<AcceptResult, any Error>, context: ChannelHandlerContext) {
        mode = .idle
        let status: HTTPResponse.Status
        let fields: HTTPFields
        let body: String
        switch result {
        case let .success(accepted):
            state.metrics.accepted(accepted)
            state.metrics.acceptedOnFastPath()
            status = .accepted
            fields = AcceptedAnswer.headers(accepted)
            body = AcceptedAnswer.body(accepted)
        case .failure:
            let error = state.storeFailed()
            status = error.status
            fields = error.fields
            body = error.body
        }
        // The event is stored (and counted) even when its sender has gone meanwhile.
        guard !removed, let socketSide else { return }
        socketSide.writeAndFlush(NIOAny(Self.encode(status, fields, body, allocator: context.channel.allocator)), promise: nil)
        if let (mode, promise) = closeHeld {
            closeHeld = nil
            context.close(mode: mode, promise: promise)
            return
        }
        // The requests that came meanwhile, in order, until one waits for a commit again.
        routedParts = false
        while !awaitingCommit, let next = held.popFirst() {
            switch next {
            case let .part(part):
                handle(part, context: context)
            case let .error(error):
                completeRoutedRead(context: context)
                pass(error, context: context)
            case .inputClosed:
                completeRoutedRead(context: context)
                passInputClosed(context: context)
            }
        }
        completeRoutedRead(context: context)
        if awaitingCommit { return }
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    /// The answer as HTTP/1.1 bytes, written past the HTTP codecs: converting it to NIO's
    /// response types and encoding it there cost about 5% of the server's CPU per accept. What
    /// the fast path answers is its own (the status and fields above), so nothing needs their
    /// validation. The fields Hummingbird adds to every answer (`Date`, `Server`,
    /// `Content-Length`) are written here too.
    static func encode(_ status: HTTPResponse.Status, _ fields: HTTPFields, _ body: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 192 + body.utf8.count)
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeString(String(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        for field in fields {
            buffer.writeString(field.name.rawName)
            buffer.writeStaticString(": ")
            buffer.writeString(field.value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("Date: ")
        buffer.writeString(HTTPDate.now())
        buffer.writeStaticString("\r\nServer: ")
        buffer.writeString(ServerState.serverName)
        buffer.writeStaticString("\r\nContent-Length: ")
        buffer.writeString(String(body.utf8.count))
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeString(body)
        return buffer
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        routedParts = false
        context.fireChannelReadComplete()
    }

    /// Parts handed to the route since the last read-complete reach it as one read.
    private func completeRoutedRead(context: ChannelHandlerContext) {
        guard routedParts else { return }
        routedParts = false
        context.fireChannelReadComplete()
    }

    /// An error (a request NIO could not parse): the route answers it (400, then closes) — after
    /// the answer owed, when one waits.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if awaitingCommit {
            held.append(.error(error))
            return
        }
        pass(error, context: context)
    }

    /// The end of the client's input: passed on after the answers owed, when one waits, or
    /// Hummingbird would close the connection before they are written.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .inputClosed? = event as? ChannelEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if awaitingCommit {
            held.append(.inputClosed)
            return
        }
        passInputClosed(context: context)
    }

    /// An error or the end of input in the middle of a request being collected ends that
    /// request: nothing is owed for it here.
    private func pass(_ error: any Error, context: ChannelHandlerContext) {
        abandonCollecting(context: context)
        context.fireErrorCaught(error)
    }

    private func passInputClosed(context: ChannelHandlerContext) {
        abandonCollecting(context: context)
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    /// A request being collected that can no longer complete: forgotten, and a close held for
    /// it is done now.
    private func abandonCollecting(context: ChannelHandlerContext) {
        guard case .collecting = mode else { return }
        mode = .idle
        if routed == 0, let (closeMode, promise) = closeHeld {
            closeHeld = nil
            context.close(mode: closeMode, promise: promise)
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        routed = max(0, routed - 1)
        context.write(data, promise: promise)
        if routed == 0, case .idle = mode, let (closeMode, closePromise) = closeHeld {
            closeHeld = nil
            context.flush()
            context.close(mode: closeMode, promise: closePromise)
        }
    }

    /// Parts of later requests held while an answer waits, beyond which reading stops.
    static let heldLimit = 16

    /// Reading goes on while an answer waits for its commit — a client that does not pipeline
    /// sends nothing meanwhile, and stopping and restarting reads costs two `epoll_ctl` calls
    /// per request — until a pipelining client has `heldLimit` parts waiting (plus what NIO's
    /// last read cycle parsed, a few buffers at most): from then on it is held back by TCP, not
    /// by memory here.
    func read(context: ChannelHandlerContext) {
        if awaitingCommit && held.count >= Self.heldLimit {
            readHeld = true
            return
        }
        context.read()
    }

    func close(context: ChannelHandlerContext, mode closeMode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .collecting, .awaitingCommit:
            closeHeld = (closeMode, promise)
        case .idle, .passing:
            context.close(mode: closeMode, promise: promise)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the accept fast path in front of the router (see `HookAcceptFastPath`),
    /// unless `server.fast_path: false` sends every request to the router.
    /// Either way, a request that does not keep its connection alive has it closed after the
    /// answer (`ConnectionCloseHandler`).
    static func hookBus(state: ServerState) -> HTTPServerBuilder {
        guard state.configuration.fastPath else {
            return .http1(configuration: .init(additionalChannelHandlers: [ConnectionCloseHandler.Installer()]))
        }
        return .http1(configuration: .init(additionalChannelHandlers: [ConnectionCloseHandler.Installer(), HookAcceptFastPath(state: state)]))
    }
}
