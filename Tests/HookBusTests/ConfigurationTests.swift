import Foundation
import Testing
@testable import HookBus

@Suite struct ConfigurationTests {
    func load(_ yaml: String, environment: [String: String] = [:], attributes: String? = nil) -> (HookBusConfiguration?, [String]) {
        let folder = TempFolder()
        folder.write("hooks/int.yaml", integrationYAML(attributes: attributes ?? """
                api_url:
                  label: 'API URL'
                  type: text
                  required: true
                  validator: url
                port:
                  label: Port
                  type: number
                  required: false
                  validator: port
                  default: '443'
                mode:
                  label: Mode
                  type: list
                  required: false
                  default: ip
                  values:
                    ip: IP Address
                    domain: Domain
                api_key:
                  label: Key
                  type: password
                  required: false
            """))
        let catalog = DefinitionLoader().load([folder.url.appendingPathComponent("hooks").path]).catalog
        let path = folder.write("hookbus.yaml", yaml)
        let result = ConfigurationLoader(environment: environment).load(path: path, catalog: catalog)
        return (result.configuration, result.diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") })
    }

    @Test func defaultsAreAppliedAndValuesKept() throws {
        let (configuration, messages) = load("""
            integrations:
              'Incident Tools':
                settings:
                  api_url: 'https://tools.example.com'
                  api_key: {env: KEY}
                timeout: 20
                action_timeouts: {}
            runner:
              concurrency: 3
              timeout: 30
            audit:
              verbosity: errors
              retention_days: 30
            """, environment: ["KEY": "k-123"])
        #expect(messages.isEmpty, "\(messages)")
        let instance = try #require(configuration?.instances["Incident Tools"])
        #expect(instance.values["api_url"] == .plain("https://tools.example.com"))
        #expect(instance.values["port"] == .plain("443"))
        #expect(instance.values["mode"] == .plain("ip"))
        guard case let .secret(secret) = instance.values["api_key"] else { Issue.record("not a secret"); return }
        #expect(secret.reveal() == "k-123")
        #expect("\(secret)" == Secret.mask)
        #expect(configuration?.concurrency == 3)
        #expect(configuration?.timeout(integration: "Incident Tools", action: "x") == 20)
        #expect(configuration?.timeout(integration: "Other", action: "x") == 30)
        #expect(configuration?.auditVerbosity == .errors)
    }

    @Test func badConfigurationIsRejectedWithPositions() {
        let (configuration, messages) = load("""
            integrations:
              'Incident Tools':
                settings:
                  api_url: 'not a url'
                  port: '70000'
                  mode: 'domian'
                  api_key: 'inline-secret'
                  colour: blue
              'Incident Tols': {}
            server:
              port: 99999
            incident_system:
              token: {env: MISSING}
            """)
        #expect(configuration == nil)
        #expect(messages.contains("hookbus.yaml:9:3: error: no integration named 'Incident Tols' is loaded (did you mean 'Incident Tools'?)"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:8:7: error: integration 'Incident Tools' has no setting 'colour'"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:4:7: error: setting 'api_url' of integration 'Incident Tools' is 'not a url', which fails its validator 'url'"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:5:7: error: setting 'port' of integration 'Incident Tools' is '70000', which fails its validator 'port'"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:6:7: error: setting 'mode' of integration 'Incident Tools' must be one of 'ip', 'domain', not 'domian' (did you mean 'domain'?)"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:7:16: error: 'api_key' is a secret: write it as {env: NAME} or {file: PATH}, not inline"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:11:9: error: 'server.port' must be a port number (0-65535), not '99999'"), "\(messages)")
        #expect(messages.contains("hookbus.yaml:13:16: error: environment variable 'MISSING' for 'incident_system.token' is not set"), "\(messages)")
    }

    @Test func aRequiredSettingMustBeGiven() {
        let (configuration, messages) = load("runner: {timeout: 5}\n")
        #expect(configuration == nil)
        #expect(messages.contains("hookbus.yaml:1:1: error: integration 'Incident Tools' needs setting 'api_url' (API URL); add it under integrations: 'Incident Tools': settings:"), "\(messages)")
    }

    @Test func secretsFromFiles() throws {
        let folder = TempFolder()
        let keyFile = folder.write("key", "from-a-file\n")
        let (configuration, messages) = load("""
            incident_system:
              url: https://soar.example.com
              jwt: {key: {file: \(keyFile)}, lifetime: 120}
            integrations:
              'Incident Tools':
                settings: {api_url: 'https://x.example.com'}
            """)
        #expect(messages.isEmpty, "\(messages)")
        guard case let .jwt(key, lifetime, issuer) = configuration?.token else { Issue.record("no jwt"); return }
        #expect(key.reveal() == "from-a-file" && lifetime == 120 && issuer == "hookbus")
    }

    @Test func sampleConfigurationLoadsAgainstTheShippedHooks() {
        let catalog = DefinitionLoader().load([packageRoot.appendingPathComponent("Hooks").path]).catalog
        let result = ConfigurationLoader(environment: ["HOOKBUS_HOOK_TOKEN": "t", "HOOKBUS_OPERATOR_TOKEN": "o", "HOOKBUS_METRICS_TOKEN": "m", "SOAR_API_TOKEN": "t", "GITHUB_WEBHOOK_SECRET": "g", "PAGERDUTY_WEBHOOK_SECRET": "p", "SLACK_SIGNING_SECRET": "s", "CHAT_WEBHOOK_URL": "https://chat.example.com/hook"])
            .load(path: packageRoot.appendingPathComponent("Samples/hookbus.yaml").path, catalog: catalog)
        #expect(result.diagnostics.filter { $0.severity == .error }.isEmpty, "\(result.diagnostics)")
        #expect(result.configuration?.webhooks.count == 4)
        #expect(result.configuration?.accessTokens.map(\.role) == [.sender, .operator, .metrics])
    }
}
