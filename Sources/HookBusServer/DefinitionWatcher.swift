import Foundation
public import HookBus
public import Logging
public import ServiceLifecycle
import UnixSignals

/// Reloads the definitions on SIGHUP and when a file under the definition folders changes
/// (checked every `interval` by size and modification time — no inotify, so it also works on
/// network and container file systems). A new catalog with errors is refused: the last good one
/// stays in use and the errors are logged.
public struct DefinitionWatcher: Service {
    let folders: [String]
    let engine: Engine
    let logger: Logger
    let interval: Duration
    /// Where each load's warnings and refusals are kept for the console.
    let status: DefinitionStatus?

    public init(folders: [String], engine: Engine, logger: Logger, interval: Duration = .seconds(2), status: DefinitionStatus? = nil) {
        self.folders = folders
        self.engine = engine
        self.logger = logger
        self.interval = interval
        self.status = status
    }

    public func run() async throws {
        let initial = Self.fingerprint(folders)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // Nothing to finish on shutdown: stop watching at once.
        try? await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in hangups {
                        logger.info("SIGHUP: reloading definitions")
                        reload()
                    }
                }
                group.addTask {
                    var fingerprint = initial
                    while !Task.isCancelled {
                        try await Task.sleep(for: interval)
                        let current = Self.fingerprint(folders)
                        if current != fingerprint {
                            fingerprint = current
                            logger.info("definition files changed: reloading")
                            reload()
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    private func reload() {
        let result = DefinitionLoader().load(folders)
        if result.errorCount > 0 {
            for diagnostic in result.diagnostics where diagnostic.severity == .error {
                logger.error("\(diagnostic)")
            }
            logger.error("reload refused: \(result.summary); keeping the previous definitions")
            status?.refused(summary: result.summary, errors: result.diagnostics.filter { $0.severity == .error })
            return
        }
        engine.replaceCatalog(result.catalog)
        status?.loaded(result.diagnostics)
        logger.info("definitions reloaded: \(result.summary)")
    }

    /// Paths, sizes and modification times of every YAML file under the folders.
    static func fingerprint(_ folders: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for folder in folders {
            for file in DefinitionLoader.yamlFilePaths(under: folder) {
                // `stat` follows a symbolic link (as the loader does): an edit of the file a
                // link points at is a change. A file that vanished meanwhile is one too.
                var info = stat()
                guard stat(file, &info) == 0 else {
                    result[file] = "gone"
                    continue
                }
                result[file] = "\(info.st_size)@\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
            }
        }
        return result
    }
}
