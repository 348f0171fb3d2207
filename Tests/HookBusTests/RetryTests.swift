import Foundation
import Testing
@testable import HookBus

/// Retry policies, dead letters, strict and relaxed order behind a retry, and the limits, with
/// real bash triggers, a real SQLite store and the engine the server and the CLI use.
@Suite struct RetryTests {
    /// A bash trigger that appends `<event's incident title> <try>` to `$note/log` and fails
    /// while the title's count of tries is below `$note/<title>.succeed-at` (no file: succeeds).
    static let countingTrigger = """
        title=$(printf '%s' "$incidentsAfterUpdate" | sed -n 's/.*"title": *"\\([^"]*\\)".*/\\1/p')
        n=$(( $(cat "$note/$title.count" 2>/dev/null || echo 0) + 1 ))
        echo $n > "$note/$title.count"
        echo "$title $n $(date +%s.%N)" >> "$note/log"
        need=$(cat "$note/$title.succeed-at" 2>/dev/null || echo 1)
        [ "$n" -ge "$need" ] || { echo "downstream down" >&2; exit 1; }
        """

    /// `integration`: more settings of the integration's section (`order: relaxed`).
    static func fixture(_ folder: TempFolder, config: String = "", integration: String = "", concurrency: Int = 4, code: String = countingTrigger,
                        hooks: [String] = ["updateIncident"]) throws -> RunnerFixture {
        let state = folder.sharedWithRuns("state")
        let section = "settings: {note: '\(state)'}, sandbox_write: ['\(state)']" + (integration.isEmpty ? "" : ", " + integration)
        return try RunnerFixture(language: "bash", actions: [("count.yaml", triggerYAML("Count", hooks: hooks, code: code.replacingOccurrences(of: "\n", with: "\n    ")))],
                                 config: "integrations: {'Incident Tools': {\(section)}}\n" + config, concurrency: concurrency)
    }

