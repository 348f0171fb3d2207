public import Foundation
public import HookBus
import Hummingbird
public import Logging
import ServiceLifecycle
import UnixSignals

/// Runs HookBus as a server: the HTTP application, the dispatcher and the definition watcher in
/// one service group. SIGTERM or SIGINT stop accepting, let running triggers finish up to the
/// grace period, and leave everything else pending on disk for the next start.
public enum HookBusServer {
    /// - Parameter onListening: called with the real port once the server accepts connections.
    /// - Parameter diagnostics: what loading the definitions in use said (the Health page).
    /// - Throws: `ServerStartError` when the configuration would put an unauthenticated route
    ///   on an address other hosts reach.
    public static func run(engine: Engine, configuration: HookBusConfiguration, hookFolders: [String], diagnostics: [Diagnostic] = [], logger: Logger,
                           onListening: @escaping @Sendable (Int) -> Void) async throws {
        if let problem = AccessPolicy.startProblem(configuration) { throw ServerStartError(message: problem) }
        let state = ServerState(engine: engine, configuration: configuration)
        state.definitions.loaded(diagnostics)
        for role in Role.allCases.sorted(by: { $0.rawValue < $1.rawValue }) {
            if state.access.openRoles.contains(role) {
                logger.warning("no \(role.rawValue) token is configured: \(role.rawValue) routes answer anyone on \(configuration.host) (open_on_loopback)")
            } else if !state.access.served.contains(role) {
                logger.notice("no \(role.rawValue) token is configured: \(role.rawValue) routes answer 403 (add one under server.tokens)")
            }
        }
        let application = Application(
            router: makeRouter(state: state),
            server: .hookBus(state: state),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: ServerState.serverName),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        let dispatcher = Dispatcher(engine: engine, metrics: state.metrics, wakeup: state.wakeup, backlog: state.backlog, completions: state.completions, feed: state.feed, logger: logger)
        let retention = RetentionService(store: engine.store, days: configuration.retentionDays, runs: configuration.retentionRuns, logger: logger)
        let watcher = DefinitionWatcher(folders: hookFolders, engine: engine, logger: logger, status: state.definitions)
        let daemons = DaemonService(daemons: configuration.daemons, engine: engine, state: state, logger: logger)
        let schedules = ScheduleService(engine: engine, state: state, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: dispatcher), .init(service: retention), .init(service: watcher), .init(service: daemons), .init(service: schedules), .init(service: application)],  // shut down in reverse: stop accepting first
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// Why the server would not start: one line, for the CLI to print.
public struct ServerStartError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
