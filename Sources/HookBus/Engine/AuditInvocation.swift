/// The invocation as the audit trail keeps it: interpreter type, argv and environment with
/// secrets masked, params (already stored with the event) replaced by their size, and the
/// sandbox the run got (`sandbox`: its mode, network, limits and extra paths).
///
/// Written straight to text, in the same form `JSONValue` would give (keys sorted): it is made
/// for every run, and building a value tree first cost a trivial run a visible share of its CPU.
enum AuditInvocation {
    static func json(_ invocation: Invocation, sandbox: String? = nil) -> String {
        let params = invocation.hook.params
        func shown(_ entry: InvocationEntry) -> String {
            if case let .plain(text) = entry.value, params.contains(where: { $0.name == entry.name }) {
                return "<param \(entry.name): \(text.utf8.count) bytes>"
            }
            return entry.value.masked
        }
        var output = "{\"argv\":["
        output.reserveCapacity(512)
        for (index, argument) in invocation.arguments.enumerated() {
            if index > 0 { output += "," }
            JSONValue.appendQuoted("--\(argument.name)=\(shown(argument))", to: &output)
        }
        output += "],\"env\":{"
        // Names are unique in an invocation; sorted, as JSONValue writes objects.
        var lastName: String?
        for entry in invocation.environment.sorted(by: { $0.name < $1.name }) where entry.name != lastName {
            if lastName != nil { output += "," }
            lastName = entry.name
            JSONValue.appendQuoted(entry.name, to: &output)
            output += ":"
            JSONValue.appendQuoted(shown(entry), to: &output)
        }
        output += "},\"oversizedParams\":["
        for (index, name) in invocation.oversizedParams.enumerated() {
            if index > 0 { output += "," }
            JSONValue.appendQuoted(name, to: &output)
        }
        output += "]"
        if let sandbox { output += ",\"sandbox\":" + sandbox }
        output += ",\"scriptType\":"
        JSONValue.appendQuoted(invocation.scriptType.rawValue, to: &output)
        output += ",\"stdinBytes\":\(invocation.stdin.utf8.count),\"timeoutSeconds\":\(invocation.timeoutSeconds)}"
        return output
    }
}