    static func update(_ fixture: RunnerFixture, incident: Int, title: String) throws -> Event {
        try fixture.event(.updateIncident, #"{"incidentsBeforeUpdate": {"id": \#(incident)}, "incidentsAfterUpdate": {"id": \#(incident), "title": "\#(title)"}}"#)
    }

    /// Checks `condition` every 20 ms until it holds or `limit` has passed.
    static func eventuallyTrue(within limit: Duration, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    static func log(_ fixture: RunnerFixture, _ stateFolder: URL) -> [String] {
        ((try? String(contentsOf: stateFolder.appendingPathComponent("state/log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
    }

    // MARK: Policies

    @Test func delaysGrowByTheFactorWithinTheJitterAndTheCap() {
        let policy = RetryPolicy(on: [.failed], attempts: 6, delay: 2, factor: 3, maxDelay: 30, jitter: 0.25)
        #expect(policy.delay(afterTry: 1, random: 0) == 2)
        #expect(policy.delay(afterTry: 2, random: 0) == 6)
        #expect(policy.delay(afterTry: 3, random: 0) == 18)
        #expect(policy.delay(afterTry: 4, random: 0) == 30, "capped at max_delay")
        #expect(policy.delay(afterTry: 2, random: 1) == 4.5, "at most a quarter taken off")
        for _ in 0..<1000 {
            let delay = policy.delay(afterTry: 2, random: Double.random(in: 0..<1))
            #expect(delay > 4.5 - 1e-9 && delay <= 6)
        }
    }

    @Test func theDecisionFollowsOutcomesFinalCodesAndTries() {
        let failed = RunResult(outcome: .failed, exitCode: 1, startedAt: Date(), endedAt: Date())
        let policy = RetryPolicy(on: [.failed, .timedOut], finalExitCodes: [3], attempts: 3, delay: 1, jitter: 0)
        #expect(policy.decide(failed, tries: 1) == .retry(afterSeconds: 1))
        #expect(policy.decide(failed, tries: 2) == .retry(afterSeconds: 2))
        #expect(policy.decide(failed, tries: 3) == .dead)
        #expect(policy.decide(RunResult(outcome: .failed, exitCode: 3, startedAt: Date(), endedAt: Date()), tries: 1) == .final)
        #expect(policy.decide(RunResult(outcome: .killed, signal: 9, startedAt: Date(), endedAt: Date()), tries: 1) == .final)
        #expect(policy.decide(RunResult(outcome: .succeeded, startedAt: Date(), endedAt: Date()), tries: 1) == .final)
        // One try in all: nothing is retried, so nothing is dead either.
        var once = policy
        once.attempts = 1
        #expect(once.decide(failed, tries: 1) == .final)
        // The default retries what usually passes on its own, not a script's own exit status.
        #expect(RetryPolicy.default.decide(failed, tries: 1) == .final)
        #expect(RetryPolicy.default.decide(RunResult(outcome: .timedOut, startedAt: Date(), endedAt: Date()), tries: 1, random: 0) == .retry(afterSeconds: 10))
        #expect(RetryPolicy.default.decide(RunResult.error("interpreter pwsh not found"), tries: 3) == .dead)
    }

    @Test func policiesRefineEachOtherAndMistakesAreReportedAtTheirPosition() throws {
        let folder = TempFolder()
        // Integration and action policies name only what differs.
        folder.write("hooks/int.yaml", integrationYAML(language: "bash", attributes: "    note:\n      label: Note\n      type: text\n      required: false"))
        folder.write("hooks/count.yaml", triggerYAML("Count", hooks: ["updateIncident"], code: "true"))
        let loaded = DefinitionLoader().load([folder.url.appendingPathComponent("hooks").path])
        let path = folder.write("policies.yaml", """
            retry: {on: [failed, timed out], attempts: 4, delay: 2}
            integrations:
              'Incident Tools':
                retry: {attempts: 6, max_delay: 30}
                action_retry: {'Count': {jitter: 0}}
                order: relaxed
                max_concurrency: 3
                max_per_minute: 90
            """)
        let configuration = try #require(ConfigurationLoader().load(path: path, catalog: loaded.catalog).configuration)
        let policy = configuration.retryPolicy(integration: "Incident Tools", action: "Count")
        #expect(policy == RetryPolicy(on: [.failed, .timedOut], attempts: 6, delay: 2, factor: 2, maxDelay: 30, jitter: 0))
        #expect(configuration.retryPolicy(integration: "Incident Tools", action: "Other").jitter == 0.2)
        #expect(configuration.instances["Incident Tools"]?.order == .relaxed)
        #expect(configuration.instances["Incident Tools"]?.limits == IntegrationLimits(maxConcurrency: 3, maxPerMinute: 90))

        let mistakes: [(String, String)] = [
            ("retry: {on: [failed, skipped]}", "policies.yaml:1:22: error: 'retry.on' lists outcomes to retry"),
            ("retry: {attempts: 0}", "policies.yaml:1:19: error: 'retry.attempts' is the number of tries in all"),
            ("retry: {jitter: 2}", "policies.yaml:1:17: error: 'retry.jitter' is the fraction"),
            ("retry: {delay: 60, max_delay: 10}", "policies.yaml:1:8: error: 'retry.max_delay' (10.0 s) is shorter than its 'delay'"),
            ("integrations: {'Incident Tools': {order: loose}}", "policies.yaml:1:42: error: 'order' of integration 'Incident Tools' must be 'strict' or 'relaxed'"),
            ("integrations: {'Incident Tools': {max_concurrency: 1.5}}", "policies.yaml:1:52: error: 'max_concurrency' of integration 'Incident Tools' must be a whole number"),
            ("integrations: {'Incident Tools': {action_retry: {'Cont': {attempts: 2}}}}", "policies.yaml:1:50: error: integration 'Incident Tools' has no action 'Cont' (did you mean 'Count'?)"),
        ]
        for (yaml, expected) in mistakes {
            let file = folder.write("policies.yaml", yaml + "\n")
            let result = ConfigurationLoader().load(path: file, catalog: loaded.catalog)
            #expect(result.configuration == nil, "\(yaml)")
            #expect(result.diagnostics.contains { $0.description.contains(expected) }, "\(yaml): \(result.diagnostics.map(\.description))")
        }
        // A key the policy does not know is a warning, as everywhere in the configuration.
        let file = folder.write("policies.yaml", "retry: {tries: 3}\n")
        let result = ConfigurationLoader().load(path: file, catalog: loaded.catalog)
        #expect(result.diagnostics.map(\.description).contains { $0.contains("policies.yaml:1:9: warning: unknown key 'tries' in retry") }, "\(result.diagnostics.map(\.description))")
    }

    // MARK: Retries

    @Test func aTriggerFailingTwiceThenSucceedingIsRecordedAsThreeLinkedAttemptsWithinThePolicysDelays() async throws {
        let folder = TempFolder()
        let fixture = try Self.fixture(folder, config: "retry: {on: [failed], attempts: 3, delay: 0.4, factor: 2, jitter: 0.5}\n")
        folder.write("state/flaky.succeed-at", "3\n")
        let event = try Self.update(fixture, incident: 7, title: "flaky")
        let first = try #require(try await fixture.fire(event).first)
        #expect(first.result.outcome == .failed)
        let retry = try #require(first.retry)
        #expect(retry.attempt == 2 && retry.tries == 1 && retry.previousRun == first.runID)
        #expect(try await fixture.store.event(id: event.id)?.state == .waiting)

        var later: [Engine.CompletedRun] = []
        try await fixture.engine.runDeferredRuns(of: [event.id]) { later.append($0) }
        #expect(later.map(\.result.outcome) == [.failed, .succeeded])

        let runs = try await fixture.store.runs(RunFilter(eventID: event.id)).reversed() as [RunRecord]
        try #require(runs.map(\.outcome) == ["failed", "failed", "succeeded"])
        #expect(runs.map(\.attempt) == [1, 2, 3])
        #expect(runs[1].previousRun == runs[0].id && runs[2].previousRun == runs[1].id)
        #expect(runs[0].reason?.contains("retry: try 2 of 3 due at") == true, "\(runs[0].reason ?? "")")
        #expect(runs[1].reason?.contains("retry: try 3 of 3 due at") == true)
        #expect(runs[2].reason == nil)
        // Each pause is within the policy's bounds, [d × (1 − jitter), d], plus the time to notice
        // that it is due and start bash. The upper bound only catches a retry that never comes
        // on time: it is generous because the whole suite runs at once on two cores (headless
        // Chromium among it), where this test was seen taking 29 s and a pause 5.8 s.
        let firstPause = try #require(runs[1].startedAt.timeIntervalSince(try #require(runs[0].endedAt)))
        let secondPause = try #require(runs[2].startedAt.timeIntervalSince(try #require(runs[1].endedAt)))
        #expect(firstPause >= 0.2 && firstPause < 0.4 + 20, "first pause \(firstPause)")
        #expect(secondPause >= 0.4 && secondPause < 0.8 + 20, "second pause \(secondPause)")
        #expect(try await fixture.store.event(id: event.id)?.state == .done)
        #expect(try await fixture.store.deferredRuns(eventID: nil, limit: 100).isEmpty)
    }

    @Test func theLastTryIsADeadLetterThatAReDriveRepeats() async throws {
        let folder = TempFolder()
        let fixture = try Self.fixture(folder, config: "retry: {on: [failed], attempts: 2, delay: 0.1}\n")
        folder.write("state/down.succeed-at", "99\n")
        let event = try Self.update(fixture, incident: 8, title: "down")
        _ = try await fixture.fire(event)
        var later: [Engine.CompletedRun] = []
        try await fixture.engine.runDeferredRuns(of: [event.id]) { later.append($0) }
        let dead = try #require(later.first)
        #expect(later.count == 1 && dead.result.outcome == .dead && dead.result.exitCode == 1)
        #expect(dead.result.reason?.hasPrefix("dead letter: failed (exit 1) on try 2 of 2") == true, "\(dead.result.reason ?? "")")
        #expect(Engine.CompletedRun.anyFinalFailure([dead]))
        let stored = try await fixture.store.runs(RunFilter(outcome: "dead"))
        #expect(stored.map(\.id) == [dead.runID])
        #expect(try await fixture.store.event(id: event.id)?.state == .done)
        // A dead letter is what `replay --failed` finds and repeats (the failed try is repeated
        // by it already); the re-drive's run links to it.
        #expect(try await fixture.store.events(since: nil, onlyFailed: true, limit: 10).map(\.event.id) == [event.id])
        #expect(try await fixture.store.unrepeatedFailures(eventID: event.id).map(\.id) == [dead.runID])
        folder.write("state/down.succeed-at", "1\n")
        let redrive = try #require(try await fixture.store.beginRedrive(eventID: event.id))
        let (_, runs, _) = await fixture.engine.dispatch(redrive, previousRuns: ["Incident Tools/Count": try #require(dead.runID)])
        #expect(runs.map(\.result.outcome) == [.succeeded])
        let all = try await fixture.store.runs(RunFilter(eventID: event.id))
        #expect(all.first?.previousRun == dead.runID)
        #expect(try await fixture.store.events(since: nil, onlyFailed: true, limit: 10).isEmpty)
    }

    @Test func aRetryWaitingInTheStoreIsNeitherLostNorRepeatedByANewProcess() async throws {
        let folder = TempFolder()
        let fixture = try Self.fixture(folder, config: "retry: {on: [failed], attempts: 3, delay: 30, jitter: 0}\n")
        folder.write("state/once.succeed-at", "2\n")
        let event = try Self.update(fixture, incident: 9, title: "once")
        _ = try await fixture.fire(event)
        try await fixture.store.flush()
        // A second process on the same file (the server after a restart) recovers, finds the
        // retry, runs it when due — not before — and only once.
        let store = try SQLiteStore(path: fixture.store.path)
        #expect(try await store.recoverInterrupted() == 0)
        let engine = Engine(store: store, router: fixture.router, runner: fixture.engine.runner)
        try await engine.loadDeferredRuns()
        #expect(try await engine.claimDeferred(limit: 10).isEmpty, "not due yet")
        let plans = try await engine.claimDeferred(limit: 10, now: Date().addingTimeInterval(60))
        #expect(plans.count == 1)
        #expect(try await engine.claimDeferred(limit: 10, now: Date().addingTimeInterval(60)).isEmpty, "claimed once")
        let runs = await engine.execute(try #require(plans.first)).runs
        #expect(runs.map(\.result.outcome) == [.succeeded])
        try await store.flush()
        #expect(try await store.runs(RunFilter(eventID: event.id)).map(\.outcome) == ["succeeded", "failed"])
        #expect(try await store.event(id: event.id)?.state == .done)
        #expect(Self.log(fixture, folder.url) == ["once 1", "once 2"])
    }

    // MARK: Order

    /// Three updates of incident 5; the first fails once. Prepared in arrival order, executed
    /// at once (as the dispatcher does), then the deferred runs until none is left.
    func orderOfTries(order: String) async throws -> [String] {
        let folder = TempFolder()
        let fixture = try Self.fixture(folder, config: "retry: {on: [failed], attempts: 3, delay: 0.5, jitter: 0}\n", integration: "order: \(order)")
        folder.write("state/a.succeed-at", "2\n")
        var plans: [Engine.Plan] = []
        var ids: Set<String> = []
        for title in ["a", "b", "c"] {
            let event = try Self.update(fixture, incident: 5, title: title)
            _ = try await fixture.store.accept([(event, nil)], idempotencyWindow: 60, claimed: true)
            plans.append(await fixture.engine.prepare(StoredEvent(event: event, state: .running, attempt: 1)))
            ids.insert(event.id)
        }
        let engine = fixture.engine
        let executions = await withTaskGroup(of: Engine.Execution.self) { group in
            for plan in plans { group.addTask { await engine.execute(plan) } }
            var all: [Engine.Execution] = []
            for await execution in group { all.append(execution) }
            return all
        }
        if order == "strict" {
            #expect(executions.flatMap(\.waiting).map(\.kind) == [.order, .order], "b and c wait behind a's retry")
            let reasons = executions.flatMap(\.waiting).map(\.reason)
            #expect(reasons.allSatisfy { $0.hasPrefix("queued behind run ") && $0.contains("of incident:5 in Incident Tools, which waits for its retry") }, "\(reasons)")
        }
        try await fixture.engine.runDeferredRuns(of: ids) { _ in }
        for id in ids { #expect(try await fixture.store.event(id: id)?.state == .done) }
        return Self.log(fixture, folder.url)
    }

    @Test func strictOrderHoldsLaterRunsOfTheIncidentBehindARetry() async throws {
        #expect(try await orderOfTries(order: "strict") == ["a 1", "a 2", "b 1", "c 1"])
    }

    @Test func relaxedOrderLetsLaterRunsPassARetry() async throws {
        #expect(try await orderOfTries(order: "relaxed") == ["a 1", "b 1", "c 1", "a 2"])
    }

    @Test func aRetryGoesBeforeALaterRunOfItsIncidentThatWaitedForTheLimitFirst() async throws {
        // b waits on disk for the integration's one slot before a fails; a's retry, written
        // after it, still goes first: deferred runs keep their events' arrival order.
        let folder = TempFolder()
        let fixture = try Self.fixture(folder, config: "retry: {on: [failed], attempts: 3, delay: 0.3, jitter: 0}\n", integration: "max_concurrency: 1")
        folder.write("state/a.succeed-at", "2\n")
        var plans: [Engine.Plan] = []
        for title in ["a", "b"] {
            let event = try Self.update(fixture, incident: 5, title: title)
            _ = try await fixture.store.accept([(event, nil)], idempotencyWindow: 60, claimed: true)
            plans.append(await fixture.engine.prepare(StoredEvent(event: event, state: .running, attempt: 1)))
        }
        #expect(plans[1].waiting.map(\.kind) == [.limit])
        for plan in plans { _ = await fixture.engine.execute(plan) }
        try await fixture.engine.runDeferredRuns(of: Set(plans.map(\.stored.event.id))) { _ in }
        #expect(Self.log(fixture, folder.url) == ["a 1", "a 2", "b 1"])
    }

    @Test func aRunEndedByHookBusStoppingIsInterruptedNotAFailedTry() async throws {
        let folder = TempFolder()
        // A script that takes SIGTERM itself and exits non-zero, as many do.
        let fixture = try Self.fixture(folder, config: "retry: {on: [failed, killed]}\n", code: "trap 'exit 143' TERM\necho $$ > \"$note/started.tmp\"; mv \"$note/started.tmp\" \"$note/started\"\nsleep 30 & wait", hooks: ["webhook"])
        let event = try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")
        _ = try await fixture.store.accept([(event, nil)], idempotencyWindow: 60, claimed: true)
        let plan = await fixture.engine.prepare(StoredEvent(event: event, state: .running, attempt: 1))
        let engine = fixture.engine
        let running = Task { await engine.execute(plan) }
        let marker = folder.url.appendingPathComponent("state/started").path
        try #require(await Self.eventuallyTrue(within: .seconds(30)) { FileManager.default.fileExists(atPath: marker) }, "the trigger never started")
        let pid = try #require(Int32(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // What the dispatcher does when the shutdown grace period is over (to this run only:
        // other tests run in this process).
        engine.endingRuns()
        kill(pid, SIGTERM)
        let execution = await running.value
        let run = try #require(execution.runs.first)
        // The policy retries `killed` and `failed`; a stop is not a failure of the trigger.
        #expect(run.result.outcome == .interrupted && run.retry == nil, "\(run.result)")
        try await fixture.store.flush()
        #expect(try await fixture.store.deferredRuns(eventID: nil, limit: 10).isEmpty)
        #expect(try await fixture.store.event(id: event.id)?.state == .running, "recovered and run again on the next start")
        #expect(try await fixture.store.runs(RunFilter(eventID: event.id)).map(\.outcome) == ["interrupted"])
    }

    // MARK: Limits

    /// A webhook trigger that logs its start and end times and takes `seconds`.
    static func timedTrigger(seconds: Double) -> String {
        """
        echo "start $(date +%s.%N)" >> "$note/times"
        sleep \(seconds)
        echo "end $(date +%s.%N)" >> "$note/times"
        """
    }

    static func times(_ folder: TempFolder) throws -> [(kind: String, at: Double)] {
        try String(contentsOf: folder.url.appendingPathComponent("state/times"), encoding: .utf8).split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return (String(parts[0]), Double(parts[1])!)
        }.sorted { $0.at < $1.at }
    }

    /// Fires `count` webhook events as the dispatcher does and runs what waited until done.
    static func load(_ fixture: RunnerFixture, count: Int) async throws -> (runs: [Engine.CompletedRun], waited: [DeferredRun]) {
        var plans: [Engine.Plan] = []
        for index in 0..<count {
            let event = try Event.fromWebhook(body: Array("{\"n\": \(index)}".utf8), endpoint: "load")
            _ = try await fixture.store.accept([(event, nil)], idempotencyWindow: 60, claimed: true)
            plans.append(await fixture.engine.prepare(StoredEvent(event: event, state: .running, attempt: 1)))
        }
        let waited = plans.flatMap(\.waiting)
        let engine = fixture.engine
        var runs = await withTaskGroup(of: Engine.Execution.self) { group in
            for plan in plans { group.addTask { await engine.execute(plan) } }
            var all: [Engine.Execution] = []
            for await execution in group { all.append(execution) }
            return all
        }.flatMap(\.runs)
        try await fixture.engine.runDeferredRuns(of: Set(plans.map(\.stored.event.id))) { runs.append($0) }
        return (runs, waited)
    }

    @Test func maxConcurrencyBoundsRunsAtOnceAndLosesNone() async throws {
        let folder = TempFolder()
        let fixture = try Self.fixture(folder, integration: "max_concurrency: 2", concurrency: 6, code: Self.timedTrigger(seconds: 0.3), hooks: ["webhook"])
        let (runs, waited) = try await Self.load(fixture, count: 8)
        #expect(runs.count == 8 && runs.allSatisfy { $0.result.outcome == .succeeded })
        #expect(waited.count == 6, "two start, six wait on disk")
        #expect(waited.allSatisfy { $0.kind == .limit && ($0.reason.contains("max_concurrency 2") ) }, "\(waited.map(\.reason))")
        var running = 0
        var most = 0
        for mark in try Self.times(folder) {
            running += mark.kind == "start" ? 1 : -1
            most = max(most, running)
        }
        #expect(most == 2, "at most two at once, and two were (each sleeps 0.3 s)")
    }

    @Test func maxPerMinuteSpacesStartsEvenly() async throws {
        let folder = TempFolder()
        let fixture = try Self.fixture(folder, integration: "max_per_minute: 240", concurrency: 6, code: Self.timedTrigger(seconds: 0), hooks: ["webhook"])
        let (runs, waited) = try await Self.load(fixture, count: 6)
        #expect(runs.count == 6 && runs.allSatisfy { $0.result.outcome == .succeeded })
        // Events prepared faster than the rate wait on disk with the reason (on a machine so busy
        // that each takes longer than a start's spacing to prepare, none needs to).
        #expect(waited.allSatisfy { $0.reason.contains("max_per_minute 240") }, "\(waited.map(\.reason))")
        #expect(try Self.times(folder).filter { $0.kind == "start" }.count == 6)
        // One start every 0.25 s, as HookBus started the processes (the times bash itself prints
        // are stretched and squeezed by a busy machine): six take at least 1.25 s.
        let starts = runs.map(\.result.startedAt.timeIntervalSince1970).sorted()
        #expect(starts.last! - starts.first! >= 1.2, "\(starts)")
        for (earlier, later) in zip(starts, starts.dropFirst()) { #expect(later - earlier >= 0.15, "\(starts)") }  // less one start's lateness
    }
}
