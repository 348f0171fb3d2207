public import Foundation

extension Engine {
    /// "Test Action": checks the fields, records the request, runs the action now (outside the
    /// pool: a person is waiting) and records the run with its results.
    /// - Parameters:
    ///   - requestedBy: who asked (a token's name, `cli:USER`), recorded with the run.
    ///   - check: a last look at the result before it is recorded (a daemon's output must be an
    ///     array of objects).
    public func runAction(integration: String, action: String, fields: [String: String], kind: String = "action", eventID: String = Event.newID(),
                          requestedBy: String? = nil, check: (inout RunResult) -> Void = { _ in }) async throws(IntegrationError) -> CompletedRun {
        let invocation = try router.actionInvocation(integration: integration, action: action, fields: fields, eventID: eventID)
        return try await runRecorded(invocation, kind: kind, fields: fields, requestedBy: requestedBy, check: check)
    }

    /// An integration's connection test, run now and recorded like a Test Action (kind `test`):
    /// who tested which connection, and what it answered, is part of the audit trail.
    public func testConnection(integration: String, requestedBy: String?) async throws(IntegrationError) -> CompletedRun {
        let invocation = try router.connectionTest(integration: integration)
        return try await runRecorded(invocation, kind: "test", fields: [:], requestedBy: requestedBy, token: "")
    }

    /// Records the request as an event row of its own, runs the invocation outside the pool (a
    /// person is waiting) and records the run. What is done by hand is done on the record or not
    /// at all: a request the store cannot record does not run, and a run whose end cannot be
    /// written is reported as such (`notRecorded`) rather than answered as if all were well.
    private func runRecorded(_ invocation: Invocation, kind: String, fields: [String: String], requestedBy: String?, token fixedToken: String? = nil,
                             check: (inout RunResult) -> Void = { _ in }) async throws(IntegrationError) -> CompletedRun {
        let integration = invocation.integration
        let action = invocation.trigger
        let runID: Int64
        do {
            try await store.recordAction(eventID: invocation.eventID, integration: integration, action: action, fields: fields, kind: kind)
            runID = try await store.runStarted(eventID: invocation.eventID, attempt: 1, integration: integration, trigger: action,
                                               invocation: AuditInvocation.json(invocation, sandbox: runner.sandboxRecord(for: invocation)), previousRun: nil, requestedBy: requestedBy, at: Date())
        } catch {
            throw IntegrationError(.notRecorded, "the request could not be recorded in the audit trail, so nothing ran: \(error)")
        }
        let token = fixedToken ?? minter.token(for: invocation)
        var result = await runner.run(invocation, token: token)
        Self.finish(&result, of: invocation, token: token)
        check(&result)
        do {
            try await store.runEnded(id: runID, result: result, keepOutput: true)
            try await store.eventDone(invocation.eventID, waitForDisk: true)
        } catch {
            throw IntegrationError(.notRecorded, "run \(runID) ended (\(result.outcome.rawValue)) but its record could not be written: \(error)")
        }
        return CompletedRun(runID: runID, invocation: invocation, result: result, requestedBy: requestedBy)
    }
}

extension Engine {
    /// One run of a daemon: its objects (nil when the run failed or did not print a JSON array
    /// of objects, which is then recorded as a failed run with the reason) and the run.
    public func runDaemon(_ daemon: DaemonSpec, cursor: String?) async -> (objects: [JSONValue]?, run: CompletedRun?, problem: String?) {
        var fields = daemon.fields
        if let field = daemon.cursorField, let cursor { fields[field] = cursor }
        var objects: [JSONValue]?
        do {
            let run = try await runAction(integration: daemon.integration, action: daemon.action, fields: fields, kind: "daemon") { result in
                guard result.outcome == .succeeded else { return }
                guard case let .array(elements)? = try? JSONParser.parse(result.stdout), elements.allSatisfy({ $0.objectValue != nil }) else {
                    result.outcome = .failed
                    result.reason = "a daemon must print a JSON array of objects; this run printed something else, so it produced no events"
                    return
                }
                objects = elements
            }
            return (objects, run, run.result.outcome == .succeeded ? nil : run.result.reason ?? "the run \(run.result.outcome.rawValue)")
        } catch {
            return (nil, nil, error.message)
        }
    }
}

extension Engine {
    /// Starts a Scheduled action: its fields and schedule are checked now, and the server runs it
    /// from its next tick (a server sharing the store picks up a schedule started by the CLI).
    /// - Parameter startedBy: who started it (a token's name, `cli:USER`); its runs carry it too.
    public func startSchedule(integration: String, action: String, fields: [String: String], startedBy: String?) async throws(IntegrationError) -> StoredSchedule {
        let spec = try router.scheduleSpec(integration: integration, action: action, fields: fields)
        let now = Date()
        let schedule = StoredSchedule(id: StoredSchedule.newID(), integration: integration, action: action, fields: spec.fields, state: .active,
                                      endedReason: nil, startedAt: now, lastRunAt: nil, nextRunAt: now, lastResult: nil, runs: 0, endEvent: nil,
                                      startedBy: startedBy)
        do { try await store.createSchedule(schedule) } catch {
            throw IntegrationError(.invalidFields, "the schedule could not be stored: \(error)")
        }
        return schedule
    }
}

extension Engine.CompletedRun {
    /// A completed run as `fire --json`, `replay --json`, Test Action and the API show it;
    /// `nameKey` names the trigger (`trigger`) or the action (`action`).
    public func jsonValue(nameKey: String = "trigger") -> JSONValue {
        var fields: [String: JSONValue] = [
            "event": .string(invocation.eventID), "integration": .string(invocation.integration), nameKey: .string(invocation.trigger),
            "outcome": .string(result.outcome.rawValue), "durationSeconds": .number(String(format: "%.3f", result.duration)),
            "stdout": .string(result.stdout), "stderr": .string(result.stderr),
        ]
        if let runID { fields["run"] = .number(String(runID)) }
        if let requestedBy { fields["requestedBy"] = .string(requestedBy) }
        if let exitCode = result.exitCode { fields["exitCode"] = .number(String(exitCode)) }
        if let signal = result.signal { fields["signal"] = .number(String(signal)) }
        if let reason = result.reason { fields["reason"] = .string(reason) }
        if let results = result.results { fields["results"] = results }
        return .object(fields)
    }
}
