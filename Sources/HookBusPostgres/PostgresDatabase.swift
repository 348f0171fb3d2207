import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The store's connection pool, with what postgres-nio leaves to its user: the pool's `run()`
/// kept going for the store's life, and a time limit on every call (the client waits for ever
/// for a server that is down, where a request must be answered 503 within seconds).
final class PostgresDatabase: Sendable {
    let client: PostgresClient
    let url: PostgresURL
    private let runner: Task<Void, Never>
    let logger: Logger

    /// How long one call may take before it is given up as `StoreUnavailable`: far above a
    /// commit (a few ms), below a sender's usual timeout.
    static let callLimit = Duration.seconds(5)
    static let limitWhileDown = Duration.milliseconds(500)
    /// Whether the last call found the server unreachable.
    private let down = Atomic<Bool>(false)

    /// - Parameter statementTimeout: PostgreSQL's own limit on each statement, set below the
    ///   calls' limit (`callLimit`): a call given up here must not go on to commit there (a
    ///   claim committed after its caller gave up would hold events that nobody runs). Nil for
    ///   the store copy, whose calls have no limit of their own.
    init(url: PostgresURL, connections: Int, statementTimeout: Duration? = .seconds(4), logger: Logger) {
        var configuration = url.clientConfiguration
        configuration.options.maximumConnections = connections
        configuration.options.minimumConnections = min(2, connections)
        configuration.options.connectTimeout = .seconds(3)
        // Every commit is flushed before it returns, whatever the server's default says: a 202
        // is a promise. The name shows in `pg_stat_activity`.
        configuration.options.additionalStartupParameters = [("synchronous_commit", "on"), ("application_name", "hookbus")]
        if let statementTimeout {
            let milliseconds = statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
            configuration.options.additionalStartupParameters += [
                ("statement_timeout", String(milliseconds)),
                // A transaction whose caller gave up (a run-record batch) is not left holding locks.
                ("idle_in_transaction_session_timeout", String(milliseconds * 8)),
            ]
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.url = url
        self.logger = logger
        runner = Task { await client.run() }
    }

    func close() {
        runner.cancel()
    }

    /// Runs `operation` with the time limit; its failure comes back as `StoreUnavailable` when
    /// the server could not be reached or answered too late, as it was otherwise.
    func call<T: Sendable>(_ what: String, limit: Duration? = nil, _ operation: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = self.client
        // While the server is known to be unreachable, calls give up sooner: a sender waits
        // half a second for its 503, not the whole limit, until one call gets through again.
        let limit = down.load(ordering: .relaxed) ? min(limit ?? Self.callLimit, Self.limitWhileDown) : (limit ?? Self.callLimit)
        do {
            let value = try await Self.race(limit: limit, what: what) { try await operation(client) }
            down.store(false, ordering: .relaxed)
            return value
        } catch {
            let translated = Self.translated(error, what: what)
            if translated is StoreUnavailable { down.store(true, ordering: .relaxed) }
            throw translated
        }
    }

    /// The operation's result, or `StoreUnavailable` once `limit` has passed — without waiting
    /// for the operation to end: postgres-nio's wait for a pooled connection does not always
    /// end when its task is cancelled (a task group, which awaits its children, hung there for
    /// as long as PostgreSQL was down). The operation is cancelled and left to finish alone.
    static func race<T: Sendable>(limit: Duration, what: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let settled = Once()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await operation()) } catch { result = .failure(error) }
                if settled.take() { continuation.resume(with: result) }
            }
            Task {
                try? await Task.sleep(for: limit)  // never cancelled: it only ends the wait
                guard settled.take() else { return }
                work.cancel()
                continuation.resume(throwing: StoreUnavailable(reason: "PostgreSQL did not answer within \(limit) (\(what))"))
            }
        }
    }

    /// postgres-nio's errors as the store's: `StoreUnavailable` when the server could not be
    /// reached, `StoreQueryFailed` with its SQLSTATE when it refused; a transaction's error is
    /// the one that ended it (its body's, else its BEGIN's or COMMIT's).
    static func translated(_ error: any Error, what: String) -> any Error {
        if let error = error as? PostgresTransactionError {
            guard let cause = error.closureError ?? error.beginError ?? error.commitError else { return error }
            return translated(cause, what: what)
        }
        guard let error = error as? PSQLError else { return error }
        if isUnreachable(error) { return StoreUnavailable(reason: "PostgreSQL is unreachable (\(what)): \(describe(error))") }
        return StoreQueryFailed(what: what, detail: describe(error), sqlState: error.serverInfo?[.sqlState])
    }

    /// Runs `statements` in one transaction (`call`'s limit applies to the whole).
    func transaction<T: Sendable>(_ what: String, limit: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await call(what, limit: limit) { client in
            try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        }
    }

    /// A failure of the connection rather than of the statement: the server is down, restarting
    /// or out of reach.
    static func isUnreachable(_ error: PSQLError) -> Bool {
        if let state = error.serverInfo?[.sqlState] {
            // Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown,
            // cannot connect now).
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        }
        return [.connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed].contains(error.code)
    }

    static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] { return "\(error.serverInfo?[.sqlState] ?? "?"): \(message)" }
        return "\(error.code)"
    }
}

/// The store cannot be reached now (PostgreSQL down, restarting, too slow): the server answers
/// 503 with `Retry-After`, never 202, and tries again on the next request.
public struct StoreUnavailable: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// PostgreSQL refused a statement (a broken constraint, a deadlock it resolved, a bug).
public struct StoreQueryFailed: Error, CustomStringConvertible {
    public let what: String
    public let detail: String
    /// The SQLSTATE, when the server sent one (`23505` unique violation, `40P01` deadlock).
    public let sqlState: String?
    public var description: String { "PostgreSQL refused \(what): \(detail)" }

    /// A deadlock or a serialization failure: the transaction can simply be run again.
    var isTransient: Bool { sqlState == "40P01" || sqlState == "40001" }
    /// A broken key or NOT NULL (class 23), or a value PostgreSQL cannot hold (class 22: a
    /// NUL in text, a number out of range): the same statement will never succeed.
    var isPermanent: Bool { sqlState.map { $0.hasPrefix("23") || $0.hasPrefix("22") } ?? false }
}

/// True for the first `take()` only: which of two racing tasks answers.
private final class Once: Sendable {
    private let taken = Mutex(false)

    func take() -> Bool {
        taken.withLock { taken in
            defer { taken = true }
            return !taken
        }
    }
}
