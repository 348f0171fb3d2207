import Foundation
import FuzzSupport
@testable import HookBus

/// A webhook body with any Content-Type: the input's first line is the header's value, the rest
/// the body. The form parsers (URL encoding and RFC 7578 multipart) never crash and answer a
/// form or a malformed-body error; what they read, written back out as a form of the same kind,
/// reads back the same (URL encoding always; multipart when every field is text).
@_cdecl("FuzzForms_main")
func entry(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzForms(data, size) }
}

func fuzzForms(_ pointer: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = pointer else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let newline = input.firstIndex(of: 0x0A) ?? input.endIndex
    let contentType = String(decoding: input[..<newline], as: UTF8.self)
    let bytes = Array(input[min(newline + 1, input.endIndex)...])
    let body = WebhookBody(bytes: bytes, contentType: contentType)
    _ = body.text
    let form: JSONValue?
    do {
        form = try FormFields.parse(body)
    } catch {
        precondition(body.kind == .multipartForm, "only a multipart body can be malformed: \(error)")
        return 0
    }
    switch body.kind {
    case .urlEncodedForm:
        precondition(form != nil, "a URL-encoded body is always a form")
        let fields = FormFields.urlEncoded(bytes)
        let again = FormFields.urlEncoded(Array(urlEncode(fields).utf8))
        precondition(again.map(\.name) == fields.map(\.name) && again.map(\.value) == fields.map(\.value), "URL encoding does not read back: \(fields) → \(again)")
    case .multipartForm:
        guard let form, case let .object(members) = form else { preconditionFailure("a multipart body that parses is a form") }
        guard let fields = textFields(members) else { return 0 }
        let boundary = "fuzz-boundary-7MA4YWxkTrZu0gW"
        let rebuilt = WebhookBody(bytes: multipart(fields, boundary: boundary), contentType: "multipart/form-data; boundary=\(boundary)")
        let again = try? FormFields.parse(rebuilt)
        precondition(again == form, "multipart does not read back: \(form) → \(String(describing: again))")
    case .json, .other:
        precondition(form == nil, "only a form body has form fields")
    }
    return 0
}

/// Names and values percent-encoded byte by byte except unreserved characters.
func urlEncode(_ fields: [(name: String, value: String)]) -> String {
    func encode(_ text: String) -> String {
        text.utf8.map { byte in
            let unreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            return unreserved ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }.joined()
    }
    return fields.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
}

/// The fields of a form whose values are all text (a name sent several times is an array), or
/// nil when a value is a file or a name cannot be written in a header line.
func textFields(_ members: [String: JSONValue]) -> [(String, String)]? {
    var fields: [(String, String)] = []
    for (name, value) in members {
        if name.utf8.contains(0x0D) || name.utf8.contains(0x0A) { return nil }
        switch value {
        case let .string(text): fields.append((name, text))
        case let .array(values):
            for value in values {
                guard case let .string(text) = value else { return nil }
                fields.append((name, text))
            }
        default: return nil
        }
    }
    return fields
}

func multipart(_ fields: [(String, String)], boundary: String) -> [UInt8] {
    var text = ""
    for (name, value) in fields {
        let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted)\"\r\n\r\n\(value)\r\n"
    }
    return Array((text + "--\(boundary)--\r\n").utf8)
}
