import Foundation
import HookBusPostgres
import Synchronization
@testable import HookBus
import PostgresTestSupport

/// The stores the contract runs against.
enum StoreKind: String, CaseIterable, Sendable {
    case sqlite, postgres
}

/// Opens an empty store of `kind`: SQLite in a temp folder; PostgreSQL on a fresh database.
func openStore(_ kind: StoreKind) async throws -> (store: any EventStore, close: @Sendable () async -> Void) {
    let location = try StoreLocation(kind)
    let (store, close) = try await location.open()
    return (store, {
        await close()
        location.remove()
    })
}

/// Runs `body` on an empty store of `kind`, and closes the store however `body` ends.
func withStore(_ kind: StoreKind, _ body: (any EventStore) async throws -> Void) async throws {
    try await withRestartableStore(kind) { store, _ in try await body(store) }
}

/// Runs `body` on an empty store of `kind` with `restart`, which stops the store as a process
/// that stops leaves it (its run records written, its events and runs not finished) and opens
/// the store again on the same data, as the next start of that process does.
func withRestartableStore(_ kind: StoreKind, _ body: (_ store: any EventStore, _ restart: () async throws -> any EventStore) async throws -> Void) async throws {
    let location = try StoreLocation(kind)
    var (store, close) = try await location.open()
    do {
        try await body(store) {
            try await store.flush()
            await close()
            (store, close) = try await location.open()
            return store
        }
    } catch {
        await close()
        location.remove()
        throw error
    }
    await close()
    location.remove()
}

/// Where a test's store keeps its data, to be opened again after a restart: a SQLite file in
/// a temp folder, or a fresh database on the test cluster.
struct StoreLocation: Sendable {
    let kind: StoreKind
    /// The SQLite file's folder, or the database's URL.
    let place: String

    init(_ kind: StoreKind) throws {
        self.kind = kind
        switch kind {
        case .sqlite: place = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-contract-\(UUID().uuidString)").path
        case .postgres: place = try TestPostgres.freshDatabase()
        }
    }

    /// A store on this data. A PostgreSQL store opened again in the same process has the same
    /// node name, which is how it takes over what the previous one left (`recoverInterrupted`).
    func open() async throws -> (store: any EventStore, close: @Sendable () async -> Void) {
        switch kind {
        case .sqlite:
            // A SQLite store has nothing to close: the file is the state.
            return (try SQLiteStore(path: place + "/hookbus.sqlite"), {})
        case .postgres:
            let store = try await PostgresStore.open(url: place)
            return (store, { await store.close() })
        }
    }

    /// Removes the SQLite folder (a test database stays until the cluster goes).
    func remove() {
        if kind == .sqlite { try? FileManager.default.removeItem(atPath: place) }
    }
}

// MARK: Time

/// Times in the past, on whole seconds, so that every store keeps them exactly: events, runs and
/// deferred runs happen at `minute(n)` after 2025-06-15T15:06:40Z, in the order a test writes
/// them (run ids grow with their start time).
func minute(_ number: Int) -> Date {
    Date(timeIntervalSince1970: 1_750_000_000 + Double(number) * 60)
}

/// Whether two times are the same to the millisecond (a store may keep microseconds or a double).
func same(_ first: Date?, _ second: Date?) -> Bool {
    switch (first, second) {
    case (nil, nil): true
    case let (first?, second?): abs(first.timeIntervalSince(second)) < 0.001
    default: false
    }
}

// MARK: Events

