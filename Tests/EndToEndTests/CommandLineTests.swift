import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HookBus
import Testing

@Suite struct CommandLineTests {
    @Test func validateTheShippedHooksAndABrokenFolder() throws {
        let good = try hookbus(["validate"], in: packageRoot.path)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("3 integrations, 7 actions (6 triggers on 10 hooks): 0 errors"))
        #expect(good.stdout.contains("interpreter python: "), "validate shows the resolved interpreters")
        #expect(good.stdout.contains("sandbox: Landlock ABI "), "validate shows how runs are confined: \(good.stdout)")
        let scratch = Scratch()
        scratch.write("bad/a.yaml", "integration: 'X'\nname: 'A'\ntype: Trigger\nscript:\n  code: 'echo'\nhook:\n  - closeIncidnet\n")
        let bad = try hookbus(["validate", "bad"], in: scratch.path)
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("bad/a.yaml:7:5: error: unknown hook 'closeIncidnet' (did you mean 'closeIncident'?)"))
        let json = try hookbus(["validate", "--json", "bad"], in: scratch.path)
        #expect(json.status == 1)
        #expect((try? JSONParser.parse(json.stdout))?["errors"] != nil)
    }

    /// A sandbox that cannot be set up as configured is an error of `validate` and stops `fire`
    /// before anything runs; `none` turns it off with no warning.
    @Test func aSandboxThatCannotBeSetUpIsAnError() throws {
        let scratch = Scratch()
        let hooks = packageRoot.appendingPathComponent("Hooks").path
        scratch.write("hookbus.yaml", "runner: {sandbox: required, sandbox_user: no-such-user-here}\n")
        let validated = try hookbus(["validate", "--hooks", hooks], in: scratch.path)
        if geteuid() == 0 {
            #expect(validated.status == 1 && validated.stdout.contains("error: runner.sandbox_user 'no-such-user-here' is not a user on this machine"), "\(validated.stdout)")
            let fired = try hookbus(["fire", "closeIncident", "--params", "-", "--hooks", hooks], in: scratch.path, stdin: #"{"incidentsBeforeUpdate": {"id": 1}, "incidentsAfterUpdate": {"id": 1}}"#)
            #expect(fired.status == 1 && fired.stderr.contains("runner.sandbox_user 'no-such-user-here' is not a user on this machine"), "\(fired.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/hookbus.sqlite"), "nothing stored, nothing run")
        }
        scratch.write("hookbus.yaml", "runner: {sandbox: none}\n")
        let off = try hookbus(["validate", "--hooks", hooks], in: scratch.path)
        #expect(off.status == 0 && off.stdout.contains("sandbox: none (runner.sandbox is none)"), "\(off.stdout)")
    }

    @Test func fireDryRunAndForReal() throws {
        let scratch = Scratch()
        let params = #"{"incidentsBeforeUpdate": {"id": 42, "status": "open"}, "incidentsAfterUpdate": {"id": 42, "status": "closed"}}"#
        let dry = try hookbus(["fire", "closeIncident", "--params", "-", "--dry-run", "--json", "--hooks", packageRoot.appendingPathComponent("Hooks").path], in: scratch.path, stdin: params)
        #expect(dry.status == 0, "\(dry.stderr)")
        let report = try JSONParser.parse(dry.stdout)
        #expect(report["decisions"]?.arrayValue.count == 2)
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data"), "a dry run stores nothing")

        let real = try hookbus(["fire", "closeIncident", "--params", "-", "--hooks", packageRoot.appendingPathComponent("Hooks").path], in: scratch.path, stdin: params)
        #expect(real.status == 0, "\(real.stdout)\(real.stderr)")
        #expect(real.stdout.contains("succeeded"))
        let audit = try hookbus(["audit", "--json", "--hooks", packageRoot.appendingPathComponent("Hooks").path], in: scratch.path)
        #expect(audit.stdout.split(separator: "\n").count == 2)

        let failing = try hookbus(["fire", "closeIncidnet", "--hooks", packageRoot.appendingPathComponent("Hooks").path], in: scratch.path)
        #expect(failing.status == 1)
        #expect(failing.stderr == "hookbus: unknown hook 'closeIncidnet' (did you mean 'closeIncident'?)\n")
    }
}
