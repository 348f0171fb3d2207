import Foundation
import Testing
@testable import HookBus

/// Webhook bodies of every content type: what triggers receive, and that the recorded form gives
/// back the same bytes.
@Suite struct WebhookBodyTests {
    static let bodies: [(contentType: String?, bytes: [UInt8])] = [
        ("application/json", Array("{\n  \"title\": \"test\",\n\t\"n\": 1\n}".utf8)),
        ("application/json", Array(" [1, 2] ".utf8)),
        ("application/vnd.github+json; charset=utf-8", Array("{\"action\":\"opened\"}".utf8)),
        ("application/x-www-form-urlencoded", Array("a=1&b=x+y&c=%C3%A9&a=2".utf8)),
        ("text/plain", Array("line one\r\nline two\n\ttabbed \u{7}".utf8)),
        ("application/xml", Array("<?xml version=\"1.0\"?>\n<alert id=\"7\">disk &amp; cpu</alert>\n".utf8)),
        ("application/octet-stream", [0x00, 0xFF, 0x0A, 0x0D, 0x80, 0x41]),
        ("text/plain; charset=latin1", [0x63, 0x61, 0x66, 0xE9]),
        (nil, Array("plain words, no type".utf8)),
        (nil, Array("{\"undeclared\": true}".utf8)),
        ("text/plain", []),
        ("application/json", Array("null".utf8)),
        ("application/json", Array("\"a bare string\"".utf8)),
        ("application/json", Array(("\u{FEFF}" + "{}").utf8)),
        ("multipart/form-data; boundary=zz", Array("--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--zz--\r\n".utf8)),
        ("text/plain", Array(String(repeating: "\u{1}\u{2}", count: 50).utf8)),
        ("application/json", Array((String(repeating: "[", count: 254) + String(repeating: "]", count: 254)).utf8)),
    ]

    @Test(arguments: 0..<bodies.count)
    func theRecordedFormGivesBackTheSameBytes(_ index: Int) throws {
        let (contentType, bytes) = Self.bodies[index]
        let headers = [KeptHeader(name: "X-GitHub-Event", value: "issues"), KeptHeader(name: "X-GitHub-Delivery", value: "d-1"), KeptHeader(name: "Accept", value: "*/*")]
        let body = WebhookBody(bytes: bytes, contentType: contentType, headers: headers)
        let event: Event
        do { event = try Event.fromWebhook(body, endpoint: "github") } catch {
            // A byte-order mark is not JSON: the sender hears it (400), nothing is stored.
            #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]), "\(error)")
            return
        }
        let record = event.recordJSON
        #expect(!record.contains("\n") && !record.contains("\r"))
        let again = try Event.fromRecord(record)
        #expect(again.webhookBody == body)
        #expect(again.params == event.params)
        #expect(again.webhookBody?.headers.map(\.name) == ["X-GitHub-Event", "X-GitHub-Delivery", "Accept"])
        // A record is never more than a third larger than its body (and some fixed members).
        #expect(record.utf8.count <= bytes.count * 4 / 3 + 400, "\(record.utf8.count) for \(bytes.count)")
        #expect(again.source == EventSource(kind: .webhook, name: "github"))
        // A replay keeps the body too.
        #expect(try Event.fromRecord(again.replayed(origin: "test").recordJSON).webhookBody == body)
    }

    @Test func jsonDeeperThanARecordCanHoldIsRefusedAtTheDoor() {
        let deep = String(repeating: "[", count: 255) + String(repeating: "]", count: 255)
        #expect(throws: EventError.self) { try Event.fromWebhook(body: Array(deep.utf8), endpoint: "x") }
    }

    @Test func repeatedHeaderNamesKeepTheFirst() {
        let body = WebhookBody(bytes: [], contentType: nil, headers: [KeptHeader(name: "X-A", value: "1"), KeptHeader(name: "x-a", value: "2")])
        #expect(body.headers == [KeptHeader(name: "X-A", value: "1")])
    }

    @Test func payloadIsTheTextOrItsBase64() throws {
        let text = try Event.fromWebhook(body: Array("héllo\nworld".utf8), endpoint: "x", contentType: "text/plain")
        #expect(text.params["payload"] == .text("héllo\nworld"))
        #expect(text.payloadEncoding == .text)
        let binary: [UInt8] = [0x68, 0x00, 0x69]  // UTF-8, but a NUL cannot go in argv
        let nul = try Event.fromWebhook(body: binary, endpoint: "x", contentType: "application/octet-stream")
        #expect(nul.params["payload"] == .text(Data(binary).base64EncodedString()))
        #expect(nul.payloadEncoding == .base64)
        let json = try Event.fromWebhook(body: Array("{\"a\": [1]}".utf8), endpoint: "x")
        #expect(json.params["payload"]?.isText == false)
        #expect(json.params["payload"]?.value["a"] == .array([.number("1")]))
    }

    @Test func declaredJSONThatIsNotJSONIsRefused() {
        #expect(throws: EventError.self) { try Event.fromWebhook(body: Array("{oops".utf8), endpoint: "x", contentType: "application/json") }
        #expect(throws: EventError.self) { try Event.fromWebhook(body: [0xFF, 0x7B], endpoint: "x", contentType: "application/problem+json") }
        // The same bytes as text are kept as they are.
        #expect(throws: Never.self) { try Event.fromWebhook(body: Array("{oops".utf8), endpoint: "x", contentType: "text/plain") }
    }

