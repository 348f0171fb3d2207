/// A secret value (a password attribute, a token, a signing key). It prints as `••••••` so it
/// cannot reach a log line, an audit row or a dry-run printout by accident; code that must use it
/// reads `reveal()` explicitly.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String
    /// Where it came from (`env:SOAR_TOKEN`, `file:/etc/hookbus/key`), safe to print.
    public let origin: String

    public init(_ value: String, origin: String) {
        self.value = value
        self.origin = origin
    }

    public func reveal() -> String { value }

    public static let mask = "••••••"
    public var description: String { Self.mask }
    public var debugDescription: String { "Secret(\(origin))" }
}
