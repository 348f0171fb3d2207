/// Why an event was refused. The server maps codes to HTTP statuses at its boundary; the CLI
/// prints `message`.
public struct EventError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The body or line is not JSON, or not a JSON object.
        case malformed
        /// No hook of that name.
        case unknownHook
        /// A required param is missing.
        case missingParam
        /// A param has the wrong JSON type.
        case wrongShape
        /// A custom-action event names no trigger, or one that does not exist for the hook.
        case unknownTrigger
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
