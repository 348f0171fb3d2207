import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The process entry point: signals first, then the command line.
@main
enum Entry {
    static func main() async {
        // A parent may start us with signals blocked (a thread pool's worker spawning us passes
        // its mask on); SIGTERM, SIGINT and SIGHUP must reach the server's handlers.
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        // ArgumentParser's `main()` exits on an error without returning: parsed and run here
        // instead, so that the stores a command opened are closed on every path out.
        do {
            var command = try HookBusCommand.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            await StoreOpener.closeAll()
            HookBusCommand.exit(withError: error)
        }
        await StoreOpener.closeAll()
    }
}

/// `hookbus`: the command-line entry point. Each subcommand parses its options and calls the core
/// or the server; none of them holds logic of its own.
struct HookBusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hookbus",
        abstract: "A self-hosted trigger and hook event bus for Cloud SOAR style trigger definitions.",
        version: "0.1.0",
        subcommands: [ServeCommand.self, ValidateCommand.self, FireCommand.self, ReplayCommand.self, AuditCommand.self, IntegrationCommand.self, ActionCommand.self, ScheduleCommand.self, StoreCommand.self]
    )
}

/// Options every subcommand shares: where the configuration and the definitions are.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: ./hookbus.yaml when it exists).")
    var config: String?

    @Option(name: .long, help: "Folder of integration and action definitions (default: ./Hooks). Repeat for several.")
    var hooks: [String] = []

    /// The definition folders to load: those given, or the shipped `Hooks/`.
    var hookFolders: [String] { hooks.isEmpty ? ["Hooks"] : hooks }
}
