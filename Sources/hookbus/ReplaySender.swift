import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HookBus

/// Sends recorded events to a running HookBus (`replay --to`) over URLSession.
///
/// Events go in batches to `POST /api/v1/events` (JSON Lines), each with its original id, which
/// the server uses as the idempotency key: a batch retried after a lost answer stores nothing
/// twice. One request per event would cap a replay at what URLSession on Linux sustains (measured
/// here: about 1,000 requests/s whatever the concurrency); a batch of a few hundred events costs
/// about the same as one. 503/429 are retried after Retry-After; transport errors and other 5xx
/// with exponential backoff for up to `patience`; a 413 splits the batch in two; a bad line is
/// reported with its file and line, and the others go on.
struct ReplaySender {
    let base: String
    let token: String?
    let concurrency: Int
    let rate: Double
    /// A batch is sent when it holds this many events or this many bytes (well under the
    /// server's default 1 MiB body limit; a smaller limit is met by splitting on 413).
    var maximumEvents = 500
    var maximumBytes = 512 * 1024
    var patience: Duration = .seconds(120)

    /// One event of a batch: the line sent, and where it came from (`file:line`).
    struct Item: Sendable {
        let origin: String
        let record: String
    }

    enum Outcome: Sendable {
        case accepted(duplicate: Bool)
        case refused(String)
    }

    func send(file: String, strict: Bool, output: ReplayOutput, summary: inout ReplaySummary) async throws {
        let total = lineCount(file)
        let reader = RecordedEventReader(handle: try openInput(file))
        let session = URLSession(configuration: .ephemeral)
        // With a rate, batches stay small enough to leave about ten times a second.
        let batchLimit = rate > 0 ? max(1, min(maximumEvents, Int(rate / 10))) : maximumEvents
        let started = ContinuousClock.now
        var local = summary
        await withTaskGroup(of: [(String, Outcome)].self) { group in
            var inFlight = 0
            var batch: [Item] = []
            var batchBytes = 0
            func collect(_ results: [(String, Outcome)]) {
                inFlight -= 1
                for (origin, outcome) in results {
                    switch outcome {
                    case let .accepted(duplicate):
                        local.sent += 1
                        if duplicate { local.duplicates += 1 }
                    case let .refused(reason):
                        local.sendFailures += 1
                        output.problem("\(origin): \(reason)")
                    }
                }
                output.progress(done: local.sent + local.sendFailures, total: total, what: "sent")
            }
            func dispatch() async {
                guard !batch.isEmpty else { return }
                let items = batch
                batch = []
                batchBytes = 0
                inFlight += 1
                group.addTask { await deliver(items, session: session) }
                while inFlight >= concurrency, let results = await group.next() { collect(results) }
            }
            do {
                try await reader.forEachLine { line in
                    if local.stoppedEarly { return }
                    local.read += 1
                    let origin = "\(file):\(line.number)"
                    guard case var .success(event) = line.result else {
                        if case let .failure(error) = line.result { output.problem("\(origin): \(error.message)") }
                        local.skipped += 1
                        if strict { local.stoppedEarly = true }
                        return
                    }
                    if rate > 0 {
                        // Pace the events: event n leaves no earlier than n / rate seconds in.
                        let due = started + .seconds(Double(local.read - 1) / rate)
                        if due > ContinuousClock.now {
                            await dispatch()
                            try? await Task.sleep(until: due)
                        }
                    }
                    event.source.origin = origin
                    let record = event.recordJSON
                    if !batch.isEmpty && (batch.count >= batchLimit || batchBytes + record.utf8.count + 1 > maximumBytes) { await dispatch() }
                    batch.append(Item(origin: origin, record: record))
                    batchBytes += record.utf8.count + 1
                }
            } catch {
                output.problem("\(file): \(error)")
                local.stoppedEarly = true
            }
            await dispatch()
            while let results = await group.next() { collect(results) }
        }
        summary = local
    }

    /// Sends one batch until it is answered, and returns an outcome per event, in order.
    private func deliver(_ items: [Item], session: URLSession) async -> [(String, Outcome)] {
        func all(_ outcome: Outcome) -> [(String, Outcome)] { items.map { ($0.origin, outcome) } }
        guard let url = URL(string: base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/api/v1/events") else {
            return all(.refused("bad URL"))
        }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = Data(items.map(\.record).joined(separator: "\n").utf8)
        request.timeoutInterval = 60
        request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let deadline = ContinuousClock.now + patience
        var backoff = 0.05
        while true {
            do {
                let (data, response) = try await session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                let answer = try? JSONParser.parse(String(decoding: data, as: UTF8.self))
                switch status {
                case 200...299:
                    return Self.outcomes(of: items, answer: answer)
                case 413 where items.count > 1:
                    let half = items.count / 2
                    async let first = deliver(Array(items[..<half]), session: session)
                    let second = await deliver(Array(items[half...]), session: session)
                    return await first + second
                case 503, 429:
                    let retryAfter = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init) ?? 1
                    guard ContinuousClock.now + .seconds(retryAfter) < deadline else { return all(.refused("server still busy (HTTP \(status)) after \(patience)")) }
                    try? await Task.sleep(for: .seconds(min(retryAfter, 30)))
                case 500...599:
                    guard ContinuousClock.now < deadline else { return all(.refused("HTTP \(status)")) }
                    try? await Task.sleep(for: .seconds(backoff))
                    backoff = min(backoff * 2, 5)
                default:
                    let message = answer?["error"]?["message"]?.stringValue
                    return all(.refused("HTTP \(status)\(message.map { ": \($0)" } ?? "")"))
                }
            } catch {
                // Transport error: the server may be restarting. The idempotency keys make the
                // retry safe even if the first attempt was stored.
                guard ContinuousClock.now < deadline else { return all(.refused("\(error.localizedDescription) (gave up after \(patience))")) }
                try? await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }

    /// Matches the server's per-line results (lines count from 1 in the body) to the items.
    static func outcomes(of items: [Item], answer: JSONValue?) -> [(String, Outcome)] {
        var byLine: [Int: Outcome] = [:]
        for result in answer?["results"]?.arrayValue ?? [] {
            guard let line = result["line"]?.scalarText.flatMap({ Int($0) }) else { continue }
            if let message = result["error"]?["message"]?.stringValue {
                byLine[line] = .refused(message)
            } else if result["event"]?.stringValue != nil {
                byLine[line] = .accepted(duplicate: result["duplicate"] == JSONValue.bool(true))
            }
        }
        return items.enumerated().map { index, item in
            (item.origin, byLine[index + 1] ?? .refused("the server's answer did not mention this event"))
        }
    }
}
