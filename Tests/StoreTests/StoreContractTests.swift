import Foundation
import HookBusPostgres
import Testing
@testable import HookBus

/// What every `EventStore` must do, run against each store: the suite is the definition of
/// "behaves like the SQLite store". Each test starts from an empty store of its own; times are
/// fixed (`minute(n)`) unless the behaviour is about "now" (the idempotency window, retention).
@Suite struct StoreContractTests {
    // MARK: Accept

    @Test(arguments: StoreKind.allCases)
    func acceptedEventsAreStoredPendingAtTheirFirstAttempt(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let first = try incidentEvent("evt_a", incident: 42)
            let second = try webhookEvent("evt_b", endpoint: "github", at: minute(1))
            let results = try await store.accept([(first, "key-a"), (second, nil)], idempotencyWindow: 60, claimed: false, settled: [])
            #expect(results == [AcceptResult(eventID: "evt_a", duplicate: false), AcceptResult(eventID: "evt_b", duplicate: false)])

            let stored = try #require(try await store.event(id: "evt_a"))
            #expect(stored.state == .pending && stored.attempt == 1)
            // The event comes back as its record reads, ordering key and all.
            let record = try Event.fromRecord(first.recordJSON)
            #expect(stored.event == record)
            #expect(stored.event.orderingKey == "incident:42")
            let secondRecord = try Event.fromRecord(second.recordJSON)
            #expect(try await store.event(id: "evt_b")?.event == secondRecord)
            #expect(try await store.event(id: "evt_missing") == nil)
            #expect(try await store.backlog() == 2)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRepeatedKeyInsideTheWindowGivesTheFirstEventsID(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let first = try incidentEvent("evt_a", at: Date())
            let repeated = try incidentEvent("evt_b", at: Date())
            #expect(try await store.accept([(first, "key-1")], idempotencyWindow: 60, claimed: false, settled: []) == [AcceptResult(eventID: "evt_a", duplicate: false)])
            #expect(try await store.accept([(repeated, "key-1")], idempotencyWindow: 60, claimed: false, settled: []) == [AcceptResult(eventID: "evt_a", duplicate: true)])
            #expect(try await store.event(id: "evt_b") == nil)
            // Within one batch too: the second of two with one key is the first.
            let third = try incidentEvent("evt_c", at: Date())
            let fourth = try incidentEvent("evt_d", at: Date())
            #expect(try await store.accept([(third, "key-2"), (fourth, "key-2")], idempotencyWindow: 60, claimed: false, settled: [])
                == [AcceptResult(eventID: "evt_c", duplicate: false), AcceptResult(eventID: "evt_c", duplicate: true)])
            #expect(try await store.event(id: "evt_d") == nil)
            #expect(try await store.backlog() == 2)
        }
    }

    /// The window is counted from the stored event's `receivedAt`: a key last seen on an event
    /// received an hour ago is free again with a window of a minute, and moves to the new event.
    @Test(arguments: StoreKind.allCases)
    func aKeyOutsideItsWindowStoresANewEventThatTakesTheKey(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let old = try incidentEvent("evt_old", at: Date().addingTimeInterval(-3600))
            let new = try incidentEvent("evt_new", at: Date())
            let again = try incidentEvent("evt_again", at: Date())
            _ = try await store.accept([(old, "key-1")], idempotencyWindow: 60, claimed: false, settled: [])
            #expect(try await store.accept([(new, "key-1")], idempotencyWindow: 60, claimed: false, settled: []) == [AcceptResult(eventID: "evt_new", duplicate: false)])
            #expect(try await store.event(id: "evt_new")?.state == .pending)
            #expect(try await store.accept([(again, "key-1")], idempotencyWindow: 60, claimed: false, settled: []) == [AcceptResult(eventID: "evt_new", duplicate: true)])
            #expect(try await store.backlog() == 2)
        }
    }

    /// A re-sent event (same id) is a duplicate and changes nothing stored.
    @Test(arguments: StoreKind.allCases)
    func aRepeatedEventIDIsADuplicate(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let event = try incidentEvent("evt_a")
            #expect(try await store.accept([event]) == [AcceptResult(eventID: "evt_a", duplicate: false)])
            #expect(try await store.accept([event], settled: ["evt_a"]) == [AcceptResult(eventID: "evt_a", duplicate: true)])
            #expect(try await store.accept([event], claimed: true) == [AcceptResult(eventID: "evt_a", duplicate: true)])
            #expect(try await store.event(id: "evt_a")?.state == .pending)
            #expect(try await store.backlog() == 1)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func claimedEventsAreStoredRunningAndSettledOnesDone(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 1), try incidentEvent("evt_b", incident: 2)], claimed: true, settled: ["evt_b"])
            try await store.accept([try incidentEvent("evt_c", incident: 3), try incidentEvent("evt_d", incident: 4)], settled: ["evt_d"])
            #expect(try await store.event(id: "evt_a").map { "\($0.state) \($0.attempt)" } == "running 1")
            #expect(try await store.event(id: "evt_b").map { "\($0.state) \($0.attempt)" } == "done 1")
            #expect(try await store.event(id: "evt_c").map { "\($0.state) \($0.attempt)" } == "pending 1")
            #expect(try await store.event(id: "evt_d").map { "\($0.state) \($0.attempt)" } == "done 1")
            // Only the pending one is the dispatcher's to claim; the running one is in the backlog.
            #expect(try await store.backlog() == 2)
            #expect(try await store.claimPending(limit: 10).map(\.event.id) == ["evt_c"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func acceptBlockingStoresLikeAccept(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let first = try incidentEvent("evt_a", at: Date())
            let settled = try incidentEvent("evt_b", at: Date())
            let repeated = try incidentEvent("evt_c", at: Date())
            // Called as the server calls it: on a thread of its own, never a task of Swift's pool.
            #expect(try await onOwnThread { try store.acceptBlocking([(first, "key-1", first.recordJSON, false), (settled, nil, settled.recordJSON, true)], idempotencyWindow: 60) }
                == [AcceptResult(eventID: "evt_a", duplicate: false), AcceptResult(eventID: "evt_b", duplicate: false)])
            #expect(try await onOwnThread { try store.acceptBlocking([(repeated, "key-1", repeated.recordJSON, false)], idempotencyWindow: 60) }
                == [AcceptResult(eventID: "evt_a", duplicate: true)])
            #expect(try await onOwnThread { try store.acceptBlocking([(first, nil, first.recordJSON, false)], idempotencyWindow: 60) }
                == [AcceptResult(eventID: "evt_a", duplicate: true)])
            let stored = try #require(try await store.event(id: "evt_a"))
            let record = try Event.fromRecord(first.recordJSON)
            #expect(stored.state == .pending && stored.attempt == 1 && stored.event == record)
            #expect(try await store.event(id: "evt_b")?.state == .done)
            #expect(try await store.event(id: "evt_c") == nil)
            #expect(try await store.claimPending(limit: 10).map(\.event.id) == ["evt_a"])
        }
    }

    // MARK: Dispatch

    @Test(arguments: StoreKind.allCases)
    func claimPendingTakesTheOldestFirstUpToTheLimitAndOnlyOnce(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            // Each about an incident of its own (a shared store claims one event per subject at a time).
            try await store.accept([try incidentEvent("evt_1", incident: 1, at: minute(1)), try incidentEvent("evt_2", incident: 2, at: minute(2))])
            try await store.accept([try incidentEvent("evt_3", incident: 3, at: minute(3)), try incidentEvent("evt_4", incident: 4, at: minute(4))])
            #expect(try await store.backlog() == 4)
            #expect(try await store.pendingAhead(of: "evt_1") == 0)
            #expect(try await store.pendingAhead(of: "evt_3") == 2)

            let claimed = try await store.claimPending(limit: 2)
            #expect(claimed.map(\.event.id) == ["evt_1", "evt_2"])
            #expect(claimed.allSatisfy { $0.state == .running && $0.attempt == 1 })
            #expect(try await store.event(id: "evt_1")?.state == .running)
            // Running events are still the backlog, but no longer ahead of anyone.
            #expect(try await store.backlog() == 4)
            #expect(try await store.pendingAhead(of: "evt_4") == 1)

            #expect(try await store.claimPending(limit: 10).map(\.event.id) == ["evt_3", "evt_4"])
            #expect(try await store.claimPending(limit: 10).isEmpty)
            #expect(try await store.pendingAhead(of: "evt_4") == 0)
            try await store.eventDone("evt_1", waitForDisk: true)
            #expect(try await store.backlog() == 3)
        }
    }

    /// Events about one subject are handed out in arrival order, each once. (How many at a
    /// time differs: the embedded store hands them all out and the engine orders them; a
    /// shared store hands out the next only when the one before it is finished.)
    @Test(arguments: StoreKind.allCases)
    func eventsOfOneSubjectAreClaimedInArrivalOrderEachOnce(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 42, at: minute(1)), try incidentEvent("evt_b", incident: 7, at: minute(2)),
                                    try incidentEvent("evt_c", incident: 42, at: minute(3)), try webhookEvent("evt_d", endpoint: "github", at: minute(4)),
                                    try incidentEvent("evt_e", incident: 42, at: minute(5))])
            var order: [String] = []
            for _ in 0..<5 {
                let claimed = try await store.claimPending(limit: 10)
                order += claimed.map(\.event.id)
                for stored in claimed { try await store.eventDone(stored.event.id, waitForDisk: true) }
            }
            #expect(order.sorted() == ["evt_a", "evt_b", "evt_c", "evt_d", "evt_e"])
            #expect(order.filter { ["evt_a", "evt_c", "evt_e"].contains($0) } == ["evt_a", "evt_c", "evt_e"])
            #expect(order.first == "evt_a")
            #expect(try await store.backlog() == 0)
        }
    }

    /// After a restart, what the stopped process was doing is handed back: its running events
    /// wait again as their next attempt, its runs under way are `interrupted`.
    @Test(arguments: StoreKind.allCases)
    func recoveryRequeuesRunningEventsAndInterruptsTheirRuns(kind: StoreKind) async throws {
        try await withRestartableStore(kind) { before, restart in
            try await before.accept([try incidentEvent("evt_a", incident: 1, at: minute(1)), try incidentEvent("evt_b", incident: 2, at: minute(2))], claimed: true)
            try await before.accept([try incidentEvent("evt_c", incident: 3, at: minute(3)), try incidentEvent("evt_d", incident: 4, at: minute(4))], settled: ["evt_d"])
            let cut = try await before.startRun("evt_a", "Tools/Notify", at: minute(5))
            let finished = try await before.recordRun("evt_b", "Tools/Notify", .succeeded, at: minute(6))
            let store = try await restart()

            #expect(try await store.recoverInterrupted() == 2)
            #expect(try await store.event(id: "evt_a").map { "\($0.state) \($0.attempt)" } == "pending 2")
            #expect(try await store.event(id: "evt_b").map { "\($0.state) \($0.attempt)" } == "pending 2")
            #expect(try await store.event(id: "evt_c").map { "\($0.state) \($0.attempt)" } == "pending 1")
            #expect(try await store.event(id: "evt_d").map { "\($0.state) \($0.attempt)" } == "done 1")

            let interrupted = try #require(try await store.runs(RunFilter(eventID: "evt_a")).first)
            #expect(interrupted.id == cut && interrupted.outcome == "interrupted" && interrupted.endedAt != nil)
            #expect(try await store.runs(RunFilter(eventID: "evt_b")).map { "\($0.id == finished) \($0.outcome)" } == ["true succeeded"])
            // What a recovered event runs again: not what finished, but what was interrupted.
            #expect(try await store.finishedTriggers(eventID: "evt_a") == [])
            #expect(try await store.finishedTriggers(eventID: "evt_b") == ["Tools/Notify"])

            // Nothing is left running: a second recovery finds nothing.
            #expect(try await store.recoverInterrupted() == 0)
            #expect(try await store.event(id: "evt_a")?.attempt == 2)
            let claimed = try await store.claimPending(limit: 10)
            #expect(claimed.map { "\($0.event.id) \($0.attempt)" } == ["evt_a 2", "evt_b 2", "evt_c 1"])
        }
    }

    /// A deferred run claimed by a process that died waits again; one whose run had started is
    /// linked to that (now interrupted) run and repeated as the next attempt.
    @Test(arguments: StoreKind.allCases)
    func recoveryReleasesClaimedDeferredRunsLinkedToTheirInterruptedRun(kind: StoreKind) async throws {
        try await withRestartableStore(kind) { before, restart in
            try await before.accept([try incidentEvent("evt_a")], claimed: true)
            try await before.deferRun(.insert(deferred("evt_a", "Tools/Started", attempt: 2, tries: 1, previousRun: nil)))
            try await before.deferRun(.insert(deferred("evt_a", "Tools/Taken", attempt: 2, tries: 1, previousRun: nil)))
            try await before.flush()
            let claimed = try await before.claimDue(at: minute(10))
            #expect(claimed.map(\.run.trigger) == ["Started", "Taken"])
            let started = try #require(claimed.first { $0.run.trigger == "Started" }?.run)
            let run = try await before.startRun("evt_a", "Tools/Started", at: minute(11), attempt: 2, deferredRow: started.id)
            let store = try await restart()

            #expect(try await store.recoverInterrupted() == 1)
            let rows = try await store.deferredRuns(eventID: "evt_a", limit: 10)
            #expect(rows.map { "\($0.trigger) claimed=\($0.claimed) attempt=\($0.attempt) previous=\($0.previousRun == run)" }
                == ["Started claimed=false attempt=3 previous=true", "Taken claimed=false attempt=2 previous=false"])
            #expect(rows.last?.previousRun == nil)
            #expect(try await store.runs(RunFilter(eventID: "evt_a")).map(\.outcome) == ["interrupted"])
            #expect(try await store.claimDue(at: minute(10)).map(\.run.trigger) == ["Started", "Taken"])
        }
    }

    // MARK: Runs

    @Test(arguments: StoreKind.allCases)
    func aRunKeepsEverythingItRecorded(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            let invocation = #"{"argv": ["python3", "notify.py"], "env": {"TOKEN": "***"}}"#
            let results = JSONValue.object(["summary": .string("sent ✓"), "rows": .array([.number("1"), .number("2.50"), .null, .bool(true)])])
            let first = try await store.runStarted(eventID: "evt_a", attempt: 1, integration: "Incident Tools", trigger: "Notify", invocation: invocation,
                                                   previousRun: nil, requestedBy: nil, at: minute(1))
            var ended = RunResult(outcome: .failed, exitCode: 3, startedAt: minute(1), endedAt: minute(1).addingTimeInterval(2.5),
                                  stdout: "before\u{0}after ünïcødé ✓ 日本\n", stderr: "boom: ½\n", stdoutDropped: 7, stderrDropped: 2, reason: "exit status 3")
            ended.results = results
            try await store.runEnded(id: first, result: ended, keepOutput: true)
            let second = try await store.runStarted(eventID: "evt_a", attempt: 2, integration: "Incident Tools", trigger: "Notify", invocation: nil,
                                                    previousRun: first, requestedBy: "cli:alice", at: minute(2))
            try await store.runEnded(id: second, result: RunResult(outcome: .killed, signal: 9, startedAt: minute(2), endedAt: minute(3)), keepOutput: true)
            try await store.flush()

            let runs = try await store.runs(RunFilter(eventID: "evt_a"))
            #expect(runs.map(\.id) == [second, first])
            let run = try #require(runs.last)
            #expect(run.eventID == "evt_a" && run.hook == "updateIncident" && run.attempt == 1)
            #expect(run.integration == "Incident Tools" && run.trigger == "Notify" && run.outcome == "failed")
            #expect(run.exitCode == 3 && run.signal == nil)
            #expect(same(run.startedAt, minute(1)) && same(run.endedAt, minute(1).addingTimeInterval(2.5)))
            #expect(run.stdout == "before\u{0}after ünïcødé ✓ 日本\n")
            #expect(run.stdout?.utf8.count == "before\u{0}after ünïcødé ✓ 日本\n".utf8.count)
            #expect(run.stderr == "boom: ½\n")
            #expect(run.stdoutDropped == 7 && run.stderrDropped == 2)
            #expect(run.reason == "exit status 3")
            // JSON is kept as JSON: the same value, whatever spacing or key order it is read with.
            let storedInvocation = try run.invocation.map { try JSONParser.parse($0) }
            let storedResults = try run.results.map { try JSONParser.parse($0) }
            #expect(try storedInvocation == JSONParser.parse(invocation))
            #expect(storedResults == results)
            #expect(run.previousRun == nil && run.requestedBy == nil)

            let repeated = try #require(runs.first)
            #expect(repeated.outcome == "killed" && repeated.signal == 9 && repeated.exitCode == nil && repeated.attempt == 2)
            #expect(repeated.previousRun == first && repeated.requestedBy == "cli:alice")
            #expect(repeated.invocation == nil && repeated.results == nil && repeated.reason == nil)
            #expect(repeated.stdout == "" && repeated.stderr == "")
            #expect(store.auditHealth.snapshot.failures == 0 && store.auditHealth.snapshot.lost == 0)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func withoutKeepOutputARunKeepsNoOutput(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            let id = try await store.startRun("evt_a", "Tools/Notify", at: minute(1))
            try await store.runEnded(id: id, result: RunResult(outcome: .failed, exitCode: 1, startedAt: minute(1), endedAt: minute(2), stdout: "secret", stderr: "secret too"),
                                     keepOutput: false)
            try await store.flush()
            let run = try #require(try await store.runs(RunFilter(eventID: "evt_a")).first)
            #expect(run.stdout == nil && run.stderr == nil)
            #expect(run.outcome == "failed" && run.exitCode == 1 && same(run.endedAt, minute(2)))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func skippedAndUnfinishedRunsAreRecordedAsSuch(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            try await store.runSkipped(eventID: "evt_a", attempt: 2, integration: "Tools", trigger: "Close", reason: "check_not_null_field: incidentsAfterUpdate.owner", at: minute(1))
            let running = try await store.startRun("evt_a", "Tools/Notify", at: minute(2))
            try await store.flush()
            let runs = try await store.runs(RunFilter(eventID: "evt_a"))
            #expect(runs.map(\.outcome) == ["running", "skipped"])
            let skipped = try #require(runs.last)
            #expect(skipped.attempt == 2 && skipped.integration == "Tools" && skipped.trigger == "Close")
            #expect(skipped.reason == "check_not_null_field: incidentsAfterUpdate.owner" && skipped.exitCode == nil)
            #expect(same(skipped.startedAt, minute(1)) && same(skipped.endedAt, minute(1)))
            let underWay = try #require(runs.first)
            #expect(underWay.id == running && underWay.endedAt == nil && same(underWay.startedAt, minute(2)))
            // A skip is finished (it is not tried again); a run under way is not.
            #expect(try await store.finishedTriggers(eventID: "evt_a") == ["Tools/Close"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func runFiltersSelectByEventTriggerOutcomeTimeAndID(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_1"), try incidentEvent("evt_2")], claimed: true)
            let r1 = try await store.recordRun("evt_1", "Tools/Notify", .succeeded, at: minute(1))
            let r2 = try await store.recordRun("evt_1", "Tools/Update", .failed, at: minute(2))
            let r3 = try await store.recordRun("evt_2", "Other/Notify", .succeeded, at: minute(3))
            let r4 = try await store.recordRun("evt_2", "Tools/Notify", .timedOut, at: minute(4))
            let r5 = try await store.recordRun("evt_2", "Tools/Update", .succeeded, at: minute(5))
            try await store.flush()

            #expect(try await store.runIDs(RunFilter()) == [r5, r4, r3, r2, r1])
            #expect(try await store.runIDs(RunFilter(eventID: "evt_1")) == [r2, r1])
            #expect(try await store.runIDs(RunFilter(trigger: "Notify")) == [r4, r3, r1])
            #expect(try await store.runIDs(RunFilter(trigger: "Tools/Notify")) == [r4, r1])
            #expect(try await store.runIDs(RunFilter(trigger: "Other/Notify")) == [r3])
            #expect(try await store.runIDs(RunFilter(trigger: "Other/Update")) == [])
            #expect(try await store.runIDs(RunFilter(outcome: "succeeded")) == [r5, r3, r1])
            #expect(try await store.runIDs(RunFilter(outcome: "timed out")) == [r4])
            #expect(try await store.runIDs(RunFilter(since: minute(3))) == [r5, r4, r3])
            #expect(try await store.runIDs(RunFilter(until: minute(3))) == [r2, r1])
            #expect(try await store.runIDs(RunFilter(since: minute(2), until: minute(4))) == [r3, r2])
            // Following (afterID) reads the oldest new rows first; paging back (beforeID) the newest.
            #expect(try await store.runIDs(RunFilter(afterID: r2)) == [r3, r4, r5])
            #expect(try await store.runIDs(RunFilter(afterID: r2, limit: 2)) == [r3, r4])
            #expect(try await store.runIDs(RunFilter(beforeID: r4)) == [r3, r2, r1])
            #expect(try await store.runIDs(RunFilter(beforeID: r4, limit: 2)) == [r3, r2])
            #expect(try await store.runIDs(RunFilter(limit: 2)) == [r5, r4])
            #expect(try await store.runIDs(RunFilter(eventID: "evt_2", trigger: "Notify")) == [r4, r3])
            #expect(try await store.runIDs(RunFilter(eventID: "evt_2", outcome: "succeeded", afterID: r3)) == [r5])
        }
    }

    // MARK: Done, waiting and deferred runs

    @Test(arguments: StoreKind.allCases)
    func eventDoneMarksTheEventDoneAfterItsRuns(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a"), try incidentEvent("evt_b")], claimed: true)
            try await store.recordRun("evt_a", "Tools/Notify", .succeeded, at: minute(1))
            try await store.eventDone("evt_a", waitForDisk: true)
            #expect(try await store.event(id: "evt_a")?.state == .done)
            // Everything queued before the mark is on disk with it.
            #expect(try await store.runs(RunFilter(eventID: "evt_a")).map(\.outcome) == ["succeeded"])
            try await store.eventDone("evt_b", waitForDisk: false)
            try await store.flush()
            #expect(try await store.event(id: "evt_b").map { "\($0.state) \($0.attempt)" } == "done 1")
            #expect(try await store.backlog() == 0)
        }
    }

    /// A failed try's retry is written with the try's end; the event waits for it (out of the
    /// backlog), and the retry's release ends the event.
    @Test(arguments: StoreKind.allCases)
    func anEventWithADeferredRunWaitsUntilItsLastOneIsReleased(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            let failed = try await store.recordRun("evt_a", "Tools/Notify", .failed, at: minute(1),
                                                   deferred: .insert(deferred("evt_a", holdKey: "Tools|incident:42", due: minute(10), attempt: 2, tries: 1, previousRun: nil)))
            try await store.eventDone("evt_a", waitForDisk: true)
            #expect(try await store.event(id: "evt_a").map { "\($0.state) \($0.attempt)" } == "waiting 1")
            #expect(try await store.backlog() == 0)
            #expect(try await store.finishedTriggers(eventID: "evt_a") == ["Tools/Notify"])

            let rows = try await store.deferredRuns(eventID: "evt_a", limit: 10)
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            #expect(row.eventID == "evt_a" && row.integration == "Tools" && row.trigger == "Notify" && row.holdKey == "Tools|incident:42")
            #expect(row.kind == .retry && row.reason == "retry of Tools/Notify" && same(row.dueAt, minute(10)))
            #expect(row.attempt == 2 && row.tries == 1 && row.previousRun == nil && row.requestedBy == nil && !row.claimed)

            let claimed = try await store.claimDue(at: minute(10))
            #expect(claimed.count == 1)
            let taken = try #require(claimed.first)
            #expect(taken.run.id == row.id && taken.run.claimed)
            #expect(taken.event.event.id == "evt_a" && taken.event.state == .waiting && taken.event.attempt == 1)
            #expect(try await store.deferredRuns(eventID: "evt_a", limit: 10).map(\.claimed) == [true])

            try await store.recordRun("evt_a", "Tools/Notify", .succeeded, at: minute(10), attempt: 2, previousRun: failed, deferredRow: row.id,
                                      deferred: .release(id: row.id, eventID: "evt_a"))
            try await store.flush()
            #expect(try await store.event(id: "evt_a")?.state == .done)
            #expect(try await store.deferredRuns(eventID: "evt_a", limit: 10).isEmpty)
            #expect(try await store.unrepeatedFailures(eventID: "evt_a").isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anEventWaitsUntilTheLastOfSeveralDeferredRuns(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            try await store.deferRun(.insert(deferred("evt_a", "Tools/One", kind: .limit)))
            try await store.deferRun(.insert(deferred("evt_a", "Tools/Two", kind: .limit)))
            try await store.eventDone("evt_a", waitForDisk: true)
            let rows = try await store.claimDue(at: minute(10)).map(\.run)
            #expect(rows.map(\.trigger) == ["One", "Two"])
            try await store.deferRun(.release(id: rows[0].id, eventID: "evt_a"))
            try await store.flush()
            #expect(try await store.event(id: "evt_a")?.state == .waiting)
            try await store.deferRun(.release(id: rows[1].id, eventID: "evt_a"))
            try await store.flush()
            #expect(try await store.event(id: "evt_a")?.state == .done)
        }
    }

    /// A try that fails again puts its row back to wait for the next retry, with new values.
    @Test(arguments: StoreKind.allCases)
    func aRescheduledDeferredRunWaitsAgain(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            try await store.deferRun(.insert(deferred("evt_a", due: minute(10), attempt: 2, tries: 1)))
            try await store.eventDone("evt_a", waitForDisk: true)
            let row = try #require(try await store.claimDue(at: minute(10)).first?.run)
            let failed = try await store.startRun("evt_a", "Tools/Notify", at: minute(10), attempt: 2, deferredRow: row.id)
            var next = row
            next.dueAt = minute(20)
            next.attempt = 3
            next.tries = 2
            next.previousRun = failed
            next.reason = "retry 2 of 3 in 10 minutes"
            try await store.runEnded(id: failed, result: RunResult(outcome: .failed, exitCode: 1, startedAt: minute(10), endedAt: minute(11)), keepOutput: true,
                                     deferred: .reschedule(next))
            try await store.flush()

            #expect(try await store.event(id: "evt_a")?.state == .waiting)
            let rows = try await store.deferredRuns(eventID: "evt_a", limit: 10)
            #expect(rows.count == 1)
            let waiting = try #require(rows.first)
            #expect(waiting.id == row.id && !waiting.claimed && same(waiting.dueAt, minute(20)))
            #expect(waiting.attempt == 3 && waiting.tries == 2 && waiting.previousRun == failed && waiting.reason == "retry 2 of 3 in 10 minutes")
            // The failed try has its retry waiting: not a failure left for a re-drive.
            #expect(try await store.unrepeatedFailures(eventID: "evt_a").isEmpty)
            #expect(try await store.claimDue(at: minute(19)).isEmpty)
            #expect(try await store.claimDue(at: minute(20)).map(\.run.id) == [row.id])
        }
    }

    /// A release while the event is still being dispatched leaves it to `eventDone`.
    @Test(arguments: StoreKind.allCases)
    func aReleaseWhileTheEventRunsLeavesItRunning(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            try await store.deferRun(.insert(deferred("evt_a", kind: .order, due: minute(0))))
            try await store.flush()
            let row = try #require(try await store.claimDue(at: minute(1)).first?.run)
            try await store.deferRun(.release(id: row.id, eventID: "evt_a"))
            try await store.flush()
            #expect(try await store.event(id: "evt_a")?.state == .running)
            try await store.eventDone("evt_a", waitForDisk: true)
            #expect(try await store.event(id: "evt_a")?.state == .done)
        }
    }

    /// Due rows are taken in their events' arrival order, whatever order they were written in.
    @Test(arguments: StoreKind.allCases)
    func claimDeferredTakesDueRunsInArrivalOrderOnce(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 1), try incidentEvent("evt_b", incident: 2), try incidentEvent("evt_c", incident: 3)],
                                   claimed: true)
            try await store.deferRun(.insert(deferred("evt_c", due: minute(5))))
            try await store.deferRun(.insert(deferred("evt_b", due: minute(30))))
            try await store.deferRun(.insert(deferred("evt_a", due: minute(5))))
            try await store.flush()

            #expect(try await store.claimDue(at: minute(4)).isEmpty)
            let due = try await store.claimDue(at: minute(10))
            #expect(due.map(\.run.eventID) == ["evt_a", "evt_c"])
            #expect(due.map(\.event.event.id) == ["evt_a", "evt_c"])
            #expect(due.allSatisfy { $0.run.claimed && $0.event.state == .running })
            #expect(try await store.claimDue(at: minute(10)).isEmpty)
            #expect(try await store.claimDue(at: minute(30)).map(\.run.eventID) == ["evt_b"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func claimDeferredRespectsItsLimitAndItsEvents(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 1), try incidentEvent("evt_b", incident: 2), try incidentEvent("evt_c", incident: 3)],
                                   claimed: true)
            for id in ["evt_a", "evt_b", "evt_c"] { try await store.deferRun(.insert(deferred(id))) }
            try await store.flush()
            #expect(try await store.claimDue(at: minute(10), eventIDs: ["evt_b"]).map(\.run.eventID) == ["evt_b"])
            #expect(try await store.claimDue(at: minute(10), limit: 1).map(\.run.eventID) == ["evt_a"])
            #expect(try await store.claimDue(at: minute(10), limit: 1).map(\.run.eventID) == ["evt_c"])
            #expect(try await store.claimDue(at: minute(10)).isEmpty)
        }
    }

    /// Rows with one hold key run one at a time, oldest first: a later row waits while the first
    /// is waiting or claimed, and is taken once the first is released.
    @Test(arguments: StoreKind.allCases)
    func onlyTheFirstRunOfAHoldKeyIsTaken(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 42), try incidentEvent("evt_b", incident: 42), try incidentEvent("evt_c", incident: 7)],
                                   claimed: true)
            try await store.deferRun(.insert(deferred("evt_b", holdKey: "Tools|incident:42", kind: .order)))
            try await store.deferRun(.insert(deferred("evt_a", holdKey: "Tools|incident:42")))
            try await store.deferRun(.insert(deferred("evt_c", holdKey: "Tools|incident:7")))
            try await store.flush()

            let first = try await store.claimDue(at: minute(10))
            #expect(first.map(\.run.eventID) == ["evt_a", "evt_c"])
            #expect(try await store.claimDue(at: minute(10)).isEmpty)
            let held = try #require(first.first?.run)
            try await store.deferRun(.release(id: held.id, eventID: "evt_a"))
            try await store.flush()
            #expect(try await store.claimDue(at: minute(10)).map(\.run.eventID) == ["evt_b"])
        }
    }

    /// An earlier row of a hold key that is not due yet holds the later ones back too.
    @Test(arguments: StoreKind.allCases)
    func aHoldKeyWaitsForItsFirstRowEvenWhenLaterOnesAreDue(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a"), try incidentEvent("evt_b")], claimed: true)
            try await store.deferRun(.insert(deferred("evt_a", holdKey: "Tools|incident:42", due: minute(30))))
            try await store.deferRun(.insert(deferred("evt_b", holdKey: "Tools|incident:42", kind: .order, due: minute(0))))
            try await store.flush()
            #expect(try await store.claimDue(at: minute(10)).isEmpty)
            #expect(try await store.claimDue(at: minute(30)).map(\.run.eventID) == ["evt_a"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func runsOfBlockedIntegrationsArePassedOver(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 1), try incidentEvent("evt_b", incident: 2)], claimed: true)
            try await store.deferRun(.insert(deferred("evt_a", "Busy/Run", kind: .limit)))
            try await store.deferRun(.insert(deferred("evt_b", "Free/Run", kind: .limit)))
            try await store.flush()
            #expect(try await store.claimDue(at: minute(10), blocked: ["Busy"]).map(\.run.qualifiedTrigger) == ["Free/Run"])
            #expect(try await store.deferredRuns(eventID: "evt_a", limit: 10).map(\.claimed) == [false])
            #expect(try await store.claimDue(at: minute(10)).map(\.run.qualifiedTrigger) == ["Busy/Run"])
        }
    }

    /// `admit` is asked about each candidate in order; one it refuses stays waiting.
    @Test(arguments: StoreKind.allCases)
    func admitDecidesWhichRunsAreTaken(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 1), try incidentEvent("evt_b", incident: 2), try incidentEvent("evt_c", incident: 3)],
                                   claimed: true)
            try await store.deferRun(.insert(deferred("evt_a", "Tools/Refused", kind: .limit)))
            try await store.deferRun(.insert(deferred("evt_b", "Tools/Taken", kind: .limit)))
            try await store.deferRun(.insert(deferred("evt_c", "Tools/Taken", kind: .limit)))
            try await store.flush()
            let asked = Seen()
            let taken = try await store.claimDeferred(now: minute(10), limit: 10, eventIDs: nil, blocked: []) { run in
                asked.append(run.eventID)
                return run.trigger != "Refused"
            }
            #expect(taken.map(\.run.eventID) == ["evt_b", "evt_c"])
            #expect(asked.all == ["evt_a", "evt_b", "evt_c"])
            #expect(try await store.deferredRuns(eventID: "evt_a", limit: 10).map(\.claimed) == [false])
            #expect(try await store.claimDue(at: minute(10)).map(\.run.eventID) == ["evt_a"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func deferredRunsListOneEventsOrEveryEventsUpToALimit(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a", incident: 1), try incidentEvent("evt_b", incident: 2)], claimed: true)
            try await store.deferRun(.insert(deferred("evt_b", "Tools/Three", requestedBy: "ops-token")))
            try await store.deferRun(.insert(deferred("evt_a", "Tools/One")))
            try await store.deferRun(.insert(deferred("evt_a", "Tools/Two", kind: .order)))
            try await store.flush()
            #expect(try await store.deferredRuns(eventID: "evt_a", limit: 100).map(\.trigger) == ["One", "Two"])
            #expect(try await store.deferredRuns(eventID: nil, limit: 100).map(\.trigger) == ["One", "Two", "Three"])
            #expect(try await store.deferredRuns(eventID: nil, limit: 2).map(\.trigger) == ["One", "Two"])
            #expect(try await store.deferredRuns(eventID: "evt_b", limit: 100).map { "\($0.kind) \($0.requestedBy ?? "-")" } == ["retry ops-token"])
            #expect(try await store.deferredRuns(eventID: "evt_a", limit: 100).map(\.kind) == [.retry, .order])
            // Triggers with a deferred run are not run again for a recovered event.
            #expect(try await store.finishedTriggers(eventID: "evt_a") == ["Tools/One", "Tools/Two"])
        }
    }

    // MARK: Failures and re-drives

    @Test(arguments: StoreKind.allCases)
    func eventsAreListedInArrivalOrderAndOnlyFailedOnesWhenAsked(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let ids = ["evt_1", "evt_2", "evt_3", "evt_4", "evt_5", "evt_6"]
            try await store.accept(try ids.enumerated().map { try incidentEvent($1, incident: $0, at: minute($0 + 1)) }, claimed: true)
            try await store.recordAction(eventID: "evt_act", integration: "Tools", action: "Notify", fields: [:], kind: "test")
            try await store.recordRun("evt_1", "Tools/Notify", .succeeded, at: minute(10))
            let failed = try await store.recordRun("evt_2", "Tools/Notify", .failed, at: minute(11))
            try await store.recordRun("evt_2", "Tools/Close", .succeeded, at: minute(11))
            let repeated = try await store.recordRun("evt_3", "Tools/Notify", .failed, at: minute(12))
            try await store.recordRun("evt_3", "Tools/Notify", .succeeded, at: minute(13), attempt: 2, previousRun: repeated)
            try await store.runSkipped(eventID: "evt_4", attempt: 1, integration: "Tools", trigger: "Notify", reason: "not this button", at: minute(14))
            let dead = try await store.recordRun("evt_5", "Tools/Notify", .dead, at: minute(15))
            // A try that timed out, with its retry waiting.
            let timedOut = try await store.startRun("evt_6", "Tools/Notify", at: minute(16))
            try await store.runEnded(id: timedOut, result: RunResult(outcome: .timedOut, startedAt: minute(16), endedAt: minute(17)), keepOutput: true,
                                     deferred: .insert(deferred("evt_6", previousRun: timedOut)))
            try await store.recordRun("evt_act", "Tools/Notify", .failed, at: minute(18))
            try await store.flush()

            #expect(try await store.events(since: nil, onlyFailed: false, limit: 100).map(\.event.id) == ids)
            #expect(try await store.events(since: minute(3), onlyFailed: false, limit: 100).map(\.event.id) == ["evt_3", "evt_4", "evt_5", "evt_6"])
            #expect(try await store.events(since: nil, onlyFailed: false, limit: 2).map(\.event.id) == ["evt_1", "evt_2"])
            let listed = try #require(try await store.events(since: minute(2), onlyFailed: false, limit: 1).first)
            #expect(listed.event.id == "evt_2" && listed.state == .running && listed.attempt == 1)
            #expect(try await store.events(since: nil, onlyFailed: true, limit: 100).map(\.event.id) == ["evt_2", "evt_5"])
            #expect(try await store.events(since: minute(3), onlyFailed: true, limit: 100).map(\.event.id) == ["evt_5"])

            #expect(try await store.unrepeatedFailures(eventID: "evt_2").map(\.id) == [failed])
            #expect(try await store.unrepeatedFailures(eventID: "evt_2").first?.trigger == "Notify")
            #expect(try await store.unrepeatedFailures(eventID: "evt_3").isEmpty)
            #expect(try await store.unrepeatedFailures(eventID: "evt_4").isEmpty)
            #expect(try await store.unrepeatedFailures(eventID: "evt_5").map(\.id) == [dead])
            #expect(try await store.unrepeatedFailures(eventID: "evt_6").isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRedriveTakesOnlyAFinishedOrWaitingEvent(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_done")], settled: ["evt_done"])
            try await store.accept([try incidentEvent("evt_pending")])
            try await store.accept([try incidentEvent("evt_running"), try incidentEvent("evt_waiting")], claimed: true)
            try await store.deferRun(.insert(deferred("evt_waiting")))
            try await store.eventDone("evt_waiting", waitForDisk: true)
            try await store.recordAction(eventID: "evt_act", integration: "Tools", action: "Notify", fields: [:], kind: "test")

            let taken = try #require(try await store.beginRedrive(eventID: "evt_done"))
            #expect(taken.event.id == "evt_done" && taken.state == .running && taken.attempt == 2)
            #expect(try await store.event(id: "evt_done").map { "\($0.state) \($0.attempt)" } == "running 2")
            // Its re-drive is under way now: a second one is refused.
            #expect(try await store.beginRedrive(eventID: "evt_done") == nil)
            #expect(try await store.beginRedrive(eventID: "evt_waiting").map { "\($0.state) \($0.attempt)" } == "running 2")

            #expect(try await store.beginRedrive(eventID: "evt_pending") == nil)
            #expect(try await store.event(id: "evt_pending").map { "\($0.state) \($0.attempt)" } == "pending 1")
            #expect(try await store.beginRedrive(eventID: "evt_running") == nil)
            #expect(try await store.event(id: "evt_running").map { "\($0.state) \($0.attempt)" } == "running 1")
            #expect(try await store.beginRedrive(eventID: "evt_act") == nil)
            #expect(try await store.beginRedrive(eventID: "evt_missing") == nil)
        }
    }

    // MARK: Actions, cursors, schedules

    /// A Test Action request is a row of its own, stored done, whose runs are in the audit
    /// trail; it is no event of the bus.
    @Test(arguments: StoreKind.allCases)
    func aTestActionIsStoredDoneWithItsRuns(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.recordAction(eventID: "evt_act", integration: "Tools", action: "Update", fields: ["ticket": "42", "note": "ünïcødé"], kind: "test")
            try await store.recordRun("evt_act", "Tools/Update", .succeeded, at: minute(1))
            try await store.flush()
            let run = try #require(try await store.runs(RunFilter(eventID: "evt_act")).first)
            #expect(run.hook == "action" && run.integration == "Tools" && run.trigger == "Update" && run.outcome == "succeeded")
            #expect(try await store.runIDs(RunFilter(trigger: "Tools/Update")) == [run.id])
            #expect(try await store.backlog() == 0)
            #expect(try await store.claimPending(limit: 10).isEmpty)
            #expect(try await store.events(since: nil, onlyFailed: false, limit: 10).isEmpty)
            #expect(try await store.eventPage(EventFilter()).isEmpty)
            let sources = try await store.recentSources(window: 10)
            #expect(sources.hooks.isEmpty && sources.endpoints.isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func daemonCursorsAreKeptAndOverwritten(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            #expect(try await store.daemonCursor("alerts") == nil)
            try await store.setDaemonCursor("alerts", to: "2025-06-15T15:00:00Z")
            try await store.setDaemonCursor("tickets", to: "ticket-17")
            try await store.setDaemonCursor("alerts", to: "cursor ünïcødé 2")
            #expect(try await store.daemonCursor("alerts") == "cursor ünïcødé 2")
            #expect(try await store.daemonCursor("tickets") == "ticket-17")
            #expect(try await store.daemonCursor("Alerts") == nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func schedulesAreKeptRunAndEnded(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let later = StoredSchedule(id: "sch_b", integration: "Tools", action: "Poll", fields: [:], state: .active, endedReason: nil, startedAt: minute(5),
                                       lastRunAt: nil, nextRunAt: minute(6), lastResult: nil, runs: 0, endEvent: nil, startedBy: nil)
            let first = StoredSchedule(id: "sch_a", integration: "Incident Tools", action: "Watch", fields: ["incident": "42", "note": "ünïcødé"], state: .active,
                                       endedReason: nil, startedAt: minute(1), lastRunAt: nil, nextRunAt: minute(2), lastResult: nil, runs: 0, endEvent: nil,
                                       startedBy: "cli:alice")
            try await store.createSchedule(later)
            try await store.createSchedule(first)
            #expect(try await store.schedule(id: "sch_a") == first)
            #expect(try await store.schedule(id: "sch_missing") == nil)
            #expect(try await store.schedules(activeOnly: false).map(\.id) == ["sch_a", "sch_b"])

            try await store.scheduleRan(id: "sch_a", at: minute(2), result: #"{"status": "open"}"#, nextRunAt: minute(3))
            try await store.scheduleRan(id: "sch_a", at: minute(3), result: nil, nextRunAt: minute(4))
            var ran = first
            ran.lastRunAt = minute(3)
            ran.lastResult = nil
            ran.nextRunAt = minute(4)
            ran.runs = 2
            #expect(try await store.schedule(id: "sch_a") == ran)
            try await store.scheduleRan(id: "sch_a", at: minute(4), result: #"{"status": "closed"}"#, nextRunAt: minute(5))

            try await store.endSchedule(id: "sch_a", reason: "condition met", endEvent: "evt_end")
            try await store.endSchedule(id: "sch_b", reason: "stopped", endEvent: nil)
            let ended = try #require(try await store.schedule(id: "sch_a"))
            #expect(ended.state == .ended && ended.endedReason == "condition met" && ended.endEvent == "evt_end")
            #expect(ended.runs == 3 && ended.lastResult == #"{"status": "closed"}"# && ended.lastRunAt == minute(4) && ended.nextRunAt == minute(5))
            #expect(ended.fields == first.fields && ended.startedBy == "cli:alice" && ended.startedAt == minute(1))
            #expect(try await store.schedule(id: "sch_b").map { "\($0.state) \($0.endedReason ?? "-") \($0.endEvent ?? "-") \($0.startedBy ?? "-")" }
                == "ended stopped - -")
            #expect(try await store.schedules(activeOnly: true).isEmpty)
            #expect(try await store.schedules(activeOnly: false).map(\.id) == ["sch_a", "sch_b"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func activeOnlyListsTheActiveSchedulesInStartOrder(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for (id, start) in [("sch_c", 3), ("sch_a", 1), ("sch_b", 2)] {
                try await store.createSchedule(StoredSchedule(id: id, integration: "Tools", action: "Poll", fields: [:], state: .active, endedReason: nil,
                                                              startedAt: minute(start), lastRunAt: nil, nextRunAt: minute(start + 1), lastResult: nil, runs: 0,
                                                              endEvent: nil))
            }
            try await store.endSchedule(id: "sch_b", reason: "expired", endEvent: nil)
            #expect(try await store.schedules(activeOnly: true).map(\.id) == ["sch_a", "sch_c"])
            #expect(try await store.schedules(activeOnly: false).map(\.id) == ["sch_a", "sch_b", "sch_c"])
        }
    }

    /// One process alone on its store runs every single-instance role, and keeps it.
    @Test(arguments: StoreKind.allCases)
    func aLoneStoreHoldsEveryLead(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let first = try await store.holdsLead("daemons")
            let other = try await store.holdsLead("schedules")
            let again = try await store.holdsLead("daemons")
            #expect(first && other && again)
        }
    }

    // MARK: Retention

    /// `maxRuns` keeps the newest runs (and any still running); events done with no run left
    /// go with them, events not done stay.
    @Test(arguments: StoreKind.allCases)
    func retentionKeepsTheNewestRuns(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let done = ["evt_1", "evt_2", "evt_3", "evt_quiet"]
            try await store.accept(try (done + ["evt_pending"]).map { try incidentEvent($0) }, settled: Set(done))
            try await store.accept([try incidentEvent("evt_running")], claimed: true)
            let underWay = try await store.startRun("evt_running", "Tools/Notify", at: minute(0))
            try await store.recordRun("evt_1", "Tools/Notify", .succeeded, at: minute(1))
            try await store.recordRun("evt_1", "Tools/Close", .failed, at: minute(2))
            let r3 = try await store.recordRun("evt_2", "Tools/Notify", .succeeded, at: minute(3))
            let r4 = try await store.recordRun("evt_3", "Tools/Notify", .succeeded, at: minute(4))
            try await store.flush()

            #expect(try await store.applyRetention(maxAge: nil, maxRuns: 2) == 2)
            #expect(try await store.runIDs(RunFilter()) == [r4, r3, underWay])
            #expect(try await store.event(id: "evt_1") == nil)
            #expect(try await store.event(id: "evt_quiet") == nil)
            #expect(try await store.event(id: "evt_2")?.state == .done)
            #expect(try await store.event(id: "evt_3")?.state == .done)
            #expect(try await store.event(id: "evt_pending")?.state == .pending)
            #expect(try await store.event(id: "evt_running")?.state == .running)
            #expect(try await store.applyRetention(maxAge: nil, maxRuns: 2) == 0)
        }
    }

    /// `maxAge` removes runs that started before it (not those running) and events done before it
    /// with no run left; an event done since keeps its row.
    @Test(arguments: StoreKind.allCases)
    func retentionRemovesRunsAndEventsOlderThanTheAge(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            try await store.accept([try incidentEvent("evt_old", at: minute(0)), try incidentEvent("evt_quiet", at: minute(0))], settled: ["evt_old", "evt_quiet"])
            try await store.accept([try incidentEvent("evt_done_now", at: minute(0)), try incidentEvent("evt_running", at: minute(0)),
                                    try incidentEvent("evt_recent", at: now)], claimed: true)
            try await store.recordRun("evt_old", "Tools/Notify", .succeeded, at: minute(1))
            try await store.recordRun("evt_done_now", "Tools/Notify", .failed, at: minute(2))
            let stillRunning = try await store.startRun("evt_running", "Tools/Close", at: minute(3))
            let recent = try await store.recordRun("evt_recent", "Tools/Notify", .succeeded, at: now.addingTimeInterval(-60))
            try await store.eventDone("evt_done_now", waitForDisk: true)
            try await store.eventDone("evt_recent", waitForDisk: true)

            #expect(try await store.applyRetention(maxAge: 3600, maxRuns: nil) == 2)
            #expect(try await store.runIDs(RunFilter()) == [recent, stillRunning])
            #expect(try await store.event(id: "evt_old") == nil)
            #expect(try await store.event(id: "evt_quiet") == nil)
            // Done an instant ago: its runs are gone, its row stays until it is as old as the age.
            #expect(try await store.event(id: "evt_done_now")?.state == .done)
            #expect(try await store.event(id: "evt_running")?.state == .running)
            #expect(try await store.event(id: "evt_recent")?.state == .done)
        }
    }

    // MARK: The console

    /// Five events and a Test Action, with runs: the Events page's filters on them.
    private func consoleFixture(_ store: any EventStore) async throws {
        try await store.accept([
            try hookEvent("evt_e1", "newIncident", element: 1742, at: minute(1)),
            try incidentEvent("evt_e2", incident: 1742, at: minute(2)),
            try hookEvent("evt_e3", "closeTask", element: 1742, at: minute(3)),
            try webhookEvent("evt_e4", endpoint: "github", at: minute(4)),
        ], settled: ["evt_e1", "evt_e2", "evt_e3", "evt_e4"])
        try await store.accept([try hookEvent("evt_e5", "newIncident", element: 7, at: minute(5))], claimed: true)
        try await store.recordAction(eventID: "evt_act", integration: "Tools", action: "Update", fields: [:], kind: "test")
        try await store.recordRun("evt_e1", "Tools/Notify", .succeeded, at: minute(1))
        try await store.recordRun("evt_e2", "Tools/Update", .failed, at: minute(2))
        try await store.recordRun("evt_e2", "Tools/Notify", .succeeded, at: minute(2))
        try await store.recordRun("evt_e4", "Hooks/Forward", .dead, at: minute(4))
        try await store.startRun("evt_e5", "Tools/Notify", at: minute(5))
        try await store.recordRun("evt_act", "Tools/Update", .failed, at: minute(6))
        try await store.flush()
    }

    @Test(arguments: StoreKind.allCases)
    func theEventsPageFiltersNewestFirst(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await consoleFixture(store)
            #expect(try await store.pageIDs(EventFilter()) == ["evt_e5", "evt_e4", "evt_e3", "evt_e2", "evt_e1"])
            #expect(try await store.pageIDs(EventFilter(hook: "newIncident")) == ["evt_e5", "evt_e1"])
            #expect(try await store.pageIDs(EventFilter(hook: "action")) == [])
            #expect(try await store.pageIDs(EventFilter(sourceKind: "webhook")) == ["evt_e4"])
            #expect(try await store.pageIDs(EventFilter(sourceName: "github")) == ["evt_e4"])
            #expect(try await store.pageIDs(EventFilter(state: "running")) == ["evt_e5"])
            #expect(try await store.pageIDs(EventFilter(subject: "incident:1742")) == ["evt_e2", "evt_e1"])
            #expect(try await store.pageIDs(EventFilter(subject: "1742")) == ["evt_e3", "evt_e2", "evt_e1"])
            #expect(try await store.pageIDs(EventFilter(subject: "174")) == [])
            #expect(try await store.pageIDs(EventFilter(outcome: EventFilter.anyFailure)) == ["evt_e4", "evt_e2"])
            #expect(try await store.pageIDs(EventFilter(outcome: "failed")) == ["evt_e2"])
            #expect(try await store.pageIDs(EventFilter(outcome: "running")) == ["evt_e5"])
            #expect(try await store.pageIDs(EventFilter(trigger: "Tools/Update")) == ["evt_e2"])
            #expect(try await store.pageIDs(EventFilter(trigger: "Notify")) == ["evt_e5", "evt_e2", "evt_e1"])
            #expect(try await store.pageIDs(EventFilter(outcome: "failed", trigger: "Notify")) == [])
            #expect(try await store.pageIDs(EventFilter(text: "PHISHING")) == ["evt_e2"])
            #expect(try await store.pageIDs(EventFilter(since: minute(4))) == ["evt_e5", "evt_e4"])
            #expect(try await store.pageIDs(EventFilter(until: minute(2))) == ["evt_e1"])
            #expect(try await store.pageIDs(EventFilter(hook: "newIncident", subject: "1742")) == ["evt_e1"])
            #expect(try await store.pageIDs(EventFilter(limit: 2)) == ["evt_e5", "evt_e4"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func eventsPageRowsCarryTheirHeadAndRunsByOutcome(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await consoleFixture(store)
            let page = try await store.eventPage(EventFilter())
            let rows = Dictionary(uniqueKeysWithValues: page.map { ($0.id, $0) })
            #expect(rows["evt_e1"]?.outcomes == ["succeeded": 1])
            #expect(rows["evt_e2"]?.outcomes == ["failed": 1, "succeeded": 1])
            #expect(rows["evt_e3"]?.outcomes == [:])
            #expect(rows["evt_e4"]?.outcomes == ["dead": 1])
            #expect(rows["evt_e5"]?.outcomes == ["running": 1])
            let e2 = try #require(rows["evt_e2"])
            #expect(e2.hook == "updateIncident" && e2.sourceKind == "hook" && e2.sourceName == nil && e2.trigger == nil && e2.subject == "incident:1742")
            #expect(same(e2.receivedAt, minute(2)) && e2.state == "done" && e2.attempt == 1)
            let e4 = try #require(rows["evt_e4"])
            #expect(e4.hook == "webhook" && e4.sourceKind == "webhook" && e4.sourceName == "github" && e4.subject == nil)
            #expect(rows["evt_e3"]?.subject == "task:1742")
            #expect(rows["evt_e5"].map { "\($0.state) \($0.attempt)" } == "running 1")
            // The cursor is the arrival order: each row's below the one above it.
            #expect(page.map(\.cursor) == page.map(\.cursor).sorted(by: >))
            #expect(Set(page.map(\.cursor)).count == page.count)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theEventsPageCursorPagesWithoutGapsOrDuplicates(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let events = try (0..<25).map { number in
                number % 2 == 0 ? try incidentEvent(String(format: "evt_p%02d", number), incident: number, at: minute(number))
                    : try hookEvent(String(format: "evt_p%02d", number), "closeTask", element: number, at: minute(number))
            }
            try await store.accept(events, settled: Set(events.map(\.id)))
            func pages(_ filter: EventFilter) async throws -> [[String]] {
                var filter = filter
                var pages: [[String]] = []
                while true {
                    let page = try await store.eventPage(filter)
                    if page.isEmpty { return pages }
                    pages.append(page.map(\.id))
                    filter.before = page.last?.cursor
                }
            }
            let newestFirst = events.reversed().map(\.id)
            let all = try await pages(EventFilter(limit: 10))
            #expect(all.map(\.count) == [10, 10, 5])
            #expect(all.flatMap { $0 } == newestFirst)
            let tasks = try await pages(EventFilter(hook: "closeTask", limit: 5))
            #expect(tasks.map(\.count) == [5, 5, 2])
            #expect(tasks.flatMap { $0 } == events.reversed().filter { $0.hook == .closeTask }.map(\.id))
            // A page that ends on the oldest event: the next is empty, not repeated.
            #expect(try await pages(EventFilter(limit: 5)).map(\.count) == [5, 5, 5, 5, 5])

            // What a live page missed: only events stored after a cursor, newest first.
            let page = try await store.eventPage(EventFilter())
            var missed = EventFilter()
            missed.after = try #require(page.first { $0.id == "evt_p21" }?.cursor)
            #expect(try await store.pageIDs(missed) == ["evt_p24", "evt_p23", "evt_p22"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func recentSourcesLookOnlyAtTheNewestEvents(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([
                try webhookEvent("evt_1", endpoint: "pagerduty", at: minute(1)),
                try hookEvent("evt_2", "closeTask", element: 1, at: minute(2)),
                try webhookEvent("evt_3", endpoint: "github", at: minute(3)),
                try hookEvent("evt_4", "newIncident", element: 2, at: minute(4)),
            ], settled: ["evt_1", "evt_2", "evt_3", "evt_4"])
            try await store.recordAction(eventID: "evt_act", integration: "Tools", action: "Update", fields: [:], kind: "test")
            let newest = try await store.recentSources(window: 2)
            #expect(newest.hooks == ["newIncident", "webhook"])
            #expect(newest.endpoints == ["github"])
            let all = try await store.recentSources(window: 100)
            #expect(all.hooks == ["closeTask", "newIncident", "webhook"])
            #expect(all.endpoints == ["github", "pagerduty"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func recentRunTimingsAreOneTriggersNewestRunsSinceATime(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.accept([try incidentEvent("evt_a")], claimed: true)
            // Runs of Tools/Notify at minutes 1, 2 and 3 that took half as many seconds.
            for (number, outcome) in [(1, RunOutcome.succeeded), (2, .failed), (3, .succeeded)] {
                let id = try await store.startRun("evt_a", "Tools/Notify", at: minute(number))
                try await store.runEnded(id: id, result: RunResult(outcome: outcome, startedAt: minute(number), endedAt: minute(number).addingTimeInterval(Double(number) / 2)),
                                         keepOutput: true)
            }
            try await store.recordRun("evt_a", "Other/Notify", .succeeded, at: minute(4))
            try await store.recordRun("evt_a", "Tools/Close", .succeeded, at: minute(4))
            try await store.runSkipped(eventID: "evt_a", attempt: 1, integration: "Tools", trigger: "Notify", reason: "not this button", at: minute(5))
            try await store.startRun("evt_a", "Tools/Notify", at: minute(6))
            try await store.flush()

            let timings = try await store.recentRunTimings(integration: "Tools", trigger: "Notify", since: minute(2), limit: 100)
            #expect(timings.map(\.outcome) == ["running", "skipped", "succeeded", "failed"])
            #expect(zip(timings.map(\.startedAt), [minute(6), minute(5), minute(3), minute(2)]).allSatisfy { same($0, $1) })
            #expect(timings.map(\.duration) == [nil, 0, 1.5, 1])
            #expect(try await store.recentRunTimings(integration: "Tools", trigger: "Notify", since: minute(0), limit: 2).map(\.outcome) == ["running", "skipped"])
            #expect(try await store.recentRunTimings(integration: "Tools", trigger: "Notify", since: minute(0), limit: 100).count == 5)
            #expect(try await store.recentRunTimings(integration: "Tools", trigger: "Missing", since: minute(0), limit: 100).isEmpty)
        }
    }
}
