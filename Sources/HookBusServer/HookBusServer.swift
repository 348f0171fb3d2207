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
    public static func run(engine: Engine, configuration: HookBusConfiguration, hookFolders: [String], logger: Logger,
                           onListening: @escaping @Sendable (Int) -> Void) async throws {
        let state = ServerState(engine: engine, configuration: configuration)
        if configuration.hookToken == nil {
            logger.warning("server.hook_token is not set: hook endpoints accept unauthenticated requests (fine on 127.0.0.1, not beyond)")
        }
        let application = Application(
            router: makeRouter(state: state),
            server: .hookBus(state: state),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: ServerState.serverName),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        let dispatcher = Dispatcher(engine: engine, metrics: state.metrics, wakeup: state.wakeup, backlog: state.backlog, logger: logger)
        let retention = RetentionService(store: engine.store, days: configuration.retentionDays, runs: configuration.retentionRuns, logger: logger)
        let watcher = DefinitionWatcher(folders: hookFolders, engine: engine, logger: logger)
        let daemons = DaemonService(daemons: configuration.daemons, engine: engine, state: state, logger: logger)
        let schedules = ScheduleService(engine: engine, state: state, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: dispatcher), .init(service: retention), .init(service: watcher), .init(service: daemons), .init(service: schedules), .init(service: application)],  // shut down in reverse: stop accepting first
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
