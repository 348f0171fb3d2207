import Foundation

/// A configured daemon: an integration's `Daemon` action run every `everySeconds` inside the
/// server, each object it prints becoming an event on the bus.
///
/// The objects arrive as `webhook` events (their `payload` is the object) whose source is
/// `daemon` with the daemon's name, so `webhook` triggers react to them; a trigger can tell them
/// apart by `source`, and webhook endpoint restrictions do not apply (the daemon is not an
/// endpoint).
public struct DaemonSpec: Sendable, Hashable {
    public var name: String
    public var integration: String
    public var action: String
    public var everySeconds: Double
    /// Field values for every run.
    public var fields: [String: String]
    /// The cursor: the next run gets `cursorField` set to what `cursorPath` finds in the last
    /// object of the previous run's output. Kept in the store, so it survives restarts.
    public var cursorField: String?
    public var cursorPath: OutputPath?

    public init(name: String, integration: String, action: String, everySeconds: Double, fields: [String: String] = [:],
                cursorField: String? = nil, cursorPath: OutputPath? = nil) {
        self.name = name
        self.integration = integration
        self.action = action
        self.everySeconds = everySeconds
        self.fields = fields
        self.cursorField = cursorField
        self.cursorPath = cursorPath
    }
}

/// Time intervals as the framework writes them: a whole number and a unit, `30s`, `5m`, `2h`,
/// `1d`. The one parser for `scheduled` (checked at load and resolved at start), `daemons.every`
/// and the ages of `--since`.
public enum Interval {
    public static func seconds(_ text: String) -> Double? {
        guard let match = text.wholeMatch(of: /([0-9]+)([smhd])/), let amount = Double(match.1) else { return nil }
        return amount * ["s": 1, "m": 60, "h": 3600, "d": 86400][String(match.2)]!
    }
}
