import Foundation
import Testing
@testable import HookBus

/// Each mistake the validator knows, with the exact message, line and column it must report.
@Suite struct DefinitionErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let action: String
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "result path in the form the framework says does not parse", action: """
            integration: 'Incident Tools'
            name: 'Lookup'
            type: Enrichment
            script:
              code: 'echo'
            output:
              - path: 'country'
              - path: 'payload.headers["MIME-Version"]'
            """, expected: #"a.yaml:8:11: error: output.path 'payload.headers["MIME-Version"]' is not a valid result path: separate a bracket from the key before it with a dot: use .["key"] or ."key" (key["…"] and key[…] are not valid) (at character 16)"#),
        Case(name: "table_view value with an unknown pipe", action: """
            integration: 'Incident Tools'
            name: 'Lookup'
            type: Enrichment
            script:
              code: 'echo'
            table_view:
              - display_name: 'Tags'
                value: '[].tags | sort()'
            """, expected: "a.yaml:8:12: error: table_view.value '[].tags | sort()' is not a valid result path: unknown function 'sort' (known: unique(), join(SEPARATOR)) (at character 11)"),
        Case(name: "unknown hook with suggestion", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Trigger
            script:
              code: 'echo'
            hook:
              - updateIncident
              - closeIncidnet
            """, expected: "a.yaml:8:5: error: unknown hook 'closeIncidnet' (did you mean 'closeIncident'?)"),
        Case(name: "webHook accepted with a warning", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Trigger
            script:
              code: 'echo'
            hook:
              - webHook
            """, expected: "a.yaml:7:5: warning: hook 'webHook' should be written 'webhook'; accepted as 'webhook'"),
        Case(name: "code at the top level", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Trigger
            code: |
              echo hi
            hook: [newIncident]
            """, expected: "a.yaml:4:1: error: 'code:' is at the top level; did you mean 'script:' → 'code: |'? (indent 'code' under 'script')"),
        Case(name: "empty script", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Trigger
            script:
            code: |
              echo hi
            hook: [newIncident]
            """, expected: "a.yaml:4:1: error: 'script' is empty; did you mean 'script:' → 'code: |'? ('code:' is at the top level; indent it under 'script')"),
        Case(name: "code block ended early by an under-indented line", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Trigger
            script:
             code: |
               import argparse
               parser.add_argument('--text', required=False) #param inherited by
             hook defined in the yaml
               print(1)
            hook:
             - incidentCustomAction
            """, expected: "a.yaml:8:2: error: YAML syntax error: could not find expected ':' (while scanning a simple key at 8:2); the block scalar ('|' or '>') that starts at line 5 ended at line 8 because that line is indented less than its content (3 spaces); indent every line of the block by at least 3 spaces"),
        Case(name: "check_not_null_field on a non-Trigger", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Enrichment
            script:
              code: 'echo'
            check_not_null_field: 'opt_1'
            """, expected: "a.yaml:6:1: error: 'check_not_null_field' is only used by Trigger actions, and this action's type is 'Enrichment'"),
        Case(name: "hook on a non-Trigger", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Notification
            script:
              code: 'echo'
            hook: [newIncident]
            """, expected: "a.yaml:6:1: error: 'hook' is only used by Trigger actions, and this action's type is 'Notification'"),
        Case(name: "Trigger without hook", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Trigger
            script:
              code: 'echo'
            """, expected: "a.yaml:3:1: error: a Trigger action needs a 'hook' list saying when it runs (for example 'updateIncident')"),
        Case(name: "missing name", action: """
            integration: 'Incident Tools'
            type: Trigger
            script:
              code: 'echo'
            hook: [newIncident]
            """, expected: "a.yaml:1:1: error: missing required field 'name' in action definition"),
        Case(name: "unknown action type", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Triger
            script:
              code: 'echo'
            """, expected: "a.yaml:3:7: error: unknown action type 'Triger' (did you mean 'Trigger'?)"),
        Case(name: "unknown field type and validator", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Enrichment
            script:
              code: 'echo'
            fields:
              - id: ip
                label: IP
                type: text
                required: true
                validator: ipadress
            """, expected: "a.yaml:11:16: error: unknown field validator 'ipadress' (did you mean 'ipaddress'?)"),
        Case(name: "field default failing its validator", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Enrichment
            script:
              code: 'echo'
            fields:
              - id: port
                type: number
                required: false
                validator: port
                default: '70000'
            """, expected: "a.yaml:11:14: error: default '70000' of field 'port' fails its own validator 'port'"),
        Case(name: "observable outside its set", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Enrichment
            script:
              code: 'echo'
            fields:
              - id: x
                observables: 'ipadress'
            """, expected: "a.yaml:8:18: error: unknown observable type 'ipadress' (did you mean 'ipaddress'?)"),
        Case(name: "bad schedule interval", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Scheduled
            script:
              code: 'echo'
            scheduled:
              - every: 'ten minutes'
            """, expected: "a.yaml:7:12: error: 'every' must be a number followed by s, m, h or d (for example '10m'), or 'input.<field>', not 'ten minutes'"),
        Case(name: "bool that is not a bool", action: """
            integration: 'Incident Tools'
            name: 'T'
            type: Trigger
            show_modal: maybe
            script:
              code: 'echo'
            hook: [incidentCustomAction]
            """, expected: "a.yaml:4:13: error: 'show_modal' must be true or false, not 'maybe'"),
    ]

    @Test(arguments: cases)
    func reportsTheMistakeAtItsPosition(_ testCase: Case) {
        let folder = TempFolder()
        folder.write("int.yaml", integrationYAML())
        folder.write("a.yaml", testCase.action)
        let result = DefinitionLoader().load([folder.path])
        let messages = result.messages(relativeTo: folder)
        #expect(messages.contains(testCase.expected), "\(messages)")
    }

    @Test func duplicateActionNamesWithinAnIntegration() {
        let folder = TempFolder()
        folder.write("int.yaml", integrationYAML())
        folder.write("a.yaml", triggerYAML("Same", hooks: ["newIncident"]))
        folder.write("b.yaml", triggerYAML("Same", hooks: ["closeIncident"]))
        let result = DefinitionLoader().load([folder.path])
        let messages = result.messages(relativeTo: folder)
        #expect(messages.contains { $0.hasPrefix("b.yaml:1:1: error: duplicate action name 'Same' in integration 'Incident Tools' (first defined at ") && $0.hasSuffix("a.yaml:1:1)") }, "\(messages)")
        #expect(result.catalog.triggers(for: .newIncident).count == 1)
        #expect(result.catalog.triggers(for: .closeIncident).isEmpty)
    }

    @Test func integrationErrors() {
        let folder = TempFolder()
        folder.write("int.yaml", integrationYAML(attributes: """
                port:
                  label: Port
                  type: text
                  required: true
                  validator: port
                  default: '99999'
                level:
                  label: Level
                  type: list
                  required: false
                  default: hgh
                  values:
                    low: Low
                    high: High
                kind:
                  label: Kind
                  type: passwrd
                  required: false
            """).replacingOccurrences(of: "type: python", with: "type: pyhton"))
        let messages = DefinitionLoader().load([folder.path]).messages(relativeTo: folder)
        #expect(messages.contains("int.yaml:6:9: error: unknown script type 'pyhton' (did you mean 'python'?)"), "\(messages)")
        #expect(messages.contains("int.yaml:18:16: error: default '99999' of data attribute 'port' fails its own validator 'port'"), "\(messages)")
        #expect(messages.contains("int.yaml:23:16: error: default 'hgh' of data attribute 'level' is not one of its values (did you mean 'high'?)"), "\(messages)")
        #expect(messages.contains("int.yaml:29:13: error: unknown data attribute type 'passwrd' (did you mean 'password'?)"), "\(messages)")
    }

    @Test func hostileFilesAreRefusedQuickly() {
        let folder = TempFolder()
        folder.write("int.yaml", integrationYAML())
        // Billion laughs: nine levels of ten aliases.
        var bomb = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        folder.write("bomb.yaml", bomb)
        folder.write("deep.yaml", "x: " + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "\n")
        folder.write("deepblock.yaml", (0..<300).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " v\n")
        folder.write("binary.yaml", bytes: [0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01, 0x02])
        folder.write("latin1.yml", bytes: Array("name: caf".utf8) + [0xE9, 0x0A])
        let huge = String(repeating: "# padding\n", count: 900_000)
        folder.write("huge.yaml", huge)
        let started = ContinuousClock.now
        let messages = DefinitionLoader().load([folder.path]).messages(relativeTo: folder)
        let elapsed = ContinuousClock.now - started
        // Level 4's eighth alias of a3 (11,111 nodes each) takes the nodes aliases add past 100,000.
        #expect(messages.contains("bomb.yaml:5:45: error: YAML alias '*a3' takes what aliases expand to past the limit of 100000 nodes or 8388608 bytes of text; refusing to expand it"), "\(messages)")
        #expect(messages.contains("deep.yaml:1:66: error: nesting is deeper than 64 levels; refusing to parse"), "\(messages)")
        #expect(messages.contains { $0.hasPrefix("deepblock.yaml:64:") && $0.hasSuffix("nesting is deeper than 64 levels; refusing to parse") }, "\(messages)")
        #expect(messages.contains("binary.yaml:1:5: error: file is binary (it contains a NUL byte), not YAML"), "\(messages)")
        #expect(messages.contains("latin1.yml:1:10: error: file is not valid UTF-8 text (byte 9)"), "\(messages)")
        #expect(messages.contains("huge.yaml: error: file is larger than the 8388608-byte limit for YAML files"))
        // Not a timing assertion on speed, only a guard against a hang: the whole load is bounded.
        #expect(elapsed < .seconds(30))
    }

    /// An anchor for a repeated value is ordinary YAML and loads; only an expansion past the
    /// budget is refused, wherever the alias hides (a tab after the colon is still a value).
    @Test func aliasesWithinTheBudgetLoad() throws {
        let folder = TempFolder()
        folder.write("int.yaml", integrationYAML(attributes: """
                mode:
                  label: Mode
                  type: list
                  required: false
                  values: &modes
                    domain: Domain
                    ip: IP Address
                fallback_mode:
                  label: Fallback mode
                  type: list
                  required: false
                  values: *modes
        """))
        let result = DefinitionLoader().load([folder.path])
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let definition = try #require(result.catalog.integration(named: "Incident Tools")?.definition)
        let expected = [ListValue(key: "domain", label: "Domain"), ListValue(key: "ip", label: "IP Address")]
        #expect(definition.dataAttributes.map(\.values) == [expected, expected])
    }

    @Test func aliasExpansionPastTheBudgetIsRefusedInAnyDisguise() {
        let folder = TempFolder()
        // Tabs after the colons, and a wide first level: the budget counts libyaml's events, not
        // what a lexical scan guesses.
        var bomb = "a0: &a0 [" + Array(repeating: "lol", count: 1000).joined(separator: ",") + "]\n"
        bomb += "a1:\t&a1 [" + Array(repeating: "*a0", count: 200).joined(separator: ",") + "]\n"
        folder.write("tabs.yaml", bomb)
        folder.write("key.yaml", "base: &k [x]\nmap: {*k : 1}\n")
        // Forty levels in an anchor, used forty levels deep: each within the bound, not together.
        let deepAnchor = String(repeating: "[", count: 40) + "x" + String(repeating: "]", count: 40)
        folder.write("nest.yaml", "a: &d " + deepAnchor + "\nb: " + String(repeating: "[", count: 40) + "*d" + String(repeating: "]", count: 40) + "\n")
        folder.write("bytes.yaml", "a: &a '" + String(repeating: "x", count: 100_000) + "'\nb: [" + Array(repeating: "*a", count: 100).joined(separator: ", ") + "]\n")
        let started = ContinuousClock.now
        let messages = DefinitionLoader().load([folder.path]).messages(relativeTo: folder)
        let elapsed = ContinuousClock.now - started
        // 1,001 nodes each: the hundredth alias passes 100,000 nodes.
        #expect(messages.contains { $0.hasPrefix("tabs.yaml:2:") && $0.contains("YAML alias '*a0' takes what aliases expand to past the limit") }, "\(messages)")
        #expect(messages.contains("key.yaml:2:7: error: YAML alias '*k' is not allowed in a mapping key"), "\(messages)")
        #expect(messages.contains("nest.yaml:2:44: error: YAML alias '*d' nests its node deeper than 64 levels where it is used; refusing to expand it"), "\(messages)")
        #expect(messages.contains { $0.hasPrefix("bytes.yaml:2:") && $0.contains("YAML alias '*a' takes what aliases expand to past the limit") }, "\(messages)")
        // A guard against a hang, not a timing of the machine.
        #expect(elapsed < .seconds(30))
    }

    @Test func realWorldShapes() throws {
        let folder = TempFolder()
        folder.write("int.yaml", integrationYAML())
        folder.write("spaces in name.yaml", """
        integration: 'Incident Tools'
        name: 'Blank lines'
        type: Trigger
        script:
          code: |
            first = 1


            second = 2
        output:
          - path : 'a'
          - path  :  'b'
        hook: updateIncident
        """)
        let result = DefinitionLoader().load([folder.path])
        #expect(result.diagnostics.isEmpty, "\(result.messages(relativeTo: folder))")
        let action = try #require(result.catalog.triggers(for: .updateIncident).first?.action)
        #expect(action.code == "first = 1\n\n\nsecond = 2\n")
        #expect(action.output.map(\.path) == ["a", "b"])
        #expect(action.hooks == [.updateIncident])
    }
}
