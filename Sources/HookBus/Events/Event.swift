public import Foundation
import Synchronization

/// Low bits of event ids: random at start, then counting (see `Event.newID`).
private let idSequence = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

/// Where an event came from.
public struct EventSource: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `POST /api/v1/hooks/{hook}` from the incident system.
        case hook
        /// `POST /api/v1/webhooks/{name}` from an external sender.
        case webhook
        /// `hookbus replay`.
        case replay
        /// `hookbus fire`.
        case cli
        /// An object printed by a daemon action (`daemons:` in the configuration).
        case daemon
        /// The end of a Scheduled action's schedule (condition met or expired).
        case schedule
    }

    public var kind: Kind
    /// The webhook endpoint name (kept when a webhook event is replayed, so an endpoint's
    /// trigger restriction still applies).
    public var name: String?
    /// For a replay, the id of the event it replays.
    public var replayOf: String?
    /// For a replay, the file and line it was read from (`session.jsonl:12`).
    public var origin: String?

    public init(kind: Kind, name: String? = nil, replayOf: String? = nil, origin: String? = nil) {
        self.kind = kind
        self.name = name
        self.replayOf = replayOf
        self.origin = origin
    }
}

/// A param value as received: `raw` is the exact JSON text (or, for a text param, the string
/// itself), which is what triggers receive; `value` is its parsed form, for routing decisions.
public struct EventParam: Sendable, Hashable {
    public let raw: String
    public let value: JSONValue
    /// Whether `raw` is text rather than JSON (`text`, a webhook body that is not JSON): in JSON
    /// (stdin, recorded events) it is written as a string.
    public let isText: Bool

    public init(raw: String, value: JSONValue) {
        self.raw = raw
        self.value = value
        isText = false
    }

    private init(text: String) {
        raw = text
        value = .string(text)
        isText = true
    }

    /// A text param: passed as the string itself.
    public static func text(_ text: String) -> EventParam { EventParam(text: text) }
}

/// One occurrence of a hook: what happened, to what, and when HookBus received it.
public struct Event: Sendable, Hashable {
    public var id: String
    public var hook: Hook
    /// Params by name, exactly those the hook defines (validated when the event is made).
    public var params: [String: EventParam]
    /// For custom-action hooks: the trigger (button) to run, by `Action` or `Integration/Action`.
    public var trigger: String?
    public var receivedAt: Date
    public var source: EventSource
    /// For a webhook event, the request's body as received (its params are derived from it:
    /// `Event.webhook`). Nil for other hooks.
    public var webhookBody: WebhookBody?

    public init(id: String = Event.newID(), hook: Hook, params: [String: EventParam], trigger: String? = nil,
                receivedAt: Date = Date(), source: EventSource) {
        self.id = id
        self.hook = hook
        self.params = params
        self.trigger = trigger
        self.receivedAt = receivedAt
        self.source = source
    }

    /// The object `check_not_null_field` is checked against (see `Hook.subjectParam`).
    public var subject: [String: JSONValue]? {
        hook.subjectParam.flatMap { params[$0]?.value.objectValue }
    }

    /// Events with the same key are run in arrival order, one at a time: `incident:42`,
    /// `task:7`, `triage:19`. Nil when the hook has no element id (webhooks), which then run in
    /// parallel, bounded only by the pool.
    public var orderingKey: String? {
        guard let source = hook.orderingSource,
              let id = params[source.param]?.value["id"]?.scalarText, !id.isEmpty
        else {
            if hook.orderingSource?.kind == "incident", let observable = params["observablesDetail"]?.value["id"]?.scalarText {
                return "observable:\(observable)"
            }
            return nil
        }
        return "\(source.kind):\(id)"
    }

    /// A new time-ordered id: `evt_` + 12 hex digits of milliseconds + 16 random hex digits.
    /// Written digit by digit into the string's own storage: one id per accepted event.
    public static func newID(now: Date = Date()) -> String {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        // A random start per process, then a counter: unique, and no system call per id.
        let random = idSequence.add(1, ordering: .relaxed).newValue
        func digit(_ value: UInt64) -> UInt8 { value < 10 ? UInt8(ascii: "0") + UInt8(value) : UInt8(ascii: "a") + UInt8(value - 10) }
        return String(unsafeUninitializedCapacity: 32) { bytes in
            for (offset, byte) in "evt_".utf8.enumerated() { bytes[offset] = byte }
            // 12 digits of milliseconds (enough until the year 10889), then 16 of the counter.
            for position in 0..<12 { bytes[4 + position] = digit((milliseconds >> (4 * UInt64(11 - position))) & 0xF) }
            for position in 0..<16 { bytes[16 + position] = digit((random >> (4 * UInt64(15 - position))) & 0xF) }
            return 32
        }
    }
}
