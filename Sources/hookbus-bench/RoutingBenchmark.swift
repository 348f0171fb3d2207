import ArgumentParser
import Foundation
import HookBus

/// Routing + invocation building for a realistic `updateIncident` event (two 4 KiB incident
/// objects) against a catalog of 200 triggers spread over the hooks (target: 50,000 events/s on
/// one core, release mode).
struct RoutingBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routing")

    @Option(help: "Triggers in the catalog.") var triggers = 200
    @Option(help: "Events to route.") var events = 200_000

    func run() throws {
        let folder = try BenchmarkFixtures.makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(BenchmarkFixtures.integration.utf8).write(to: folder.appendingPathComponent("integration.yaml"))
        let hooks = Hook.allCases
        for index in 0..<triggers {
            let hook = hooks[index % hooks.count]
            let notNull = index % 2 == 0 ? "check_not_null_field: 'opt_\(index % 12)'\n" : ""
            let yaml = "integration: 'Bench Tools'\nname: 'Trigger \(index)'\ntype: Trigger\nscript:\n  code: |\n    print('x')\n\(notNull)hook:\n  - \(hook.rawValue)\n"
            try Data(yaml.utf8).write(to: folder.appendingPathComponent("t\(index).yaml"))
        }
        let catalog = DefinitionLoader().load([folder.path]).catalog
        var configuration = HookBusConfiguration()
        configuration.incidentSystemURL = "https://soar.example.com"
        var instance = HookBusConfiguration.Instance()
        instance.values["api_url"] = .plain("https://soar.example.com")
        instance.values["api_key"] = .secret(Secret("k", origin: "bench"))
        configuration.instances["Bench Tools"] = instance
        let router = Router(catalog: catalog, configuration: configuration)

        let body = "{\"incidentsBeforeUpdate\": \(Self.incident(status: "open")), \"incidentsAfterUpdate\": \(Self.incident(status: "closed"))}"
        let event = try Event.fromHookBody(hook: "updateIncident", body: Array(body.utf8), source: EventSource(kind: .hook))
        let matching = catalog.triggers(for: .updateIncident).count
        var invocations = 0
        let started = ContinuousClock.now
        for _ in 0..<events {
            for decision in try router.route(event) {
                if case let .run(invocation) = decision { invocations += invocation.arguments.count > 0 ? 1 : 0 }
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        print("routing: \(triggers) triggers in the catalog, \(matching) on updateIncident, event of \(body.utf8.count) bytes")
        print(String(format: "routing: %.0f events/s (%.0f invocations/s) on one core (target >= 50,000 events/s)", Double(events) / seconds, Double(invocations) / seconds))
    }

    /// An incident object of about 4 KiB, with the fields the framework lists.
    static func incident(status: String) -> String {
        var fields = [
            "\"id\": 4242", "\"status\": \"\(status)\"", "\"additional_info\": \"" + String(repeating: "observed lateral movement; ", count: 40) + "\"",
            "\"investigation_number\": \"INV-2026-0042\"", "\"starttime\": \"2026-11-22T10:00:00Z\"", "\"type\": [\"Malware\"]",
            "\"incident_kind\": \"security\"", "\"incident_category\": [\"Intrusion\"]", "\"owner\": \"ann\"",
        ]
        for index in 1...60 { fields.append("\"opt_\(index)\": \"value \(index) " + String(repeating: "z", count: 20) + "\"") }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}
