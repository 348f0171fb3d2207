/// The twenty trigger hooks of the integration framework, and the params each one passes.
public enum Hook: String, ClosedSet, Comparable {
    case addObservableArtifact, addObservableDomain, addObservableIp, addObservableMail, addObservableUrl, addObservableUserDetail
    case approveTask, closeTask, createTask, reassignTask, taskCustomAction, updateTask
    case discardEvent, grabEvent, reassignEvent
    case closeIncident, incidentCustomAction, newIncident, updateIncident
    case webhook

    public static let setName = "hook"

    public static func < (lhs: Hook, rhs: Hook) -> Bool { lhs.rawValue < rhs.rawValue }
}
