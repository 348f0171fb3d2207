import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HookBus

/// Sends recorded events to a running HookBus (`replay --to`) over URLSession.
///
/// Each event goes to `POST /api/v1/hooks/{hook}` with its original id as the Idempotency-Key,
/// so a request retried after a lost answer is stored once: a 202 for a key the server already
/// has returns the first event's id. 503 is retried after its Retry-After; transport errors
/// (server restarting, connection refused) are retried with exponential backoff for up to
/// `patience`; any other 4xx is reported as the line's error and not retried.
struct ReplaySender {
    let base: String
    let token: String?
    let concurrency: Int
    let rate: Double
    var patience: Duration = .seconds(120)

    enum Outcome: Sendable {
        case accepted(duplicate: Bool)
        case refused(String)
    }

    func send(file: String, strict: Bool, output: ReplayOutput, summary: inout ReplaySummary) async throws {
        let total = lineCount(file)
        let reader = RecordedEventReader(handle: try openInput(file))
        // On Linux each URLSession drives its transfers from one libcurl thread; several sessions
        // spread the work (measured: one session tops out near 1,000 requests/s here).
        let sessions = (0..<min(concurrency, 8)).map { _ in
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpMaximumConnectionsPerHost = max(6, concurrency)
            return URLSession(configuration: configuration)
        }
        let started = ContinuousClock.now
        var local = summary
        await withTaskGroup(of: (String, Outcome).self) { group in
            var inFlight = 0
            func collect(_ result: (String, Outcome)) {
                inFlight -= 1
                switch result.1 {
                case let .accepted(duplicate):
                    local.sent += 1
                    if duplicate { local.duplicates += 1 }
                case let .refused(reason):
                    local.sendFailures += 1
                    output.problem("\(result.0): \(reason)")
                }
                output.progress(done: local.sent + local.sendFailures, total: total, what: "sent")
            }
            do {
                try await reader.forEachLine { line in
                    if local.stoppedEarly { return }
                    local.read += 1
                    let where_ = "\(file):\(line.number)"
                    guard case let .success(event) = line.result else {
                        if case let .failure(error) = line.result { output.problem("\(where_): \(error.message)") }
                        local.skipped += 1
                        if strict { local.stoppedEarly = true }
                        return
                    }
                    if rate > 0 {
                        // Pace the starts: event n leaves no earlier than n / rate seconds in.
                        let due = started + .seconds(Double(local.read - 1) / rate)
                        if due > ContinuousClock.now { try? await Task.sleep(until: due) }
                    }
                    inFlight += 1
                    let session = sessions[local.read % sessions.count]
                    group.addTask { (where_, await deliver(event, session: session)) }
                    while inFlight >= concurrency, let result = await group.next() { collect(result) }
                }
            } catch {
                output.problem("\(file): \(error)")
                local.stoppedEarly = true
            }
            while let result = await group.next() { collect(result) }
        }
        summary = local
    }

    private func deliver(_ event: Event, session: URLSession) async -> Outcome {
        guard let url = URL(string: base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/api/v1/hooks/\(event.hook.rawValue)") else {
            return .refused("bad URL")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = Data(event.hookBody.utf8)
        request.timeoutInterval = 30
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(event.id, forHTTPHeaderField: "Idempotency-Key")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let deadline = ContinuousClock.now + patience
        var backoff = 0.05
        while true {
            do {
                let (data, response) = try await session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                switch status {
                case 200...299:
                    let duplicate = (try? JSONParser.parse(String(decoding: data, as: UTF8.self)))?["duplicate"] == .bool(true)
                    return .accepted(duplicate: duplicate)
                case 503, 429:
                    let retryAfter = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init) ?? 1
                    guard ContinuousClock.now + .seconds(retryAfter) < deadline else { return .refused("server still busy (HTTP \(status)) after \(patience)") }
                    try? await Task.sleep(for: .seconds(min(retryAfter, 30)))
                case 500...599:
                    guard ContinuousClock.now < deadline else { return .refused("HTTP \(status)") }
                    try? await Task.sleep(for: .seconds(backoff))
                    backoff = min(backoff * 2, 5)
                default:
                    let message = (try? JSONParser.parse(String(decoding: data, as: UTF8.self)))?["error"]?["message"]?.stringValue
                    return .refused("HTTP \(status)\(message.map { ": \($0)" } ?? "")")
                }
            } catch {
                // Transport error: the server may be restarting. The idempotency key makes the
                // retry safe even if the first attempt was stored.
                guard ContinuousClock.now < deadline else { return .refused("\(error.localizedDescription) (gave up after \(patience))") }
                try? await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }
}
