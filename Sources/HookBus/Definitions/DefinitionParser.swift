import Foundation
import Yams

/// What one definition file turned out to hold.
enum ParsedDefinition {
    case integration(IntegrationDefinition)
    case action(ActionDefinition, integrationPosition: SourcePosition?)
    /// The file was recognised but has errors, or was not recognised at all.
    case invalid
}

/// Turns the node tree of one file into an integration or action definition, recognising which
/// of the two it is by its content (file names and folders carry no meaning).
struct DefinitionParser {
    static let integrationKeys = [
        "name", "official_name", "version", "icon", "script", "docker_repo_tag", "local_repo",
        "configuration", "signature",
    ]
    static let actionKeys = [
        "integration", "name", "type", "script", "fields", "output", "table_view", "use_in_triage", "hook",
        "check_not_null_field", "show_modal", "src_doc", "url_preview", "image_base64_png", "image_base64_jpg",
        "exit_condition", "re-execution", "scheduled", "signature",
    ]

    private var reader: NodeReader

    init(file: String) {
        reader = NodeReader(file: file)
    }

    var diagnostics: [Diagnostic] { reader.sink.diagnostics }

    mutating func parse(_ root: Node?) -> ParsedDefinition {
        guard let root else {
            reader.sink.error("file is empty; expected an integration or action definition", at: .file)
            return .invalid
        }
        guard case let .mapping(mapping) = root else {
            reader.sink.error("expected a mapping of keys at the top level, found a \(NodeReader.kind(of: root))", at: reader.position(root))
            return .invalid
        }
        let view = MappingView(mapping, node: root)
        if view.has("integration") || (view.has("type") && !view.has("configuration")) || view.has("hook") || view.has("fields") {
            return parseAction(view)
        }
        if view.has("configuration") || view.has("docker_repo_tag") || view.has("icon") || view.has("official_name") {
            return parseIntegration(view)
        }
        if let script = view["script"], case let .mapping(scriptMapping) = script, MappingView(scriptMapping, node: script).has("test_connection_code") {
            return parseIntegration(view)
        }
        reader.sink.error("not an integration definition (no 'configuration') nor an action definition (no 'integration' or 'type')", at: reader.position(root))
        return .invalid
    }

    // MARK: Integration

    private mutating func parseIntegration(_ view: MappingView) -> ParsedDefinition {
        let errorsBefore = errorCount
        let name = requiredString(view, "name", context: "integration definition")
        let officialName = optionalString(view, "official_name")
        let version = seedRequiredString(view, "version")
        let icon = seedRequiredString(view, "icon")
        let dockerRepoTag = seedRequiredString(view, "docker_repo_tag")
        let localRepo = view["local_repo"].flatMap { reader.bool($0, key: "local_repo") }
        let signature = optionalString(view, "signature")

        var scriptType: ScriptType?
        var testCode: String?
        if let scriptNode = view["script"] {
            if let script = reader.mapping(scriptNode, key: "script") {
                if let typeNode = script["type"] {
                    scriptType = reader.closed(typeNode, key: "script.type")
                } else {
                    reader.sink.error("missing required field 'script.type' (one of \(ScriptType.listing))", at: reader.position(scriptNode))
                }
                testCode = script["test_connection_code"].flatMap { reader.string($0, key: "script.test_connection_code") }
                _ = reader.reportUnknownKeys(in: script, known: ["type", "test_connection_code"], context: "script")
            } else if NodeReader.isNull(scriptNode) {
                reader.sink.error("'script' is empty; it needs 'type:' (one of \(ScriptType.listing))", at: reader.position(scriptNode))
            }
        } else {
            reader.sink.error("missing required field 'script' (with 'type:' and 'test_connection_code:')", at: reader.position(view.node))
        }

        var testable: Bool?
        var requireProxy = false
        var attributes: [IntegrationDefinition.DataAttribute] = []
        var listing: [IntegrationDefinition.ListingAttribute] = []
        if let configurationNode = view["configuration"] {
            if let configuration = reader.mapping(configurationNode, key: "configuration") {
                testable = configuration["testable_connection"].flatMap { reader.bool($0, key: "configuration.testable_connection") }
                requireProxy = configuration["require_proxy_config"].flatMap { reader.bool($0, key: "configuration.require_proxy_config") } ?? false
                if let attributesNode = configuration["data_attributes"], let map = reader.mapping(attributesNode, key: "configuration.data_attributes") {
                    for entry in map.entries {
                        if let attribute = parseDataAttribute(name: entry.key, keyNode: entry.keyNode, node: entry.value) {
                            attributes.append(attribute)
                        }
                    }
                }
                if let listingNode = configuration["listing_attributes"], let map = reader.mapping(listingNode, key: "configuration.listing_attributes") {
                    for entry in map.entries {
                        var columnName = entry.key
                        if let column = reader.mapping(entry.value, key: "listing_attributes.\(entry.key)"), let nameNode = column["name"] {
                            columnName = reader.string(nameNode, key: "listing_attributes.\(entry.key).name") ?? entry.key
                        }
                        listing.append(.init(field: entry.key, name: columnName))
                    }
                }
                _ = reader.reportUnknownKeys(in: configuration, known: ["testable_connection", "require_proxy_config", "data_attributes", "listing_attributes"], context: "configuration")
            }
        } else {
            reader.sink.warning("missing field 'configuration'; the integration takes no settings", at: reader.position(view.node))
        }
        let extras = reader.reportUnknownKeys(in: view, known: Self.integrationKeys, context: "integration definition")

        guard errorCount == errorsBefore, let name, let scriptType else { return .invalid }
        return .integration(IntegrationDefinition(
            name: name, officialName: officialName, version: version, icon: icon,
            script: .init(type: scriptType, testConnectionCode: testCode), dockerRepoTag: dockerRepoTag,
            localRepo: localRepo, testableConnection: testable, requireProxyConfig: requireProxy,
            dataAttributes: attributes, listingAttributes: listing, signature: signature,
            extraKeys: extras, location: reader.location(view.node)))
    }

