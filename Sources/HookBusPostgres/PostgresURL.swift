public import Foundation
import PostgresNIO

/// Where the PostgreSQL store is: a `postgres://user:password@host:port/database` URL, as
/// `psql` and every PostgreSQL driver read it. `?sslmode=disable|prefer|require` chooses TLS
/// (`prefer` when absent, as libpq does); `?host=/run/postgresql` reaches a server through its
/// Unix socket folder instead of TCP. The password, when the URL has one, is a secret: the
/// URL is never printed, only `redacted`.
public struct PostgresURL: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// A Unix socket folder (`?host=`), instead of TCP to `host`.
    public let socketFolder: String?
    public let user: String
    let password: String?
    public let database: String
    public let tls: TLSMode

    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw Invalid(description: "the PostgreSQL URL must look like postgres://user:password@host:5432/database")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        socketFolder = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        port = components.port ?? 5432
        guard let user = components.user, !user.isEmpty else { throw Invalid(description: "the PostgreSQL URL names no user (postgres://USER@host/database)") }
        self.user = user
        password = components.password
        let name = String(components.path.drop(while: { $0 == "/" }))
        database = name.isEmpty ? user : name
        guard let mode = TLSMode(rawValue: query["sslmode"] ?? "prefer") else {
            throw Invalid(description: "sslmode must be disable, prefer or require (got \(query["sslmode"] ?? ""))")
        }
        tls = mode
    }

    /// The URL without its password, for logs and messages.
    public var redacted: String {
        let place = socketFolder.map { "?host=\($0)" } ?? ""
        return "postgres://\(user)\(password == nil ? "" : ":••••••")@\(host):\(port)/\(database)\(place)"
    }

    public var description: String { redacted }

    var clientConfiguration: PostgresClient.Configuration {
        if let socketFolder {
            return PostgresClient.Configuration(unixSocketPath: socketFolder + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        let tlsSetting: PostgresClient.Configuration.TLS = switch tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tlsSetting)
    }
}
