import ArgumentParser
import Foundation
import HookBus

/// Benchmarks that print their figures. Run in release mode:
/// `swift run -c release hookbus-bench definitions` (or `routing`, or `all`).
@main
struct Benchmarks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hookbus-bench",
        abstract: "Print HookBus performance figures.",
        subcommands: [DefinitionsBenchmark.self, RoutingBenchmark.self, RunnerBenchmark.self, RetryCostBenchmark.self, HostileInputBenchmark.self, SandboxBenchmark.self, ConsoleBenchmark.self])
}

/// Loading and validating 1,000 generated action files (target: under 1 s in release).
struct DefinitionsBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "definitions")

    @Option(help: "Number of action files to generate.") var actions = 1000
    @Option(help: "Repetitions; the best and median are printed.") var repeats = 5

    func run() throws {
        let folder = try BenchmarkFixtures.makeFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("actions"), withIntermediateDirectories: true)
        try Data(BenchmarkFixtures.integration.utf8).write(to: folder.appendingPathComponent("integration.yaml"))
        for index in 0..<actions {
            try Data(BenchmarkFixtures.action(index).utf8).write(to: folder.appendingPathComponent("actions/action \(index).yaml"))
        }
        var times: [Double] = []
        var summary = ""
        for _ in 0..<repeats {
            let started = ContinuousClock.now
            let result = DefinitionLoader().load([folder.path])
            times.append((ContinuousClock.now - started).seconds)
            summary = result.summary
        }
        times.sort()
        print("definitions: \(actions) action files + 1 integration, \(summary)")
        print(String(format: "definitions: load+validate best %.3f s, median %.3f s (target < 1 s)", times[0], times[times.count / 2]))
    }
}

enum BenchmarkFixtures {
    /// A new empty folder under the temporary directory; the caller removes it.
    static func makeFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    static let integration = """
    name: 'Bench Tools'
    official_name: 'Bench Tools'
    version: '1.0'
    icon: 'aWNvbg=='
    script:
      type: python
      test_connection_code: 'print("ok")'
    docker_repo_tag: 'bench:1'
    configuration:
      testable_connection: true
      require_proxy_config: true
      data_attributes:
        api_url:
          label: 'API URL'
          type: text
          required: true
          validator: url
          default: 'https://soar.example.com'
        api_key:
          label: 'API key'
          type: password
          required: true
    """

    static let hooks = ["updateIncident", "closeIncident", "newIncident", "closeTask", "webhook", "addObservableIp", "incidentCustomAction"]

    /// A realistic Trigger of about 40 lines of Python with fields and outputs.
    static func action(_ index: Int) -> String {
        """
        integration: 'Bench Tools'
        name: 'Action \(index)'
        type: Trigger
        script:
          code: |
            import argparse, json, os, sys
            parser = argparse.ArgumentParser()
            parser.add_argument('--incidentsAfterUpdate', required=False)
            parser.add_argument('--token', required=True)
            parser.add_argument('--incmanurl', required=True)
            args, unknown = parser.parse_known_args()
            detail = json.loads(args.incidentsAfterUpdate or '{}')
            if detail.get('status') == 'closed':
                print(json.dumps({'id': detail.get('id'), 'index': \(index)}))

            for key in sorted(detail):
                sys.stderr.write('%s=%s\\n' % (key, detail[key]))
            sys.exit(0)
        fields:
          - id: threshold
            label: 'Threshold'
            type: number
            required: false
            validator: integer
            default: '\(index)'
        output:
          - path: 'id'
          - path: 'index'
        check_not_null_field: 'opt_\(index % 12)'
        hook:
          - \(hooks[index % hooks.count])
          - \(hooks[(index + 3) % hooks.count])
        """
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
