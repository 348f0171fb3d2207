/// An action definition file: one action of an integration, with its code. HookBus runs the
/// `Trigger` ones when one of their hooks fires.
public struct ActionDefinition: Sendable, Hashable {
    /// An input field of the action (`fields[]`).
    public struct Field: Sendable, Hashable {
        public var id: String
        public var label: String?
        public var type: FieldType?
        public var required: Bool
        public var validator: FieldValidator?
        public var defaultValue: String?
        public var values: [ListValue]
        public var incidentArtifacts: Bool?
        /// Accepts both `observables: 'file'` and a list, as real exports do.
        public var observables: [ObservableType]
        public var hint: String?
        public var location: SourceLocation
    }

    /// A result path the action may return (`output[]`).
    public struct Output: Sendable, Hashable {
        public var path: String
        public var type: String?
    }

    /// A column of the result table (`table_view[]`).
    public struct TableColumn: Sendable, Hashable {
        public var displayName: String
        public var value: String
        public var type: String?
    }

    /// When a Scheduled action stops (`exit_condition[]`); `strings` accepts one string or a list.
    public struct ExitCondition: Sendable, Hashable {
        public var path: String
        public var strings: [String]
    }

    /// How often a Scheduled action runs and when it stops (`scheduled[]`).
    public struct Schedule: Sendable, Hashable {
        public var every: String
        public var expire: String?
    }

    public var integration: String
    public var name: String
    public var type: ActionType
    public var code: String
    public var fields: [Field]
    public var output: [Output]
    public var tableView: [TableColumn]
    public var useInTriage: Bool?
    /// The hooks that fire this action, in file order, without duplicates.
    public var hooks: [Hook]
    public var checkNotNullField: String?
    /// Whether a custom-action button asks the user for text; the framework's default is true.
    public var showModal: Bool
    public var srcDoc: String?
    public var urlPreview: String?
    public var imageBase64Png: String?
    public var imageBase64Jpg: String?
    public var exitConditions: [ExitCondition]
    public var reExecution: String?
    public var scheduled: [Schedule]
    public var signature: String?
    /// HookBus extension: a time limit in seconds for each run of this action.
    public var timeoutSeconds: Double?
    public var extraKeys: [String]
    public var location: SourceLocation

    public var isTrigger: Bool { type == .trigger }
}
