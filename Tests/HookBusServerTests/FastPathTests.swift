import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import HookBus
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// The accept fast path, on a live server built as `hookbus serve` builds it: a well-formed hook
/// request is answered as the route answers it, everything else reaches the route and gets its
/// precise error, and answers on one connection come back in request order.
@Suite struct FastPathTests {
    func application(_ fixture: ServerFixture) -> some ApplicationProtocol {
        Application(router: makeRouter(state: fixture.state), server: .hookBus(state: fixture.state))
    }

    @Test func aWellFormedHookIsStoredAndAnsweredAsTheRouteAnswersIt() async throws {
        let fixture = try ServerFixture()
        try await application(fixture).test(.live) { client in
            try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: json, body: ByteBuffer(string: update)) { response in
                #expect(response.status == .accepted)
                let id = try #require((try JSONParser.parse(String(buffer: response.body)))["event"]?.stringValue)
                #expect(String(buffer: response.body) == #"{"event":"\#(id)","duplicate":false}"#)
                #expect(response.headers[.location] == "/api/v1/events/\(id)")
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.server] == "HookBus")
                #expect(response.headers[.date]?.hasSuffix(" GMT") == true)
                let stored = try #require(try await fixture.store.event(id: id))
                #expect(stored.state == .pending)
                #expect(stored.event.hook == .updateIncident)
            }
            // No trigger listens to approveTask: stored already done.
            try await client.execute(uri: "/api/v1/hooks/approveTask", method: .post, headers: json, body: ByteBuffer(string: #"{"tasksDetail": {"id": 7}}"#)) { response in
                #expect(response.status == .accepted)
                let id = try #require((try JSONParser.parse(String(buffer: response.body)))["event"]?.stringValue)
                #expect(try await fixture.store.event(id: id)?.state == .done)
            }
            let metrics = fixture.state.metrics.render()
            #expect(metrics.contains("hookbus_events_accepted_total 2"))
            #expect(metrics.contains("hookbus_events_fast_path_total 2"))
        }
    }

    @Test func everythingElseReachesTheRouteAndIsCountedOnce() async throws {
        let fixture = try ServerFixture()
        try await application(fixture).test(.live) { client in
            let cases: [(String, HTTPFields, String, HTTPResponse.Status, String)] = [
                ("/api/v1/hooks/updateIncident", [.contentType: "application/json", .authorization: "Bearer wrong"], update, .unauthorized, "unauthorized"),
                ("/api/v1/hooks/updateIncident", [.contentType: "application/json"], update, .unauthorized, "unauthorized"),
                ("/api/v1/hooks/updateIncident", json, "{\"incidentsBeforeUpdate\": ", .badRequest, "malformed_json"),
                ("/api/v1/hooks/updateIncident", [.contentType: "text/plain", .authorization: "Bearer hook-token"], update, .unsupportedMediaType, "unsupported_media_type"),
                ("/api/v1/hooks/updateIncidnet", json, update, .notFound, "unknown_hook"),
                ("/api/v1/hooks/updateIncident", json, #"{"incidentsAfterUpdate": {"id": 1}}"#, .unprocessableContent, "missing_param"),
                ("/api/v1/hooks/incidentCustomAction", json, #"{"incidentsDetail": {"id": 1}, "trigger": "Nope"}"#, .unprocessableContent, "unknown_trigger"),
                ("/api/v1/hooks/updateIncident", json + [.idempotencyKey: ""], update, .badRequest, "invalid_idempotency_key"),
            ]
            for (uri, headers, body, status, code) in cases {
                try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == status, "\(code)")
                    #expect(errorCode(response) == code)
                }
            }
            // A query string (here `wait`) is the route's too.
            try await client.execute(uri: "/api/v1/hooks/updateIncident?wait=0", method: .post, headers: json, body: ByteBuffer(string: update)) { response in
                #expect(response.status == .accepted)
            }
            #expect(try await fixture.storedCount() == 1)
            let metrics = fixture.state.metrics.render()
            #expect(metrics.contains(#"hookbus_auth_failures_total{route="/api/v1/hooks/{hook}",reason="unknown_token"} 1"#))
            #expect(metrics.contains(#"hookbus_auth_failures_total{route="/api/v1/hooks/{hook}",reason="missing_credentials"} 1"#))
            #expect(metrics.contains(#"hookbus_events_rejected_total{reason="malformed_json"} 1"#))
            #expect(metrics.contains("hookbus_events_fast_path_total 0"))
        }
    }

    @Test func aRepeatedIdempotencyKeyGetsTheFirstEventBack() async throws {
        let fixture = try ServerFixture()
        try await application(fixture).test(.live) { client in
            var first: String?
            for attempt in 0..<2 {
                try await client.execute(uri: "/api/v1/hooks/updateIncident", method: .post, headers: json + [.idempotencyKey: "change-42"], body: ByteBuffer(string: update)) { response in
                    #expect(response.status == .accepted)
                    let id = try #require((try JSONParser.parse(String(buffer: response.body)))["event"]?.stringValue)
                    if attempt == 0 {
                        first = id
                        #expect(response.headers[.idempotentReplayed] == nil)
                    } else {
                        #expect(id == first)
                        #expect(response.headers[.idempotentReplayed] == "true")
                    }
                }
            }
            #expect(try await fixture.storedCount() == 1)
            #expect(fixture.state.metrics.render().contains("hookbus_events_fast_path_total 2"))
        }
    }

    /// Requests sent back to back on one connection, fast and routed mixed: their answers come
    /// back in the order they were asked.
    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let fixture = try ServerFixture()
        try await application(fixture).test(.live) { client in
            let port = try #require(client.port)
            func post(_ path: String, _ body: String) -> String {
                "POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer hook-token\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let requests = post("/api/v1/hooks/updateIncident", update)
                + "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                + post("/api/v1/hooks/updateIncident", update)
                + post("/api/v1/hooks/updateIncident", "{oops")
                + post("/api/v1/hooks/updateIncident", update)
            let answers = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, requests, answers: 5) }
            #expect(answers.map(\.status) == [202, 200, 202, 400, 202])
            #expect(answers[1].body.contains("\"status\":\"ok\""))
            #expect(answers[3].body.contains("malformed_json"))
            let ids = [answers[0], answers[2], answers[4]].compactMap { (try? JSONParser.parse($0.body))?["event"]?.stringValue }
            #expect(Set(ids).count == 3)
            #expect(try await fixture.storedCount() == 3)
            // The first at least took the fast path; those after a routed one follow it to the route.
            #expect(!fixture.state.metrics.render().contains("hookbus_events_fast_path_total 0"))
            // Bytes that are not HTTP, right behind a request waiting for its commit: its 202
            // comes first, then the route's 400.
            let broken = post("/api/v1/hooks/updateIncident", update) + "NOT HTTP AT ALL\r\n\r\n"
            let garbage = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, broken, answers: 2) }
            #expect(garbage.map(\.status) == [202, 400])
            #expect(try await fixture.storedCount() == 4)
        }
    }

    /// The fast path writes its answers as bytes of its own: each field once, the route's and
    /// Hummingbird's, for a 202 and for the 503 of a store that refuses writes.
    @Test func fastPathAnswersCarryEachFieldOnce() async throws {
        let fixture = try ServerFixture()
        try await application(fixture).test(.live) { client in
            let port = try #require(client.port)
            let request = "POST /api/v1/hooks/updateIncident HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Authorization: Bearer hook-token\r\nContent-Length: \(update.utf8.count)\r\n\r\n\(update)"
            let accepted = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, request, answers: 1) }
            #expect(accepted.map(\.status) == [202])
            #expect(accepted.first?.names == ["location", "content-type", "date", "server", "content-length"])
            let database = try DatabaseQueue(path: fixture.store.path)
            try await database.write { try $0.execute(sql: "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END") }
            let refused = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, request, answers: 1) }
            #expect(refused.map(\.status) == [503])
            #expect(refused.first?.names.sorted() == ["content-length", "content-type", "date", "retry-after", "server"])
            #expect(refused.first?.body.contains("store_unavailable") == true)
            #expect(fixture.state.metrics.render().contains("hookbus_events_fast_path_total 1"))
            #expect(try await fixture.storedCount() == 1)
        }
    }

    /// More pipelined requests than the fast path holds while an answer waits for its commit:
    /// reading stops and starts again, and every request is answered, in order, and stored once.
    @Test func aLongPipelineIsHeldBackAndAnsweredInFull() async throws {
        let fixture = try ServerFixture()
        try await application(fixture).test(.live) { client in
            let port = try #require(client.port)
            let count = 3 * HookAcceptFastPath.heldLimit + 2
            let requests = (0..<count).map { index -> String in
                let body = update.replacingOccurrences(of: "\"id\": 1,", with: "\"id\": \(index),")
                return "POST /api/v1/hooks/updateIncident HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer hook-token\r\nIdempotency-Key: pipe-\(index)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }.joined()
            let answers = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, requests, answers: count) }
            #expect(answers.map(\.status) == Array(repeating: 202, count: count))
            let ids = answers.compactMap { (try? JSONParser.parse($0.body))?["event"]?.stringValue }
            #expect(Set(ids).count == count)
            #expect(try await fixture.storedCount() == count)
        }
    }

    /// A client that shuts its side for writing right after its requests: reading goes on while
    /// an answer waits for its commit, so the end of input can arrive before the answer is
    /// written, and the answers owed must still go out before the connection closes.
    @Test(.timeLimit(.minutes(1))) func aClientThatHalfClosesAfterItsRequestsGetsEveryAnswer() async throws {
        let fixture = try ServerFixture()
        try await application(fixture).test(.live) { client in
            let port = try #require(client.port)
            let post = "POST /api/v1/hooks/updateIncident HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer hook-token\r\nContent-Length: \(update.utf8.count)\r\n\r\n\(update)"
            let answers = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, post + post + post, answers: 3, halfClose: true) }
            #expect(answers.map(\.status) == [202, 202, 202])
            #expect(try await fixture.storedCount() == 3)
            // A request cut short by the end of input can never be answered 202: the connection
            // ends (after the route's 400) instead of staying open, and nothing more is stored.
            let cut = "POST /api/v1/hooks/updateIncident HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer hook-token\r\nContent-Length: 500\r\n\r\n{\"incidentsBeforeUpdate\""
            let ending = try await RawHTTP.onThread { try RawHTTP.exchangeUntilClosed(port: port, cut) }
            #expect(ending.allSatisfy { $0.status == 400 })
            #expect(try await fixture.storedCount() == 3)
        }
    }
}

