import Foundation
import Testing
@testable import HookBus

/// Webhook endpoints' request-time rules: loaded with positions, decided before anything runs.
@Suite struct WebhookRuleTests {
    static let config = """
        incident_system:
          url: https://soar.example.com
          token: {env: TOOLS_KEY}
        integrations:
          'Incident Tools':
            settings:
              api_key: {env: TOOLS_KEY}
        webhooks:
          github:
            auth: {scheme: none}
            pass_headers: [X-GitHub-Delivery]
            rules:
              - name: opened issues
                when:
                  all:
                    - {header: x-github-event, equals: issues}
                    - {json: action, one_of: [opened, reopened]}
                    - not: {json: 'issue.labels.[].name', equals: wontfix}
                triggers: ['On webhook']
              - name: severe alerts
                when:
                  any:
                    - {json: alert.severity, gte: 7}
                    - {form: priority, matches: '^P[12]$'}
                triggers: ['Second webhook']
              - name: pushes
                when: {header: X-GitHub-Event, equals: push}
                triggers: []
        """

    func fixture(_ config: String = WebhookRuleTests.config) throws -> RoutingFixture {
        try RoutingFixture(configYAML: config, extraTriggers: [("second", triggerYAML("Second webhook", hooks: ["webhook"]))])
    }

    func decisions(_ fixture: RoutingFixture, json: String? = nil, form: String? = nil, event githubEvent: String?) throws -> [String: String] {
        var headers = [KeptHeader(name: "X-GitHub-Delivery", value: "d-1")]
        if let githubEvent { headers.append(KeptHeader(name: "x-github-event", value: githubEvent)) }
        let body = json.map { WebhookBody(bytes: Array($0.utf8), contentType: "application/json", headers: headers) }
            ?? WebhookBody(bytes: Array((form ?? "").utf8), contentType: "application/x-www-form-urlencoded", headers: headers)
        var result: [String: String] = [:]
        for decision in try fixture.router.route(try Event.fromWebhook(body, endpoint: "github")) {
            switch decision {
            case let .run(invocation): result[invocation.trigger] = "run"
            case let .skip(_, trigger, reason): result[trigger] = reason.description
            }
        }
        return result
    }

