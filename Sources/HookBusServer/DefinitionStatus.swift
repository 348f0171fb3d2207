public import Foundation
public import HookBus
import Synchronization

/// What the last load of the definition folders said — its warnings (and errors of the parts
/// that did not load), and a reload refused for errors — for the console's Health page: a
/// warning the server printed at start is otherwise gone with the terminal it went to.
public final class DefinitionStatus: Sendable {
    public struct Snapshot: Sendable {
        public var diagnostics: [Diagnostic] = []
        public var loadedAt: Date?
        /// The summary and errors of the newest reload that was refused (the previous
        /// definitions stay in use), nil once a reload succeeds.
        public var refusedReload: (summary: String, errors: [Diagnostic], at: Date)?
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    /// A load whose catalog is in use.
    public func loaded(_ diagnostics: [Diagnostic], at date: Date = Date()) {
        state.withLock { state in
            state.diagnostics = diagnostics
            state.loadedAt = date
            state.refusedReload = nil
        }
    }

    /// A reload refused for its errors.
    public func refused(summary: String, errors: [Diagnostic], at date: Date = Date()) {
        state.withLock { $0.refusedReload = (summary, errors, date) }
    }
}