private func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var fields = lhs
    fields.append(contentsOf: rhs)
    return fields
}

/// A blocking HTTP/1.1 client on a plain socket: writes the bytes as given (several requests at
/// once, which no HTTP client library does) and reads `answers` responses with their bodies.
enum RawHTTP {
    struct Answer {
        let status: Int
        /// The head's field names, lower-cased, in order (a repeated one appears twice).
        var names: [String] = []
        /// The head's fields by lower-cased name (the last of a repeated one).
        var fields: [String: String] = [:]
        let body: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// The server closed the connection (not a timeout), after these answers.
        var ended = false
        var answers: [Answer] = []
    }

    /// Runs blocking socket work on a thread of its own: blocked in the task pool, it could
    /// leave the server's own tasks no thread to answer on.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// - Parameter halfClose: shut the socket for writing once the requests are sent, as a
    ///   client that has nothing more to say may, and read the answers after that.
    /// - Parameter bodiless: the answers are to HEAD requests (a `Content-Length` but no body).
    static func exchange(port: Int, _ text: String, answers count: Int, halfClose: Bool = false, bodiless: Bool = false) throws -> [Answer] {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect: \(errno)") }
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
            guard written > 0 else { throw Failure(description: "write: \(errno)") }
            sent += written
        }
        if halfClose { shutdown(socket, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var answers: [Answer] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while answers.count < count {
            if let (answer, used) = parse(received, bodiless: bodiless) {
                answers.append(answer)
                received.removeFirst(used)
                continue
            }
            let read = buffer.withUnsafeMutableBytes { Glibc.read(socket, $0.baseAddress, $0.count) }
            guard read > 0 else {
                throw Failure(description: read == 0 ? "connection ended after \(answers.count) answers" : "no answer within the timeout after \(answers.count) answers (errno \(errno))",
                              ended: read == 0, answers: answers)
            }
            received.append(contentsOf: buffer[..<read])
        }
        return answers
    }

    /// Sends `text`, shuts the socket for writing and reads answers until the server closes the
    /// connection; a server that leaves it open fails this within the socket's 10 s timeout.
    static func exchangeUntilClosed(port: Int, _ text: String) throws -> [Answer] {
        var answers: [Answer] = []
        do {
            answers = try exchange(port: port, text, answers: .max, halfClose: true)
        } catch let failure as Failure where failure.ended {
            answers = failure.answers
        }
        return answers
    }

    /// Sends `text` without shutting our side and reads answers until the server closes the
    /// connection; one that leaves it open fails this within the socket's 10 s timeout.
    static func answersUntilServerCloses(port: Int, _ text: String) throws -> [Answer] {
        do {
            _ = try exchange(port: port, text, answers: .max)
        } catch let failure as Failure where failure.ended {
            return failure.answers
        }
        throw Failure(description: "the server did not close the connection")
    }

    /// One complete response at the start of `bytes` (Content-Length framing), and its length.
    static func parse(_ bytes: [UInt8], bodiless: Bool = false) -> (Answer, Int)? {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        guard let status = lines.first.flatMap({ Int($0.split(separator: " ")[1]) }) else { return nil }
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        let total = end + 4 + (bodiless ? 0 : length)
        guard bytes.count >= total else { return nil }
        let names = lines.dropFirst().compactMap { $0.split(separator: ":", maxSplits: 1).first?.lowercased() }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return (Answer(status: status, names: names, fields: fields, body: String(decoding: bytes[(end + 4)..<total], as: UTF8.self)), total)
    }
}
