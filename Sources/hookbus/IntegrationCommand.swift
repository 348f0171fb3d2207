import ArgumentParser
import Foundation
import HookBus

/// `hookbus integration test NAME`: the integration's connection test, as a SOC engineer runs it
/// after filling in an instance's settings — one clear line on success, or the failure with its
/// stderr and where to fix it.
struct IntegrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integration",
        abstract: "Work with an integration's instance.",
        subcommands: [TestConnection.self])

    struct TestConnection: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test",
            abstract: "Run the integration's test_connection_code with its instance settings; exit 0 when it connects.")

        @OptionGroup var options: CommonOptions

        @Argument(help: "The integration's name, as in its definition's 'name'.")
        var name: String

        @Flag(name: .long, help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            let (_, engine) = try await CommandContext.withEngine(options: options, quiet: json)
            let run: Engine.CompletedRun
            do {
                // Recorded like one over HTTP, with who asked (`cli:USER`).
                run = try await engine.testConnection(integration: name, requestedBy: CommandContext.actor)
            } catch {
                throw CommandFailure.exit(error.message)
            }
            let result = run.result
            if json {
                print(ConnectionTestReport.json(integration: name, run: run).jsonText)
            } else if result.outcome == .succeeded {
                print("✓ \(name): connection test passed (\(String(format: "%.2f", result.duration)) s)")
                if !result.stdout.isEmpty { print(result.stdout, terminator: result.stdout.hasSuffix("\n") ? "" : "\n") }
            } else {
                var lines = ["✗ \(name): connection test \(ConnectionTestReport.failure(result))"]
                if !result.stderr.isEmpty { lines.append(result.stderr.hasSuffix("\n") ? String(result.stderr.dropLast()) : result.stderr) }
                lines.append("  check the instance settings under integrations: '\(name)': settings: in the configuration, then run this again")
                FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            }
            if result.outcome != .succeeded { throw ExitCode(1) }
        }
    }
}
