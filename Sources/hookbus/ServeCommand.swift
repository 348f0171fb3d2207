import ArgumentParser
import Foundation
import HookBus
import HookBusServer
import Logging

/// `hookbus serve`: the server, with the shipped `Hooks/` and an embedded SQLite file by default.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HookBus server (hook endpoints, webhook ingress, dispatcher).")

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "Port to listen on (default: server.port, 8080; 0 picks a free one).")
    var port: Int?

    @Option(name: .long, help: "Address to listen on (default: server.host, 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Data folder for the SQLite store (default: data_dir, ./data).")
    var dataDir: String?

    @Flag(name: .long, help: "Let routes of a role with no token answer anyone; only on a loopback address (server.open_on_loopback).")
    var openOnLoopback = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("unknown --log-level '\(logLevel)'") }
    }

    func run() async throws {
        let context: CommandContext
        do { context = try CommandContext(options: options, secrets: .all) } catch { throw CommandFailure.exit("\(error)") }
        var configuration = context.configuration
        if let port { configuration.port = port }
        if let host { configuration.host = host }
        if let dataDir { configuration.dataDirectory = dataDir }
        if openOnLoopback { configuration.openOnLoopback = true }
        if let problem = AccessPolicy.startProblem(configuration) { throw CommandFailure.exit(problem) }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level) }
        let logger = Logger(label: "hookbus")
        for resolution in context.interpreters.resolutions.values.sorted(by: { $0.type.rawValue < $1.type.rawValue }) {
            let used = context.catalog.integrations.contains { $0.definition.script.type == resolution.type }
            if used && resolution.path == nil {
                logger.warning("interpreter \(resolution.command) not found: \(resolution.type.rawValue) triggers will be recorded as errors")
            }
        }
        let engine: Engine
        do {
            // A server's node is named by its host and port: started again there, it takes over
            // at once what its previous process left (`PostgresStore.recoverInterrupted`).
            let store = try await StoreOpener.open(configuration, node: "\(ProcessInfo.processInfo.hostName):\(configuration.port == 0 ? "pid\(getpid())" : String(configuration.port))",
                                                   stopsWhenFenced: true)
            let runner = ProcessRunner(interpreters: context.interpreters, configuration: configuration, sandbox: context.sandbox)
            if let warning = context.sandbox.warning { logger.warning("\(warning)") } else { logger.notice("runs sandboxed: \(context.sandbox.summary)") }
            // Runs orphaned by a process that died (kill -9, a crash), and their folders. As root,
            // taking the run uids has ended those processes already (`RunUIDs`).
            if let ended = context.sandbox.endedAtStart {
                logger.warning("ended \(ended.processes) processes still running under the run uids \(ended.uids) for a previous HookBus that died; their runs are repeated")
            }
            do throws(RunFolderError) {
                let sweep = try runner.folders.sweepAbandoned()
                if sweep.processes > 0 { logger.warning("ended \(sweep.processes) processes still running for a previous HookBus that died; their runs are repeated") }
                if sweep.folders > 0 { logger.notice("removed \(sweep.folders) run folders left by a previous process under \(runner.folders.root)") }
            } catch {
                logger.warning("\(error.message)")
            }
            engine = Engine(store: store, router: Router(catalog: context.catalog, configuration: configuration), runner: runner)
        } catch {
            throw CommandFailure.exit("cannot open the store at \(StoreOpener.describe(configuration)): \(error)")
        }
        let triggers = context.catalog.triggers.count
        let hooks = context.catalog.hooksInUse.count
        let host = configuration.host
        let database = StoreOpener.describe(configuration)
        try await HookBusServer.run(engine: engine, configuration: configuration, hookFolders: options.hookFolders,
                                   diagnostics: context.diagnostics, logger: logger) { port in
            FileHandle.standardOutput.write(Data("HookBus listening on http://\(host):\(port) (\(triggers) triggers on \(hooks) hooks; store \(database))\n".utf8))
        }
    }
}
