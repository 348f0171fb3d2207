import ArgumentParser
import Foundation
import HookBus

/// `hookbus validate [DIR...]`: load definition files and report every problem like a compiler.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Load and check definition files; exit 1 when any has an error.")

    @OptionGroup var options: CommonOptions

    @Argument(help: "Definition folders or files (default: the --hooks folders, or ./Hooks).")
    var paths: [String] = []

    @Flag(name: .long, help: "Print one JSON object for machines instead of messages.")
    var json = false

    func run() throws {
        let roots = paths.isEmpty ? options.hookFolders : paths
        let result = DefinitionLoader().load(roots)
        // The configuration, when there is one, is checked too, and says which interpreters to use.
        let configPath = options.config ?? (FileManager.default.fileExists(atPath: "hookbus.yaml") ? "hookbus.yaml" : nil)
        let configured = configPath.map { ConfigurationLoader().load(path: $0, catalog: result.catalog) }
        let interpreters = Interpreters(configured: configured?.configuration?.interpreters ?? [:])
        let configErrors = configured?.diagnostics.filter { $0.severity == .error }.count ?? 0
        let runFolders = RunFolders(configured: configured?.configuration?.runDirectory)
        // How runs would be confined here; a sandbox that cannot be set up as configured
        // (`required` on a kernel without Landlock, an unknown sandbox_user) is an error.
        var sandboxLine: String
        var sandboxErrors = 0
        do {
            let configuration = configured?.configuration
            let sandbox = try Sandbox.resolve(setting: configuration?.sandbox ?? .auto, user: configuration?.sandboxUser ?? "nobody",
                                              runUIDs: configuration?.runUIDs ?? RunUIDs.defaultRange,
                                              privateTmp: configuration?.privateTmp ?? true, interpreters: interpreters, forRuns: false)
            sandboxLine = sandbox.warning.map { "warning: \($0)" } ?? "sandbox: \(sandbox.summary)"
        } catch {
            sandboxLine = "error: \(error)"
            sandboxErrors = 1
        }
        if json {
            var report = ValidationReport(result)
            report.diagnostics += configured?.diagnostics ?? []
            report.errors += configErrors
            report.interpreters = Dictionary(uniqueKeysWithValues: interpreters.resolutions.values.map { ($0.type.rawValue, $0.path ?? "not found") })
            report.runFolders = runFolders.root
            report.sandbox = sandboxLine
            report.errors += sandboxErrors
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(report))
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            for diagnostic in result.diagnostics + (configured?.diagnostics ?? []) {
                print(diagnostic.description)
            }
            print(result.summary)
            for resolution in interpreters.resolutions.values.sorted(by: { $0.type.rawValue < $1.type.rawValue }) {
                print("interpreter \(resolution.type.rawValue): \(resolution.path ?? "not found (\(resolution.command))") [\(resolution.how)]")
            }
            print("run folders: under \(runFolders.root) (\(runFolders.memoryBacked ? "in memory" : "on disk"))")
            print(sandboxLine)
        }
        if result.errorCount + configErrors + sandboxErrors > 0 { throw ExitCode(1) }
    }
}

/// The `--json` form of a validation: every diagnostic, the summary counts and the hook index.
struct ValidationReport: Encodable {
    var diagnostics: [Diagnostic]
    var integrations: Int
    var actions: Int
    var triggers: Int
    var hooks: [String: [String]]
    var errors: Int
    var warnings: Int
    var summary: String
    var interpreters: [String: String] = [:]
    /// How runs would be confined: `sandbox: …`, `warning: …` or `error: …`.
    var sandbox: String?
    var runFolders = ""

    init(_ result: DefinitionLoadResult) {
        diagnostics = result.diagnostics
        integrations = result.catalog.integrations.count
        actions = result.catalog.actionCount
        triggers = result.catalog.triggers.count
        hooks = Dictionary(uniqueKeysWithValues: result.catalog.hooksInUse.map { hook in
            (hook.rawValue, result.catalog.triggers(for: hook).map(\.qualifiedName))
        })
        errors = result.errorCount
        warnings = result.warningCount
        summary = result.summary
    }
}