    private mutating func parseDataAttribute(name: String, keyNode: Node, node: Node) -> IntegrationDefinition.DataAttribute? {
        let context = "data attribute '\(name)'"
        guard let view = reader.mapping(node, key: "data_attributes.\(name)") else {
            if NodeReader.isNull(node) { reader.sink.error("\(context) is empty; it needs 'label', 'type' and 'required'", at: reader.position(keyNode)) }
            return nil
        }
        let errorsBefore = errorCount
        let label = view["label"].flatMap { reader.string($0, key: "label") }
        if label == nil { reader.sink.warning("\(context) has no 'label'", at: reader.position(keyNode)) }
        var type: AttributeType?
        if let typeNode = view["type"] {
            type = reader.closed(typeNode, key: "type")
        } else {
            reader.sink.error("\(context) is missing required field 'type' (one of \(AttributeType.listing))", at: reader.position(keyNode))
        }
        let required = view["required"].flatMap { reader.bool($0, key: "required") } ?? false
        let validator: AttributeValidator? = view["validator"].flatMap { NodeReader.isNull($0) ? nil : reader.closed($0, key: "validator") }
        let defaultValue = view["default"].flatMap { reader.string($0, key: "default") }
        let values = view["values"].map { reader.listValues($0, key: "values") } ?? []
        let hint = view["hint"].flatMap { reader.string($0, key: "hint") }
        _ = reader.reportUnknownKeys(in: view, known: ["label", "type", "required", "validator", "default", "values", "hint"], context: context)
        if let defaultValue, let validator, !defaultValue.isEmpty, !ValueValidation.isValid(defaultValue, validator) {
            reader.sink.error("default '\(defaultValue)' of \(context) fails its own validator '\(validator.rawValue)'", at: reader.position(view["default"]!))
        }
        if type == .list, let defaultValue, !values.isEmpty, !values.contains(where: { $0.key == defaultValue }) {
            reader.sink.error("default '\(defaultValue)' of \(context) is not one of its values\(Suggestion.hint(for: defaultValue, in: values.map(\.key)))", at: reader.position(view["default"]!))
        }
        guard errorCount == errorsBefore, let type else { return nil }
        return .init(name: name, label: label ?? name, type: type, required: required, validator: validator,
                     defaultValue: defaultValue, values: values, hint: hint, location: reader.location(keyNode))
    }

    // MARK: Action

