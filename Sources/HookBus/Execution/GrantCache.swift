import CHookBusSpawn
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The paths runs may only read (the system's, `sandbox_read`), opened once by HookBus and handed
/// to every run's child, instead of opened by each child again (C: `hb_open_grant`, the same
/// open a child makes: `O_PATH`, no symbolic link on the way).
///
/// Why: opening the ~30 grants was 62–73 µs of every run's start, 5–6% of bash's start rate
/// here (README, "The sandbox's cost"). Why not simply keep them: a Landlock rule is made from
/// an inode, so a file replaced by rename (`resolv.conf`, `ld.so.cache`, `passwd` are) would stay
/// granted as its old inode and the new one be denied. Checking every path at every start
/// (`fstatat`) costs half of what the cache saves. So the folders holding them are watched
/// (inotify): any entry made, removed or renamed in one of them, or the folder itself moved,
/// and the next start opens everything anew. A start that races a replacement sees the old
/// file, as one that opened its grants a moment earlier would.
///
/// Writable grants and paths under `/tmp` are not cached: the child opens them itself (a path
/// under `/tmp` must be opened in the run's own mount namespace to be bound into its `/tmp`). A
/// path that cannot be opened here (missing, a link planted on the way) is left to the child,
/// which skips or refuses it with the reason, as without the cache. Where inotify cannot be
/// had, there is no cache.
final class GrantCache: Sendable {
    /// One set of opened paths, closed once no start uses it any more.
    final class Generation: Sendable {
        /// Per confinement (by identity, kept alive with its table so that the identity stays its
        /// own), one `hb_opened_grant` per grant of its table.
        private let tables = Mutex<[ObjectIdentifier: (confinement: Confinement, table: Table)]>([:])
        /// Every descriptor opened, by path.
        private let opened = Mutex<[String: hb_opened_grant]>([:])

        /// An array the child reads; kept while the generation lives.
        final class Table: Sendable {
            nonisolated(unsafe) let pointer: UnsafeMutablePointer<hb_opened_grant>
            init(_ entries: [hb_opened_grant]) {
                pointer = .allocate(capacity: max(1, entries.count))
                pointer.initialize(from: entries, count: entries.count)
            }
            deinit { pointer.deallocate() }
        }

        func table(for confinement: Confinement, watch: (String) -> Bool) -> Table {
            let key = ObjectIdentifier(confinement)
            if let known = tables.withLock({ $0[key]?.table }) { return known }
            let entries = zip(confinement.grantPaths, confinement.grantCacheable).map { path, cacheable in
                cacheable ? open(path, watch: watch) : hb_opened_grant(fd: -1, is_directory: 0)
            }
            let table = Table(entries)
            return tables.withLock { tables -> Table in
                if let other = tables[key] { return other.table }
                tables[key] = (confinement, table)
                return table
            }
        }

        private func open(_ path: String, watch: (String) -> Bool) -> hb_opened_grant {
            if let known = opened.withLock({ $0[path] }) { return known }
            // Its folder is watched before it is opened: a change in between is then seen. One
            // that cannot be watched is left to the child.
            guard watch(path) else { return hb_opened_grant(fd: -1, is_directory: 0) }
            var isDirectory: Int32 = 0
            let fd = hb_open_grant(path, &isDirectory)
            let grant = hb_opened_grant(fd: fd >= 0 ? fd : -1, is_directory: isDirectory)
            let kept = opened.withLock { opened -> hb_opened_grant in
                if let other = opened[path] { return other }
                opened[path] = grant
                return grant
            }
            if kept.fd != grant.fd && grant.fd >= 0 { close(grant.fd) }
            return kept
        }

        deinit {
            for grant in opened.withLock({ $0.values }) where grant.fd >= 0 { close(grant.fd) }
        }
    }

    private let inotify: Int32
    private let current = Mutex(Generation())
    /// Folders watched, by watch descriptor's path.
    private let watched = Mutex<Set<String>>([])

    init?() {
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else { return nil }
    }

    deinit { close(inotify) }

    /// The generation to start a run with (hold it until the child has exec'd): a new one when
    /// anything watched has changed since the last start.
    func generation() -> Generation {
        // (On the stack: this runs at every start.)
        let changed = withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { events -> Bool in
            var changed = false
            while read(inotify, events.baseAddress, events.count) > 0 { changed = true }
            return changed
        }
        if changed {
            let fresh = Generation()
            current.withLock { $0 = fresh }
            return fresh
        }
        return current.withLock { $0 }
    }

    /// The generation's table of opened grants for `confinement`.
    func table(for confinement: Confinement, in generation: Generation) -> Generation.Table {
        generation.table(for: confinement, watch: watch(folderOf:))
    }

    /// Watches the folder holding `path` (and so its replacement); whether it is watched.
    private func watch(folderOf path: String) -> Bool {
        guard let slash = path.lastIndex(of: "/") else { return false }
        let folder = slash == path.startIndex ? "/" : String(path[..<slash])
        return watched.withLock { watched -> Bool in
            if watched.contains(folder) { return true }
            let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
            guard inotify_add_watch(inotify, folder, mask) >= 0 else { return false }
            watched.insert(folder)
            return true
        }
    }
}
