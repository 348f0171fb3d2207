public import Foundation

/// The outcome of loading definition folders: the catalog of everything that loaded cleanly, and
/// every problem found. One broken file never stops the others from loading.
public struct DefinitionLoadResult: Sendable {
    public let catalog: Catalog
    public let diagnostics: [Diagnostic]
    public let fileCount: Int

    public var errorCount: Int { diagnostics.count { $0.severity == .error } }
    public var warningCount: Int { diagnostics.count { $0.severity == .warning } }

    /// `3 integrations, 41 actions (12 triggers on 9 hooks): 0 errors, 2 warnings`.
    public var summary: String {
        let triggers = catalog.triggers
        let hooks = catalog.hooksInUse.count
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        return "\(plural(catalog.integrations.count, "integration")), \(plural(catalog.actionCount, "action")) "
            + "(\(plural(triggers.count, "trigger")) on \(plural(hooks, "hook"))): "
            + "\(plural(errorCount, "error")), \(plural(warningCount, "warning"))"
    }
}

/// Loads integration and action definition files from folder trees.
public struct DefinitionLoader: Sendable {
    public var limits: YAMLLimits

    public init(limits: YAMLLimits = .default) {
        self.limits = limits
    }

    /// Loads every `.yaml` and `.yml` file under `roots` (files or folders, at any depth; hidden
    /// folders are skipped). Paths in diagnostics are shown as given, joined with the file's path
    /// below its root.
    public func load(_ roots: [String]) -> DefinitionLoadResult {
        var diagnostics: [Diagnostic] = []
        var files: [(url: URL, display: String)] = []
        for root in roots {
            let found = Self.yamlFiles(under: root)
            if let error = found.error {
                diagnostics.append(Diagnostic(file: root, line: 0, column: 0, severity: .error, message: error))
            }
            for (display, reason) in found.skipped {
                diagnostics.append(Diagnostic(file: display, line: 0, column: 0, severity: .warning, message: "skipped: it is \(reason)"))
            }
            files += found.files
        }
        let parsed = Self.parseAll(files, limits: limits)
        for file in parsed { diagnostics += file.diagnostics }
        let assembled = Self.assemble(parsed.map(\.definition))
        diagnostics += assembled.diagnostics
        return DefinitionLoadResult(catalog: assembled.catalog, diagnostics: diagnostics, fileCount: files.count)
    }

    /// Parses files on all cores: parsing is independent per file and dominates load time.
    private static func parseAll(_ files: [(url: URL, display: String)], limits: YAMLLimits) -> [(definition: ParsedDefinition, diagnostics: [Diagnostic])] {
        let results = UnsafeResults(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            let file = files[index]
            let document = YAMLDocument.load(url: file.url, displayPath: file.display, limits: limits)
            var parser = DefinitionParser(file: file.display)
            let definition: ParsedDefinition = document.diagnostics.isEmpty ? parser.parse(document.root) : .invalid
            results.set(index, (definition, document.diagnostics + parser.diagnostics))
        }
        return results.values
    }

