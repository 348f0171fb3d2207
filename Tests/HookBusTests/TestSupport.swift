import Foundation
@testable import HookBus

/// A temporary folder for one test, removed when the value is released.
final class TempFolder {
    let url: URL
    var path: String { url.path }

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hookbus-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// A folder that sandboxed runs may write to once the configuration lists it in
    /// `sandbox_write`: writable by anyone, since as root HookBus runs triggers as `nobody`.
    func sharedWithRuns(_ relative: String) -> String {
        let folder = url.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        chmod(url.path, 0o755)
        chmod(folder.path, 0o777)
        return folder.path
    }

    /// Writes `text` at `relative` (folders created) and returns the full path.
    @discardableResult
    func write(_ relative: String, _ text: String) -> String {
        let file = url.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: file)
        return file.path
    }

    func write(_ relative: String, bytes: [UInt8]) {
        let file = url.appendingPathComponent(relative)
        try! Data(bytes).write(to: file)
    }
}

/// The package root, found from this file's path: tests read the shipped `Hooks/` and `Samples/`.
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A minimal valid integration file for `name` in `language`.
func integrationYAML(_ name: String = "Incident Tools", language: String = "python", attributes: String = "") -> String {
    """
    name: '\(name)'
    official_name: '\(name)'
    version: '1.0'
    icon: 'aWNvbg=='
    script:
      type: \(language)
      test_connection_code: 'print("ok")'
    docker_repo_tag: 'example/tools:1'
    configuration:
      testable_connection: true
      require_proxy_config: false
      data_attributes:
    \(attributes.isEmpty ? "    api_url:\n      label: 'API URL'\n      type: text\n      required: true\n      validator: url" : attributes)
    """
}

/// A minimal Trigger action file.
func triggerYAML(_ name: String, integration: String = "Incident Tools", hooks: [String], extra: String = "", code: String = "print('hi')") -> String {
    """
    integration: '\(integration)'
    name: '\(name)'
    type: Trigger
    script:
      code: |
        \(code)
    hook:
    \(hooks.map { "  - \($0)" }.joined(separator: "\n"))
    \(extra)
    """
}

extension DefinitionLoadResult {
    /// Diagnostics as `file-name:line:column: severity: message` with the folder stripped.
    func messages(relativeTo folder: TempFolder) -> [String] {
        diagnostics.map { $0.description.replacingOccurrences(of: folder.path + "/", with: "") }
    }
}