/// An `updateIncident` event about incident `incident` (its ordering key is `incident:N`).
func incidentEvent(_ id: String, incident: Int = 42, at date: Date = minute(0)) throws -> Event {
    try Event.fromHookBody(hook: "updateIncident", body: Array(#"{"incidentsBeforeUpdate": {"id": \#(incident)}, "incidentsAfterUpdate": {"id": \#(incident), "title": "Phishing ünïcødé"}}"#.utf8),
                           source: EventSource(kind: .hook), id: id, receivedAt: date)
}

/// An event of `hook` (`newIncident`, `closeTask`) about element `element`.
func hookEvent(_ id: String, _ hook: String, element: Int, at date: Date) throws -> Event {
    let detail = hook.hasSuffix("Task") ? "tasksDetail" : "incidentsDetail"
    return try Event.fromHookBody(hook: hook, body: Array(#"{"\#(detail)": {"id": \#(element)}}"#.utf8), source: EventSource(kind: .hook), id: id, receivedAt: date)
}

/// A webhook event of endpoint `endpoint` (no ordering key).
func webhookEvent(_ id: String, endpoint: String, at date: Date) throws -> Event {
    try Event.fromWebhook(body: Array(#"{"action": "opened"}"#.utf8), endpoint: endpoint, id: id, receivedAt: date)
}

/// A deferred run of `eventID`'s `Integration/Trigger`.
func deferred(_ eventID: String, _ qualifiedTrigger: String = "Tools/Notify", holdKey: String? = nil, kind: DeferredRun.Kind = .retry, due: Date = minute(10),
              attempt: Int = 2, tries: Int = 1, previousRun: Int64? = nil, requestedBy: String? = nil) -> DeferredRun {
    let parts = qualifiedTrigger.split(separator: "/", maxSplits: 1).map(String.init)
    return DeferredRun(eventID: eventID, integration: parts[0], trigger: parts[1], holdKey: holdKey, kind: kind, reason: "\(kind.rawValue) of \(qualifiedTrigger)",
                       dueAt: due, attempt: attempt, tries: tries, previousRun: previousRun, requestedBy: requestedBy)
}

extension EventStore {
    /// Accepts `events` (no idempotency keys) and returns their results.
    @discardableResult
    func accept(_ events: [Event], claimed: Bool = false, settled: Set<String> = []) async throws -> [AcceptResult] {
        try await accept(events.map { ($0, nil) }, idempotencyWindow: 60, claimed: claimed, settled: settled)
    }

    /// Records a run of `Integration/Trigger` that started and ended at `date` (a failure exits
    /// 1), with what a run's end may change in deferred runs; returns its id.
    @discardableResult
    func recordRun(_ eventID: String, _ qualifiedTrigger: String, _ outcome: RunOutcome, at date: Date, attempt: Int = 1, previousRun: Int64? = nil,
                   deferredRow: Int64? = nil, deferred change: DeferredChange? = nil) async throws -> Int64 {
        let parts = qualifiedTrigger.split(separator: "/", maxSplits: 1).map(String.init)
        let id = try await runStarted(eventID: eventID, attempt: attempt, integration: parts[0], trigger: parts[1], invocation: nil, previousRun: previousRun,
                                      requestedBy: nil, at: date, deferredRow: deferredRow)
        let result = RunResult(outcome: outcome, exitCode: outcome == .failed ? 1 : outcome == .succeeded ? 0 : nil, startedAt: date, endedAt: date.addingTimeInterval(1))
        try await runEnded(id: id, result: result, keepOutput: true, deferred: change)
        return id
    }

    /// Starts a run that does not end; returns its id.
    @discardableResult
    func startRun(_ eventID: String, _ qualifiedTrigger: String, at date: Date, attempt: Int = 1, deferredRow: Int64? = nil) async throws -> Int64 {
        let parts = qualifiedTrigger.split(separator: "/", maxSplits: 1).map(String.init)
        return try await runStarted(eventID: eventID, attempt: attempt, integration: parts[0], trigger: parts[1], invocation: nil, previousRun: nil, requestedBy: nil,
                                    at: date, deferredRow: deferredRow)
    }

    /// Takes every due deferred run at `now`, admitting all.
    func claimDue(at now: Date, limit: Int = 10, eventIDs: Set<String>? = nil, blocked: Set<String> = []) async throws -> [(run: DeferredRun, event: StoredEvent)] {
        try await claimDeferred(now: now, limit: limit, eventIDs: eventIDs, blocked: blocked) { _ in true }
    }

    /// The run ids of `filter`, in the store's order.
    func runIDs(_ filter: RunFilter) async throws -> [Int64] {
        try await runs(filter).map(\.id)
    }

    /// The event ids of the Events page `filter` gives, in its order.
    func pageIDs(_ filter: EventFilter) async throws -> [String] {
        try await eventPage(filter).map(\.id)
    }
}

/// Runs `work` on a thread of its own and waits for it without blocking a task: how the
/// server's group-commit thread calls `acceptBlocking`.
func onOwnThread<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// What a `@Sendable` closure saw, in order.
final class Seen: Sendable {
    private let values = Mutex<[String]>([])

    func append(_ value: String) { values.withLock { $0.append(value) } }
    var all: [String] { values.withLock { $0 } }
}
