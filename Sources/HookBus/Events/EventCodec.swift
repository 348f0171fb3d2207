public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one JSON form of an event, used by recorded files, the store and `hookbus audit export`:
/// `{"id":"…","hook":"updateIncident","params":{…},"trigger":null,"receivedAt":"…","source":{…}}`.
/// Params are written as the exact text they arrived as; a webhook's body is written so that it
/// survives byte for byte (`WebhookRecord`).
extension Event {
    /// Makes an event from an HTTP hook body or a `--params` file: an object whose keys are the
    /// hook's param names, plus `trigger` (and `text`) for custom-action hooks.
    public static func fromHookBody(hook hookName: String, body: [UInt8], source: EventSource, id: String? = nil,
                                    receivedAt: Date = Date()) throws(EventError) -> Event {
        let hook = try parseHook(hookName)
        var parser = JSONParser(body)
        let members: [JSONParser.Member]
        do {
            members = try parser.parseObjectMembers()
        } catch {
            throw EventError(.malformed, "body is not a JSON object: \(error)")
        }
        var trigger: String?
        if let member = members.first(where: { $0.key == "trigger" }) {
            switch member.value {
            case .null: break
            case let .string(name): trigger = name
            default: throw EventError(.wrongShape, "'trigger' must be a string naming the trigger, not a \(member.value.typeName)")
            }
        }
        let params = try validateParams(hook: hook, members: members)
        if hook == .webhook, let payload = params["payload"] {
            // A JSON payload in a hook body (or a `--params` file): the JSON body it stands for,
            // with the `headers` given as an object of strings.
            var headers: [KeptHeader] = []
            if let object = params["headers"] { headers = try WebhookRecord.headers(objectText: object.raw) }
            return try webhook(WebhookBody(bytes: Array(payload.raw.utf8), contentType: "application/json", headers: headers),
                               source: source, id: id, trigger: trigger, receivedAt: receivedAt)
        }
        return try Event(id: id ?? Event.newID(now: receivedAt), hook: hook, params: params, trigger: trigger,
                         receivedAt: receivedAt, source: source).validatedTarget()
    }

    /// Reads one recorded event (a line of a JSON Lines file, or a stored row).
    /// - Parameter requireID: refuse a record without an `id` (a bulk import uses it as the
    ///   idempotency key); otherwise a missing id gets a new one.
    public static func fromRecord(_ text: String, requireID: Bool = false) throws(EventError) -> Event {
        var parser = JSONParser(text)
        let members: [JSONParser.Member]
        do {
            members = try parser.parseObjectMembers(skipping: ["params"])
        } catch {
            throw EventError(.malformed, "not a JSON object: \(error)")
        }
        func member(_ key: String) -> JSONParser.Member? { members.first { $0.key == key } }
        guard let hookName = member("hook")?.value.stringValue else { throw EventError(.missingParam, "missing 'hook'") }
        let hook = try parseHook(hookName)
        guard let paramsMember = member("params") else { throw EventError(.missingParam, "missing 'params'") }
        var paramsParser = JSONParser(paramsMember.raw)
        let paramMembers: [JSONParser.Member]
        do {
            paramMembers = try paramsParser.parseObjectMembers()
        } catch {
            throw EventError(.wrongShape, "'params' must be an object")
        }
        var receivedAt = Date()
        if let text = member("receivedAt")?.value.stringValue {
            guard let date = Event.parseDate(text) else { throw EventError(.wrongShape, "'receivedAt' is not an ISO 8601 time: '\(text)'") }
            guard Event.validReceivedAt.contains(date) else { throw EventError(.wrongShape, "'receivedAt' is out of range (1970–2499): '\(text)'") }
            receivedAt = date
        }
        var source = EventSource(kind: .replay)
        if let sourceValue = member("source")?.value.objectValue {
            source.kind = sourceValue["kind"]?.stringValue.flatMap(EventSource.Kind.init(rawValue:)) ?? .replay
            source.name = sourceValue["name"]?.stringValue
            source.replayOf = sourceValue["replayOf"]?.stringValue
            source.origin = sourceValue["origin"]?.stringValue
        }
        let recordedID = member("id")?.value.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if requireID && recordedID == nil { throw EventError(.missingParam, "missing 'id' (each event of a bulk import needs one: it is the idempotency key)") }
        let id = recordedID ?? Event.newID()
        let trigger = member("trigger")?.value.stringValue
        if hook == .webhook {
            let body = try WebhookRecord.body(members: members, payloadMember: paramMembers.first { $0.key == "payload" })
            return try webhook(body, source: source, id: id, trigger: trigger, receivedAt: receivedAt)
        }
        let params = try validateParams(hook: hook, members: paramMembers)
        return try Event(id: id, hook: hook, params: params, trigger: trigger, receivedAt: receivedAt, source: source).validatedTarget()
    }

