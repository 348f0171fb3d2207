import ArgumentParser
import Foundation
import HookBus

/// `hookbus schedule start|list`: Scheduled actions. Starting one writes it to the store; the
/// server sharing that store runs it from its next tick (within a second), and after restarts.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Start Scheduled actions and see how they are going (the server runs them).",
        subcommands: [Start.self, List.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a Scheduled action with field values.")

        @OptionGroup var options: CommonOptions
        @Argument(help: "The integration's name.") var integration: String
        @Argument(help: "The Scheduled action's name.") var action: String
        @OptionGroup var fields: FieldOptions
        @Flag(name: .long, help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let (_, engine) = try await CommandContext.withEngine(options: options, quiet: json)
            let schedule: StoredSchedule
            do {
                schedule = try await engine.startSchedule(integration: integration, action: action, fields: fields.values, startedBy: CommandContext.actor)
            } catch {
                throw CommandFailure.exit(error.message)
            }
            print(json ? schedule.jsonValue.jsonText : "started \(schedule.id): \(integration) / \(action) (a running server picks it up)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Schedules, oldest first, with their state.")

        @OptionGroup var options: CommonOptions
        @Flag(name: .long, help: "JSON Lines instead of text.") var json = false

        func run() async throws {
            let context: CommandContext
            do { context = try CommandContext(options: options, quiet: json, secrets: .none) } catch { throw CommandFailure.exit("\(error)") }
            let store: any EventStore
            do { store = try await StoreOpener.open(context.configuration) } catch { throw CommandFailure.exit("cannot open the store: \(error)") }
            for schedule in try await store.schedules(activeOnly: false) {
                if json {
                    print(schedule.jsonValue.jsonText)
                } else {
                    print("\(schedule.id)  \(schedule.state.rawValue)\(schedule.endedReason.map { " (\($0))" } ?? "")  runs \(schedule.runs)  \(schedule.integration) / \(schedule.action)")
                }
            }
        }
    }
}
