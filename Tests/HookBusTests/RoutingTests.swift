import Foundation
import Testing
@testable import HookBus

/// A catalog with one python integration (a password attribute, a proxy) and triggers on every hook.
struct RoutingFixture {
    let folder = TempFolder()
    let catalog: Catalog
    let configuration: HookBusConfiguration

    init(configYAML: String? = nil, environment: [String: String] = ["TOOLS_KEY": "s3cr3t-key-value"], extraTriggers: [(String, String)] = []) throws {
        folder.write("int.yaml", integrationYAML(attributes: """
                api_url:
                  label: 'API URL'
                  type: text
                  required: true
                  validator: url
                  default: 'https://tools.example.com'
                api_key:
                  label: 'API key'
                  type: password
                  required: true
            """).replacingOccurrences(of: "require_proxy_config: false", with: "require_proxy_config: true"))
        for hook in Hook.allCases {
            folder.write("all/\(hook.rawValue).yaml", triggerYAML("On \(hook.rawValue)", hooks: [hook.rawValue]))
        }
        for (name, yaml) in extraTriggers { folder.write("extra/\(name).yaml", yaml) }
        let loaded = DefinitionLoader().load([folder.path])
        guard loaded.errorCount == 0 else { throw EventError(.malformed, "\(loaded.diagnostics)") }
        catalog = loaded.catalog
        let config = folder.write("hookbus.yaml", configYAML ?? """
            incident_system:
              url: https://soar.example.com
              token: {env: TOOLS_KEY}
            proxy_url: http://proxy.example.com:3128
            integrations:
              'Incident Tools':
                settings:
                  api_key: {env: TOOLS_KEY}
            """)
        let result = ConfigurationLoader(environment: environment).load(path: config, catalog: catalog)
        guard let configuration = result.configuration else { throw EventError(.malformed, "\(result.diagnostics)") }
        self.configuration = configuration
    }

    var router: Router { Router(catalog: catalog, configuration: configuration) }

    func event(_ hook: Hook, _ body: String) throws -> Event {
        try Event.fromHookBody(hook: hook.rawValue, body: Array(body.utf8), source: EventSource(kind: .hook), id: "evt_test")
    }
}

@Suite struct RoutingTests {
    @Test(arguments: Hook.allCases)
    func everyHookProducesTheDocumentedInvocation(_ hook: Hook) throws {
        let fixture = try RoutingFixture()
        let event = try fixture.event(hook, EventTests.validBody(for: hook).replacingOccurrences(of: "\"Button\"", with: "\"On \(hook.rawValue)\""))
        let decisions = try fixture.router.route(event)
        #expect(decisions.count == 1)
        guard case let .run(invocation) = try #require(decisions.first) else { Issue.record("not run: \(decisions)"); return }
        #expect(invocation.trigger == "On \(hook.rawValue)")
        #expect(invocation.scriptType == .python)
        var expected: [String] = []
        for spec in hook.params where event.params[spec.name] != nil {
            expected.append("--\(spec.name)=\(event.params[spec.name]!.raw)")
        }
        if hook.isCustomAction { expected.append("--text=") }
        expected += ["--token=<token for this run>", "--incmanurl=https://soar.example.com"]
        #expect(invocation.maskedArguments == expected)
        var environment: [String: String] = [
            "api_url": "https://tools.example.com", "api_key": Secret.mask, "proxy_url": "http://proxy.example.com:3128",
            "token": "<token for this run>", "incmanurl": "https://soar.example.com",
            "HOOKBUS_EVENT_ID": "evt_test", "HOOKBUS_HOOK": hook.rawValue, "HOOKBUS_TRIGGER": "On \(hook.rawValue)",
            "PATH": Router.safePath, "HOME": "<run folder>", "TMPDIR": "<run folder>", "SHELL": "/bin/sh",
        ]
        for (name, param) in event.params { environment[name] = param.raw }
        if hook.isCustomAction { environment["text"] = "" }
        if hook == .webhook {
            // What the request said beside its body (a hook body's payload is JSON).
            environment["HOOKBUS_CONTENT_TYPE"] = "application/json"
            environment["HOOKBUS_PAYLOAD_ENCODING"] = "text"
        }
        #expect(invocation.maskedEnvironment == environment)
        let stdin = try JSONParser.parse(invocation.stdin)
        #expect(Set(stdin.objectValue!.keys) == Set(event.params.keys))
    }

    struct NotNullCase: Sendable, CustomTestStringConvertible {
        let incident: String
        let runs: Bool
        let reason: String?
        var testDescription: String { incident }
    }