    private mutating func parseAction(_ view: MappingView) -> ParsedDefinition {
        let errorsBefore = errorCount
        let integration = requiredString(view, "integration", context: "action definition")
        let name = requiredString(view, "name", context: "action definition")
        var type: ActionType?
        if let typeNode = view["type"] {
            type = reader.closed(typeNode, key: "type")
        } else {
            reader.sink.error("missing required field 'type' (one of \(ActionType.listing))", at: reader.position(view.node))
        }
        let code = parseScriptCode(view)

        var fields: [ActionDefinition.Field] = []
        if let node = view["fields"], let list = reader.sequence(node, key: "fields") {
            for element in list {
                if let field = parseField(element) { fields.append(field) }
            }
        }
        var outputs: [ActionDefinition.Output] = []
        if let node = view["output"], let list = reader.sequence(node, key: "output") {
            for element in list {
                guard let entry = reader.mapping(element, key: "output[]") else { continue }
                guard let pathNode = entry["path"], let path = reader.string(pathNode, key: "output.path") else {
                    reader.sink.error("output entry is missing 'path'", at: reader.position(element))
                    continue
                }
                checkResultPath(path, at: pathNode, key: "output.path")
                let outputType = entry["type"].flatMap { reader.string($0, key: "output.type") }
                _ = reader.reportUnknownKeys(in: entry, known: ["path", "type"], context: "output entry")
                outputs.append(.init(path: path, type: outputType))
            }
        }
        var table: [ActionDefinition.TableColumn] = []
        if let node = view["table_view"], let list = reader.sequence(node, key: "table_view") {
            for element in list {
                guard let entry = reader.mapping(element, key: "table_view[]") else { continue }
                let displayName = entry["display_name"].flatMap { reader.string($0, key: "table_view.display_name") }
                let value = entry["value"].flatMap { reader.string($0, key: "table_view.value") }
                guard let displayName, let value else {
                    reader.sink.error("table_view entry needs 'display_name' and 'value'", at: reader.position(element))
                    continue
                }
                if let valueNode = entry["value"] { checkResultPath(value, at: valueNode, key: "table_view.value") }
                let columnType = entry["type"].flatMap { reader.string($0, key: "table_view.type") }
                _ = reader.reportUnknownKeys(in: entry, known: ["display_name", "value", "type"], context: "table_view entry")
                table.append(.init(displayName: displayName, value: value, type: columnType))
            }
        }
        let useInTriage = view["use_in_triage"].flatMap { reader.bool($0, key: "use_in_triage") }
        let hooks = parseHooks(view)
        let checkNotNull = optionalString(view, "check_not_null_field")
        let showModal = view["show_modal"].flatMap { reader.bool($0, key: "show_modal") } ?? true
        let exitConditions = parseExitConditions(view)
        let reExecution = optionalString(view, "re-execution")
        if let reExecution, reExecution != "force", let node = view["re-execution"] {
            reader.sink.warning("'re-execution' only knows the value 'force', not '\(reExecution)'", at: reader.position(node))
        }
        let schedules = parseSchedules(view)

        // Rules that tie fields together.
        if let type, type != .trigger {
            if let keyNode = view.keyNode("hook") {
                reader.sink.error("'hook' is only used by Trigger actions, and this action's type is '\(type.rawValue)'", at: reader.position(keyNode))
            }
            if let keyNode = view.keyNode("check_not_null_field") {
                reader.sink.error("'check_not_null_field' is only used by Trigger actions, and this action's type is '\(type.rawValue)'", at: reader.position(keyNode))
            }
        }
        if type == .trigger, !view.has("hook") {
            reader.sink.error("a Trigger action needs a 'hook' list saying when it runs (for example 'updateIncident')", at: reader.position(view.keyNode("type") ?? view.node))
        }
        if type == .scheduled, schedules.isEmpty {
            reader.sink.warning("a Scheduled action without 'scheduled' runs once", at: reader.position(view.keyNode("type") ?? view.node))
        }
        let extras = reader.reportUnknownKeys(in: view, known: Self.actionKeys + (view.has("code") ? ["code"] : []), context: "action definition")

        guard errorCount == errorsBefore, let integration, let name, let type, let code else { return .invalid }
        return .action(ActionDefinition(
            integration: integration, name: name, type: type, code: code, fields: fields, output: outputs,
            tableView: table, useInTriage: useInTriage, hooks: hooks, checkNotNullField: checkNotNull,
            showModal: showModal, srcDoc: optionalString(view, "src_doc"), urlPreview: optionalString(view, "url_preview"),
            imageBase64Png: optionalString(view, "image_base64_png"), imageBase64Jpg: optionalString(view, "image_base64_jpg"),
            exitConditions: exitConditions, reExecution: reExecution, scheduled: schedules,
            signature: optionalString(view, "signature"), extraKeys: extras, location: reader.location(view.node)),
            integrationPosition: view["integration"].map { reader.position($0) })
    }

