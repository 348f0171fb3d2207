/// Resource limits of one run, applied by the run's child with `setrlimit` just before the
/// interpreter starts (`runner.limits`, `integrations.X.limits`, `integrations.X.action_limits`).
///
/// Limits rather than cgroups: they need no privilege, no delegated cgroup tree and no set-up
/// per machine, and each names its cause when hit — the kernel sends SIGXCPU at the CPU limit
/// and SIGXFSZ at the file size limit, an allocation past the memory limit fails with ENOMEM
/// and a fork past the process limit with EAGAIN (both reported by the interpreter). The memory
/// limit is of address space (`RLIMIT_AS`), which is what an allocation can be refused against
/// without a cgroup; the process limit counts the run's own processes and threads only (as root
/// each run has a uid of its own, otherwise a user namespace of its own, where the kernel counts
/// them apart).
public struct ResourceLimits: Sendable, Hashable {
    /// Address space in bytes.
    public var memoryBytes: Int?
    /// CPU seconds (user and system).
    public var cpuSeconds: Int?
    /// Processes and threads at once.
    public var processes: Int?
    /// Largest file the run may write, in bytes.
    public var fileSizeBytes: Int?

    public init(memoryBytes: Int? = nil, cpuSeconds: Int? = nil, processes: Int? = nil, fileSizeBytes: Int? = nil) {
        self.memoryBytes = memoryBytes
        self.cpuSeconds = cpuSeconds
        self.processes = processes
        self.fileSizeBytes = fileSizeBytes
    }

    /// Generous enough for any ordinary trigger (a python script with `requests` uses a few
    /// hundred MiB of address space), tight enough that a runaway one cannot take the machine:
    /// 2 GiB of memory, 256 processes, 1 GiB files. No CPU limit: the time limit bounds a run.
    public static let `default` = ResourceLimits(memoryBytes: 2 << 30, cpuSeconds: nil, processes: 256, fileSizeBytes: 1 << 30)
}

/// What one run may use besides what every run gets: the network, resources, and folders
/// outside its own (`integrations.X.network`, `limits`, `sandbox_read`, `sandbox_write`).
public struct RunPolicy: Sendable, Hashable {
    /// Whether the run may open network connections (on by default: triggers call APIs).
    public var network: Bool
    public var limits: ResourceLimits
    /// Extra folders or files it may read (and execute).
    public var readPaths: [String]
    /// Extra folders it may write (as root, they must be writable by `runner.sandbox_user`'s
    /// group: each run has a uid of its own, and makes what it creates group-writable).
    public var writePaths: [String]

    public init(network: Bool = true, limits: ResourceLimits = .default, readPaths: [String] = [], writePaths: [String] = []) {
        self.network = network
        self.limits = limits
        self.readPaths = readPaths
        self.writePaths = writePaths
    }

    public static let `default` = RunPolicy()
}

/// `runner.sandbox`: whether runs are confined.
public enum SandboxSetting: String, Sendable, Hashable, CaseIterable {
    /// Confined wherever the kernel allows it; where it does not, runs go unconfined and the
    /// server and `hookbus validate` say so (the default).
    case auto
    /// Confined, or HookBus does not start.
    case required
    /// Not confined (`none`).
    case none
}
