import Crypto
public import Foundation
public import HookBus
import Synchronization

/// The console's logins: a session per successful login with an operator token, named by a
/// random id that only the browser's cookie holds (HttpOnly, SameSite=Strict), with a CSRF token
/// of its own that every form posts back.
///
/// Sessions live in the server's memory: a restart logs everyone out, which is the safe side of
/// the trade (nothing on disk to steal, nothing to expire in a store). The map is keyed by the
/// SHA-256 of the id, so neither the lookup's timing nor a memory dump gives a usable cookie.
/// A session ends after `idleLimit` without a request or `lifetime` after its login, whichever
/// comes first, and at logout; at most `capacity` are kept (the oldest logins go first), so
/// logging in in a loop cannot grow the server's memory.
public final class ConsoleSessions: Sendable {
    public struct Session: Sendable {
        /// The token's name: what the audit trail records for this person's actions.
        public let principal: Principal
        /// Posted back by every form of the session (`csrf`), compared in constant time.
        public let csrfToken: String
        let created: Date
        var lastSeen: Date
    }

    public static let cookieName = "hookbus_session"
    public let lifetime: TimeInterval
    public let idleLimit: TimeInterval
    public let capacity: Int
    private let sessions = Mutex<[String: Session]>([:])

    public init(lifetime: TimeInterval = 8 * 3600, idleLimit: TimeInterval = 3600, capacity: Int = 1_000) {
        self.lifetime = lifetime
        self.idleLimit = idleLimit
        self.capacity = capacity
    }

    /// Starts a session for `principal`; returns the id to set as the cookie.
    public func start(for principal: Principal, now: Date = Date()) -> (id: String, session: Session) {
        let id = Self.randomToken()
        let session = Session(principal: principal, csrfToken: Self.randomToken(), created: now, lastSeen: now)
        sessions.withLock { sessions in
            sessions = sessions.filter { !Self.expired($0.value, now: now, lifetime: lifetime, idleLimit: idleLimit) }
            while sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.created < $1.value.created }) {
                sessions[oldest.key] = nil
            }
            sessions[Self.key(id)] = session
        }
        return (id, session)
    }

    /// The live session a cookie names, its idle time restarted; nil for none or an expired one.
    public func session(id: String, now: Date = Date()) -> Session? {
        let key = Self.key(id)
        return sessions.withLock { sessions in
            guard var session = sessions[key] else { return nil }
            if Self.expired(session, now: now, lifetime: lifetime, idleLimit: idleLimit) {
                sessions[key] = nil
                return nil
            }
            session.lastSeen = now
            sessions[key] = session
            return session
        }
    }

    /// Whether a session is live, without counting this as a request (its idle time goes on):
    /// what an open live stream asks at each heartbeat.
    public func isLive(id: String, now: Date = Date()) -> Bool {
        sessions.withLock { sessions in
            sessions[Self.key(id)].map { !Self.expired($0, now: now, lifetime: lifetime, idleLimit: idleLimit) } ?? false
        }
    }

    /// Logs a session out.
    public func end(id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: Self.key(id)) }
    }

    /// Whether a form's `csrf` value is the session's (constant time).
    public static func csrfMatches(_ presented: String?, _ session: Session) -> Bool {
        guard let presented else { return false }
        return ConstantTime.equals(Array(SHA256.hash(data: Array(presented.utf8))), Array(SHA256.hash(data: Array(session.csrfToken.utf8))))
    }

    private static func expired(_ session: Session, now: Date, lifetime: TimeInterval, idleLimit: TimeInterval) -> Bool {
        now.timeIntervalSince(session.created) >= lifetime || now.timeIntervalSince(session.lastSeen) >= idleLimit
    }

    /// A session's name in the map (and for its live streams): never the cookie itself.
    static func key(_ id: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(id.utf8))))
    }

    /// 32 bytes from the system's generator (getrandom), as hex.
    private static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
