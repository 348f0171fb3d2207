public import Foundation
public import HookBus
import HTTPTypes

/// Everything the HTTP layer needs, shared by all requests.
public struct ServerState: Sendable {
    public let engine: Engine
    public let configuration: HookBusConfiguration
    public let accepts: AcceptQueue
    public let metrics: ServerMetrics
    public let backlog: BacklogCounter
    public let wakeup: Wakeup
    /// Who may use which route (`server.tokens`), asked by every route group and the fast path.
    public let access: AccessPolicy
    /// Wakes `?wait=N` requests when their event's runs end.
    public let completions = EventCompletions()
    /// New events for the console's open pages (`LiveFeed`).
    public let feed = LiveFeed()
    /// The console's logins (`ConsoleSessions`).
    public let sessions = ConsoleSessions()
    /// The warnings of the definitions in use and a refused reload (the Health page).
    public let definitions = DefinitionStatus()
    let verifier: WebhookVerifier
    /// Timestamped webhook signatures seen within their window (`SignatureReplayGuard`).
    let replayGuard = SignatureReplayGuard()
    /// Per webhook endpoint, the headers its events keep, as field names: worked out once, not
    /// on every request.
    let keptHeaderFields: [String: [(name: String, field: HTTPField.Name)]]
    /// The field names of every header a webhook scheme reads, worked out once (a name is
    /// validated and lower-cased when made).
    let authenticationFields: [String: HTTPField.Name]
    /// The `Server` header of every answer, the router's and the fast path's.
    static let serverName = "HookBus"

    public init(engine: Engine, configuration: HookBusConfiguration, metrics: ServerMetrics = ServerMetrics(), backlog: BacklogCounter = BacklogCounter(), wakeup: Wakeup = Wakeup()) {
        self.engine = engine
        self.configuration = configuration
        self.metrics = metrics
        self.backlog = backlog
        self.wakeup = wakeup
        access = AccessPolicy(configuration)
        verifier = WebhookVerifier(endpoints: configuration.webhooks.values)
        var fields: [String: HTTPField.Name] = [:]
        for endpoint in configuration.webhooks.values {
            var names: [String] = []
            switch endpoint.authentication {
            case .none: break
            case let .token(header, _, _): names = header.map { [$0] } ?? []
            case let .hmac(scheme): names = [scheme.header] + (scheme.timestampHeader.map { [$0] } ?? [])
            }
            for name in names { fields[name] = HTTPField.Name(name) }
        }
        authenticationFields = fields
        keptHeaderFields = configuration.webhooks.mapValues { endpoint in
            endpoint.keptHeaders.compactMap { name in HTTPField.Name(name).map { (name, $0) } }
        }
        accepts = AcceptQueue(store: engine.store, idempotencyWindow: configuration.idempotencyWindowSeconds, feed: feed) { [metrics, backlog, wakeup] new, duration in
            metrics.storeWrite(duration)
            // Only events left for the dispatcher wake it: a commit of events no trigger listens
            // to (stored done) needs no claim.
            guard new > 0 else { return }
            backlog.add(new)
            wakeup.signal()
        }
    }

    /// The store could not take an event: counted, and the one answer for it (503), whichever
    /// path accepted it.
    func storeFailed() -> APIError {
        metrics.rejected("store_error")
        return .storeUnavailable
    }
}
