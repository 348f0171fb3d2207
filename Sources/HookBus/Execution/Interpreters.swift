public import Foundation

/// The interpreter for each script type, resolved once at start — never looked up per run, and
/// never through the child's environment (a child gets a minimal PATH of its own).
///
/// The default is the first match on HookBus's own PATH, except that a version-manager shim
/// (pyenv, asdf) is skipped in favour of the next real interpreter when one exists: a shim is a
/// shell script that costs a second process start on every run (about 134 ms against 10–47 ms
/// for `python3` on the reference machine). Set `interpreters:` in the configuration to choose.
public struct Interpreters: Sendable, Hashable {
    public struct Resolution: Sendable, Hashable {
        public let type: ScriptType
        public let command: String
        /// Absolute path, or nil when not found.
        public let path: String?
        /// How it was chosen: "configured", "PATH", "PATH (skipped shim …)".
        public let how: String
    }

    public let resolutions: [ScriptType: Resolution]

    /// The command each script type runs by default.
    public static func command(for type: ScriptType) -> String {
        switch type {
        case .python: return "python3"
        case .bash: return "bash"
        case .perl: return "perl"
        case .powershell: return "pwsh"
        }
    }

    public init(configured: [ScriptType: String], searchPath: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") {
        var resolutions: [ScriptType: Resolution] = [:]
        for type in ScriptType.allCases {
            let command = Self.command(for: type)
            if let path = configured[type] {
                let exists = FileManager.default.isExecutableFile(atPath: path)
                resolutions[type] = Resolution(type: type, command: command, path: exists ? path : nil, how: exists ? "configured" : "configured, not executable: \(path)")
                continue
            }
            let candidates = searchPath.split(separator: ":").map { "\($0)/\(command)" }.filter { FileManager.default.isExecutableFile(atPath: $0) }
            if let real = candidates.first(where: { !Self.isShim($0) }) {
                let skipped = candidates.prefix { $0 != real }
                resolutions[type] = Resolution(type: type, command: command, path: real, how: skipped.isEmpty ? "PATH" : "PATH (skipped shim \(skipped.joined(separator: ", ")))")
            } else if let shim = candidates.first {
                resolutions[type] = Resolution(type: type, command: command, path: shim, how: "PATH (a version-manager shim; slow to start)")
            } else {
                resolutions[type] = Resolution(type: type, command: command, path: nil, how: "not found on PATH")
            }
        }
        self.resolutions = resolutions
    }

    public func path(for type: ScriptType) -> String? { resolutions[type]?.path }

    /// A version-manager shim: a small script under a `shims` folder (pyenv, asdf, rbenv style).
    static func isShim(_ path: String) -> Bool {
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? path
        return path.contains("/shims/") || resolved.contains("/shims/")
    }
}
