import Foundation
import Testing
@testable import HookBus

@Suite struct EventTests {
    /// Every hook with a body carrying exactly its required params.
    static func validBody(for hook: Hook) -> String {
        var members: [String] = []
        for spec in hook.params where spec.required {
            switch spec.kind {
            case .object: members.append("\"\(spec.name)\": {\"id\": 7, \"status\": \"open\"}")
            case .text: members.append("\"\(spec.name)\": \"note\"")
            case .anyJSON: members.append("\"\(spec.name)\": [1, 2]")
            }
        }
        if hook.isCustomAction { members.append("\"trigger\": \"Button\"") }
        return "{" + members.joined(separator: ", ") + "}"
    }

    @Test(arguments: Hook.allCases)
    func everyHookAcceptsItsParams(_ hook: Hook) throws {
        let event = try Event.fromHookBody(hook: hook.rawValue, body: Array(Self.validBody(for: hook).utf8), source: EventSource(kind: .hook))
        #expect(event.hook == hook)
        #expect(Set(event.params.keys) == Set(hook.params.filter(\.required).map(\.name)))
        // The JSON form round-trips exactly.
        let again = try Event.fromRecord(event.recordJSON)
        #expect(again.id == event.id && again.hook == event.hook && again.params == event.params)
        #expect(again.trigger == event.trigger && again.source == event.source)
        // The JSON form keeps milliseconds.
        #expect(abs(again.receivedAt.timeIntervalSince(event.receivedAt)) < 0.001)
    }