    /// The event's JSON form on one line. Written into one string reserved up front: every
    /// accepted event is recorded, and a concatenation per piece cost 4% of an accept's CPU.
    public var recordJSON: String {
        var output = ""
        output.reserveCapacity(192 + (webhookBody.map { $0.bytes.count + 64 } ?? params.values.reduce(0) { $0 + $1.raw.utf8.count }))
        output += "{\"id\":"
        JSONValue.appendQuoted(id, to: &output)
        output += ",\"hook\":"
        JSONValue.appendQuoted(hook.rawValue, to: &output)
        output += ",\"params\":{"
        let inlined = webhookBody.map { WebhookRecord.inlinesPayload(self, body: $0) }
        if let inlined {
            // A webhook's params are derived from its body: only a payload that is the body
            // byte for byte is written here; any other body follows as `payloadText` or
            // `payloadBase64` (`WebhookRecord`), never twice.
            if inlined, let payload = params["payload"] { output += "\"payload\":" + payload.raw }
        } else {
            var first = true
            for spec in hook.params {
                guard let param = params[spec.name] else { continue }
                if !first { output += "," }
                first = false
                JSONValue.appendQuoted(spec.name, to: &output)
                output += ":"
                if param.isText { JSONValue.appendQuoted(param.raw, to: &output) } else { output += Self.singleLine(param.raw) }
            }
        }
        output += "},\"trigger\":"
        if let trigger { JSONValue.appendQuoted(trigger, to: &output) } else { output += "null" }
        output += ",\"receivedAt\":"
        JSONValue.appendQuoted(Event.formatDate(receivedAt), to: &output)
        output += ",\"source\":{\"kind\":"
        JSONValue.appendQuoted(source.kind.rawValue, to: &output)
        if let name = source.name { output += ",\"name\":"; JSONValue.appendQuoted(name, to: &output) }
        if let replayOf = source.replayOf { output += ",\"replayOf\":"; JSONValue.appendQuoted(replayOf, to: &output) }
        if let origin = source.origin { output += ",\"origin\":"; JSONValue.appendQuoted(origin, to: &output) }
        output += "}"
        if let webhookBody, let inlined { WebhookRecord.appendMembers(of: webhookBody, inlined: inlined, to: &output) }
        output += "}"
        return output
    }