    @Test func theFirstRuleThatHoldsRoutes() throws {
        let fixture = try fixture()
        #expect(fixture.configuration.webhooks["github"]?.keptHeaders == ["X-GitHub-Delivery", "x-github-event"])
        let opened = try decisions(fixture, json: #"{"action":"opened","issue":{"labels":[{"name":"bug"}]}}"#, event: "issues")
        #expect(opened["On webhook"] == "run")
        #expect(opened["Second webhook"] == "rule 'opened issues' of webhook 'github' routes to other triggers")
        // `not` of a projection: one label equal to wontfix is enough to refuse.
        let wontfix = try decisions(fixture, json: #"{"action":"opened","issue":{"labels":[{"name":"bug"},{"name":"wontfix"}]}}"#, event: "issues")
        #expect(wontfix["On webhook"] == "filtered: no rule of webhook 'github' matched")
        let severe = try decisions(fixture, json: #"{"alert":{"severity":9}}"#, event: "code_scanning_alert")
        #expect(severe["Second webhook"] == "run" && severe["On webhook"] != "run")
        let mild = try decisions(fixture, json: #"{"alert":{"severity":"3"}}"#, event: nil)
        #expect(mild.values.allSatisfy { $0 == "filtered: no rule of webhook 'github' matched" }, "\(mild)")
        let form = try decisions(fixture, form: "priority=P1&x=2", event: nil)
        #expect(form["Second webhook"] == "run")
        let push = try decisions(fixture, json: "{}", event: "push")
        #expect(push.values.allSatisfy { $0 == "filtered: rule 'pushes' of webhook 'github' routes to no trigger" }, "\(push)")
    }

    @Test func aRuleWithoutWhenIsTheDefault() throws {
        let config = Self.config + "\n      - name: default\n        triggers: ['Second webhook']\n"
        let fixture = try fixture(config)
        let other = try decisions(fixture, json: "{}", event: "star")
        #expect(other["Second webhook"] == "run" && other["On webhook"] == "rule 'default' of webhook 'github' routes to other triggers", "\(other)")
        // Rules before it still decide first.
        #expect(try decisions(fixture, json: "{}", event: "push").values.allSatisfy { $0.hasPrefix("filtered: rule 'pushes'") })
    }

    @Test func testsOnAbsentValuesAndNumbers() {
        func event(_ json: String) throws -> Event { try Event.fromWebhook(body: Array(json.utf8), endpoint: "x") }
        let path = try! OutputPath("n")
        let cases: [(WebhookCondition.Test, String, Bool)] = [
            (.exists(true), #"{"n": 0}"#, true), (.exists(true), #"{"n": null}"#, false), (.exists(false), #"{}"#, true),
            (.compare(.gt, 5), #"{"n": 5.5}"#, true), (.compare(.gt, 5), #"{"n": "abc"}"#, false), (.compare(.lte, 5), #"{"n": 5}"#, true),
            (.compare(.lt, 0), #"{}"#, false), (.equals("true"), #"{"n": true}"#, true), (.oneOf(["1", "2"]), #"{"n": 2}"#, true),
            // Numbers compare as numbers; a string is text, never a number.
            (.equals("1"), #"{"n": 1.0}"#, true), (.equals("1"), #"{"n": "1.0"}"#, false), (.compare(.gt, 5), #"{"n": "9"}"#, false),
            (.compare(.gt, 5), #"{"n": "inf"}"#, false),
            // Null and an empty list are absent; a list's elements are tested one by one.
            (.exists(true), #"{"n": []}"#, false), (.exists(false), #"{"n": null}"#, true), (.equals("b"), #"{"n": ["a", "b"]}"#, true),
            (.compare(.gte, 3), #"{"n": [1, 2]}"#, false),
        ]
        for (test, json, expected) in cases {
            #expect((try? WebhookCondition.test(.json(path), test).holds(for: event(json))) == expected, "\(test) on \(json)")
        }
    }

    @Test func aTimestampTheSenderDoesNotSignIsRefusedAtLoad() throws {
        let folder = TempFolder()
        let path = folder.write("hookbus.yaml", """
            webhooks:
              stripe:
                auth: {scheme: hmac, header: Stripe-Signature, timestamp_field: t, prefix: 'v1=', secrets: [{env: K}]}
            """)
        let result = ConfigurationLoader(environment: ["K": "k"]).load(path: path, catalog: try fixture().catalog)
        let messages = result.diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") }
        #expect(messages.contains { $0.hasPrefix("hookbus.yaml:3:11: error: webhook 'stripe' takes a timestamp but its 'template' does not sign it") }, "\(messages)")
    }

    @Test func aRuleMayNameATriggerTheEndpointListsByItsOtherName() throws {
        let config = Self.config.replacingOccurrences(of: "    pass_headers: [X-GitHub-Delivery]", with: "    pass_headers: [X-GitHub-Delivery]\n    triggers: ['Incident Tools/On webhook', 'Second webhook']")
        let fixture = try fixture(config)
        #expect(fixture.configuration.webhooks["github"]?.rules?.count == 3)
    }

    @Test func eventsWithoutRulesAndFromDaemonsAreNotFiltered() throws {
        let fixture = try fixture()
        let daemon = Event.webhook(json: .object([:]), source: EventSource(kind: .daemon, name: "github"))
        #expect(try fixture.router.route(daemon).allSatisfy { if case .run = $0 { true } else { false } })
    }

    @Test(arguments: [
        ("rules:\n      - when: {header: X-A, equals: b}\n", "hookbus.yaml:12:9: error: rule 'rule 1' of webhook 'github' needs 'triggers'"),
        ("rules:\n      - when: {header: X-A, equls: b}\n        triggers: []\n", "hookbus.yaml:12:29: warning: unknown key 'equls'"),
        ("rules:\n      - when: {json: 'a[b', equals: b}\n        triggers: []\n", "hookbus.yaml:12:22: error: json path 'a[b'"),
        ("rules:\n      - when: {header: X-A, matches: '(unclosed'}\n        triggers: []\n", "hookbus.yaml:12:38: error: 'matches' is not a valid regular expression"),
        ("rules:\n      - when: {header: X-A, gt: 3}\n        triggers: []\n", "hookbus.yaml:12:33: error: 'gt' compares numbers"),
        ("rules:\n      - when: {header: X-A, json: a, equals: b}\n        triggers: []\n", "hookbus.yaml:12:15: error: a condition has one of"),
        ("rules:\n      - when: {any: []}\n        triggers: []\n", "hookbus.yaml:12:21: error: 'any' needs at least one condition"),
        ("rules:\n      - when: {header: X-A, equals: b}\n        triggers: ['On webhok']\n", "hookbus.yaml:13:20: error: rule 'rule 1' of webhook 'github' routes to 'On webhok', which is not a loaded trigger"),
        ("rules:\n      - when: {header: Authorization, equals: b}\n        triggers: []\n", "hookbus.yaml:12:24: error: header 'Authorization' carries credentials"),
        ("pass_headers: [X-Hub-Signature-256]\n", "hookbus.yaml:11:20: error: header 'X-Hub-Signature-256' carries credentials"),
        ("content_types: [json]\n", "hookbus.yaml:11:21: error: 'json' is not a media type"),
        ("max_body_bytes: 1000000000\n", "hookbus.yaml:11:21: error: 'max_body_bytes' is at most"),
        ("rules:\n      - when: {header: X-A, one_of: []}\n        triggers: []\n", "hookbus.yaml:12:37: error: 'one_of' needs at least one value"),
        ("rules:\n      - triggers: []\n      - when: {header: X-A, equals: b}\n        triggers: []\n", "hookbus.yaml:13:9: warning: rule 2 of webhook 'github' is never reached"),
        ("pass_headers: [X-A, X_A]\n", "hookbus.yaml:9:3: error: webhook 'github' keeps headers 'X-A' and 'X_A', which would share the variable HOOKBUS_HEADER_X_A"),
        ("content_types: [application/json]\n    rules:\n      - when: {form: a, equals: b}\n        triggers: []\n", "hookbus.yaml:13:22: warning: 'form: a' never holds"),
    ])
    func mistakesAreReportedAtTheirPosition(_ extra: String, _ expected: String) throws {
        let config = """
            incident_system:
              url: https://soar.example.com
              token: {env: TOOLS_KEY}
            webhooks:
              github:
                auth: {scheme: hmac, header: X-Hub-Signature-256, prefix: 'sha256=', secrets: [{env: TOOLS_KEY}]}
            """
        let folder = TempFolder()
        let path = folder.write("hookbus.yaml", "\n\n\n\n" + config + "\n    " + extra)
        let catalog = try fixture().catalog
        let result = ConfigurationLoader(environment: ["TOOLS_KEY": "k"]).load(path: path, catalog: catalog)
        let messages = result.diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") }
        #expect(messages.contains { $0.hasPrefix(expected) }, "\(messages)")
    }
}
