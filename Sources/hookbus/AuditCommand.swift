import ArgumentParser
import Foundation
import HookBus

/// `hookbus audit`: the audit trail, readable or as JSON Lines, with a live tail.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit trail (every run, with outcome and output), or export stored events.",
        subcommands: [AuditListCommand.self, AuditExportCommand.self],
        defaultSubcommand: AuditListCommand.self)
}

/// Filters shared by the audit subcommands.
struct AuditFilterOptions: ParsableArguments {
    @Option(name: .long, help: "Only runs of this event.") var event: String?
    @Option(name: .long, help: "Only runs of this trigger (Action or Integration/Action).") var trigger: String?
    @Option(name: .long, help: "Only runs with this outcome (succeeded, failed, 'timed out', killed, skipped, interrupted, error, dead), or 'waiting': runs not yet run, with why.") var outcome: String?
    @Option(name: .long, help: "Only runs since this time: ISO 8601, or an age such as 30m, 12h, 7d.") var since: String?
    @Option(name: .long, help: "At most this many rows (newest first).") var limit: Int = 50

    func validate() throws {
        if let outcome, !RunOutcome.allCases.map(\.rawValue).contains(outcome) && outcome != "running" && outcome != "waiting" {
            throw ValidationError("unknown outcome '\(outcome)'; one of \(RunOutcome.allCases.map(\.rawValue).joined(separator: ", ")), running, waiting")
        }
        if let since, parseSince(since) == nil { throw ValidationError("--since must be an ISO 8601 time or an age like 30m, 12h, 7d") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    var filter: RunFilter {
        RunFilter(eventID: event, trigger: trigger, outcome: outcome, since: since.flatMap { parseSince($0) }, limit: limit)
    }
}

/// `30m`, `12h`, `7d`, `90s` ago, or an ISO 8601 time.
func parseSince(_ text: String) -> Date? { TimeExpression.parse(text) }

struct AuditListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List runs (the default).")

    @OptionGroup var options: CommonOptions
    @OptionGroup var filters: AuditFilterOptions
    @Flag(name: .long, help: "JSON Lines instead of a table.") var json = false
    @Flag(name: .long, help: "Keep printing new runs as they are recorded.") var follow = false

    func run() async throws {
        let store: any EventStore
        do { store = try await AuditStoreLocator.open(options) } catch { throw CommandFailure.exit("\(error)") }
        let table = AuditTable(json: json)
        if filters.outcome == nil && !follow || filters.outcome == "waiting" {
            try await printWaiting(store, table: table)
            if filters.outcome == "waiting" { return }
        }
        var runs = try await store.runs(filters.filter).reversed() as [RunRecord]
        if !json && !follow && runs.isEmpty { print("no runs match") }
        if !json && !runs.isEmpty { table.header() }
        for run in runs { table.print(run) }
        guard follow else { return }
        var last: Int64 = 0
        if let newest = runs.last?.id {
            last = newest
        } else {
            last = try await store.runs(RunFilter(limit: 1)).first?.id ?? 0
        }
        var printedHeader = !runs.isEmpty
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(500))
            var filter = filters.filter
            filter.afterID = last
            filter.limit = 1000
            // Only finished runs are printed; a running one is picked up when it ends.
            runs = try await store.runs(filter)
            let done = runs.prefix { $0.outcome != "running" }
            if !json && !printedHeader && !done.isEmpty { table.header(); printedHeader = true }
            for run in done { table.print(run) }
            if let newest = done.last?.id { last = newest }
        }
    }
}

