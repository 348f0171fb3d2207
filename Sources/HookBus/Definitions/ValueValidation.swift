import Foundation

/// The input validators of the integration framework, as predicates on the written value.
/// They decide whether a `default` is consistent with its own validator at load time, and whether
/// a configured integration instance is acceptable at start.
enum ValueValidation {
    static func isValid(_ value: String, _ validator: AttributeValidator) -> Bool {
        switch validator {
        case .host: return isHost(value) || isIP(value)
        case .integer: return isInteger(value)
        case .ip: return isIP(value)
        case .port: return isPort(value)
        case .url: return isURL(value)
        }
    }

    static func isValid(_ value: String, _ validator: FieldValidator) -> Bool {
        switch validator {
        case .datetime: return isDateTime(value)
        case .domain: return isHost(value) && value.contains(".")
        case .email: return isEmail(value)
        case .hash: return isHex(value, lengths: [32, 40, 64, 128])
        case .integer: return isInteger(value)
        case .ipaddress: return isIP(value)
        case .ipDomain: return isIP(value) || (isHost(value) && value.contains("."))
        case .md5: return isHex(value, lengths: [32])
        case .port: return isPort(value)
        case .sha1: return isHex(value, lengths: [40])
        case .sha256: return isHex(value, lengths: [64])
        case .url: return isURL(value)
        }
    }

    static func isInteger(_ value: String) -> Bool {
        Int(value.trimmingCharacters(in: .whitespaces)) != nil
    }

    static func isPort(_ value: String) -> Bool {
        guard let port = Int(value.trimmingCharacters(in: .whitespaces)) else { return false }
        return (1...65535).contains(port)
    }

    static func isIPv4(_ value: String) -> Bool {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCIIDigit) && Int(part)! <= 255
                && !(part.count > 1 && part.first == "0")
        }
    }

    static func isIPv6(_ value: String) -> Bool {
        var address = Substring(value)
        if let percent = address.firstIndex(of: "%") { address = address[..<percent] }  // zone id
        guard address.contains(":"), address.count <= 45 else { return false }
        let doubleColons = address.components(separatedBy: "::").count - 1
        guard doubleColons <= 1 else { return false }
        var groups = address.split(separator: ":", omittingEmptySubsequences: true)
        var groupCount = 0
        if let last = groups.last, last.contains(".") {
            guard isIPv4(String(last)) else { return false }
            groups.removeLast()
            groupCount += 2
        }
        for group in groups {
            guard (1...4).contains(group.count), group.allSatisfy(\.isHexDigit) else { return false }
            groupCount += 1
        }
        return doubleColons == 1 ? groupCount < 8 : groupCount == 8
    }

    static func isIP(_ value: String) -> Bool { isIPv4(value) || isIPv6(value) }

    /// A DNS host name (RFC 1123 labels); a single label such as `localhost` is a host.
    static func isHost(_ value: String) -> Bool {
        let name = value.hasSuffix(".") ? String(value.dropLast()) : value
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCIILetterOrDigit || $0 == "-" || $0 == "_" }
        }
    }

    /// An absolute http(s) URL with a host; other schemes are not what SOAR connections use.
    static func isURL(_ value: String) -> Bool {
        guard let components = URLComponents(string: value), let scheme = components.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty
        else { return false }
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return isHost(bareHost) || isIP(bareHost)
    }

    static func isEmail(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[0].contains(" ") else { return false }
        return isHost(String(parts[1])) && parts[1].contains(".")
    }

    static func isHex(_ value: String, lengths: Set<Int>) -> Bool {
        lengths.contains(value.count) && value.allSatisfy(\.isHexDigit)
    }

    static func isDateTime(_ value: String) -> Bool {
        if (try? Date.ISO8601FormatStyle().parse(value)) != nil { return true }
        if (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(value)) != nil { return true }
        // Plain dates and "YYYY-MM-DD HH:MM:SS", which SOAR forms also produce.
        let pattern = #/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$/#
        return value.wholeMatch(of: pattern) != nil
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    var isASCIILetterOrDigit: Bool { isASCIIDigit || ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
