import CHookBusSpawn
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A started run's process: its pid (also its process group), a pidfd that becomes readable
/// when it ends, and the reading ends of its stdout and stderr pipes (non-blocking).
///
/// Started by `CHookBusSpawn.hb_spawn` (clone + execve, the sandbox set up in between; see
/// spawn.c for why that is C), watched by `ChildWatcher`, and reaped by `reap()` once HookBus
/// has ended its process group: until then the ended child stays a zombie, so its pid — the
/// group's id that a time limit signals — cannot be reused by another run.
struct ChildProcess: Sendable {
    let pid: Int32
    let pidfd: Int32
    let stdout: Int32
    let stderr: Int32

    struct SpawnError: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { String(cString: strerror(errno)) }
    }

    /// `spawn` on a thread of its own rather than one of Swift's cooperative pool: a start
    /// holds its thread until the child has exec'd, and a child stopped before that (by a
    /// process of the run user) holds it up to the 10 s setup deadline — which must not take
    /// one of the few threads every task of HookBus shares.
    static func start(path: String, arguments: [String], environment: [String], directory: String, stdin: Int32,
                      confinement: Confinement?, runFolder: String, runUID: UInt32, mountNamespace: Int32,
                      openedGrants: (GrantCache.Generation, GrantCache.Generation.Table)?) async throws(SpawnError) -> ChildProcess {
        let started = await withCheckedContinuation { continuation in
            starts.async {
                continuation.resume(returning: Result { () throws(SpawnError) -> ChildProcess in
                    try spawn(path: path, arguments: arguments, environment: environment, directory: directory, stdin: stdin,
                              confinement: confinement, runFolder: runFolder, runUID: runUID, mountNamespace: mountNamespace,
                              openedGrants: openedGrants)
                })
            }
        }
        return try started.get()
    }

    private static let starts = DispatchQueue(label: "hookbus-run-starts", attributes: .concurrent)

    /// Starts `path` with exactly `arguments` (argv[0] included) and `environment`
    /// ("NAME=value" entries) in `directory`, reading `stdin` (left open: the caller closes
    /// it). `confinement` nil runs it unconfined; otherwise `runFolder` is granted all rights
    /// and, as root, the child becomes `runUID` and joins `mountNamespace` (≥ 0; see `TmpSlots`);
    /// `openedGrants`, when given, are the confinement's grants opened ahead (`GrantCache`).
    static func spawn(path: String, arguments: [String], environment: [String], directory: String, stdin: Int32,
                      confinement: Confinement?, runFolder: String, runUID: UInt32, mountNamespace: Int32,
                      openedGrants: (GrantCache.Generation, GrantCache.Generation.Table)?) throws(SpawnError) -> ChildProcess {
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        var failure = hb_pipe(&output)
        if failure != 0 { throw SpawnError(errno: failure) }
        failure = hb_pipe(&errors)
        if failure != 0 {
            close(output[0]); close(output[1])
            throw SpawnError(errno: failure)
        }
        var pid: pid_t = 0
        var pidfd: Int32 = -1
        let argv = CStringArray(arguments)
        let envp = CStringArray(environment)
        if argv.complete && envp.complete {
            // (The arrays and the confinement must outlive the child's use of them.)
            failure = withExtendedLifetime((argv, envp, confinement, openedGrants)) {
                path.withCString { path in
                    directory.withCString { directory in
                        runFolder.withCString { runFolder in
                            var request = hb_spawn_request(path: path, argv: argv.pointer, envp: envp.pointer, directory: directory,
                                                           stdin_fd: stdin, stdout_fd: output[1], stderr_fd: errors[1],
                                                           confinement: confinement?.pointer, run_folder: runFolder, run_uid: runUID,
                                                           mount_namespace: mountNamespace, opened: openedGrants.map { UnsafePointer($0.1.pointer) },
                                                           probe_only: 0)
                            return hb_spawn(&request, &pid, &pidfd)
                        }
                    }
                }
            }
        } else {
            failure = ENOMEM
        }
        // The child holds its own copies of the writing ends (or never started).
        close(output[1])
        close(errors[1])
        if failure != 0 {
            close(output[0]); close(errors[0])
            throw SpawnError(errno: failure)
        }
        return ChildProcess(pid: pid, pidfd: pidfd, stdout: output[0], stderr: errors[0])
    }

    /// Reaps the ended child and closes its pidfd (the pipes were closed by the watcher).
    func reap() {
        var code: Int32 = 0
        var signal: Int32 = 0
        // (It has ended — the watcher saw its pidfd readable — so this does not block; an error
        // here would mean it was reaped already, and there is nothing left to free.)
        _ = hb_wait_status(pidfd, 1, &code, &signal)
        close(pidfd)
    }
}

/// NULL-terminated C strings for argv and envp, freed with the array. (A NUL inside a string
/// ends it there, as the kernel would read it.)
final class CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    /// Whether every string was copied (false only when memory ran out).
    let complete: Bool

    init(_ strings: [String]) {
        pointer = .allocate(capacity: strings.count + 1)
        var copied = 0
        for string in strings {
            guard let copy = strdup(string) else { break }
            pointer[copied] = copy
            copied += 1
        }
        count = copied
        complete = copied == strings.count
        pointer[copied] = nil
    }

    deinit {
        for index in 0..<count { free(pointer[index]) }
        pointer.deallocate()
    }
}
