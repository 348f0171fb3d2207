public import Foundation

/// Reads a recorded-event file (JSON Lines: one event per line, in the event's JSON form) line by
/// line, so a file of any length is replayed in constant memory. A bad line is reported with its
/// number and never stops the lines after it from being read.
public struct RecordedEventReader: Sendable {
    /// One line: the event, or why the line was refused.
    public struct Line: Sendable {
        public let number: Int
        public let result: Result<Event, EventError>
    }

    /// Longest line accepted: the record of the largest webhook body an endpoint may take (a
    /// record is at most a third larger than its body), and some.
    public static let maximumLineBytes = WebhookEndpoint.largestBody / 3 * 4 + (1 << 20)

    private let handle: FileHandle

    public init(handle: FileHandle) {
        self.handle = handle
    }

    /// Calls `body` for every non-blank line, in order.
    public func forEachLine(_ body: (Line) async throws -> Void) async throws {
        var buffer: [UInt8] = []
        var number = 0
        var oversized = false
        func emit(_ bytes: ArraySlice<UInt8>) async throws {
            number += 1
            if oversized {
                oversized = false
                try await body(Line(number: number, result: .failure(EventError(.malformed, "line is longer than \(Self.maximumLineBytes) bytes"))))
                return
            }
            var slice = bytes
            if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            guard let text = String(validating: slice, as: UTF8.self) else {
                try await body(Line(number: number, result: .failure(EventError(.malformed, "line is not valid UTF-8"))))
                return
            }
            try await body(Line(number: number, result: Result { () throws(EventError) in try Event.fromRecord(text) }))
        }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            var start = buffer.startIndex
            chunk.withUnsafeBytes { buffer.append(contentsOf: $0) }
            while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try await emit(buffer[start..<newline])
                start = newline + 1
            }
            buffer.removeSubrange(..<start)
            if buffer.count > Self.maximumLineBytes {
                oversized = true
                buffer.removeAll(keepingCapacity: true)
            }
        }
        if !buffer.isEmpty || oversized { try await emit(buffer[...]) }
    }
}

extension Event {
    /// A replay of this recorded event: a new event (new id, received now) that keeps the hook,
    /// params and target trigger, and records where it came from. A webhook event keeps its
    /// endpoint name so that endpoint's trigger restriction still applies.
    public func replayed(origin: String, now: Date = Date()) -> Event {
        var replay = Event(id: Event.newID(now: now), hook: hook, params: params, trigger: trigger, receivedAt: now,
                           source: EventSource(kind: .replay, name: hook == .webhook ? source.name : nil, replayOf: id, origin: origin))
        replay.webhookBody = webhookBody
        return replay
    }

    /// The body of `POST /api/v1/hooks/{hook}` that carries this event's params (and trigger).
    public var hookBody: String {
        var members: [String] = []
        for spec in hook.params {
            guard let param = params[spec.name] else { continue }
            members.append(JSONValue.quoted(spec.name) + ":" + (param.isText ? JSONValue.quoted(param.raw) : param.raw))
        }
        if let trigger { members.append("\"trigger\":" + JSONValue.quoted(trigger)) }
        return "{" + members.joined(separator: ",") + "}"
    }
}