    @Test(arguments: Hook.allCases)
    func everyHookRefusesAMissingRequiredParam(_ hook: Hook) throws {
        let required = hook.params.filter(\.required)
        let body = hook.isCustomAction ? "{\"trigger\": \"B\"}" : "{}"
        #expect(throws: EventError.self) {
            try Event.fromHookBody(hook: hook.rawValue, body: Array(body.utf8), source: EventSource(kind: .hook))
        }
        do {
            _ = try Event.fromHookBody(hook: hook.rawValue, body: Array(body.utf8), source: EventSource(kind: .hook))
        } catch {
            #expect(error.code == .missingParam)
            #expect(error.message == "hook '\(hook.rawValue)' needs param '\(required[0].name)'")
        }
    }

    @Test func idsAreTheMillisecondsThenACounterInHex() {
        let now = Date(timeIntervalSince1970: 1_795_000_000.5)
        let first = Event.newID(now: now)
        let second = Event.newID(now: now)
        #expect(first.hasPrefix("evt_01a1ee565ff4"))
        #expect(first.count == 32 && first.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(UInt64(first.suffix(16), radix: 16).map { $0 &+ 1 } == UInt64(second.suffix(16), radix: 16))
        #expect(Event.newID(now: now.addingTimeInterval(0.001)) > second.prefix(16) + "ffffffffffffffff")
    }

    @Test func receivedTimesAreWrittenAsFoundationsISO8601FormatWritesThemToTheMillisecondMeant() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 951_782_400.5), Date(timeIntervalSince1970: 4_102_444_799.999),
                     Date(timeIntervalSince1970: 1_795_000_000.0404), Date()]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 { dates.append(Date(timeIntervalSince1970: Double(generator.next() % 4_000_000_000_000) / 1000)) }
        for date in dates {
            // Five microseconds later than the format style looks: `Date` keeps `.244` as
            // 0.24399999…, which the format style writes `.243` (see `formatDate`).
            #expect(Event.formatDate(date) == date.addingTimeInterval(0.000_005).formatted(style), "\(date.timeIntervalSince1970)")
            #expect(Event.parseDate(Event.formatDate(date)).map { abs($0.timeIntervalSince(date)) < 0.0011 } == true)
        }
    }

    @Test func theSixObservableHooksCarryTheEntityAndTheIncident() throws {
        for hook in [Hook.addObservableArtifact, .addObservableDomain, .addObservableIp, .addObservableMail, .addObservableUrl, .addObservableUserDetail] {
            #expect(hook.params.map(\.name) == ["observablesDetail", "incidentsDetail"])
            #expect(hook.params.map(\.required) == [true, false])
        }
        let event = try Event.fromHookBody(hook: "addObservableIp", body: Array(#"{"observablesDetail": {"id": 3, "value": "203.0.113.9"}, "incidentsDetail": {"id": 42}}"#.utf8), source: EventSource(kind: .hook))
        #expect(event.orderingKey == "incident:42")
    }

    @Test func wrongShapesAreRefusedClearly() {
        func error(_ hook: String, _ body: String) -> EventError? {
            do { _ = try Event.fromHookBody(hook: hook, body: Array(body.utf8), source: EventSource(kind: .hook)); return nil } catch { return error }
        }
        #expect(error("newIncident", #"{"incidentsDetail": [1]}"#) == EventError(.wrongShape, "param 'incidentsDetail' must be a JSON object, not a array"))
        #expect(error("newIncident", #"{"incidentsDetail": "not json"}"#) == EventError(.wrongShape, "param 'incidentsDetail' must be a JSON object (or a string holding one)"))
        #expect(error("incidentCustomAction", #"{"incidentsDetail": {}, "trigger": "B", "text": 5}"#) == EventError(.wrongShape, "param 'text' must be a string, not a number"))
        #expect(error("incidentCustomAction", #"{"incidentsDetail": {}}"#)?.code == .missingParam)
        #expect(error("closeIncidnet", "{}") == EventError(.unknownHook, "unknown hook 'closeIncidnet' (did you mean 'closeIncident'?)"))
        #expect(error("newIncident", "{\"incidentsDetail\": {")?.code == .malformed)
        #expect(error("newIncident", "[]")?.code == .malformed)
        #expect(error("newIncident", #"{"incidentDetail": {}}"#) == EventError(.missingParam, "hook 'newIncident' needs param 'incidentsDetail' (found 'incidentDetail'; did you mean 'incidentsDetail'?)"))
    }

    @Test func anObjectGivenAsAJSONStringIsAccepted() throws {
        let event = try Event.fromHookBody(hook: "newIncident", body: Array(#"{"incidentsDetail": "{\"id\": 5, \"opt_1\": null}"}"#.utf8), source: EventSource(kind: .hook))
        #expect(event.params["incidentsDetail"]?.raw == #"{"id": 5, "opt_1": null}"#)
        #expect(event.subject?["id"] == .number("5"))
    }

    @Test func webhookPayloadIsKeptByteForByte() throws {
        let body = "{ \"b\":1,\n  \"a\" : [1.50, 2e3, \"\\u00e9\"] }"
        let event = try Event.fromWebhook(body: Array(body.utf8), endpoint: "github")
        #expect(event.params["payload"]?.raw == body)
        let again = try Event.fromRecord(event.recordJSON)
        // The record is one line, and the body comes back from it byte for byte.
        #expect(again.params["payload"]?.raw == body)
        #expect(again.webhookBody == event.webhookBody)
        #expect(!event.recordJSON.contains("\n"))
        #expect(again.source == EventSource(kind: .webhook, name: "github"))
    }

    @Test func hostileJSONIsRefused() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: EventError.self) { try Event.fromWebhook(body: Array(deep.utf8), endpoint: "x") }
        #expect(throws: EventError.self) { try Event.fromWebhook(body: [0xFF, 0xFE, 0x00], endpoint: "x") }
        #expect(throws: EventError.self) { try Event.fromWebhook(body: Array("{\"a\": \"\u{1}\"}".utf8), endpoint: "x") }
    }

    @Test func largeIntegerIdsAreNotRounded() throws {
        let event = try Event.fromHookBody(hook: "createTask", body: Array(#"{"tasksDetail": {"id": 123456789012345678901}}"#.utf8), source: EventSource(kind: .hook))
        #expect(event.orderingKey == "task:123456789012345678901")
    }
}

@Suite struct TimestampTests {
    @Test(arguments: ["2026-11-20T08:00:00.000Z", "2026-11-20T08:00:00Z", "2024-02-29T23:59:59.999Z", "1999-12-31T00:00:00.5Z", "2000-03-01T12:30:45Z"])
    func theFastParserAgreesWithFoundation(_ text: String) throws {
        let fast = try #require(Event.parseUTCTimestamp(text))
        let reference = try (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? Date.ISO8601FormatStyle().parse(text)
        #expect(abs(fast.timeIntervalSince(reference)) < 0.0005)
    }

    @Test(arguments: ["2026-13-20T08:00:00Z", "2026-11-20 08:00:00Z", "2026-11-20T08:00:00+01:00", "not a date"])
    func otherFormsAreLeftToFoundation(_ text: String) {
        #expect(Event.parseUTCTimestamp(text) == nil)
    }
}
