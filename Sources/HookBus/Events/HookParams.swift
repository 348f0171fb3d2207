/// The shape a hook param must have.
public enum ParamKind: String, Sendable, Hashable {
    /// A JSON object (an incident, task, triage event or observable); a JSON string holding an
    /// object is accepted too, because the framework documents these params as "JSON strings".
    case object
    /// Free text (the custom-action button's input).
    case text
    /// Any JSON value, kept byte for byte (the webhook payload).
    case anyJSON
}

/// One param a hook passes to its triggers.
public struct ParamSpec: Sendable, Hashable {
    public let name: String
    public let kind: ParamKind
    public let required: Bool
}

/// What each hook carries and which object it is "about".
///
/// The six `addObservable*` hooks are not given params by the framework. HookBus passes the new
/// entity as `observablesDetail` (in the style of `incidentsDetail`, `tasksDetail`), an object with
/// at least its `value` (and usually `id` and `type`), plus the incident it was added to as
/// `incidentsDetail` when the event carries it.
extension Hook {
    public var params: [ParamSpec] {
        switch self {
        case .newIncident:
            return [.init(name: "incidentsDetail", kind: .object, required: true)]
        case .updateIncident, .closeIncident:
            return [.init(name: "incidentsBeforeUpdate", kind: .object, required: true),
                    .init(name: "incidentsAfterUpdate", kind: .object, required: true)]
        case .incidentCustomAction:
            return [.init(name: "incidentsDetail", kind: .object, required: true),
                    .init(name: "text", kind: .text, required: false)]
        case .createTask, .approveTask, .closeTask, .reassignTask:
            return [.init(name: "tasksDetail", kind: .object, required: true)]
        case .updateTask:
            return [.init(name: "tasksBeforeUpdate", kind: .object, required: true),
                    .init(name: "tasksAfterUpdate", kind: .object, required: true)]
        case .taskCustomAction:
            return [.init(name: "tasksDetail", kind: .object, required: true),
                    .init(name: "text", kind: .text, required: false)]
        case .discardEvent, .grabEvent, .reassignEvent:
            return [.init(name: "triage_eventsDetail", kind: .object, required: true)]
        case .webhook:
            // Derived from the request's body (`Event.webhook`); a hook body gives `payload`
            // (and may give `headers`).
            return [.init(name: "payload", kind: .anyJSON, required: true),
                    .init(name: "payloadForm", kind: .object, required: false),
                    .init(name: "payloadJSON", kind: .anyJSON, required: false),
                    .init(name: "headers", kind: .object, required: false)]
        case .addObservableArtifact, .addObservableDomain, .addObservableIp, .addObservableMail, .addObservableUrl, .addObservableUserDetail:
            return [.init(name: "observablesDetail", kind: .object, required: true),
                    .init(name: "incidentsDetail", kind: .object, required: false)]
        }
    }

    /// The param `check_not_null_field` is checked against: the element the hook is about, in
    /// its state after the change for update hooks. Nil for `webhook`, which has no element.
    public var subjectParam: String? {
        switch self {
        case .newIncident, .incidentCustomAction: return "incidentsDetail"
        case .updateIncident, .closeIncident: return "incidentsAfterUpdate"
        case .createTask, .approveTask, .closeTask, .reassignTask, .taskCustomAction: return "tasksDetail"
        case .updateTask: return "tasksAfterUpdate"
        case .discardEvent, .grabEvent, .reassignEvent: return "triage_eventsDetail"
        case .webhook: return nil
        case .addObservableArtifact, .addObservableDomain, .addObservableIp, .addObservableMail, .addObservableUrl, .addObservableUserDetail:
            return "observablesDetail"
        }
    }

    /// Whether the hook targets one named trigger (a custom-action button) rather than all.
    public var isCustomAction: Bool { self == .incidentCustomAction || self == .taskCustomAction }

    /// What the ordering key of an event of this hook is built from: (kind, param with the id).
    var orderingSource: (kind: String, param: String)? {
        switch self {
        case .newIncident, .incidentCustomAction: return ("incident", "incidentsDetail")
        case .updateIncident, .closeIncident: return ("incident", "incidentsAfterUpdate")
        case .createTask, .approveTask, .closeTask, .reassignTask, .taskCustomAction: return ("task", "tasksDetail")
        case .updateTask: return ("task", "tasksAfterUpdate")
        case .discardEvent, .grabEvent, .reassignEvent: return ("triage", "triage_eventsDetail")
        case .webhook: return nil
        case .addObservableArtifact, .addObservableDomain, .addObservableIp, .addObservableMail, .addObservableUrl, .addObservableUserDetail:
            return ("incident", "incidentsDetail")
        }
    }
}
