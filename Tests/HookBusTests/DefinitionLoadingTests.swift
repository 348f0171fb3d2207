import Foundation
import Testing
@testable import HookBus

@Suite struct DefinitionLoadingTests {
    @Test func everyIntegrationFieldIsRead() throws {
        let folder = TempFolder()
        let icon = String(repeating: "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQ", count: 20_000)  // ~640 KB base64 icon
        folder.write("tools/integration.yaml", """
        name: 'Incident Tools'
        official_name: 'Old Tools'
        version: '2.1'
        icon: '\(icon)'
        script:
          type: python
          test_connection_code: |
            import sys

            sys.exit(0)
        docker_repo_tag: 'example/tools:2'
        local_repo: true
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
              hint: 'Base URL'
            api_key:
              label: 'API key'
              type: password
              required: true
            mode:
              label: 'Mode'
              type: list
              required: false
              default: ip
              values:
                domain: Domain
                ip: IP Address
          listing_attributes:
            api_url:
              name: 'URL'
        signature: 'abc123'
        """)
        let result = DefinitionLoader().load([folder.path])
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let definition = try #require(result.catalog.integration(named: "Incident Tools")?.definition)
        #expect(definition.officialName == "Old Tools")
        #expect(definition.version == "2.1")
        #expect(definition.icon?.count == icon.count)
        #expect(definition.script.type == .python)
        #expect(definition.script.testConnectionCode == "import sys\n\nsys.exit(0)\n")
        #expect(definition.dockerRepoTag == "example/tools:2")
        #expect(definition.localRepo == true)
        #expect(definition.testableConnection == true)
        #expect(definition.requireProxyConfig == true)
        #expect(definition.dataAttributes.map(\.name) == ["api_url", "api_key", "mode"])
        let url = definition.dataAttributes[0]
        #expect(url.label == "API URL" && url.type == .text && url.required && url.validator == .url)
        #expect(url.defaultValue == "https://soar.example.com" && url.hint == "Base URL")
        #expect(definition.dataAttributes[1].isSecret)
        #expect(definition.dataAttributes[2].values == [ListValue(key: "domain", label: "Domain"), ListValue(key: "ip", label: "IP Address")])
        #expect(definition.listingAttributes.first?.field == "api_url" && definition.listingAttributes.first?.name == "URL")
        #expect(definition.signature == "abc123")
        #expect(definition.location.line == 1 && definition.location.column == 1)
    }

    @Test func everyActionFieldIsRead() throws {
        let folder = TempFolder()
        folder.write("integration.yaml", integrationYAML())
        folder.write("actions/lookup.yml", """
        integration: 'Incident Tools'
        name: 'ip reputation'
        type: Enrichment
        script:
          code: |
            import os

            print(os.environ["ip"])
        fields:
          - id: ip
            label: 'IP address'
            type: text
            required: true
            validator: ipaddress
            default: '192.0.2.1'
            incident_artifacts: true
            observables: 'ipaddress'
            hint: 'The address to check'
          - id: kind
            label: 'Kind'
            type: list
            required: false
            values:
              - 'domain: Domain'
              - 'ip: IP Address'
            observables:
              - domain
              - url
        output:
          - path : 'country'
            type: string
          - path: 'detected_urls.[].url'
        table_view:
          - display_name: 'Country'
            value: 'country'
            type: link
        use_in_triage: true
        src_doc: 'raw'
        url_preview: 'link'
        image_base64_png: 'png'
        image_base64_jpg: 'jpg'
        signature: 'sig'
        """)
        folder.write("actions/poll.yaml", """
        integration: 'Incident Tools'
        name: 'poll'
        type: Scheduled
        script:
          code: 'echo'
        exit_condition:
          path: 'status'
          string: 'done'
        re-execution: 'force'
        scheduled:
          - every: '10m'
            expire: '1d'
        """)
        folder.write("actions/poll2.yaml", """
        integration: 'Incident Tools'
        name: 'poll list'
        type: Scheduled
        script:
          code: 'echo'
        exit_condition:
          - path: 'input.path'
            string:
              - 'Open'
              - 'Pending'
        scheduled:
          - every: 'input.every'
        """)
        let result = DefinitionLoader().load([folder.path])
        #expect(result.diagnostics.isEmpty, "\(result.messages(relativeTo: folder))")
        let actions = try #require(result.catalog.integration(named: "Incident Tools")).actions
        let lookup = try #require(actions.first { $0.name == "ip reputation" })
        #expect(lookup.type == .enrichment)
        #expect(lookup.code == "import os\n\nprint(os.environ[\"ip\"])\n")
        #expect(lookup.fields.count == 2)
        let ip = lookup.fields[0]
        #expect(ip.id == "ip" && ip.label == "IP address" && ip.type == .text && ip.required && ip.validator == .ipaddress)
        #expect(ip.defaultValue == "192.0.2.1" && ip.incidentArtifacts == true && ip.observables == [.ipaddress] && ip.hint == "The address to check")
        #expect(lookup.fields[1].observables == [.domain, .url])
        #expect(lookup.fields[1].values.map(\.key) == ["domain", "ip"])
        #expect(lookup.output.map(\.path) == ["country", "detected_urls.[].url"])
        #expect(lookup.output[0].type == "string")
        #expect(lookup.tableView == [.init(displayName: "Country", value: "country", type: "link")])
        #expect(lookup.useInTriage == true)
        #expect(lookup.srcDoc == "raw" && lookup.urlPreview == "link" && lookup.imageBase64Png == "png" && lookup.imageBase64Jpg == "jpg")
        #expect(lookup.signature == "sig")
        #expect(lookup.showModal == true)
        let poll = try #require(actions.first { $0.name == "poll" })
        #expect(poll.type == .scheduled)
        #expect(poll.exitConditions == [.init(path: "status", strings: ["done"])])
        #expect(poll.reExecution == "force")
        #expect(poll.scheduled == [.init(every: "10m", expire: "1d")])
        let pollList = try #require(actions.first { $0.name == "poll list" })
        #expect(pollList.exitConditions == [.init(path: "input.path", strings: ["Open", "Pending"])])
    }

