/// One problem found in a definition or configuration file, printed like a compiler's message:
/// `Hooks/incident-tools/close.yaml:12:5: error: unknown hook 'closeIncidnet' (did you mean 'closeIncident'?)`.
///
/// Diagnostics are values, not thrown errors, because one file can have many problems and the
/// user wants all of them in one pass (the way `swiftc` reports every error, not the first).
public struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    /// How bad a problem is: an error stops the element it is in from loading, a warning does not.
    public enum Severity: String, Sendable, Codable, Hashable {
        case error
        case warning
    }

    /// The file the problem is in, as the user gave it (relative paths stay relative).
    public var file: String
    /// 1-based line; 0 when the problem concerns the whole file.
    public var line: Int
    /// 1-based column; 0 when unknown.
    public var column: Int
    public var severity: Severity
    public var message: String

    public init(file: String, line: Int, column: Int, severity: Severity, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    public var description: String {
        var location = file
        if line > 0 {
            location += ":\(line)"
            if column > 0 { location += ":\(column)" }
        }
        return "\(location): \(severity.rawValue): \(message)"
    }
}

/// A position inside a source file (1-based), the part of a diagnostic that a parser knows.
public struct SourcePosition: Sendable, Hashable, Codable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// The position used when a problem concerns a whole file.
    public static let file = SourcePosition(line: 0, column: 0)
}

/// Collects diagnostics for one file while it is read.
struct DiagnosticSink {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) {
        self.file = file
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    mutating func error(_ message: String, at position: SourcePosition) {
        diagnostics.append(Diagnostic(file: file, line: position.line, column: position.column, severity: .error, message: message))
    }

    mutating func warning(_ message: String, at position: SourcePosition) {
        diagnostics.append(Diagnostic(file: file, line: position.line, column: position.column, severity: .warning, message: message))
    }
}
