/// Everything `hookbus.yaml` says, resolved and validated. With no file, every default applies.
public struct HookBusConfiguration: Sendable {
    /// How the `--token` passed to triggers is made.
    public enum TokenSource: Sendable {
        /// No incident system: `--token` is an empty string.
        case none
        /// One configured secret, the same for every run.
        case staticToken(Secret)
        /// A short-lived HS256 JWT minted per run, carrying the trigger and the event as claims.
        case jwt(key: Secret, lifetimeSeconds: Int, issuer: String)
    }

    /// Settings of one integration's instance (the SOAR's "resource").
    public struct Instance: Sendable {
        /// Values by data attribute name, defaults applied; secrets stay `Secret`.
        public var values: [String: InstanceValue] = [:]
        /// Time limit for this integration's runs, overriding the global one.
        public var timeoutSeconds: Double?
        /// Time limits per action name.
        public var actionTimeouts: [String: Double] = [:]
        /// The integration's retry policy (`retry:`), over the global one; nil for the global.
        public var retry: RetryPolicy?
        /// Retry policies per action name (`action_retry:`), over the integration's.
        public var actionRetries: [String: RetryPolicy] = [:]
        /// `order:` whether a run waiting for its retry holds later runs about the same element.
        public var order: OrderMode = .strict
        /// `max_concurrency` and `max_per_minute`.
        public var limits = IntegrationLimits()
        /// `network:` whether its runs may use the network (nil: yes).
        public var network: Bool?
        /// `limits:` resource limits of its runs, over `runner.limits`; nil for those.
        public var resourceLimits: ResourceLimits?
        /// `action_limits:` per action name, over the integration's.
        public var actionResourceLimits: [String: ResourceLimits] = [:]
        /// `sandbox_read:` and `sandbox_write:` extra paths its runs may read or write.
        public var sandboxRead: [String] = []
        public var sandboxWrite: [String] = []

        public init() {}
    }

    public enum InstanceValue: Sendable, Hashable {
        case plain(String)
        case secret(Secret)
    }

    public enum AuditVerbosity: String, Sendable, Hashable, CaseIterable {
        /// Keep stdout and stderr of every run.
        case all
        /// Keep the output only of runs that did not succeed.
        case errors
    }

    public var incidentSystemURL: String = ""
    public var token: TokenSource = .none
    public var proxyURL: String?
    /// Interpreter paths by script type; unset ones are resolved from PATH once at start.
    public var interpreters: [ScriptType: String] = [:]

    // Runner
    /// Runs at once: twice the cores, at least 4. A run is not all CPU — its start, its pipes
    /// and its audit rows leave a core idle between runs — and measured on 2 cores (3 Dec,
    /// `hookbus-bench sandbox --concurrency 2|4`), 4 in flight completed 40–55% more trivial
    /// runs per second than 2 (sandbox off 898–926 against 616–692/s; on 579–587 against
    /// 328–424/s) with raw spawning itself no faster. Triggers that wait on APIs gain more.
    public var concurrency: Int = max(4, 2 * ProcessInfoCores.count)
    public var timeoutSeconds: Double = 60
    public var graceSeconds: Double = 5
    public var outputLimitBytes: Int = 1 << 20
    /// `retry:` the policy of every integration that does not give its own.
    public var retryPolicy: RetryPolicy = .default
    /// `runner.run_dir`: where run folders go; nil for the memory-backed default (`RunFolders`).
    public var runDirectory: String?
    /// `runner.sandbox`: whether runs are confined (see `Sandbox`).
    public var sandbox: SandboxSetting = .auto
    /// `runner.sandbox_user`: the user whose group runs get when HookBus runs as root.
    public var sandboxUser: String = "nobody"
    /// `runner.run_uids`: the uids a root HookBus gives its runs, one each (see `RunUIDs`).
    public var runUIDs: ClosedRange<UInt32> = RunUIDs.defaultRange
    /// `runner.private_tmp`: whether each run gets a `/tmp` of its own (a mount namespace per
    /// run, the sandbox's dearest part: see `Sandbox`), or none — `/tmp` denied, `TMPDIR` its
    /// run folder as always.
    public var privateTmp = true
    /// `runner.sandbox_read` and `runner.sandbox_write`: extra paths every run may read or
    /// write (as root, writable by `sandbox_user`'s group: each run has a uid of its own).
    public var sandboxRead: [String] = []
    public var sandboxWrite: [String] = []
    /// `runner.limits`: resource limits of every run.
    public var limits: ResourceLimits = .default
    /// `runner.locale`: the `LANG` runs get; nil for none (the C locale, see `Router`).
    public var locale: String?

