/// A value placed in a trigger's argv or environment. Secret and per-run values are kept
/// symbolic until the runner starts the process, so printing an invocation never reveals them.
public enum InvocationValue: Sendable, Hashable {
    /// Whether the value is a configured secret (never shown, never put in argv by choice).
    public var isSecret: Bool {
        if case .secret = self { return true }
        return false
    }

    case plain(String)
    case secret(Secret)
    /// The `--token` for this run, made by the runner (a static token or a freshly minted JWT).
    case runToken
    /// The run's private folder (HOME, TMPDIR and the working directory).
    case runDirectory
    /// The absolute path of a file the runner writes into the run folder (an oversized param).
    case runFile(String)

    /// The value as printed by `--dry-run` and stored in the audit trail.
    public var masked: String {
        switch self {
        case let .plain(text): return text
        case .secret: return Secret.mask
        case .runToken: return "<token for this run>"
        case .runDirectory: return "<run folder>"
        case let .runFile(name): return "<run folder>/\(name)"
        }
    }
}

/// A name and value for argv (`--name=value`) or the environment (`name=value`).
public struct InvocationEntry: Sendable, Hashable {
    public let name: String
    public let value: InvocationValue

    public init(_ name: String, _ value: InvocationValue) {
        self.name = name
        self.value = value
    }
}

/// Everything needed to run one trigger for one event, decided without any I/O: the interpreter,
/// the code, and the params delivered three ways at once so every published script style works —
/// argv (`--name=value`), the environment (same names), and one JSON object on stdin.
public struct Invocation: Sendable, Hashable {
    public let eventID: String
    public let hook: Hook
    public let integration: String
    public let trigger: String
    public let scriptType: ScriptType
    public let code: String
    /// Options after the script path, each passed as one `--name=value` argument.
    public let arguments: [InvocationEntry]
    /// The child's whole environment; nothing of HookBus's own is inherited.
    public let environment: [InvocationEntry]
    /// One JSON object with every param.
    public let stdin: String
    /// Files to write into the run folder before starting (name → content).
    public let files: [String: String]
    /// Params too large for argv and the environment (over Linux's 128 KiB per string), which
    /// reach the script through stdin and a file instead.
    public let oversizedParams: [String]
    public let timeoutSeconds: Double
    /// Events with the same key run one at a time, in arrival order.
    public let orderingKey: String?
    /// The action's `output` and `table_view`, evaluated on a JSON stdout.
    public let resultSpec: ResultSpec
    /// What the run may use inside its sandbox: network, resource limits, extra paths.
    public let policy: RunPolicy

    public init(eventID: String, hook: Hook, integration: String, trigger: String, scriptType: ScriptType, code: String,
                arguments: [InvocationEntry], environment: [InvocationEntry], stdin: String, files: [String: String],
                oversizedParams: [String], timeoutSeconds: Double, orderingKey: String?, resultSpec: ResultSpec = .none, policy: RunPolicy = .default) {
        self.eventID = eventID
        self.hook = hook
        self.integration = integration
        self.trigger = trigger
        self.scriptType = scriptType
        self.code = code
        self.arguments = arguments
        self.environment = environment
        self.stdin = stdin
        self.files = files
        self.oversizedParams = oversizedParams
        self.timeoutSeconds = timeoutSeconds
        self.orderingKey = orderingKey
        self.resultSpec = resultSpec
        self.policy = policy
    }

    /// The configured secrets the run is given: its output is scrubbed of them.
    var secretValues: [String] {
        environment.compactMap { entry -> String? in
            if case let .secret(secret) = entry.value { return secret.reveal() }
            return nil
        }
    }

    /// argv as printed (secrets masked), without the interpreter and script path.
    public var maskedArguments: [String] { arguments.map { "--\($0.name)=\($0.value.masked)" } }

    /// The environment as printed (secrets masked), in name order.
    public var maskedEnvironment: [String: String] {
        Dictionary(environment.map { ($0.name, $0.value.masked) }, uniquingKeysWith: { _, last in last })
    }
}