    static let notNullCases: [NotNullCase] = [
        .init(incident: #"{"id": 1, "opt_15": "x"}"#, runs: true, reason: nil),
        .init(incident: #"{"id": 1, "opt_15": 0}"#, runs: true, reason: nil),
        .init(incident: #"{"id": 1, "opt_15": false}"#, runs: true, reason: nil),
        .init(incident: #"{"id": 1, "opt_15": ["a"]}"#, runs: true, reason: nil),
        .init(incident: #"{"id": 1, "opt_15": null}"#, runs: false, reason: "check_not_null_field 'opt_15' is null"),
        .init(incident: #"{"id": 1}"#, runs: false, reason: "check_not_null_field 'opt_15' is missing"),
        .init(incident: #"{"id": 1, "opt_15": ""}"#, runs: false, reason: "check_not_null_field 'opt_15' is empty"),
        .init(incident: #"{"id": 1, "opt_15": "   "}"#, runs: false, reason: "check_not_null_field 'opt_15' is empty"),
        .init(incident: #"{"id": 1, "opt_15": []}"#, runs: false, reason: "check_not_null_field 'opt_15' is empty"),
        .init(incident: #"{"id": 1, "opt_15": {}}"#, runs: false, reason: "check_not_null_field 'opt_15' is empty"),
    ]

    @Test(arguments: notNullCases)
    func notNullDecisionsOnTheStateAfterTheUpdate(_ testCase: NotNullCase) throws {
        let fixture = try RoutingFixture(extraTriggers: [("nn", triggerYAML("Needs opt_15", hooks: ["updateIncident"], extra: "check_not_null_field: 'opt_15'"))])
        // Before the update the field is always populated: only the state after counts.
        let event = try fixture.event(.updateIncident, #"{"incidentsBeforeUpdate": {"id": 1, "opt_15": "was"}, "incidentsAfterUpdate": \#(testCase.incident)}"#)
        let decision = try #require(try fixture.router.route(event).first { $0.triggerName == "Needs opt_15" })
        switch decision {
        case .run: #expect(testCase.runs)
        case let .skip(_, _, reason):
            #expect(!testCase.runs)
            #expect(reason.description == testCase.reason)
        }
    }

    @Test func aLocaleIsPassedOnlyWhenConfigured() throws {
        let event = try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x")
        let base = "integrations: {'Incident Tools': {settings: {api_key: {env: TOOLS_KEY}}}}\n"
        for (config, expected) in [(base, nil), (base + "runner: {locale: C.UTF-8}", "C.UTF-8")] as [(String, String?)] {
            let fixture = try RoutingFixture(configYAML: config)
            guard case let .run(invocation)? = try fixture.router.route(event).first else { Issue.record("not run"); continue }
            #expect(invocation.maskedEnvironment["LANG"] == expected, "\(config)")
            let connection = try fixture.router.connectionTest(integration: "Incident Tools")
            #expect(connection.maskedEnvironment["LANG"] == expected, "connection test, \(config)")
        }
    }

    @Test func dottedNotNullPaths() {
        let object: [String: JSONValue] = ["owner": .object(["email": .string("a@b.c"), "phone": .null]), "a.b": .string("literal")]
        #expect(NotNullCheck.check("owner.email", in: object) == .populated)
        #expect(NotNullCheck.check("owner.phone", in: object) == .null)
        #expect(NotNullCheck.check("owner.fax", in: object) == .missing)
        #expect(NotNullCheck.check("a.b", in: object) == .populated)
    }

    @Test func customActionsRunOnlyTheNamedButton() throws {
        let fixture = try RoutingFixture(extraTriggers: [
            ("b1", triggerYAML("Escalate", hooks: ["incidentCustomAction"], extra: "check_not_null_field: 'opt_92'")),
            ("b2", triggerYAML("Silent button", hooks: ["incidentCustomAction"], extra: "show_modal: false")),
        ])
        let event = try fixture.event(.incidentCustomAction, #"{"incidentsDetail": {"id": 9, "opt_92": "yes"}, "trigger": "Escalate", "text": "-x --rm"}"#)
        let decisions = try fixture.router.route(event)
        let ran = decisions.compactMap { if case let .run(invocation) = $0 { invocation } else { nil } }
        #expect(ran.map(\.trigger) == ["Escalate"])
        #expect(ran[0].maskedArguments.contains("--text=-x --rm"))
        let skipped = decisions.compactMap { if case let .skip(_, trigger, reason) = $0 { "\(trigger): \(reason)" } else { nil } }
        #expect(skipped.sorted() == ["On incidentCustomAction: not the named trigger ('Escalate')", "Silent button: not the named trigger ('Escalate')"])

        // show_modal: false — no text is passed.
        let silent = try fixture.event(.incidentCustomAction, #"{"incidentsDetail": {"id": 9}, "trigger": "Incident Tools/Silent button", "text": "ignored"}"#)
        let invocation = try #require(try fixture.router.route(silent).compactMap { if case let .run(i) = $0 { i } else { nil } }.first)
        #expect(!invocation.maskedArguments.contains { $0.hasPrefix("--text") })

        // An unknown button is an error with a suggestion.
        let unknown = try fixture.event(.incidentCustomAction, #"{"incidentsDetail": {"id": 9}, "trigger": "Escalte"}"#)
        #expect(throws: EventError(.unknownTrigger, "no trigger named 'Escalte' listens to hook 'incidentCustomAction' (did you mean 'Escalate'?)")) {
            try fixture.router.route(unknown)
        }
    }

    @Test func availableButtonsFollowCheckNotNullField() throws {
        let fixture = try RoutingFixture(extraTriggers: [
            ("b1", triggerYAML("Escalate", hooks: ["incidentCustomAction"], extra: "check_not_null_field: 'opt_92'")),
            ("t1", triggerYAML("Reopen task", hooks: ["taskCustomAction"], extra: "check_not_null_field: 'assigned_to'")),
        ])
        let router = fixture.router
        #expect(router.availableButtons(for: .incidentCustomAction, detail: ["id": .number("1")]).map(\.name) == ["On incidentCustomAction"])
        #expect(router.availableButtons(for: .incidentCustomAction, detail: ["opt_92": .string("x")]).map(\.name) == ["Escalate", "On incidentCustomAction"])
        #expect(router.availableButtons(for: .taskCustomAction, detail: ["assigned_to": .string("")]).map(\.name) == ["On taskCustomAction"])
    }

    @Test func webhookFanOutAndEndpointRestriction() throws {
        let fixture = try RoutingFixture(configYAML: """
            webhooks:
              github:
                auth: {scheme: none}
                triggers: ['Second hook']
              open:
                auth: {scheme: none}
            integrations:
              'Incident Tools':
                settings:
                  api_key: {env: TOOLS_KEY}
            """, extraTriggers: [("w2", triggerYAML("Second hook", hooks: ["webhook"]))])
        let open = try Event.fromWebhook(body: Array("{}".utf8), endpoint: "open")
        #expect(try fixture.router.route(open).map { if case .run = $0 { "run" } else { "skip" } } == ["run", "run"])
        let github = try Event.fromWebhook(body: Array("{}".utf8), endpoint: "github")
        let decisions = try fixture.router.route(github)
        #expect(decisions.count == 2)
        #expect(decisions.contains { if case let .run(i) = $0 { i.trigger == "Second hook" } else { false } })
        #expect(decisions.contains { if case let .skip(_, "On webhook", reason) = $0 { reason == .endpointRestricted(endpoint: "github") } else { false } })
    }

    @Test func aOneMebibytePayloadReachesTheScriptThroughStdinAndAFile() throws {
        let fixture = try RoutingFixture()
        let big = "{\"blob\": \"" + String(repeating: "x", count: 1 << 20) + "\"}"
        let event = try Event.fromWebhook(body: Array(big.utf8), endpoint: "any")
        guard case let .run(invocation) = try #require(try fixture.router.route(event).first) else { Issue.record("not run"); return }
        #expect(invocation.oversizedParams == ["payload"])
        #expect(invocation.files["params/payload.json"] == big)
        #expect(!invocation.maskedArguments.contains { $0.hasPrefix("--payload") })
        #expect(invocation.maskedEnvironment["HOOKBUS_FILE_payload"] == "<run folder>/params/payload.json")
        #expect(invocation.maskedEnvironment["payload"] == nil)
        #expect(invocation.stdin == "{\"payload\":" + big + "}")
    }

    @Test func secretsAreMaskedInEveryPrintout() throws {
        let fixture = try RoutingFixture()
        let event = try fixture.event(.newIncident, #"{"incidentsDetail": {"id": 1}}"#)
        guard case let .run(invocation) = try #require(try fixture.router.route(event).first) else { Issue.record("not run"); return }
        let printed = "\(invocation) \(invocation.maskedArguments) \(invocation.maskedEnvironment) \(AuditInvocation.json(invocation))"
        #expect(!printed.contains("s3cr3t-key-value"))
        #expect(invocation.maskedEnvironment["api_key"] == Secret.mask)
    }

    @Test func sameIncidentSharesAnOrderingKeyAndWebhooksHaveNone() throws {
        let fixture = try RoutingFixture()
        #expect(try fixture.event(.updateIncident, #"{"incidentsBeforeUpdate": {"id": 3}, "incidentsAfterUpdate": {"id": 3}}"#).orderingKey == "incident:3")
        #expect(try fixture.event(.closeTask, #"{"tasksDetail": {"id": "T-9"}}"#).orderingKey == "task:T-9")
        #expect(try fixture.event(.grabEvent, #"{"triage_eventsDetail": {"id": 12}}"#).orderingKey == "triage:12")
        #expect(try Event.fromWebhook(body: Array("{}".utf8), endpoint: "x").orderingKey == nil)
    }
}
