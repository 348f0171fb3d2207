import Yams

extension ConfigurationLoader {
    /// `daemons:` — by name: `integration`, `action` (a `Daemon` action), `every` (`30s`, `5m`…,
    /// default 5m), `fields` (checked like Test Action's), `cursor: {field, from}`.
    func readDaemons(_ node: Node?, catalog: Catalog, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "daemons") else { return }
        for entry in view.entries {
            guard let daemon = reader.mapping(entry.value, key: "daemons.\(entry.key)") else { continue }
            _ = reader.reportUnknownKeys(in: daemon, known: ["integration", "action", "every", "fields", "cursor"], context: "daemon '\(entry.key)'")
            let at = reader.position(entry.keyNode)
            guard let integrationName = daemon["integration"].flatMap({ reader.string($0, key: "integration") }),
                  let actionName = daemon["action"].flatMap({ reader.string($0, key: "action") }) else {
                reader.sink.error("daemon '\(entry.key)' needs 'integration' and 'action'", at: at)
                continue
            }
            guard let integration = catalog.integrations.first(where: { $0.name == integrationName }) else {
                reader.sink.error("daemon '\(entry.key)': no integration named '\(integrationName)'\(Suggestion.hint(for: integrationName, in: catalog.integrations.map(\.name)))",
                                  at: reader.position(daemon["integration"]!))
                continue
            }
            guard let action = integration.actions.first(where: { $0.name == actionName }) else {
                reader.sink.error("daemon '\(entry.key)': integration '\(integrationName)' has no action '\(actionName)'\(Suggestion.hint(for: actionName, in: integration.actions.map(\.name)))",
                                  at: reader.position(daemon["action"]!))
                continue
            }
            if action.type != .daemon {
                reader.sink.error("daemon '\(entry.key)': action '\(actionName)' is of type \(action.type.rawValue), not Daemon", at: reader.position(daemon["action"]!))
            }
            var every = 300.0
            if let everyNode = daemon["every"], let text = reader.string(everyNode, key: "every") {
                if let seconds = Interval.seconds(text), seconds > 0 { every = seconds } else {
                    reader.sink.error("daemon '\(entry.key)': 'every' must be a number and a unit (s, m, h, d), such as 30s or 5m, not '\(text)'", at: reader.position(everyNode))
                }
            }
            var fields: [String: String] = [:]
            if let fieldsNode = daemon["fields"], let fieldsView = reader.mapping(fieldsNode, key: "fields") {
                for field in fieldsView.entries {
                    if let value = reader.string(field.value, key: "fields.\(field.key)") { fields[field.key] = value }
                }
            }
            var cursorField: String?
            var cursorPath: OutputPath?
            if let cursorNode = daemon["cursor"], let cursor = reader.mapping(cursorNode, key: "cursor") {
                _ = reader.reportUnknownKeys(in: cursor, known: ["field", "from"], context: "daemon '\(entry.key)' cursor")
                cursorField = cursor["field"].flatMap { reader.string($0, key: "cursor.field") }
                if let fromNode = cursor["from"], let from = reader.string(fromNode, key: "cursor.from") {
                    do { cursorPath = try OutputPath(from) } catch {
                        reader.sink.error("daemon '\(entry.key)': cursor.from '\(from)' is not a valid result path: \(error)", at: reader.position(fromNode))
                    }
                }
                if cursorField == nil || cursorPath == nil {
                    reader.sink.error("daemon '\(entry.key)': 'cursor' needs 'field' (the action's field to set) and 'from' (a path in the last object)", at: reader.position(cursorNode))
                } else if let cursorField, !action.fields.contains(where: { $0.id == cursorField }) {
                    reader.sink.error("daemon '\(entry.key)': cursor.field '\(cursorField)' is not a field of '\(actionName)'", at: reader.position(cursorNode))
                }
            }
            // The fixed values must pass the field checks now, not at 3 a.m.; the cursor field
            // may be required and is filled in at run time.
            var probe = fields
            if let cursorField, probe[cursorField] == nil { probe[cursorField] = action.fields.first { $0.id == cursorField }?.defaultValue ?? "0" }
            do {
                _ = try Router.checkedFields(probe, of: action)
            } catch {
                reader.sink.error("daemon '\(entry.key)': \(error.message)", at: reader.position(daemon["fields"] ?? entry.keyNode))
            }
            configuration.daemons.append(DaemonSpec(name: entry.key, integration: integrationName, action: actionName, everySeconds: every,
                                                    fields: fields, cursorField: cursorField, cursorPath: cursorPath))
        }
    }
}