    /// `script: code: |` — with the two mistakes published examples make called out by name.
    private mutating func parseScriptCode(_ view: MappingView) -> String? {
        let topLevelCode = view.keyNode("code")
        guard let scriptNode = view["script"] else {
            if let topLevelCode {
                reader.sink.error("'code:' is at the top level; did you mean 'script:' → 'code: |'? (indent 'code' under 'script')", at: reader.position(topLevelCode))
            } else {
                reader.sink.error("missing required field 'script' with the action's 'code: |'", at: reader.position(view.node))
            }
            return nil
        }
        if NodeReader.isNull(scriptNode) {
            let also = topLevelCode != nil ? " ('code:' is at the top level; indent it under 'script')" : ""
            reader.sink.error("'script' is empty; did you mean 'script:' → 'code: |'?\(also)", at: reader.position(view.keyNode("script")!))
            return nil
        }
        if case .scalar = scriptNode {
            reader.sink.error("'script' must be a mapping; did you mean 'script:' → 'code: |' followed by the code?", at: reader.position(scriptNode))
            return nil
        }
        guard let script = reader.mapping(scriptNode, key: "script") else { return nil }
        _ = reader.reportUnknownKeys(in: script, known: ["code"], context: "script")
        guard let codeNode = script["code"] else {
            reader.sink.error("'script' has no 'code'; did you mean 'script:' → 'code: |'?", at: reader.position(scriptNode))
            return nil
        }
        guard let code = reader.string(codeNode, key: "script.code"), !code.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            reader.sink.error("'script.code' is empty", at: reader.position(codeNode))
            return nil
        }
        return code
    }

    private mutating func parseField(_ node: Node) -> ActionDefinition.Field? {
        guard let view = reader.mapping(node, key: "fields[]") else { return nil }
        guard let idNode = view["id"], let id = reader.string(idNode, key: "fields.id"), !id.isEmpty else {
            reader.sink.error("field is missing required key 'id'", at: reader.position(node))
            return nil
        }
        let context = "field '\(id)'"
        let errorsBefore = errorCount
        let label = view["label"].flatMap { reader.string($0, key: "label") }
        let type: FieldType? = view["type"].flatMap { reader.closed($0, key: "type") }
        let required = view["required"].flatMap { reader.bool($0, key: "required") } ?? false
        let validator: FieldValidator? = view["validator"].flatMap { NodeReader.isNull($0) ? nil : reader.closed($0, key: "validator") }
        let defaultValue = view["default"].flatMap { reader.string($0, key: "default") }
        let values = view["values"].map { reader.listValues($0, key: "values") } ?? []
        let artifacts = view["incident_artifacts"].flatMap { reader.bool($0, key: "incident_artifacts") }
        var observables: [ObservableType] = []
        if let observablesNode = view["observables"] {
            for element in reader.oneOrMany(observablesNode) {
                if let value: ObservableType = reader.closed(element, key: "observables") { observables.append(value) }
            }
        }
        let hint = view["hint"].flatMap { reader.string($0, key: "hint") }
        _ = reader.reportUnknownKeys(in: view, known: ["id", "label", "type", "required", "validator", "default", "values", "incident_artifacts", "observables", "hint"], context: context)
        if let defaultValue, let validator, !defaultValue.isEmpty, !defaultValue.hasPrefix("input."), !ValueValidation.isValid(defaultValue, validator) {
            reader.sink.error("default '\(defaultValue)' of \(context) fails its own validator '\(validator.rawValue)'", at: reader.position(view["default"]!))
        }
        if (type == .list || type == .multilist), let defaultValue, !values.isEmpty, !values.contains(where: { $0.key == defaultValue }) {
            reader.sink.error("default '\(defaultValue)' of \(context) is not one of its values\(Suggestion.hint(for: defaultValue, in: values.map(\.key)))", at: reader.position(view["default"]!))
        }
        guard errorCount == errorsBefore else { return nil }
        return .init(id: id, label: label, type: type, required: required, validator: validator, defaultValue: defaultValue,
                     values: values, incidentArtifacts: artifacts, observables: observables, hint: hint, location: reader.location(node))
    }

    private mutating func parseHooks(_ view: MappingView) -> [Hook] {
        guard let node = view["hook"] else { return [] }
        var hooks: [Hook] = []
        let elements = reader.oneOrMany(node)
        if elements.isEmpty {
            reader.sink.error("'hook' is empty; list at least one hook (for example 'updateIncident')", at: reader.position(view.keyNode("hook")!))
        }
        for element in elements {
            guard let hook: Hook = reader.closed(element, key: "hook") else { continue }
            if hooks.contains(hook) {
                reader.sink.warning("hook '\(hook.rawValue)' is listed twice", at: reader.position(element))
            } else {
                hooks.append(hook)
            }
        }
        return hooks
    }

    /// A result path that does not parse is an error at its node: it would find nothing at run
    /// time, silently.
    private mutating func checkResultPath(_ path: String, at node: Node, key: String) {
        do {
            _ = try OutputPath(path)
        } catch {
            reader.sink.error("\(key) '\(path)' is not a valid result path: \(error)", at: reader.position(node))
        }
    }

    private mutating func parseExitConditions(_ view: MappingView) -> [ActionDefinition.ExitCondition] {
        guard let node = view["exit_condition"] else { return [] }
        var conditions: [ActionDefinition.ExitCondition] = []
        for element in reader.oneOrMany(node) {
            guard let entry = reader.mapping(element, key: "exit_condition") else { continue }
            let path = entry["path"].flatMap { reader.string($0, key: "exit_condition.path") }
            var strings: [String] = []
            if let stringNode = entry["string"] {
                for value in reader.oneOrMany(stringNode) {
                    if let text = reader.string(value, key: "exit_condition.string") { strings.append(text) }
                }
            }
            guard let path else {
                reader.sink.error("exit_condition entry is missing 'path'", at: reader.position(element))
                continue
            }
            if strings.isEmpty {
                reader.sink.error("exit_condition entry is missing 'string' (one string or a list)", at: reader.position(element))
            }
            // `input.NAME` names one of the action's fields; anything else is a result path.
            if !path.hasPrefix("input."), let pathNode = entry["path"] { checkResultPath(path, at: pathNode, key: "exit_condition.path") }
            _ = reader.reportUnknownKeys(in: entry, known: ["path", "string"], context: "exit_condition entry")
            conditions.append(.init(path: path, strings: strings))
        }
        return conditions
    }

    private mutating func parseSchedules(_ view: MappingView) -> [ActionDefinition.Schedule] {
        guard let node = view["scheduled"] else { return [] }
        var schedules: [ActionDefinition.Schedule] = []
        for element in reader.oneOrMany(node) {
            guard let entry = reader.mapping(element, key: "scheduled") else { continue }
            guard let everyNode = entry["every"], let every = reader.string(everyNode, key: "scheduled.every") else {
                reader.sink.error("scheduled entry is missing 'every' (for example '10m')", at: reader.position(element))
                continue
            }
            checkInterval(every, node: everyNode, key: "every")
            let expire = entry["expire"].flatMap { reader.string($0, key: "scheduled.expire") }
            if let expire, let expireNode = entry["expire"] { checkInterval(expire, node: expireNode, key: "expire") }
            _ = reader.reportUnknownKeys(in: entry, known: ["every", "expire"], context: "scheduled entry")
            schedules.append(.init(every: every, expire: expire))
        }
        return schedules
    }

    /// `<int><s|m|h|d>` or a reference to an action input (`input.every`).
    private mutating func checkInterval(_ text: String, node: Node, key: String) {
        if text.hasPrefix("input.") { return }
        if Interval.seconds(text) == nil {
            reader.sink.error("'\(key)' must be a number followed by s, m, h or d (for example '10m'), or 'input.<field>', not '\(text)'", at: reader.position(node))
        }
    }

    // MARK: Helpers

    private var errorCount: Int { reader.sink.diagnostics.count { $0.severity == .error } }

    private mutating func requiredString(_ view: MappingView, _ key: String, context: String) -> String? {
        guard let node = view[key] else {
            reader.sink.error("missing required field '\(key)' in \(context)", at: reader.position(view.node))
            return nil
        }
        guard let value = reader.string(node, key: key), !value.isEmpty else {
            if case .scalar = node { reader.sink.error("'\(key)' is empty", at: reader.position(node)) }
            return nil
        }
        return value
    }

    private mutating func optionalString(_ view: MappingView, _ key: String) -> String? {
        view[key].flatMap { reader.string($0, key: key) }
    }

    /// A field the SOAR import requires but HookBus does not need: a warning, not an error.
    private mutating func seedRequiredString(_ view: MappingView, _ key: String) -> String? {
        guard let node = view[key] else {
            reader.sink.warning("missing field '\(key)' (a SOAR import requires it; HookBus does not)", at: reader.position(view.node))
            return nil
        }
        return reader.string(node, key: key)
    }
}
