import Foundation
import HookBus
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// HTTP cases a hostile-input run found answered wrongly, on raw sockets against a live server,
/// with the fast path on and off: an HTTP/1.0 request without keep-alive gets its connection
/// closed after the answer, OPTIONS and TRACE on a known path get 405 with `Allow`, and a chunked
/// body with an invalid chunk size is a 400.
@Suite struct ProtocolTests {
    static func live(fastPath: Bool, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let fixture = try ServerFixture(fastPath: fastPath)
        try await Application(router: makeRouter(state: fixture.state), server: .hookBus(state: fixture.state)).test(.live) { client in
            try await body(try #require(client.port))
        }
    }

    @Test(arguments: [true, false])
    func anHTTP10RequestWithoutKeepAliveHasItsConnectionClosed(fastPath: Bool) async throws {
        try await Self.live(fastPath: fastPath) { port in
            let hook = "POST /api/v1/hooks/updateIncident HTTP/1.0\r\nContent-Type: application/json\r\nAuthorization: Bearer hook-token\r\nContent-Length: \(update.utf8.count)\r\n\r\n\(update)"
            // Read without shutting our side: the server must close of its own accord.
            let answers = try await RawHTTP.onThread { try RawHTTP.answersUntilServerCloses(port: port, hook) }
            #expect(answers.map(\.status) == [202])
            let health = try await RawHTTP.onThread { try RawHTTP.answersUntilServerCloses(port: port, "GET /healthz HTTP/1.0\r\n\r\n") }
            #expect(health.map(\.status) == [200])
            // Keep-alive asked for: kept until a request without it.
            let kept = try await RawHTTP.onThread {
                try RawHTTP.answersUntilServerCloses(port: port, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n")
            }
            #expect(kept.map(\.status) == [200, 200])
            // HTTP/1.1 keeps it open: the second request on the socket is answered after the first.
            let open = try await RawHTTP.onThread {
                try RawHTTP.answersUntilServerCloses(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /api/v1/hooks/updateIncident HTTP/1.1\r\nHost: x\r\n"
                    + "Content-Type: application/json\r\nAuthorization: Bearer hook-token\r\nContent-Length: \(update.utf8.count)\r\n\r\n\(update)"
                    + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            }
            #expect(open.map(\.status) == [200, 202, 200])
        }
    }

    /// `Connection: close` however it is written ends the connection after the answer.
    @Test(arguments: [true, false], ["close", "Close", "close, TE"])
    func aClientAskingForCloseHasItsConnectionClosed(fastPath: Bool, option: String) async throws {
        try await Self.live(fastPath: fastPath) { port in
            for version in ["HTTP/1.1", "HTTP/1.0"] {
                let hook = "POST /api/v1/hooks/updateIncident \(version)\r\nHost: x\r\nConnection: \(option)\r\nContent-Type: application/json\r\n"
                    + "Authorization: Bearer hook-token\r\nContent-Length: \(update.utf8.count)\r\n\r\n\(update)"
                let answers = try await RawHTTP.onThread { try RawHTTP.answersUntilServerCloses(port: port, hook) }
                #expect(answers.map(\.status) == [202], "\(version) Connection: \(option)")
            }
        }
    }

    @Test(arguments: [true, false])
    func optionsAndTraceOnAKnownPathAre405WithAllow(fastPath: Bool) async throws {
        try await Self.live(fastPath: fastPath) { port in
            for (method, path, allow) in [("OPTIONS", "/api/v1/runs", "GET, HEAD"), ("TRACE", "/api/v1/runs", "GET, HEAD"), ("OPTIONS", "/api/v1/hooks/updateIncident", "POST"),
                                          ("TRACE", "/api/v1/hooks/updateIncident", "POST"), ("PUT", "/api/v1/schedules/sch_1", "GET, HEAD"),
                                          ("DELETE", "/api/v1/schedules", "GET, POST, HEAD"), ("HEAD", "/api/v1/hooks/updateIncident", "POST"),
                                          ("QUERY", "/healthz", "GET, HEAD")] {
                let answers = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, "\(method) \(path) HTTP/1.1\r\nHost: x\r\n\r\n", answers: 1, bodiless: method == "HEAD") }
                #expect(answers.first?.status == 405, "\(method) \(path)")
                #expect(answers.first?.fields["allow"] == allow, "\(method) \(path): \(String(describing: answers.first?.fields))")
                #expect(method == "HEAD" || answers.first?.body.contains("method_not_allowed") == true)
            }
            // HEAD answers as GET does, through the same authentication, without a body.
            let head = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", answers: 1, bodiless: true) }
            #expect(head.first?.status == 200)
            let guarded = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, "HEAD /api/v1/runs HTTP/1.1\r\nHost: x\r\n\r\n", answers: 1, bodiless: true) }
            #expect(guarded.first?.status == 401)
            // An unknown path is still a 404.
            let unknown = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, "OPTIONS /api/v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n", answers: 1) }
            #expect(unknown.first?.status == 404)
        }
    }

    @Test(arguments: [true, false])
    func aChunkedBodyWithAnInvalidChunkSizeIs400(fastPath: Bool) async throws {
        try await Self.live(fastPath: fastPath) { port in
            let request = "POST /api/v1/hooks/updateIncident HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer hook-token\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
            let answers = try await RawHTTP.onThread { try RawHTTP.answersUntilServerCloses(port: port, request) }
            #expect(answers.map(\.status) == [400])
            // A well-formed chunked body is read and admitted.
            let hex = String(update.utf8.count, radix: 16)
            let good = "POST /api/v1/hooks/updateIncident HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer hook-token\r\nTransfer-Encoding: chunked\r\n\r\n\(hex)\r\n\(update)\r\n0\r\n\r\n"
            let accepted = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, good, answers: 1) }
            #expect(accepted.map(\.status) == [202])
        }
    }
}
