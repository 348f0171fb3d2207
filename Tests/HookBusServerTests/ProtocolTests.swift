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
            // HTTP/1.1 keeps it open: the read times out with both answers in hand.
            let open = try await RawHTTP.onThread { () -> RawHTTP.Failure? in
                do {
                    _ = try RawHTTP.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", answers: 3, timeoutSeconds: 1)
                    return nil
                } catch let failure as RawHTTP.Failure { return failure }
            }
            #expect(open?.ended == false && open?.answers.count == 2, "\(String(describing: open))")
        }
    }

    @Test(arguments: [true, false])
    func optionsAndTraceOnAKnownPathAre405WithAllow(fastPath: Bool) async throws {
        try await Self.live(fastPath: fastPath) { port in
            for (method, path, allow) in [("OPTIONS", "/api/v1/runs", "GET"), ("TRACE", "/api/v1/runs", "GET"), ("OPTIONS", "/api/v1/hooks/updateIncident", "POST"),
                                          ("TRACE", "/api/v1/hooks/updateIncident", "POST"), ("PUT", "/api/v1/schedules/sch_1", "GET"), ("DELETE", "/api/v1/schedules", "POST, GET")] {
                let answers = try await RawHTTP.onThread { try RawHTTP.exchange(port: port, "\(method) \(path) HTTP/1.1\r\nHost: x\r\n\r\n", answers: 1) }
                #expect(answers.first?.status == 405, "\(method) \(path)")
                #expect(answers.first?.fields["allow"] == allow, "\(method) \(path): \(String(describing: answers.first?.fields))")
                #expect(answers.first?.body.contains("method_not_allowed") == true)
            }
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
