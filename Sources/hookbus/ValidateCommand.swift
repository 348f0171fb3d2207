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
        if json {
            let report = ValidationReport(result)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(report))
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            for diagnostic in result.diagnostics {
                print(diagnostic.description)
            }
            print(result.summary)
        }
        if result.errorCount > 0 { throw ExitCode(1) }
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
