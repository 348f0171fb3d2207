import Crypto
import Foundation
public import HookBus
public import Logging
public import ServiceLifecycle

/// Runs the configured daemons: each on its own period, its objects stored as events (through the
/// same group commit as the HTTP accepts) before its cursor moves, so a crash in between repeats
/// a run rather than losing objects. An object seen again (the same daemon, the same JSON) within
/// the idempotency window is not stored twice.
public struct DaemonService: Service {
    let daemons: [DaemonSpec]
    let engine: Engine
    let state: ServerState
    let logger: Logger

    public init(daemons: [DaemonSpec], engine: Engine, state: ServerState, logger: Logger) {
        self.daemons = daemons
        self.engine = engine
        self.state = state
        self.logger = logger
    }

    public func run() async throws {
        // A service that returns early ends the whole group: with no daemons, wait for shutdown.
        if daemons.isEmpty {
            try? await gracefulShutdown()
            return
        }
        // Daemons run on one node at a time (a shared store's lead; always here with SQLite).
        let lead = LeadWatch(role: "daemons", store: engine.store, logger: logger)
        await lead.check()
        await withDiscardingTaskGroup { group in
            group.addTask { await cancelWhenGracefulShutdown { await lead.keep() } }
            for daemon in daemons {
                group.addTask { await loop(daemon, lead: lead) }
            }
        }
    }

    private func loop(_ daemon: DaemonSpec, lead: LeadWatch) async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                guard lead.isHeld else {
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                await runOnce(daemon)
                try? await Task.sleep(for: .seconds(daemon.everySeconds))
            }
        }
    }

    func runOnce(_ daemon: DaemonSpec) async {
        let cursor = try? await engine.store.daemonCursor(daemon.name)
        let (objects, run, problem) = await engine.runDaemon(daemon, cursor: cursor)
        guard let objects else {
            logger.warning("daemon run failed: \(problem ?? "unknown reason")", metadata: ["daemon": "\(daemon.name)", "event": "\(run?.invocation.eventID ?? "-")"])
            return
        }
        guard let last = objects.last else { return }
        let listening = !engine.router.catalog.triggers(for: .webhook).isEmpty
        let items = objects.map { object -> (event: Event, idempotencyKey: String?, settled: Bool) in
            let text = object.jsonText
            let event = Event.webhook(json: object, source: EventSource(kind: .daemon, name: daemon.name))
            let digest = SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
            return (event, "daemon:\(daemon.name):\(digest)", !listening)
        }
        do {
            let results = try await state.accepts.acceptAll(items)
            let duplicates = results.count(where: \.duplicate)
            state.metrics.accepted(new: results.count - duplicates, duplicate: duplicates)
        } catch {
            logger.error("daemon objects could not be stored; the run will be repeated: \(error)", metadata: ["daemon": "\(daemon.name)"])
            return
        }
        if let path = daemon.cursorPath, let next = path.evaluateText(last) {
            do { try await engine.store.setDaemonCursor(daemon.name, to: next) } catch {
                logger.error("daemon cursor could not be saved: \(error)", metadata: ["daemon": "\(daemon.name)"])
            }
        }
    }
}