    // Audit trail
    public var dataDirectory: String = "data"
    /// `store:` — where events, runs and the audit trail are kept.
    public var store: StoreSettings = .sqlite
    public var auditVerbosity: AuditVerbosity = .all
    public var retentionDays: Double?
    public var retentionRuns: Int?

    // Server
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// `server.tokens` and `server.hook_token` (a sender token named `hook_token`): who may use
    /// the HTTP surface, and the name the audit trail records for what they do.
    public var accessTokens: [AccessToken] = []
    /// `server.open_on_loopback`: routes of a role with no token answer anyone, on a loopback
    /// address only (see `AccessPolicy`).
    public var openOnLoopback = false
    /// `server.fast_path`: whether well-formed hook requests are answered on their connection's
    /// event loop (`HookAcceptFastPath`); off sends every request through the router.
    public var fastPath = true
    public var maxBodyBytes: Int = 1 << 20
    public var backlogLimit: Int = 100_000
    public var idempotencyWindowSeconds: Double = 24 * 3600
    public var webhooks: [String: WebhookEndpoint] = [:]

    public var instances: [String: Instance] = [:]
    /// Daemon actions the server runs on a period (`daemons:`).
    public var daemons: [DaemonSpec] = []

    public init() {}

    /// The time limit for a run of `action` of `integration`: action, then integration, then global.
    public func timeout(integration: String, action: String) -> Double {
        instances[integration]?.actionTimeouts[action] ?? instances[integration]?.timeoutSeconds ?? timeoutSeconds
    }

    /// What a run of `action` of `integration` may use: its network setting, limits (action,
    /// then integration, then global) and extra paths (global and the integration's).
    public func runPolicy(integration: String, action: String) -> RunPolicy {
        let instance = instances[integration]
        return RunPolicy(network: instance?.network ?? true,
                         limits: instance?.actionResourceLimits[action] ?? instance?.resourceLimits ?? limits,
                         readPaths: sandboxRead + (instance?.sandboxRead ?? []),
                         writePaths: sandboxWrite + (instance?.sandboxWrite ?? []))
    }

    /// The retry policy of `action` of `integration`: action, then integration, then global.
    public func retryPolicy(integration: String, action: String) -> RetryPolicy {
        instances[integration]?.actionRetries[action] ?? instances[integration]?.retry ?? retryPolicy
    }

    /// The SQLite file of the audit trail and event store.
    public var databasePath: String { dataDirectory + "/hookbus.sqlite" }
}

/// Which store HookBus keeps its events and runs in (`store:` in `hookbus.yaml`).
public enum StoreSettings: Sendable {
    /// One SQLite file in `data_dir`: one node, nothing else to run (the default).
    case sqlite
    /// A PostgreSQL database shared by several nodes (`HookBusPostgres`). `node` names this
    /// node (nil: made from the host and the port or pid); `connections` is the pool's size;
    /// `acceptWriters` how many accept batches commit side by side (`EventStore.acceptWriters`).
    case postgres(url: Secret, node: String?, connections: Int, acceptWriters: Int)
}

import Foundation

/// The machine's core count, for the default size of the run pool.
enum ProcessInfoCores {
    static var count: Int { ProcessInfo.processInfo.activeProcessorCount }
}
