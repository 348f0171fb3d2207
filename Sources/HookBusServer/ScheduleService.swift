import Foundation
public import HookBus
public import Logging
public import ServiceLifecycle
import Synchronization

/// Runs started schedules (Scheduled actions) from the store, so they survive restarts.
///
/// A schedule runs every `every` until a run's JSON stdout meets an exit condition or `expire`
/// has passed since it started, keeping the last result. When a run is still going at the next
/// tick, that tick is skipped — or, with `re-execution: force`, the running one is ended first.
/// The end is recorded as an event (a `webhook` event from source `schedule`, its payload the
/// schedule, the reason and the last result) so triggers can continue the work.
public struct ScheduleService: Service {
    let engine: Engine
    let state: ServerState
    let logger: Logger
    /// How often the store is looked at for due schedules.
    let tick: Duration

    private let memory = Memory()

    /// What the service keeps in memory between ticks.
    private final class Memory: Sendable {
        /// Schedule id → event id of its run under way.
        let running = Mutex<[String: String]>([:])
        /// Schedule id → when a skipped tick makes it due again (a restart simply runs it at once).
        let skippedUntil = Mutex<[String: Date]>([:])
    }

    public init(engine: Engine, state: ServerState, logger: Logger, tick: Duration = .milliseconds(250)) {
        self.engine = engine
        self.state = state
        self.logger = logger
        self.tick = tick
    }

    public func run() async throws {
        // Schedules run on one node at a time (a shared store's lead; always here with SQLite).
        let lead = LeadWatch(role: "schedules", store: engine.store, logger: logger)
        await lead.check()
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await lead.keep() }
                group.addTask {
                    while !Task.isCancelled {
                        if lead.isHeld { await checkDue() }
                        try? await Task.sleep(for: tick)
                    }
                }
            }
        }
    }

    /// Starts the runs that are due. A run goes on in its own task: a shutdown lets it finish
    /// within the dispatcher's grace period (it is a registered process like any trigger's).
    private func checkDue() async {
        guard let schedules = try? await engine.store.schedules(activeOnly: true) else { return }
        let now = Date()
        for schedule in schedules {
            let spec: ScheduleSpec
            do {
                spec = try engine.router.scheduleSpec(integration: schedule.integration, action: schedule.action, fields: schedule.fields)
            } catch {
                await end(schedule, reason: "cannot go on: \(error.message)")
                continue
            }
            if let expire = spec.expireSeconds, now >= schedule.startedAt.addingTimeInterval(expire) {
                await end(schedule, reason: "expired")
                continue
            }
            let due = max(schedule.nextRunAt, memory.skippedUntil.withLock { $0[schedule.id] } ?? .distantPast)
            guard now >= due else { continue }
            if let underWay = memory.running.withLock({ $0[schedule.id] }) {
                if spec.force {
                    RunningProcesses.end(key: underWay)
                } else {
                    memory.skippedUntil.withLock { $0[schedule.id] = now.addingTimeInterval(spec.everySeconds) }
                    logger.info("scheduled run skipped: the previous one is still going", metadata: ["schedule": "\(schedule.id)"])
                    continue
                }
            }
            let eventID = Event.newID()
            memory.running.withLock { $0[schedule.id] = eventID }
            memory.skippedUntil.withLock { $0[schedule.id] = now.addingTimeInterval(spec.everySeconds) }
            Task { await runOnce(schedule, spec: spec, eventID: eventID, startedAt: now) }
        }
    }

    private func runOnce(_ schedule: StoredSchedule, spec: ScheduleSpec, eventID: String, startedAt: Date) async {
        defer { memory.running.withLock { if $0[schedule.id] == eventID { $0[schedule.id] = nil } } }
        let run: Engine.CompletedRun
        do {
            run = try await engine.runAction(integration: spec.integration, action: spec.action, fields: spec.fields, kind: "schedule", eventID: eventID,
                                         requestedBy: schedule.startedBy)
        } catch where error.code == .notRecorded {
            // The store is failing, not the schedule: the next tick tries again.
            logger.error("scheduled run not started: \(error.message)", metadata: ["schedule": "\(schedule.id)"])
            return
        } catch {
            await end(schedule, reason: "cannot go on: \(error.message)")
            return
        }
        // A run ended by a newer one (force) says nothing about the condition.
        if run.result.outcome == .killed, memory.running.withLock({ $0[schedule.id] }) != eventID { return }
        let stdout = run.result.stdout
        let result = try? JSONParser.parse(stdout)
        try? await engine.store.scheduleRan(id: schedule.id, at: startedAt, result: stdout.isEmpty ? nil : stdout,
                                            nextRunAt: startedAt.addingTimeInterval(spec.everySeconds))
        if let result, spec.conditionMet(by: result) {
            var ended = schedule
            ended.lastResult = stdout
            await end(ended, reason: "condition met")
        }
    }

    /// Marks the schedule ended and stores the event that says why.
    private func end(_ schedule: StoredSchedule, reason: String) async {
        var current = (try? await engine.store.schedule(id: schedule.id)) ?? schedule
        guard current.state == .active else { return }
        current.state = .ended
        current.endedReason = reason
        let payload = JSONValue.object([
            "schedule": .string(schedule.id), "integration": .string(schedule.integration), "action": .string(schedule.action),
            "reason": .string(reason), "runs": .number(String(current.runs)),
            "lastResult": current.lastResult.flatMap { try? JSONParser.parse($0) } ?? current.lastResult.map(JSONValue.string) ?? .null,
        ])
        let event = Event.webhook(json: payload, source: EventSource(kind: .schedule, name: schedule.id))
        let settled = engine.router.storesDone(event)
        var endEvent: String?
        do {
            endEvent = try await state.accepts.acceptAll([(event, "schedule-end:\(schedule.id)", settled)]).first?.eventID
        } catch {
            logger.error("the end of a schedule could not be recorded as an event: \(error)", metadata: ["schedule": "\(schedule.id)"])
        }
        try? await engine.store.endSchedule(id: schedule.id, reason: reason, endEvent: endEvent)
        memory.running.withLock { $0[schedule.id] = nil }
        logger.info("schedule ended: \(reason)", metadata: ["schedule": "\(schedule.id)", "event": "\(endEvent ?? "-")"])
    }
}