    @Test func urlEncodedFormsAreParsed() throws {
        let fields = FormFields.urlEncoded(Array("a=1&b=x+y&c=%C3%A9&flag&&d=%zz&e=".utf8))
        #expect(fields.map(\.name) == ["a", "b", "c", "flag", "d", "e"])
        #expect(fields.map(\.value) == ["1", "x y", "é", "", "%zz", ""])
        let event = try Event.fromWebhook(body: Array("a=1&a=2&b=3".utf8), endpoint: "x", contentType: "application/x-www-form-urlencoded")
        #expect(event.params["payloadForm"]?.value == .object(["a": .array([.string("1"), .string("2")]), "b": .string("3")]))
        #expect(event.params["payloadJSON"] == nil)
    }

    @Test func aFormsJSONPayloadFieldBecomesPayloadJSON() throws {
        // GitHub's form mode: the JSON body URL-encoded in a field named `payload`.
        let json = #"{"action":"opened","issue":{"number":7}}"#
        let form = "payload=" + json.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let event = try Event.fromWebhook(body: Array(form.utf8), endpoint: "github", contentType: "application/x-www-form-urlencoded")
        #expect(event.params["payload"] == .text(form))
        #expect(event.params["payloadJSON"]?.raw == json)
        #expect(event.webhookJSON?["issue"]?["number"] == .number("7"))
    }

    @Test func multipartFormsAreParsed() throws {
        let body = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nDisk full\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"report\"; filename=\"r.txt\"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n\u{0}\u{1}\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"say \\\"hi\\\"\"\r\n\r\n\r\n--XyZ--\r\nepilogue"
        let event = try Event.fromWebhook(body: Array(body.utf8), endpoint: "x", contentType: "multipart/form-data; boundary=\"XyZ\"")
        let form = try #require(event.params["payloadForm"]?.value)
        #expect(form["title"] == .string("Disk full"))
        #expect(form["report"] == .object(["filename": .string("r.txt"), "contentType": .string("text/plain"), "text": .string("line 1\r\nline 2")]))
        #expect(form["blob"] == .object(["contentType": .string("application/octet-stream"), "base64": .string(Data([0, 1]).base64EncodedString())]))
        #expect(form["say \"hi\""] == .string(""))
        // The body holds a NUL: `payload` is its base64.
        #expect(event.params["payload"]?.raw == Data(body.utf8).base64EncodedString())
    }

    @Test(arguments: [
        ("multipart/form-data", "--a\r\n\r\nx\r\n--a--"),
        ("multipart/form-data; boundary=a", "no delimiter at all"),
        ("multipart/form-data; boundary=a", "--a\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nnever closed"),
        ("multipart/form-data; boundary=a", "--a\r\nContent-Type: text/plain\r\n\r\nno name\r\n--a--"),
    ])
    func brokenMultipartBodiesAreRefusedWithAReason(_ contentType: String, _ body: String) {
        #expect(throws: EventError.self) { try Event.fromWebhook(body: Array(body.utf8), endpoint: "x", contentType: contentType) }
    }

    /// Hostile forms under the body limit parse in linear time: one name repeated 200,000 times,
    /// and a multipart body that is almost all near-delimiters. (A generous bound: quadratic
    /// work here took minutes.)
    @Test func hostileFormsDoNotStall() throws {
        let started = ContinuousClock.now
        let repeated = String(repeating: "a=1&", count: 200_000)
        let form = try Event.fromWebhook(body: Array(repeated.utf8), endpoint: "x", contentType: "application/x-www-form-urlencoded")
        #expect(form.params["payloadForm"]?.value["a"]?.arrayValue?.count == 200_000)
        let boundary = String(repeating: "b", count: 70)
        let near = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
            + String(repeating: "\r\n--" + String(repeating: "b", count: 69) + "c", count: 10_000) + "\r\n--" + boundary + "--"
        let multipart = try Event.fromWebhook(body: Array(near.utf8), endpoint: "x", contentType: "multipart/form-data; boundary=" + boundary)
        #expect(multipart.params["payloadForm"]?.value["x"]?.stringValue?.utf8.count == 10_000 * 74)
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func recordsOfTheOlderFormAreStillRead() throws {
        let old = #"{"id":"evt_1","hook":"webhook","params":{"payload":{ "a": 1 }},"trigger":null,"receivedAt":"2026-01-02T03:04:05.000Z","source":{"kind":"webhook","name":"github"}}"#
        let event = try Event.fromRecord(old)
        #expect(event.params["payload"]?.raw == #"{ "a": 1 }"#)
        #expect(event.webhookBody == WebhookBody(bytes: Array(#"{ "a": 1 }"#.utf8), contentType: nil))
        #expect(event.webhookJSON?["a"] == .number("1"))
    }

    @Test func keptHeadersReachTheRunAsParamAndEnvironment() throws {
        let fixture = try RoutingFixture()
        let event = try Event.fromWebhook(body: Array("x=1".utf8), endpoint: "any", contentType: "application/x-www-form-urlencoded",
                                          headers: [KeptHeader(name: "X-GitHub-Event", value: "issues")])
        guard case let .run(invocation)? = try fixture.router.route(event).first else { Issue.record("not run"); return }
        let environment = invocation.maskedEnvironment
        #expect(environment["HOOKBUS_HEADER_X_GITHUB_EVENT"] == "issues")
        #expect(environment["HOOKBUS_CONTENT_TYPE"] == "application/x-www-form-urlencoded")
        #expect(environment["HOOKBUS_PAYLOAD_ENCODING"] == "text")
        #expect(environment["HOOKBUS_WEBHOOK"] == "any")
        #expect(environment["headers"] == #"{"X-GitHub-Event":"issues"}"#)
        #expect(invocation.maskedArguments.contains("--payload=x=1"))
        let stdin = try JSONParser.parse(invocation.stdin)
        #expect(stdin["payload"] == .string("x=1"))
        #expect(stdin["payloadForm"] == .object(["x": .string("1")]))
        #expect(stdin["headers"]?["X-GitHub-Event"] == .string("issues"))
    }
}