extension AuditListCommand {
    /// Runs not yet run, with why (`DeferredRun`), and the events not yet dispatched: nothing
    /// that has not finished is listed without a reason. (Runs waiting in a server's memory for
    /// a slot are shown by its `GET /api/v1/events/{id}`.)
    func printWaiting(_ store: any EventStore, table: AuditTable) async throws {
        let rows = try await store.deferredRuns(eventID: filters.event, limit: filters.limit).filter { row in
            filters.trigger.map { $0 == row.trigger || $0 == row.qualifiedTrigger } ?? true
        }
        let backlog = try await store.backlog()
        if json {
            for row in rows { Swift.print(row.jsonValue.jsonText) }
            return
        }
        if !rows.isEmpty {
            Swift.print("WAITING  FOR     DUE                  TRIGGER / EVENT")
            for row in rows { table.print(row) }
        }
        if backlog > 0 { Swift.print("\(backlog) event\(backlog == 1 ? "" : "s") stored and not yet dispatched or still running (the backlog)") }
        if !rows.isEmpty || backlog > 0 { Swift.print("") }
    }
}

/// Finds the audit database: the configured data folder, read without loading definitions
/// strictly (a broken definition must not hide the trail).
enum AuditStoreLocator {
    static func open(_ options: CommonOptions) async throws -> any EventStore {
        let context = try CommandContext(options: options, quiet: true, secrets: .none)
        guard StoreOpener.exists(context.configuration) else {
            throw CommandFailure("no audit trail at \(context.configuration.databasePath) (nothing has run yet?)")
        }
        return try await StoreOpener.open(context.configuration)
    }
}

struct AuditTable {
    let json: Bool

    func header() {
        Swift.print("RUN     STARTED              OUTCOME       DURATION  TRIGGER / EVENT")
    }

    func print(_ run: RunRecord) {
        if json {
            Swift.print(run.jsonValue.jsonText)
            return
        }
        let started = run.startedAt.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon))
        var outcome = run.outcome
        if let code = run.exitCode, run.outcome == "failed" { outcome += " (\(code))" }
        let duration = run.durationSeconds.map { String(format: "%7.3fs", $0) } ?? "       -"
        Swift.print("\(pad(String(run.id), 7)) \(pad(started, 20)) \(pad(outcome, 13)) \(duration)  \(run.integration)/\(run.trigger)  \(run.eventID)")
        if let requestedBy = run.requestedBy { Swift.print("        by: \(requestedBy)") }
        if let reason = run.reason { Swift.print("        reason: \(reason)") }
        if run.outcome != RunOutcome.succeeded.rawValue && run.outcome != RunOutcome.skipped.rawValue, let stderr = run.stderr?.trimmingCharacters(in: .whitespacesAndNewlines), !stderr.isEmpty {
            for line in stderr.split(separator: "\n").prefix(20) { Swift.print("        stderr| \(line)") }
        }
    }

    /// A run waiting on disk: what it waits for, when it is due, and why in words.
    func print(_ row: DeferredRun) {
        let due = row.dueAt.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon))
        Swift.print("\(pad(row.claimed ? "starting" : "waiting", 8)) \(pad(row.kind.rawValue, 7)) \(pad(due, 20)) \(row.qualifiedTrigger)  \(row.eventID)")
        Swift.print("        reason: \(row.reason)")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}

/// `hookbus audit export`: stored events as JSON Lines, in the recorded-event form `replay` reads.
struct AuditExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write stored events as JSON Lines (replayable).")

    @OptionGroup var options: CommonOptions
    @Option(name: .long, help: "Only events since this time (ISO 8601 or an age like 7d).") var since: String?
    @Flag(name: .long, help: "Only events with a failed or interrupted run not yet repeated.") var failed = false
    @Option(name: .long, help: "At most this many events (oldest first).") var limit: Int = 1_000_000

    func run() async throws {
        let store: any EventStore
        do { store = try await AuditStoreLocator.open(options) } catch { throw CommandFailure.exit("\(error)") }
        let sinceDate = try since.map { text -> Date in
            guard let date = parseSince(text) else { throw CommandFailure.exit("--since must be an ISO 8601 time or an age like 7d") }
            return date
        }
        for stored in try await store.events(since: sinceDate, onlyFailed: failed, limit: limit) {
            print(stored.event.recordJSON)
        }
    }
}
