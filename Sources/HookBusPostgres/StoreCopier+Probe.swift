import Foundation
import Logging
import PostgresNIO

extension StoreCopier {
    /// How long the first connection may take (a server that takes the connection and never
    /// answers included).
    static let probeLimit = Duration.seconds(15)

    /// Connects once, directly, before the pool is used. The pool keeps trying a server that
    /// cannot be reached or refuses the login until a call's time limit, and then says only that
    /// it had no answer; a command run by hand should say at once why (`connection refused`,
    /// `database "x" does not exist`, a wrong password).
    static func probe(_ url: PostgresURL, logger: Logger) async throws {
        var configuration: PostgresConnection.Configuration
        if let socketFolder = url.socketFolder {
            configuration = PostgresConnection.Configuration(unixSocketPath: socketFolder + "/.s.PGSQL.\(url.port)", username: url.user, password: url.password,
                                                             database: url.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS = switch url.tls {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            configuration = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user, password: url.password,
                                                             database: url.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(Int64(probeLimit.components.seconds))
        let connect = configuration
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let connection = try await PostgresConnection.connect(configuration: connect, id: 1, logger: logger)
                    try await connection.close()
                }
                group.addTask {
                    try await Task.sleep(for: probeLimit)
                    throw StoreUnavailable(reason: "cannot connect to \(url.redacted): no answer within \(probeLimit)")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch let error as PSQLError {
            let detail = error.serverInfo?[.message] ?? error.underlying.map { "\($0)" } ?? "\(error.code)"
            throw StoreUnavailable(reason: "cannot connect to \(url.redacted): \(detail)")
        }
    }
}
