import PostgresNIO

/// A `text[]` parameter whose elements may be NULL. postgres-nio encodes `[String]` but not
/// `[String?]`, and the batch insert of events (`unnest` of one array per column) needs NULLs
/// for the optional columns (a source's name, an idempotency key, a subject). Written in
/// PostgreSQL's binary array format: a header, then each element as its length (-1 for NULL)
/// and its UTF-8 bytes.
struct NullableTextArray: PostgresNonThrowingEncodable, PostgresDynamicTypeEncodable {
    let values: [String?]

    init(_ values: [String?]) { self.values = values }

    static var psqlType: PostgresDataType { .textArray }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        // Dimensions (0 for an empty array), whether any element is NULL, the element type.
        buffer.writeInteger(values.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(values.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(PostgresDataType.text.rawValue)
        guard !values.isEmpty else { return }
        // Its one dimension: length and lower bound.
        buffer.writeInteger(Int32(values.count), as: Int32.self)
        buffer.writeInteger(1, as: Int32.self)
        for value in values {
            guard let value else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            buffer.writeInteger(Int32(value.utf8.count), as: Int32.self)
            buffer.writeString(value)
        }
    }
}
