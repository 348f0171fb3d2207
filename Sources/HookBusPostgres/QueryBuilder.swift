import PostgresNIO

/// A statement put together from optional filters, its values bound as `$1`, `$2`, … (never
/// spliced into the text): what `PostgresQuery`'s string interpolation does for a fixed
/// statement, for one whose conditions vary.
struct QueryBuilder {
    private(set) var bindings = PostgresBindings()
    private var count = 0
    var conditions: [String] = []

    /// Binds `value` and returns its placeholder.
    mutating func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
        bindings.append(value)
        count += 1
        return "$\(count)"
    }

    mutating func bind(_ value: (some PostgresDynamicTypeEncodable)?) -> String {
        bindings.append(value)
        count += 1
        return "$\(count)"
    }

    /// Adds a condition built from the placeholders `make` binds.
    mutating func when(_ make: (inout QueryBuilder) -> String) {
        let condition = make(&self)
        conditions.append(condition)
    }

    var whereClause: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }

    func query(_ sql: String) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: bindings)
    }
}
