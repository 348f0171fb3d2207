import Foundation
import HookBus
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The Events page's live rows: `text/event-stream` of new events that match the page's filter
/// (those an event can be judged by when it arrives) and of their runs' ends, from memory
/// (`LiveFeed`): no page polls the store. It starts with the events stored after the page's
/// newest one (`after`), read once. It ends when the page closes it, its session ends (logout,
/// or expiry seen at a heartbeat) or the server stops.
extension ConsoleRoutes {
    func stream(_ request: Request, session: String) -> Response {
        let query = ConsoleForm.query(request)
        let filter: EventFilter
        do throws(ConsolePages.FilterError) {
            filter = try ConsolePages.eventFilter(query)
        } catch {
            return Response(status: .badRequest, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: error.message)))
        }
        let after = query["after"].flatMap { Int64($0) }
        let (feed, sessions, store) = (state.feed, state.sessions, state.engine.store)
        let body = ResponseBody { writer in
            let (id, items) = feed.subscribe(owner: ConsoleSessions.key(session))
            defer { feed.unsubscribe(id) }
            // What was stored after the page's newest event and before this subscription, read
            // once (oldest first, as the page adds rows at the top); an event both read here and
            // published meanwhile is shown once (the page skips a row it has).
            if let after {
                var missed = filter
                missed.after = after
                missed.limit = feed.bufferSize
                for summary in try await store.eventPage(missed).reversed() {
                    try await writer.write(ByteBuffer(string: "event: event\ndata: \(ConsolePages.liveMessage(summary))\n\n"))
                }
            }
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // The heartbeat also ends the stream once its session has expired: a page
                    // left open does not keep receiving events after its login ran out.
                    group.addTask {
                        while true {
                            try await Task.sleep(for: Self.heartbeat)
                            guard sessions.isLive(id: session) else {
                                feed.unsubscribe(id)
                                return
                            }
                            feed.publish([.heartbeat], to: id)
                        }
                    }
                    // Tells the browser to retry after 3 s if the stream breaks.
                    try await writer.write(ByteBuffer(string: "retry: 3000\n\n"))
                    for await item in items {
                        switch item {
                        case .heartbeat:
                            try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                        case let .event(summary):
                            guard filter.matchesOnArrival(summary) else { continue }
                            try await writer.write(ByteBuffer(string: "event: event\ndata: \(ConsolePages.liveMessage(summary))\n\n"))
                        case let .ran(eventID, state, outcomes):
                            // Sent whatever the filter: a page updates only rows it shows.
                            try await writer.write(ByteBuffer(string: "event: runs\ndata: \(ConsolePages.ranMessage(eventID: eventID, state: state, outcomes: outcomes))\n\n"))
                        }
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                feed.unsubscribe(id)
            }
            try await writer.finish(nil)
        }
        // `X-Accel-Buffering: no`: nginx in front would otherwise hold the rows back.
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", .xAccelBuffering: "no"], body: body)
    }
}
