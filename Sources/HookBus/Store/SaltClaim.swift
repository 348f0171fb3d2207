import Foundation
import GRDB
import Synchronization

/// A run-id salt held by this process while a store is open: a lease taken with the kernel, an
/// `fcntl` lock on byte `salt` of a file beside the database (`hookbus.sqlite-salts`). The
/// kernel ends it when the process ends however it ends (`kill -9`, out of memory), whatever
/// its pid is next time and across containers sharing the file: no table of pids to clean up.
///
/// POSIX locks belong to the process, not to the descriptor, and closing any descriptor of the
/// file drops them all: so one descriptor per file is kept for the process's life, and the salts
/// this process holds are remembered here, for a second store on the same file in one process.
final class SaltClaim: Sendable {
    let salt: Int64
    private let lockPath: String
    private static let held = Mutex<[String: (descriptor: Int32, salts: Set<Int64>)]>([:])

    init(databasePath: String) throws {
        let lockPath = databasePath + "-salts"
        self.lockPath = lockPath
        let claimed: Result<Int64, DatabaseError> = Self.held.withLock { held in
            var entry = held[lockPath] ?? (descriptor: open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600), salts: [])
            guard entry.descriptor >= 0 else {
                return .failure(DatabaseError(message: "cannot open \(lockPath) for the run-id salts: \(String(cString: strerror(errno)))"))
            }
            defer { held[lockPath] = entry }
            for candidate in Int64(0)..<64 where !entry.salts.contains(candidate) {
                if Self.lock(entry.descriptor, byte: candidate, F_WRLCK) {
                    entry.salts.insert(candidate)
                    return .success(candidate)
                }
            }
            return .failure(DatabaseError(message: "all 64 run-id salts of this database are held by processes using it (\(lockPath)): no store can be opened until one ends"))
        }
        salt = try claimed.get()
    }

    deinit {
        Self.held.withLock { held in
            guard var entry = held[lockPath] else { return }
            _ = Self.lock(entry.descriptor, byte: salt, F_UNLCK)
            entry.salts.remove(salt)
            held[lockPath] = entry
        }
    }

    private static func lock(_ descriptor: Int32, byte: Int64, _ type: Int32) -> Bool {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(byte)
        lock.l_len = 1
        return fcntl(descriptor, F_SETLK, &lock) == 0
    }
}
