import Foundation

/// How a connection test's result is shown by the CLI (`--json`) and the HTTP API.
public enum ConnectionTestReport {
    /// The run's result, with its run id and who asked, as recorded.
    public static func json(integration: String, run: Engine.CompletedRun) -> JSONValue {
        let result = run.result
        var fields: [String: JSONValue] = [
            "integration": .string(integration), "outcome": .string(result.outcome.rawValue), "connected": .bool(result.outcome == .succeeded),
            "durationSeconds": .number(String(format: "%.3f", result.duration)), "stdout": .string(result.stdout), "stderr": .string(result.stderr),
        ]
        if let exitCode = result.exitCode { fields["exitCode"] = .number(String(exitCode)) }
        if let reason = result.reason { fields["reason"] = .string(reason) }
        if let runID = run.runID { fields["run"] = .number(String(runID)) }
        if let requestedBy = run.requestedBy { fields["requestedBy"] = .string(requestedBy) }
        return .object(fields)
    }

    /// "failed (exit 2)", "timed out: …", "could not start: …".
    public static func failure(_ result: RunResult) -> String {
        switch result.outcome {
        case .failed: return "failed (exit \(result.exitCode.map(String.init) ?? "?"))"
        case .timedOut: return "timed out: \(result.reason ?? "")"
        case .killed: return "was killed by signal \(result.signal.map(String.init) ?? "?")"
        case .error: return "could not start: \(result.reason ?? "")"
        default: return result.outcome.rawValue
        }
    }
}
