import Foundation
import HookBus

/// The console's pages as data for their templates: what each page shows, read from the store
/// and the engine. No HTML here (`ConsoleTemplates`), no HTTP (`ConsoleRoutes`).
struct ConsolePages {
    let state: ServerState
    static let pageSize = 50
    /// Runs shown on an event's page (each with its output).
    static let eventRunLimit = 200

    /// A filter the user wrote that cannot be used, said in words for the page.
    struct FilterError: Error {
        let message: String
    }

    // MARK: Events

    /// The Events page's filter from its query; `before` is the cursor.
    static func eventFilter(_ query: [String: String]) throws(FilterError) -> EventFilter {
        func value(_ name: String) -> String? {
            guard let text = query[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        var filter = EventFilter(hook: value("hook"), sourceKind: value("source"), sourceName: value("endpoint"), state: value("state"),
                                 outcome: value("outcome"), trigger: value("trigger"), subject: value("subject"), text: value("text"), limit: pageSize)
        if let hook = filter.hook, Hook(rawValue: hook) == nil, hook != "action" { throw FilterError(message: "'\(hook)' is not a hook") }
        if let kind = filter.sourceKind, EventSource.Kind(rawValue: kind) == nil { throw FilterError(message: "'\(kind)' is not a source") }
        if let state = filter.state, StoredEvent.State(rawValue: state) == nil { throw FilterError(message: "'\(state)' is not an event state") }
        if let outcome = filter.outcome, outcome != EventFilter.anyFailure, RunOutcome(rawValue: outcome) == nil, outcome != "running" {
            throw FilterError(message: "'\(outcome)' is not a run outcome")
        }
        filter.since = try time(value("since"), "From")
        filter.until = try time(value("until"), "To")
        if let before = value("before") {
            guard let cursor = Int64(before) else { throw FilterError(message: "'before' must be a cursor from an Older link") }
            filter.before = cursor
        }
        return filter
    }

    static func time(_ text: String?, _ label: String) throws(FilterError) -> Date? {
        guard let text else { return nil }
        guard let date = TimeExpression.parse(text) else { throw FilterError(message: "\(label): '\(text)' is neither ISO 8601 nor an age like 30m, 12h, 7d") }
        return date
    }

    func events(query: [String: String]) async throws -> [String: Any] {
        var view: [String: Any] = ["title": "Events", "navEvents": true]
        let filter: EventFilter
        do throws(FilterError) {
            filter = try Self.eventFilter(query)
        } catch {
            view["filterError"] = error.message
            filter = EventFilter(limit: Self.pageSize)
        }
        let store = state.engine.store
        let page = try await store.eventPage(filter)
        let sources = try await store.recentSources(window: 5_000)
        view["rows"] = page.map { summary -> [String: Any] in
            let failed = summary.outcomes.contains { RunOutcome(rawValue: $0.key)?.isFailure == true }
            let dead = summary.outcomes["dead"] != nil
            return [
                "id": summary.id, "href": ConsoleViews.eventPath(summary.id), "hook": summary.hook, "source": ConsoleViews.source(kind: summary.sourceKind, name: summary.sourceName),
                "subject": summary.subject ?? "", "state": summary.state, "received": ConsoleViews.time(summary.receivedAt),
                "rowClass": dead ? "dead failure" : failed ? "failure" : "",
                "outcomes": summary.outcomes.sorted { $0.key < $1.key }.map { ["name": $0.key, "count": String($0.value), "class": ConsoleViews.outcomeClass($0.key)] },
            ]
        }
        let hooks = Set(Hook.allCases.map(\.rawValue)).union(sources.hooks)
        view["hooks"] = ConsoleViews.options(hooks.sorted(), selected: filter.hook)
        view["sources"] = ConsoleViews.options(EventSource.Kind.allCases.map(\.rawValue), selected: filter.sourceKind)
        view["states"] = ConsoleViews.options(["pending", "running", "waiting", "done"], selected: filter.state)
        view["outcomes"] = ConsoleViews.options([EventFilter.anyFailure] + RunOutcome.allCases.map(\.rawValue), selected: filter.outcome)
        view["endpoints"] = Array(Set(sources.endpoints).union(state.configuration.webhooks.keys)).sorted()
        let kept: [(String, String?)] = [("hook", filter.hook), ("source", filter.sourceKind), ("endpoint", filter.sourceName), ("state", filter.state),
                                         ("outcome", filter.outcome), ("trigger", filter.trigger), ("subject", filter.subject), ("text", filter.text),
                                         ("since", query["since"]), ("until", query["until"])]
        view["filter"] = ["endpoint": filter.sourceName ?? "", "trigger": filter.trigger ?? "", "subject": filter.subject ?? "", "text": filter.text ?? "",
                          "since": query["since"] ?? "", "until": query["until"] ?? ""]
        if page.count == filter.limit, let last = page.last {
            view["older"] = "/ui/events" + ConsoleViews.query(kept + [("before", String(last.cursor))])
        }
        if filter.before != nil { view["newest"] = "/ui/events" + ConsoleViews.query(kept) }
        if let floor = page.searchedDownTo {
            view["searchOlder"] = [
                "href": "/ui/events" + ConsoleViews.query(kept + [("before", String(floor))]),
                "text": "The text was looked for in the \(EventFilter.textSearchBudget.formatted()) events before this point; older ones were not read yet.",
            ]
        }
        // Live rows only on the newest page, and only for filters an event can be judged by
        // when it arrives (its runs, state and text come later).
        if filter.before == nil, view["filterError"] == nil {
            if filter.isDecidableOnArrival {
                // `after`: the newest event shown, so that the stream first sends what was
                // stored while this page was on its way to the browser.
                view["stream"] = "/ui/events/stream" + ConsoleViews.query([("hook", filter.hook), ("source", filter.sourceKind), ("endpoint", filter.sourceName),
                                                                           ("subject", filter.subject), ("after", String(page.first?.cursor ?? 0))])
            } else {
                view["liveOff"] = "New events are not added live with filters on state, runs, trigger, text or time: reload to see them."
            }
        }
        return view
    }

    /// The message an open Events page gets for a new event (`LiveFeed`).
    static func liveMessage(_ summary: EventSummary) -> String {
        JSONValue.object([
            "id": .string(summary.id), "hook": .string(summary.hook), "source": .string(ConsoleViews.source(kind: summary.sourceKind, name: summary.sourceName)),
            "subject": .string(summary.subject ?? ""), "state": .string(summary.state), "received": .string(ConsoleViews.time(summary.receivedAt)),
        ]).jsonText
    }

    /// The message an open Events page gets when an event's runs end (`LiveFeed.Item.ran`).
    static func ranMessage(eventID: String, state: String?, outcomes: [String: Int]) -> String {
        JSONValue.object([
            "id": .string(eventID), "state": state.map(JSONValue.string) ?? .null,
            "outcomes": .array(outcomes.sorted { $0.key < $1.key }.map { .object(["name": .string($0.key), "count": .number(String($0.value)),
                                                                                  "class": .string(ConsoleViews.outcomeClass($0.key))]) }),
        ]).jsonText
    }

    // MARK: Event

    func event(id: String) async throws -> [String: Any]? {
        let store = state.engine.store
        guard let stored = try await store.event(id: id) else { return nil }
        let event = stored.event
        var view: [String: Any] = [
            "title": "Event \(id)", "navEvents": true, "id": id, "hook": event.hook.rawValue, "received": ConsoleViews.time(event.receivedAt),
            "source": ConsoleViews.source(kind: event.source.kind.rawValue, name: event.source.name), "state": stored.state.rawValue,
            "attempt": String(stored.attempt),
        ]
        if let trigger = event.trigger { view["button"] = trigger }
        if let replayOf = event.source.replayOf { view["replayOf"] = ["id": replayOf, "href": ConsoleViews.eventPath(replayOf)] }
        view["href"] = ConsoleViews.eventPath(id)
        if let key = event.orderingKey { view["subject"] = ["text": key, "query": ConsoleViews.encode(key)] }
        view["signature"] = signature(of: event)
        // The newest runs, oldest first; an event repeated more often than that says so (the
        // Runs page lists them all).
        let newest = try await store.runs(RunFilter(eventID: id, limit: Self.eventRunLimit))
        view["runs"] = newest.reversed().map(ConsoleViews.run)
        if newest.count == Self.eventRunLimit { view["moreRuns"] = "/ui/runs" + ConsoleViews.query([("event", id)]) }
        if stored.state != .done {
            let reasons = try await state.engine.waitingReasons(for: stored)
            view["waiting"] = ["reasons": reasons.map { reason -> [String: Any] in
                var item: [String: Any] = ["kind": reason.kind.rawValue, "reason": reason.reason]
                if let trigger = reason.trigger { item["trigger"] = trigger }
                if let due = reason.dueAt { item["due"] = ConsoleViews.time(due) }
                return item
            }]
        }
        view["canRedrive"] = await state.engine.canRedrive(stored)
        if let body = event.webhookBody {
            // The exact bytes: as text when they are UTF-8, else as base64 (and said so), never
            // with bytes replaced.
            var shown: [String: Any] = ["size": String(body.bytes.count)]
            if let text = String(validating: body.bytes, as: UTF8.self) {
                shown["text"] = text
            } else {
                shown["text"] = Data(body.bytes).base64EncodedString()
                shown["encoding"] = "not UTF-8: shown as base64"
            }
            if let type = body.contentType { shown["contentType"] = type }
            if !body.headers.isEmpty { shown["headers"] = ["items": body.headers.map { ["name": $0.name, "value": $0.value] }] }
            view["webhookBody"] = shown
        } else {
            view["params"] = event.params.keys.sorted().map { name -> [String: Any] in
                let param = event.params[name]!
                return ["name": name, "text": param.isText ? param.raw : param.value.prettyText]
            }
        }
        return view
    }

    /// How a webhook event was authenticated: every stored one passed its endpoint's check.
    func signature(of event: Event) -> String? {
        guard event.source.kind == .webhook, let name = event.source.name else { return nil }
        guard let endpoint = state.configuration.webhooks[name] else { return "endpoint '\(name)' is no longer configured" }
        switch endpoint.authentication {
        case .none: return "none (the endpoint takes any sender)"
        case .token: return "token: checked"
        case let .hmac(scheme):
            return "HMAC-\(scheme.algorithm.rawValue.uppercased()) in \(scheme.header): verified\(scheme.timestampHeader != nil || scheme.timestampField != nil ? ", with its timestamp" : "")"
        }
    }

    // MARK: Runs

    func runs(query: [String: String]) async throws -> [String: Any] {
        var view: [String: Any] = ["title": "Runs", "navRuns": true]
        func value(_ name: String) -> String? {
            guard let text = query[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        var filter = RunFilter(eventID: value("event"), trigger: value("trigger"), outcome: value("outcome"), limit: Self.pageSize)
        do throws(FilterError) {
            filter.since = try Self.time(value("since"), "From")
            filter.until = try Self.time(value("until"), "To")
            if let before = value("before") {
                guard let id = Int64(before) else { throw FilterError(message: "'before' must be a run id") }
                filter.beforeID = id
            }
        } catch {
            view["filterError"] = error.message
            filter = RunFilter(limit: Self.pageSize)
        }
        let runs = try await state.engine.store.runs(filter)
        view["runRows"] = runs.map(ConsoleViews.run)
        view["outcomes"] = ConsoleViews.options(RunOutcome.allCases.map(\.rawValue) + ["running"], selected: filter.outcome)
        view["filter"] = ["trigger": filter.trigger ?? "", "event": filter.eventID ?? "", "since": query["since"] ?? "", "until": query["until"] ?? ""]
        let kept: [(String, String?)] = [("trigger", filter.trigger), ("outcome", filter.outcome), ("event", filter.eventID), ("since", query["since"]), ("until", query["until"])]
        if runs.count == filter.limit, let last = runs.last { view["older"] = "/ui/runs" + ConsoleViews.query(kept + [("before", String(last.id))]) }
        if filter.beforeID != nil { view["newest"] = "/ui/runs" + ConsoleViews.query(kept) }
        return view
    }

    // MARK: Health

    func health() async -> [String: Any] {
        let audit = state.engine.store.auditHealth.snapshot
        let catalog = state.engine.router.catalog
        let definitions = state.definitions.snapshot
        var view: [String: Any] = [
            "title": "Health", "navHealth": true, "status": audit.failing || audit.lost > 0 ? "degraded" : "ok", "backlog": String(state.backlog.count),
            "poolSize": String(state.configuration.concurrency), "poolWaiting": String(await state.engine.pool.waiting),
            "audit": audit.failing ? "writes failing (\(audit.failures) failures so far)" + (audit.lost > 0 ? "; \(audit.lost) records given up" : "")
                : audit.lost > 0 ? "written; \(audit.lost) records were given up" : "written",
            "store": state.engine.store.location,
            "integrations": catalog.integrations.map { integration -> [String: Any] in
                [
                    "name": integration.name, "language": integration.definition.script.type.rawValue,
                    "triggers": String(integration.actions.filter(\.isTrigger).count), "actions": String(integration.actions.count),
                    "file": integration.definition.location.description,
                ]
            },
        ]
        // Runs waiting on disk, by why (as this process knows them: `hookbus_runs_waiting`).
        let waiting = state.engine.gate.waitingByKind
        view["waiting"] = DeferredRun.Kind.allCases.map { ["kind": $0.rawValue, "count": String(waiting[$0] ?? 0)] }
        if let runner = state.engine.runner as? ProcessRunner {
            view["sandbox"] = runner.sandbox.summary
            view["interpreters"] = runner.interpreters.resolutions.values.sorted { $0.type.rawValue < $1.type.rawValue }.map { resolution -> [String: Any] in
                ["type": resolution.type.rawValue, "path": resolution.path ?? "not found", "how": resolution.how, "missing": resolution.path == nil]
            }
        } else {
            view["sandbox"] = "not known (a runner other than HookBus's own)"
        }
        view["diagnostics"] = definitions.diagnostics.map { ["text": $0.description, "severity": $0.severity.rawValue] }
        if let loaded = definitions.loadedAt { view["loadedAt"] = ConsoleViews.time(loaded) }
        if let refused = definitions.refusedReload {
            view["refused"] = ["summary": refused.summary, "at": ConsoleViews.time(refused.at), "errors": refused.errors.map(\.description)]
            view["status"] = "degraded"
        }
        return view
    }
}
