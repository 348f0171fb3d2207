import GRDB
import GRDBSQLite

/// A value bound to one `?` of a statement.
enum BoundValue {
    case text(String?)
    case integer(Int64?)
    case real(Double?)

    static func int(_ value: Int?) -> BoundValue { .integer(value.map(Int64.init)) }
}

extension Statement {
    /// Runs this (cached) statement with `values` bound in order, through SQLite's C API.
    ///
    /// The hot writes — an accepted event, a run's start and end — go through here instead of
    /// GRDB's `StatementArguments`, which boxes every column value as an existential and
    /// converts it to a `DatabaseValue` first: with a dozen columns per row that was most of the
    /// store's own CPU per accepted event. Text is bound with its exact UTF-8 length (a NUL
    /// inside a script's output does not cut it short) and copied by SQLite.
    func run(_ values: [BoundValue], in db: Database) throws {
        let handle = sqliteStatement
        sqlite3_reset(handle)
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case var .text(text?):
                code = text.withUTF8 { bytes in
                    // An empty string must stay text: a nil pointer would bind NULL.
                    guard let base = bytes.baseAddress, bytes.count > 0 else { return sqlite3_bind_text(handle, index, "", 0, transient) }
                    return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        sqlite3_bind_text(handle, index, $0, Int32(bytes.count), transient)
                    }
                }
            case let .integer(number?):
                code = sqlite3_bind_int64(handle, index, number)
            case let .real(number?):
                code = sqlite3_bind_double(handle, index, number)
            case .text(nil), .integer(nil), .real(nil):
                code = sqlite3_bind_null(handle, index)
            }
            guard code == SQLITE_OK else { throw Self.error(code, db) }
        }
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw Self.error(code, db) }
    }

    private static func error(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) })
    }
}
