/// A string enumeration whose values come from a closed set given by the integration framework.
/// Reading one from YAML gives "did you mean" suggestions, and accepts a value that differs only
/// in letter case with a warning (published examples write `webHook`, `trigger`, `Python`).
public protocol ClosedSet: RawRepresentable, CaseIterable, Sendable, Hashable, Codable where RawValue == String {
    /// What the set is called in messages, e.g. "hook" or "script type".
    static var setName: String { get }
}

/// The result of matching a written value against a closed set.
enum ClosedSetMatch<Value: ClosedSet> {
    case exact(Value)
    case caseInsensitive(Value)
    case unknown(suggestion: String?)
}

extension ClosedSet {
    static func match(_ text: String) -> ClosedSetMatch<Self> {
        if let value = Self(rawValue: text) { return .exact(value) }
        let lowered = text.lowercased()
        if let value = allCases.first(where: { $0.rawValue.lowercased() == lowered }) { return .caseInsensitive(value) }
        return .unknown(suggestion: Suggestion.closest(to: text, in: allCases.map(\.rawValue)))
    }

    /// Every accepted value, for messages: `'bash', 'perl', 'powershell', 'python'`.
    static var listing: String { allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") }
}

/// The language of an integration's code; decides the interpreter HookBus starts.
public enum ScriptType: String, ClosedSet {
    case bash, perl, powershell, python
    public static let setName = "script type"
}

/// What an action is for. HookBus runs `Trigger` actions; the others load and validate so that a
/// whole exported integration can live in `Hooks/`.
public enum ActionType: String, ClosedSet {
    case containment = "Containment"
    case custom = "Custom"
    case enrichment = "Enrichment"
    case daemon = "Daemon"
    case notification = "Notification"
    case trigger = "Trigger"
    case scheduled = "Scheduled"
    public static let setName = "action type"
}

/// Type of an integration configuration field (`configuration.data_attributes.*.type`).
public enum AttributeType: String, ClosedSet {
    case checkbox, list, number, password, text, textarea
    public static let setName = "data attribute type"
}

/// Validator of an integration configuration field.
public enum AttributeValidator: String, ClosedSet {
    case host, integer, ip, port, url
    public static let setName = "data attribute validator"
}

/// Type of an action input field (`fields[].type`).
public enum FieldType: String, ClosedSet {
    case checkbox, datetime, fileDetonate, list, multilist, number, tag, text, textarea, upload
    public static let setName = "field type"
}

/// Validator of an action input field.
public enum FieldValidator: String, ClosedSet {
    case datetime, domain, email = "e-mail", hash, integer, ipaddress, ipDomain = "ip_domain", md5, port, sha1, sha256, url
    public static let setName = "field validator"
}

/// Entity types an action can be offered for (`fields[].observables`).
public enum ObservableType: String, ClosedSet {
    case domain, email, file, ipaddress, md5, sha1, sha256, url, userdetail
    public static let setName = "observable type"
}