    /// Attaches actions to their integrations and applies the rules that span files.
    static func assemble(_ parsed: [ParsedDefinition]) -> (catalog: Catalog, diagnostics: [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        var integrations: [String: IntegrationDefinition] = [:]
        var order: [String] = []
        for case let .integration(definition) in parsed {
            if let first = integrations[definition.name] {
                diagnostics.append(Diagnostic(file: definition.location.file, line: definition.location.line, column: definition.location.column, severity: .error,
                                              message: "integration '\(definition.name)' is already defined at \(first.location)"))
                continue
            }
            integrations[definition.name] = definition
            order.append(definition.name)
        }
        var actions: [String: [ActionDefinition]] = [:]
        for case let .action(action, integrationPosition) in parsed {
            guard integrations[action.integration] != nil else {
                let position = integrationPosition
                let hint = Suggestion.hint(for: action.integration, in: order)
                diagnostics.append(Diagnostic(file: action.location.file, line: position?.line ?? action.location.line, column: position?.column ?? action.location.column, severity: .error,
                                              message: "action '\(action.name)' belongs to integration '\(action.integration)', which is not defined in the loaded folders\(hint)"))
                continue
            }
            if let first = actions[action.integration]?.first(where: { $0.name == action.name }) {
                diagnostics.append(Diagnostic(file: action.location.file, line: action.location.line, column: action.location.column, severity: .error,
                                              message: "duplicate action name '\(action.name)' in integration '\(action.integration)' (first defined at \(first.location))"))
                continue
            }
            actions[action.integration, default: []].append(action)
        }
        let built = order.map { name in
            Integration(definition: integrations[name]!, actions: (actions[name] ?? []).sorted { $0.name < $1.name })
        }
        diagnostics.sort { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
        return (Catalog(integrations: built), diagnostics)
    }

    /// The paths of every YAML file under `root` (for change detection).
    public static func yamlFilePaths(under root: String) -> [String] {
        yamlFiles(under: root).files.map(\.url.path)
    }

    /// Every YAML file under `root`, sorted by path so loads are deterministic, and the paths
    /// named like one that are not a readable regular file (each a warning: never read).
    static func yamlFiles(under root: String) -> (files: [(url: URL, display: String)], skipped: [(display: String, reason: String)], error: String?) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            if let reason = notAFile(root) { return ([], [], "cannot be read: it is \(reason)") }
            return ([], [], "no such file or folder")
        }
        let rootURL = URL(fileURLWithPath: root)
        if !isDirectory.boolValue {
            if let reason = notAFile(root) { return ([], [], "cannot be read: it is \(reason)") }
            return ([(rootURL, root)], [], nil)
        }
        guard let enumerator = FileManager.default.enumerator(at: rootURL, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else {
            return ([], [], "cannot read folder")
        }
        var files: [(url: URL, display: String)] = []
        var skipped: [(display: String, reason: String)] = []
        let base = rootURL.standardizedFileURL.path
        for case let url as URL in enumerator {
            let ext = url.pathExtension.lowercased()
            guard ext == "yaml" || ext == "yml" else { continue }
            var relative = url.standardizedFileURL.path
            if relative.hasPrefix(base) { relative = String(relative.dropFirst(base.count)) }
            if relative.hasPrefix("/") { relative.removeFirst() }
            let display = root.hasSuffix("/") ? root + relative : root + "/" + relative
            var folder: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &folder), folder.boolValue { continue }  // a folder named x.yaml
            if let reason = notAFile(url.path) {
                skipped.append((display, reason))
                continue
            }
            files.append((url, display))
        }
        files.sort { $0.display < $1.display }
        skipped.sort { $0.display < $1.display }
        return (files, skipped, nil)
    }

    /// Why `path` is not a readable regular file (following symbolic links), in words; nil
    /// when it is one. Decided with `stat` and `access`, without opening it: opening a FIFO for
    /// reading waits for a writer, and a device may never end.
    static func notAFile(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            var link = stat()
            // Only a link that is there can lead nowhere; a path that is not there is missing.
            guard lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK else { return error == ENOENT ? nil : "not examinable (\(String(cString: strerror(error))))" }
            return error == ELOOP ? "a symbolic link loop" : "a symbolic link to nothing"
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (a named pipe)"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
        guard access(path, R_OK) == 0 else { return "not readable (\(String(cString: strerror(errno))))" }
        return nil
    }
}

/// Per-index result slots written by `concurrentPerform` workers; each index is written once, by
/// one worker, and read only after all have finished.
private final class UnsafeResults: @unchecked Sendable {
    private var storage: [(definition: ParsedDefinition, diagnostics: [Diagnostic])?]
    private let lock = NSLock()

    init(count: Int) {
        storage = Array(repeating: nil, count: count)
    }

    func set(_ index: Int, _ value: (definition: ParsedDefinition, diagnostics: [Diagnostic])) {
        lock.withLock { storage[index] = value }
    }

    var values: [(definition: ParsedDefinition, diagnostics: [Diagnostic])] { storage.map { $0! } }
}