    /// JSON Lines needs one line per event: whitespace newlines between tokens are replaced by
    /// spaces (newlines inside strings are always escaped in valid JSON, so no content changes).
    private static func singleLine(_ raw: String) -> String {
        guard raw.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return raw }
        return String(decoding: raw.utf8.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 }, as: UTF8.self)
    }

    static func parseHook(_ name: String) throws(EventError) -> Hook {
        switch Hook.match(name) {
        case let .exact(hook): return hook
        case let .caseInsensitive(hook): return hook
        case let .unknown(suggestion):
            throw EventError(.unknownHook, "unknown hook '\(name)'\(suggestion.map { " (did you mean '\($0)'?)" } ?? "")")
        }
    }

    /// Checks every param the hook defines: present when required, of the right shape. Keys the
    /// hook does not define are ignored (incident systems send extras), except a misspelt param
    /// name, which is reported as the missing one with a suggestion.
    static func validateParams(hook: Hook, members: [JSONParser.Member]) throws(EventError) -> [String: EventParam] {
        var params: [String: EventParam] = [:]
        for spec in hook.params {
            guard let member = members.first(where: { $0.key == spec.name }), member.value != .null else {
                if spec.required {
                    let others = members.map(\.key).filter { $0 != "trigger" }
                    let hint = Suggestion.closest(to: spec.name, in: others).map { " (found '\($0)'; did you mean '\(spec.name)'?)" } ?? ""
                    throw EventError(.missingParam, "hook '\(hook.rawValue)' needs param '\(spec.name)'\(hint)")
                }
                continue
            }
            switch spec.kind {
            case .anyJSON:
                params[spec.name] = EventParam(raw: member.raw, value: member.value)
            case .text:
                guard case let .string(text) = member.value else {
                    throw EventError(.wrongShape, "param '\(spec.name)' must be a string, not a \(member.value.typeName)")
                }
                params[spec.name] = .text(text)
            case .object:
                switch member.value {
                case .object:
                    params[spec.name] = EventParam(raw: member.raw, value: member.value)
                case let .string(text):
                    // "JSON strings" as the framework documents them: an object serialised in a string.
                    guard let inner = try? JSONParser.parse(text), case .object = inner else {
                        throw EventError(.wrongShape, "param '\(spec.name)' must be a JSON object (or a string holding one)")
                    }
                    params[spec.name] = EventParam(raw: text, value: inner)
                default:
                    throw EventError(.wrongShape, "param '\(spec.name)' must be a JSON object, not a \(member.value.typeName)")
                }
            }
        }
        return params
    }

    /// Custom-action events must name their button; other hooks may name one trigger to limit
    /// the event to it (a re-drive of one trigger).
    func validatedTarget() throws(EventError) -> Event {
        if hook.isCustomAction, trigger?.isEmpty ?? true {
            throw EventError(.missingParam, "hook '\(hook.rawValue)' needs 'trigger': the name of the custom action (button) to run")
        }
        return self
    }

    /// `YYYY-MM-DDTHH:MM:SS.fffZ` in UTC (what `Date.ISO8601FormatStyle` with fractional seconds
    /// writes), without a formatter: every accepted event is stamped with it, and the format
    /// style cost a few microseconds of each request.
    public static func formatDate(_ date: Date) -> String {
        // Whole seconds and truncated milliseconds counted from 2001 as `Date` keeps them, so the
        // text is the same as the format style's to the last digit.
        let sinceReference = date.timeIntervalSinceReferenceDate
        let whole = sinceReference.rounded(.down)
        var seconds = time_t(Int64(whole) + 978_307_200)
        // Five microseconds of margin before truncating: a `Date` holds up to a couple of
        // microseconds of rounding at the times a record may carry (`Event.validReceivedAt`),
        // and without it `.790` read back as 0.7899999… would be written `.789` (an exported
        // event read back would not be the same). Capped, so it never carries into the second.
        let milliseconds = min(999, Int((sinceReference - whole) * 1000 + 0.005))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        func append(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var value = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor))
                value %= divisor
                divisor /= 10
            }
        }
        append(Int(parts.tm_year) + 1900, digits: 4); bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mon) + 1, digits: 2); bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mday), digits: 2); bytes.append(UInt8(ascii: "T"))
        append(Int(parts.tm_hour), digits: 2); bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_min), digits: 2); bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_sec), digits: 2); bytes.append(UInt8(ascii: "."))
        append(milliseconds, digits: 3); bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// When a recorded event may have been received: a record from before 1970 or after 2499 is
    /// refused rather than kept with a time that would not be written back the same (a `Date`
    /// past that holds more rounding than `formatDate`'s margin).
    static let validReceivedAt = Date(timeIntervalSince1970: 0)...Date(timeIntervalSince1970: 16_725_225_600)

    static func parseDate(_ text: String) -> Date? {
        if let date = parseUTCTimestamp(text) { return date }
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff]Z`, the form HookBus writes, without a formatter: recorded
    /// files are read at tens of thousands of lines a second.
    static func parseUTCTimestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var fraction = 0.0
        if bytes.count > 20 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count > 21 else { return nil }
            var scale = 0.1
            for index in 20..<(bytes.count - 1) {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                fraction += Double(digit) * scale
                scale /= 10
            }
        } else if bytes.count != 20 {
            return nil
        }
        // Days from the civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Date(timeIntervalSince1970: Double(days * 86400 + hour * 3600 + minute * 60 + second) + fraction)
    }
}
