public import Prometheus
import HookBus
import Foundation
import Synchronization

/// The Prometheus metrics of a server: events accepted and rejected by reason, runs by outcome
/// and trigger, run durations, backlog, store write latency.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let accepted: Counter
    private let duplicates: Counter
    private let fastPath: Counter
    private let backlogGauge: Gauge
    private let storeWrite: DurationHistogram
    private let runDuration: DurationHistogram
    private let rejections = Mutex<[String: Counter]>([:])
    private let runs = Mutex<[String: Counter]>([:])
    private let authenticationFailures = Mutex<[String: Counter]>([:])
    private let filtered = Mutex<[String: Counter]>([:])
    private let auditFailures: Counter
    private let dead = Mutex<[String: Counter]>([:])
    private let retries = Mutex<[String: Counter]>([:])
    private let waitingGauges: [WaitReason.Kind: Gauge]
    private let auditFailuresReported = Mutex(0)

    public init() {
        accepted = registry.makeCounter(name: "hookbus_events_accepted_total", help: "Events stored and answered 202.")
        auditFailures = registry.makeCounter(name: "hookbus_audit_write_failures_total",
                                             help: "Writes of run records the store refused (each is retried until it succeeds).")
        let registry = self.registry
        waitingGauges = Dictionary(uniqueKeysWithValues: WaitReason.Kind.allCases.filter { $0 != .backlog }.map { kind in
            (kind, registry.makeGauge(name: "hookbus_runs_waiting", labels: [("reason", kind.rawValue)],
                                      help: "Runs not started, by why: slot (run pool full), order (behind an earlier run of the element), retry (due later), limit (the integration's limits). Pending events are hookbus_backlog_events."))
        })
        duplicates = registry.makeCounter(name: "hookbus_events_duplicate_total", help: "Requests answered with an earlier event's id (idempotency).")
        fastPath = registry.makeCounter(name: "hookbus_events_fast_path_total", help: "Hook and webhook events accepted on the connection's event loop, without the router (a subset of accepted and duplicate).")
        backlogGauge = registry.makeGauge(name: "hookbus_backlog_events", help: "Events stored and not yet dispatched to the end.")
        storeWrite = registry.makeDurationHistogram(name: "hookbus_store_write_seconds", buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)], help: "Duration of one group-commit transaction.")
        runDuration = registry.makeDurationHistogram(name: "hookbus_run_duration_seconds", buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300)], help: "Trigger run durations.")
    }

    /// One request's event: new, or a duplicate of an earlier one.
    func accepted(_ result: AcceptResult) {
        accepted(new: result.duplicate ? 0 : 1, duplicate: result.duplicate ? 1 : 0)
    }

    func accepted(new: Int, duplicate: Int) {
        accepted.increment(by: Int64(new))
        if duplicate > 0 { duplicates.increment(by: Int64(duplicate)) }
    }

    func acceptedOnFastPath() { fastPath.increment() }

    func storeWrite(_ duration: Duration) { storeWrite.record(duration) }

    /// A refused request, by reason (`unauthorized`, `malformed_json`, `too_large`, `backlog_full`, …).
    func rejected(_ reason: String) {
        let counter = rejections.withLock { counters in
            if let counter = counters[reason] { return counter }
            let counter = registry.makeCounter(name: "hookbus_events_rejected_total", labels: [("reason", reason)], help: "Requests refused, by reason.")
            counters[reason] = counter
            return counter
        }
        counter.increment()
    }

    /// A refused authentication, by route (its pattern, `/api/v1/runs`, `/api/v1/hooks/{hook}`)
    /// and reason (`missing_credentials`, `unknown_token`, `wrong_role`, `bad_signature` …).
    func authenticationFailed(route: String, reason: String) {
        let key = route + "\u{0}" + reason
        let counter = authenticationFailures.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(name: "hookbus_auth_failures_total", labels: [("route", route), ("reason", reason)],
                                               help: "Requests refused for their credentials, by route and reason.")
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    func run(outcome: String, trigger: String, duration: Duration) {
        let key = outcome + "\u{0}" + trigger
        let counter = runs.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(name: "hookbus_runs_total", labels: [("outcome", outcome), ("trigger", trigger)], help: "Trigger runs, by outcome and trigger.")
            counters[key] = counter
            return counter
        }
        counter.increment()
        runDuration.record(duration)
    }

    /// A webhook event its endpoint's rules routed to no trigger (stored, nothing ran).
    func webhookFiltered(endpoint: String) {
        let counter = filtered.withLock { counters in
            if let counter = counters[endpoint] { return counter }
            let counter = registry.makeCounter(name: "hookbus_webhook_filtered_total", labels: [("endpoint", endpoint)],
                                               help: "Webhook events stored but routed to no trigger by their endpoint's rules.")
            counters[endpoint] = counter
            return counter
        }
        counter.increment()
    }

    /// `hookbus_audit_write_failures_total`: the store counts its failed audit writes
    /// (`AuditHealth`); the counter is brought up to that count whenever the metrics are read.
    func auditWriteFailures(_ total: Int) {
        let delta = auditFailuresReported.withLock { reported -> Int in
            let delta = max(0, total - reported)
            reported = max(reported, total)
            return delta
        }
        if delta > 0 { auditFailures.increment(by: Int64(delta)) }
    }

    func backlog(_ count: Int) { backlogGauge.set(to: Double(count)) }

    /// `hookbus_runs_waiting{reason}` from the gate's counts and the pool's line.
    func waiting(_ gate: RunGate, poolWaiting: Int) {
        let byKind = gate.waitingByKind
        waitingGauges[.retry]?.set(to: Double(byKind[.retry] ?? 0))
        waitingGauges[.order]?.set(to: Double(byKind[.order] ?? 0))
        waitingGauges[.limit]?.set(to: Double(byKind[.limit] ?? 0))
        waitingGauges[.slot]?.set(to: Double(poolWaiting))
    }

    /// `hookbus_runs_dead_total{trigger}`: a run given up after its policy's last try.
    func dead(trigger: String) { counter(in: dead, key: trigger, name: "hookbus_runs_dead_total", labels: [("trigger", trigger)],
                                         help: "Runs given up after the last try their retry policy allows (dead letters), by trigger.").increment() }

    /// `hookbus_run_retries_total{trigger}`: a failed try whose policy runs it again.
    func retried(trigger: String) { counter(in: retries, key: trigger, name: "hookbus_run_retries_total", labels: [("trigger", trigger)],
                                            help: "Failed tries that their retry policy runs again, by trigger.").increment() }

    private func counter(in counters: borrowing Mutex<[String: Counter]>, key: String, name: String, labels: [(String, String)], help: String) -> Counter {
        counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(name: name, labels: labels, help: help)
            counters[key] = counter
            return counter
        }
    }

    public func render() -> String { registry.emitToString() }
}
