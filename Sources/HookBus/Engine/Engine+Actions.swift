public import Foundation

extension Engine {
    /// "Test Action": checks the fields, records the request, runs the action now (outside the
    /// pool: a person is waiting) and records the run with its results.
    public func runAction(integration: String, action: String, fields: [String: String]) async throws(IntegrationError) -> CompletedRun {
        let invocation = try router.actionInvocation(integration: integration, action: action, fields: fields)
        let recorded = (try? await store.recordAction(eventID: invocation.eventID, integration: integration, action: action, fields: fields)) != nil
        let runID = recorded ? try? await store.runStarted(eventID: invocation.eventID, attempt: 1, integration: integration, trigger: action,
                                                             invocation: AuditInvocation.json(invocation), previousRun: nil, at: Date()) : nil
        let token = minter.token(for: invocation)
        var result = await runner.run(invocation, token: token)
        let secrets = invocation.secretValues + (token.isEmpty ? [] : [token])
        result.stdout = Self.scrub(result.stdout, secrets: secrets)
        result.stderr = Self.scrub(result.stderr, secrets: secrets)
        result.results = invocation.resultSpec.evaluate(stdout: result.stdout)
        if let runID {
            try? await store.runEnded(id: runID, result: result, keepOutput: true)
            try? await store.eventDone(invocation.eventID)
        }
        return CompletedRun(runID: runID, invocation: invocation, result: result)
    }
}

/// How a Test Action run is shown by `hookbus action run --json` and the HTTP API.
public enum ActionRunReport {
    public static func json(_ run: Engine.CompletedRun) -> JSONValue {
        var fields: [String: JSONValue] = [
            "event": .string(run.invocation.eventID), "integration": .string(run.invocation.integration), "action": .string(run.invocation.trigger),
            "outcome": .string(run.result.outcome.rawValue), "durationSeconds": .number(String(format: "%.3f", run.result.duration)),
            "stdout": .string(run.result.stdout), "stderr": .string(run.result.stderr),
        ]
        if let runID = run.runID { fields["run"] = .number(String(runID)) }
        if let exitCode = run.result.exitCode { fields["exitCode"] = .number(String(exitCode)) }
        if let reason = run.result.reason { fields["reason"] = .string(reason) }
        if let results = run.result.results { fields["results"] = results }
        return .object(fields)
    }
}