    @Test func triggerFieldsAndTheHookIndex() throws {
        let folder = TempFolder()
        folder.write("Incident Tools/integration.yaml", integrationYAML())
        folder.write("Incident Tools/actions/custom button.yaml", triggerYAML("Custom button", hooks: ["incidentCustomAction"], extra: "check_not_null_field: 'opt_92'\nshow_modal: false"))
        folder.write("Incident Tools/actions/b.yaml", triggerYAML("B on update", hooks: ["updateIncident", "closeIncident"]))
        folder.write("Incident Tools/actions/a.yaml", triggerYAML("A on update", hooks: ["updateIncident"]))
        folder.write("other/int.yaml", integrationYAML("Another", language: "bash"))
        folder.write("other/deep/er/hook.yaml", triggerYAML("A on update", integration: "Another", hooks: ["updateIncident"], code: "echo"))
        let result = DefinitionLoader().load([folder.path])
        #expect(result.errorCount == 0, "\(result.messages(relativeTo: folder))")
        let names = result.catalog.triggers(for: .updateIncident).map(\.qualifiedName)
        #expect(names == ["Another/A on update", "Incident Tools/A on update", "Incident Tools/B on update"])
        #expect(result.catalog.triggers(for: .closeIncident).map(\.name) == ["B on update"])
        let button = try #require(result.catalog.triggers(for: .incidentCustomAction).first)
        #expect(button.action.checkNotNullField == "opt_92" && button.action.showModal == false)
        #expect(result.summary == "2 integrations, 4 actions (4 triggers on 3 hooks): 0 errors, 0 warnings")
    }

    @Test func unknownKeysAreKeptAsWarnings() throws {
        let folder = TempFolder()
        folder.write("i.yaml", integrationYAML() + "\nvendor_extra: 1\n")
        folder.write("a.yaml", triggerYAML("T", hooks: ["newIncident"], extra: "hooks_comment: 'x'\nshow_modall: true"))
        let result = DefinitionLoader().load([folder.path])
        #expect(result.errorCount == 0)
        let messages = result.messages(relativeTo: folder)
        #expect(messages.contains("a.yaml:9:1: warning: unknown key 'hooks_comment' in action definition; kept"))
        #expect(messages.contains("a.yaml:10:1: warning: unknown key 'show_modall' in action definition (did you mean 'show_modal'?); kept"))
        #expect(messages.contains { $0.hasPrefix("i.yaml:18:1: warning: unknown key 'vendor_extra'") })
        let action = try #require(result.catalog.triggers(for: .newIncident).first?.action)
        #expect(action.extraKeys == ["hooks_comment", "show_modall"])
    }

    @Test func oneBrokenFileDoesNotStopTheOthers() {
        let folder = TempFolder()
        folder.write("int.yaml", integrationYAML())
        folder.write("good.yaml", triggerYAML("Good", hooks: ["newIncident"]))
        folder.write("broken.yaml", "integration: 'Incident Tools'\nname: [unclosed\n")
        folder.write("orphan.yaml", triggerYAML("Orphan", integration: "Incident Tols", hooks: ["newIncident"]))
        folder.write("notes.txt", "not yaml, ignored")
        let result = DefinitionLoader().load([folder.path])
        #expect(result.catalog.triggers(for: .newIncident).map(\.name) == ["Good"])
        let messages = result.messages(relativeTo: folder)
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("broken.yaml:3:1: error: YAML syntax error") })
        #expect(messages.contains("orphan.yaml:1:14: error: action 'Orphan' belongs to integration 'Incident Tols', which is not defined in the loaded folders (did you mean 'Incident Tools'?)"))
        #expect(result.fileCount == 4)
    }

    @Test func shippedHooksValidateCleanly() {
        let result = DefinitionLoader().load([packageRoot.appendingPathComponent("Hooks").path])
        #expect(result.errorCount == 0, "\(result.diagnostics)")
        #expect(result.catalog.integrations.count >= 3)
        let languages = Set(result.catalog.integrations.map(\.definition.script.type))
        #expect(languages.isSuperset(of: [.python, .bash, .perl]))
        #expect(result.catalog.hooksInUse.count >= 5)
    }
}
