/// A secret value (a password attribute, a token, a signing key). It prints as `••••••` so it
/// cannot reach a log line, an audit row or a dry-run printout by accident; code that must use it
/// reads `reveal()` explicitly.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String
    /// Where it came from (`env:SOAR_TOKEN`, `file:/etc/hookbus/key`), safe to print.
    public let origin: String

    /// False for a placeholder made by a loader that was told not to read secrets
    /// (`ConfigurationLoader.readsSecrets`): its value is empty and must not be used.
    public let isResolved: Bool

    public init(_ value: String, origin: String) {
        self.value = value
        self.origin = origin
        isResolved = true
    }

    /// A secret named by the configuration but not read: for commands that never use one.
    public static func unresolved(origin: String) -> Secret { Secret(origin: origin) }

    private init(origin: String) {
        value = ""
        self.origin = origin
        isResolved = false
    }

    public func reveal() -> String { value }

    public static let mask = "••••••"
    public var description: String { Self.mask }
    public var debugDescription: String { "Secret(\(origin))" }
}
