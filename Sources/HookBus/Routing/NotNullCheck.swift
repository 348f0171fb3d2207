/// `check_not_null_field`, defined precisely:
///
/// - It is checked against the element the hook is about (`Hook.subjectParam`): the incident,
///   task, triage event or observable — for update hooks, its state *after* the update. A
///   `webhook` has no element, so a not-null field on a webhook trigger is never satisfied.
/// - The field name is looked up as a key first; if there is no such key and it contains dots,
///   it is a path into nested objects (`owner.email`).
/// - Not populated: missing, `null`, a string that is empty or only whitespace, an empty list,
///   an empty object. Populated: anything else, including `0` and `false`, which are values.
public enum NotNullCheck {
    public enum Result: String, Sendable, Hashable {
        case populated
        case missing
        case null
        case empty
    }

    public static func check(_ field: String, in object: [String: JSONValue]?) -> Result {
        guard let object else { return .missing }
        guard let value = lookup(field, in: object) else { return .missing }
        switch value {
        case .null: return .null
        case let .string(text):
            // Fast path: a printable ASCII first byte settles it without Unicode tables.
            if let first = text.utf8.first, first > 0x20, first < 0x7F { return .populated }
            return text.allSatisfy(\.isWhitespace) ? .empty : .populated
        case let .array(elements): return elements.isEmpty ? .empty : .populated
        case let .object(members): return members.isEmpty ? .empty : .populated
        case .bool, .number: return .populated
        }
    }

    static func lookup(_ field: String, in object: [String: JSONValue]) -> JSONValue? {
        if let value = object[field] { return value }
        guard field.contains(".") else { return nil }
        var current: JSONValue = .object(object)
        for segment in field.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = current[String(segment)] else { return nil }
            current = next
        }
        return current
    }
}
