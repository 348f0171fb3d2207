public import Foundation
public import HookBus
import PostgresNIO

extension PostgresStore {
    public func daemonCursor(_ daemon: String) async throws -> String? {
        try await database.call("read a daemon's cursor") { client in
            for try await value in try await client.query("SELECT value FROM daemon_cursors WHERE daemon = \(daemon)", logger: self.logger).decode(String.self) {
                return value
            }
            return nil
        }
    }

    public func setDaemonCursor(_ daemon: String, to value: String) async throws {
        let now = Date().timeIntervalSince1970
        try await database.call("keep a daemon's cursor") { client in
            _ = try await client.query("""
                INSERT INTO daemon_cursors (daemon, value, updated_at) VALUES (\(daemon), \(value), \(now))
                ON CONFLICT (daemon) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, logger: self.logger)
        }
    }

    public func createSchedule(_ schedule: StoredSchedule) async throws {
        let fields = JSONValue.object(schedule.fields.mapValues(JSONValue.string)).jsonText
        try await database.call("store a schedule") { client in
            _ = try await client.query("""
                INSERT INTO schedules (id, integration, action, fields, state, started_at, next_run_at, started_by)
                VALUES (\(schedule.id), \(schedule.integration), \(schedule.action), \(fields), \(schedule.state.rawValue),
                        \(schedule.startedAt.timeIntervalSince1970), \(schedule.nextRunAt.timeIntervalSince1970), \(schedule.startedBy))
                """, logger: self.logger)
        }
    }

    public func schedule(id: String) async throws -> StoredSchedule? {
        try await readSchedules("read a schedule", "SELECT \(unescaped: Self.scheduleColumns) FROM schedules WHERE id = \(id)").first
    }

    public func schedules(activeOnly: Bool) async throws -> [StoredSchedule] {
        try await readSchedules("list schedules", "SELECT \(unescaped: Self.scheduleColumns) FROM schedules WHERE \(!activeOnly) OR state = 'active' ORDER BY started_at")
    }

    public func scheduleRan(id: String, at date: Date, result: String?, nextRunAt: Date) async throws {
        try await database.call("record a schedule's run") { client in
            _ = try await client.query("""
                UPDATE schedules SET last_run_at = \(date.timeIntervalSince1970), last_result = \(result), next_run_at = \(nextRunAt.timeIntervalSince1970), runs = runs + 1
                WHERE id = \(id)
                """, logger: self.logger)
        }
    }

    public func endSchedule(id: String, reason: String, endEvent: String?) async throws {
        try await database.call("end a schedule") { client in
            _ = try await client.query("UPDATE schedules SET state = 'ended', ended_reason = \(reason), end_event = \(endEvent) WHERE id = \(id)", logger: self.logger)
        }
    }

    static let scheduleColumns = "id, integration, action, fields, state, ended_reason, started_at, last_run_at, next_run_at, last_result, runs, end_event, started_by"

    private func readSchedules(_ what: String, _ query: PostgresQuery) async throws -> [StoredSchedule] {
        try await database.call(what) { client in
            var schedules: [StoredSchedule] = []
            let rows = try await client.query(query, logger: self.logger)
            for try await (id, integration, action, fields, state, endedReason, startedAt, lastRunAt, nextRunAt, lastResult, runs, endEvent, startedBy)
                in rows.decode((String, String, String, String, String, String?, Double, Double?, Double, String?, Int64, String?, String?).self) {
                // Fields were written by this store as a JSON object of strings.
                let values = (try? JSONParser.parse(fields))?.objectValue?.compactMapValues(\.stringValue) ?? [:]
                schedules.append(StoredSchedule(
                    id: id, integration: integration, action: action, fields: values, state: StoredSchedule.State(rawValue: state) ?? .ended,
                    endedReason: endedReason, startedAt: Date(timeIntervalSince1970: startedAt), lastRunAt: lastRunAt.map { Date(timeIntervalSince1970: $0) },
                    nextRunAt: Date(timeIntervalSince1970: nextRunAt), lastResult: lastResult, runs: Int(runs), endEvent: endEvent, startedBy: startedBy))
            }
            return schedules
        }
    }
}
