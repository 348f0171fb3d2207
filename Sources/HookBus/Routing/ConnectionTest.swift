/// Why an integration-level request (a connection test, a Test Action) cannot be carried out.
public struct IntegrationError: Error, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        case unknownIntegration
        case noConnectionTest
        case unknownAction
        /// Test Action: field values that do not fit the action's fields.
        case invalidFields
        /// The store could not record the request or its run (see `Engine.runAction`).
        case notRecorded
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension Router {
    /// The loaded integration called `name`, or the error that says so (with a suggestion).
    func integration(named name: String) throws(IntegrationError) -> Integration {
        guard let integration = catalog.integrations.first(where: { $0.name == name }) else {
            throw IntegrationError(.unknownIntegration, "no integration named '\(name)'\(Suggestion.hint(for: name, in: catalog.integrations.map(\.name)))")
        }
        return integration
    }

    /// The action `name` of `integration`, or the error that says so (with a suggestion).
    func action(named name: String, of integration: Integration) throws(IntegrationError) -> ActionDefinition {
        guard let action = integration.actions.first(where: { $0.name == name }) else {
            throw IntegrationError(.unknownAction, "integration '\(integration.name)' has no action named '\(name)'\(Suggestion.hint(for: name, in: integration.actions.map(\.name)))")
        }
        return action
    }

    /// The run of an integration's `test_connection_code` with its instance configuration: the
    /// instance's data attributes in the environment and, except passwords (which another local
    /// user could read in the process list), as `--name=value` arguments — the framework's
    /// scripts read them with argparse and `EnvDefault` — in a clean environment.
    /// The script decides: exit 0 is a working connection.
    public func connectionTest(integration name: String) throws(IntegrationError) -> Invocation {
        let integration = try integration(named: name)
        guard let code = integration.definition.script.testConnectionCode, !code.isEmpty else {
            throw IntegrationError(.noConnectionTest, "integration '\(name)' has no script.test_connection_code")
        }
        let instance = instanceEnvironments[name] ?? []
        let eventID = Event.newID()
        let environment = instance + [
            InvocationEntry("HOOKBUS_EVENT_ID", .plain(eventID)),
        ] + Self.processEnvironment(configuration)
        return Invocation(eventID: eventID, hook: .webhook, integration: name, trigger: "test connection",
                          scriptType: integration.definition.script.type, code: code,
                          arguments: instance.filter { !$0.value.isSecret }, environment: environment, stdin: "{}", files: [:], oversizedParams: [],
                          timeoutSeconds: configuration.timeout(integration: name, action: "test connection"), orderingKey: nil,
                          policy: configuration.runPolicy(integration: name, action: "test connection"))
    }
}
