/// The invocation as the audit trail keeps it: interpreter type, argv and environment with
/// secrets masked, and params (already stored with the event) replaced by their size.
enum AuditInvocation {
    static func json(_ invocation: Invocation) -> String {
        let paramNames = Set(invocation.hook.params.map(\.name))
        func shown(_ entry: InvocationEntry) -> String {
            if paramNames.contains(entry.name), case let .plain(text) = entry.value {
                return "<param \(entry.name): \(text.utf8.count) bytes>"
            }
            return entry.value.masked
        }
        let value: JSONValue = .object([
            "scriptType": .string(invocation.scriptType.rawValue),
            "argv": .array(invocation.arguments.map { .string("--\($0.name)=\(shown($0))") }),
            "env": .object(Dictionary(invocation.environment.map { ($0.name, JSONValue.string(shown($0))) }, uniquingKeysWith: { $1 })),
            "stdinBytes": .number(String(invocation.stdin.utf8.count)),
            "oversizedParams": .array(invocation.oversizedParams.map(JSONValue.string)),
            "timeoutSeconds": .number(String(invocation.timeoutSeconds)),
        ])
        return value.jsonText
    }
}
