public import Hummingbird
public import HookBus

/// The request context of every HookBus route: Hummingbird's core context, and who made the
/// request once a route group's `AccessMiddleware` has decided it.
public struct HookBusRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AccessMiddleware`; nil on routes that no role guards (`/healthz`, webhooks).
    public var principal: Principal?
    /// The console session of the request (`ConsoleSessionMiddleware`), on `/ui` pages only.
    public var session: ConsoleSessions.Session?
    /// A console form's fields, read (and its CSRF token checked) by `ConsoleSessionMiddleware`.
    var form = ConsoleForm()

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// The name the audit trail records for an operator action.
    var actor: String { principal?.name ?? Principal.anonymous.name }
}
