import ArgumentParser
import Foundation
import HookBus

/// `hookbus action run INTEGRATION ACTION --field id=value …`: "Test Action" for any action
/// type. Fields are checked before anything runs; the result is shown as the action's
/// `table_view` table (or its output on stdout when it has none), JSON with `--json`; the run is
/// recorded in the audit trail.
struct ActionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "action",
        abstract: "Run an action of an integration by hand.",
        subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run an action now with the given field values (\"Test Action\"); exit 1 when it fails.")

        @OptionGroup var options: CommonOptions

        @Argument(help: "The integration's name.") var integration: String
        @Argument(help: "The action's name.") var action: String

        @OptionGroup var fields: FieldOptions

        @Flag(name: .long, help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let (_, engine) = try await CommandContext.withEngine(options: options, quiet: json)
            let run: Engine.CompletedRun
            do {
                run = try await engine.runAction(integration: integration, action: action, fields: fields.values, requestedBy: CommandContext.actor)
            } catch {
                throw CommandFailure.exit(error.message)
            }
            if json {
                print(run.jsonValue(nameKey: "action").jsonText)
            } else {
                print(Self.text(run))
            }
            if run.result.outcome != .succeeded { throw ExitCode(1) }
        }

        static func text(_ run: Engine.CompletedRun) -> String {
            let result = run.result
            var lines = ["\(result.outcome == .succeeded ? "✓" : "✗") \(run.invocation.integration) / \(run.invocation.trigger): \(result.outcome.rawValue)"
                + (result.exitCode.map { " (exit \($0))" } ?? "") + String(format: " in %.2f s", result.duration)]
            if let reason = result.reason { lines.append("  \(reason)") }
            if let table = result.results?["table"], let columns = table["columns"]?.arrayValue?.compactMap(\.stringValue),
               let rows = table["rows"]?.arrayValue?.map({ $0.arrayValue?.compactMap(\.stringValue) ?? [] }) {
                lines.append(TextTable(columns: columns, rows: rows).rendered)
            } else if !result.stdout.isEmpty {
                lines.append(result.stdout.hasSuffix("\n") ? String(result.stdout.dropLast()) : result.stdout)
            }
            if result.outcome != .succeeded, !result.stderr.isEmpty {
                lines.append(result.stderr.split(separator: "\n", omittingEmptySubsequences: false).map { "  stderr| \($0)" }.joined(separator: "\n"))
            }
            if let runID = run.runID { lines.append("  recorded as run \(runID) (hookbus audit --event \(run.invocation.eventID))") }
            return lines.joined(separator: "\n")
        }
    }
}

/// Columns padded to their widest cell, for a terminal.
struct TextTable {
    let columns: [String]
    let rows: [[String]]

    var rendered: String {
        // One line per cell: a value with line breaks would break the grid.
        let cells = rows.map { $0.map { $0.replacingOccurrences(of: "\n", with: " ") } }
        var widths = columns.map(\.count)
        for row in cells {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], min(cell.count, 60)) }
        }
        func line(_ values: [String]) -> String {
            values.enumerated().map { index, value in
                let clipped = value.count > 60 ? String(value.prefix(59)) + "…" : value
                return clipped.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(columns), line(widths.map { String(repeating: "-", count: $0) })] + cells.map(line)).joined(separator: "\n")
    }
}

/// `--field id=value` options, as Test Action and schedules take them.
struct FieldOptions: ParsableArguments {
    @Option(name: .customLong("field"), help: "A field value as id=value; repeat for several.")
    var fields: [String] = []

    func validate() throws {
        for field in fields where !field.contains("=") {
            throw ValidationError("--field takes id=value, not '\(field)'")
        }
    }

    var values: [String: String] {
        var values: [String: String] = [:]
        for field in fields {
            let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            values[String(parts[0])] = String(parts[1])
        }
        return values
    }
}

extension CommandContext {
    /// The context and an engine over its store, for commands that run an action now.
    static func withEngine(options: CommonOptions, quiet: Bool) async throws -> (CommandContext, Engine) {
        let context: CommandContext
        do { context = try CommandContext(options: options, quiet: quiet) } catch { throw CommandFailure.exit("\(error)") }
        do { return (context, try await context.makeEngine()) } catch { throw CommandFailure.exit("cannot open the store: \(error)") }
    }
}
