import ArgumentParser
import Foundation
import HookBus
import HookBusPostgres

/// `hookbus store copy`: moves an SQLite store into PostgreSQL (`StoreCopy`).
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Work on the store itself: copy an SQLite store into PostgreSQL.",
        subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy",
            abstract: "Copy the SQLite store of a data folder into a PostgreSQL database, to run HookBus nodes on it.",
            discussion: """
                Stop HookBus first: the server on the SQLite store (the copy refuses while any process has the file open), \
                and start no node on the database until the copy has finished.

                The database must be new (its tables are made when missing), or one this command has copied this store \
                into before: the copy refuses a database that HookBus nodes have used, or whose events are not the first \
                events of this store in its order.

                Copied as a restart would find them: events keep their ids, records and states, numbered in the store's \
                order, with their place among the events about the same incident or task (so dispatch keeps arrival order \
                per subject); an event still running becomes pending with its attempt raised, a run still running becomes \
                interrupted, a claimed retry waits again. Runs keep their ids and their output byte for byte. Daemon \
                cursors and schedules the database already has are kept.

                Pages of about 1000 rows, one transaction each, in order: run it again after it was stopped or killed and \
                it finishes the copy; run it again after it finished and it changes nothing. Do not use the SQLite store \
                between two runs: the copy refuses a store whose copied events have changed since (copy into a new \
                database then).

                A URL with a password given with --to is visible to other users of the machine (ps): prefer \
                HOOKBUS_POSTGRES_URL in the environment.
                """)

        @Option(name: .long, help: ArgumentHelp("The data folder whose hookbus.sqlite is copied.", valueName: "data-dir"))
        var from: String

        @Option(name: .long, help: ArgumentHelp(
            "The database: postgres://user:password@host:5432/database (default: $HOOKBUS_POSTGRES_URL; prefer it: a password on the command line shows in ps).",
            valueName: "url"))
        var to: String?

        func run() async throws {
            guard let url = to ?? ProcessInfo.processInfo.environment["HOOKBUS_POSTGRES_URL"], !url.isEmpty else {
                throw CommandFailure.exit("no database to copy into: give --to URL or set HOOKBUS_POSTGRES_URL")
            }
            do {
                let source = try StoreCopy.openSource(dataDirectory: from)
                let summary = try await StoreCopy.run(from: source, to: url) { line in
                    // Written at once, not buffered: a copy that is killed has shown how far it got.
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
                FileHandle.standardOutput.write(Data("\(summary)\n".utf8))
            } catch {
                throw CommandFailure.exit("store copy: " + "\(error)".split(whereSeparator: \.isNewline).joined(separator: " "))
            }
        }
    }
}
