import ArgumentParser
import Foundation
import HookBus

/// What every running subcommand needs: the catalog, the configuration and the interpreters,
/// loaded once. Problems are printed to stderr as `path:line:column` lines, and an error ends
/// the command with exit code 1.
struct CommandContext {
    let catalog: Catalog
    /// What loading the definitions said (the server's Health page shows it).
    let diagnostics: [Diagnostic]
    let configuration: HookBusConfiguration
    let interpreters: Interpreters
    /// How runs are confined here (`runner.sandbox`), probed once.
    let sandbox: Sandbox
    let configPath: String?

    /// - Parameter secrets: which secrets the command reads (`.runs` unless it serves, or only
    ///   reads the store): a command must not need secrets it never uses in its environment.
    init(options: CommonOptions, quiet: Bool = false, secrets: ConfigurationLoader.SecretScope = .runs) throws {
        let loaded = DefinitionLoader().load(options.hookFolders)
        var problems = loaded.diagnostics
        let configPath = options.config ?? (FileManager.default.fileExists(atPath: "hookbus.yaml") ? "hookbus.yaml" : nil)
        if let configPath, !FileManager.default.fileExists(atPath: configPath) {
            throw CommandFailure("configuration file '\(configPath)' does not exist")
        }
        let configured = ConfigurationLoader(secrets: secrets).load(path: configPath, catalog: loaded.catalog)
        problems += configured.diagnostics
        for problem in problems where problem.severity == .error || !quiet {
            FileHandle.standardError.write(Data("\(problem)\n".utf8))
        }
        guard let configuration = configured.configuration else {
            throw CommandFailure("the configuration has errors")
        }
        if loaded.errorCount > 0 && loaded.catalog.integrations.isEmpty {
            throw CommandFailure("no definitions could be loaded from \(options.hookFolders.joined(separator: ", "))")
        }
        catalog = loaded.catalog
        diagnostics = loaded.diagnostics
        self.configuration = configuration
        interpreters = Interpreters(configured: configuration.interpreters)
        do {
            sandbox = try Sandbox.resolve(setting: configuration.sandbox, user: configuration.sandboxUser, runUIDs: configuration.runUIDs,
                                          privateTmp: configuration.privateTmp, interpreters: interpreters)
        } catch {
            throw CommandFailure("\(error)")
        }
        if let warning = sandbox.warning, !quiet {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        self.configPath = configPath
    }

    var router: Router { Router(catalog: catalog, configuration: configuration) }

    /// Who the audit trail says acted when a command runs something by hand: `cli:` and the
    /// login name (the server records a token's name instead).
    static var actor: String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? String(getuid())
        return "cli:" + user
    }
}

/// A failure reported as one line on stderr with exit code 1 (no usage text).
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

extension CommandFailure {
    /// Prints the reason and ends the process with exit code 1.
    static func exit(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("hookbus: \(message)\n".utf8))
        return ExitCode(1)
    }
}

/// Reads a file argument, or stdin for `-`, with a size limit.
func readInput(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
    let handle: FileHandle
    if path == "-" {
        handle = FileHandle.standardInput
    } else {
        guard let opened = FileHandle(forReadingAtPath: path) else { throw CommandFailure("cannot read '\(path)'") }
        handle = opened
    }
    let data = try handle.read(upToCount: limit + 1) ?? Data()
    if data.count > limit { throw CommandFailure("'\(path)' is larger than \(limit) bytes") }
    return [UInt8](data)
}
