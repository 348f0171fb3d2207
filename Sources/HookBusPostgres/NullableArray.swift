import PostgresNIO

/// An array parameter whose elements may be NULL (`text[]`, `double precision[]`, `bigint[]`,
/// `bytea[]`, …): postgres-nio encodes `[String]` but not `[String?]`. The accept batch
/// (`hookbus_accept`) and the store copy (`StoreCopy`) send their rows as one array per column,
/// and optional columns (a source's name, an idempotency key, an end time, a run's output)
/// need NULLs.
///
/// PostgreSQL's binary array format: dimensions, a has-NULLs flag, the element type, the one
/// dimension's length and lower bound, then each element as its length (-1 for NULL) and its
/// bytes.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable & Sendable>: PostgresNonThrowingEncodable, PostgresDynamicTypeEncodable, Sendable {
    let values: [Element?]

    init(_ values: [Element?]) { self.values = values }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(values.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(values.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !values.isEmpty else { return }
        buffer.writeInteger(Int32(values.count), as: Int32.self)
        buffer.writeInteger(1, as: Int32.self)
        for value in values {
            guard let value else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            // The element's length goes before it: written once its bytes are.
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            let start = buffer.writerIndex
            value.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - start), at: lengthIndex, as: Int32.self)
        }
    }
}
