import Testing
@testable import HookBus

/// Every example path of the integration-framework reference, over results written for them.
@Suite struct OutputPathTests {
    static let lookup = try! JSONParser.parse("""
        {"country": "US", "response_code": 1, "as_owner": "CloudFlare, Inc.",
         "detected_urls": {"url": "http://example.org/", "positives": 2}}
        """)
    static let mail = try! JSONParser.parse("""
        {"payload": {"headers": {"MIME-Version": "1.0", "From": "Ann Lee <ann@example.org>", "Subject": "Reset"}}}
        """)
    static let people = try! JSONParser.parse("""
        [{"_id": "a1", "guid": "g-1", "isActive": true, "balance": "$1,020.50", "picture": "http://img/1", "age": 31,
          "eyeColor": "green", "name": "Ann Lee", "gender": "female", "company": "ACME", "email": "ann@example.org",
          "phone": "+1 555 0100", "address": "1 Main St", "ip-dst_string": "198.51.100.7",
          "tags": ["vip", "eu"], "friends": [{"id": 0, "name": "Bo"}, {"id": 1, "name": "Cy"}]},
         {"_id": "b2", "guid": "g-2", "isActive": false, "balance": "$7.00", "picture": "http://img/2", "age": 45,
          "eyeColor": "brown", "name": "Dan Ng", "gender": "male", "company": "Initech", "email": "dan@example.org",
          "phone": "+1 555 0101", "address": "2 Side Rd", "ip-dst_string": "203.0.113.9",
          "tags": ["eu", "ops"], "friends": [{"id": 0, "name": "Ann"}]}]
        """)

    static let cases: [(String, JSONValue, String)] = [
        ("country", lookup, #""US""#),
        ("response_code", lookup, "1"),
        ("as_owner", lookup, #""CloudFlare, Inc.""#),
        ("detected_urls.[].url", lookup, #"["http://example.org/"]"#),
        ("detected_urls.[].positives", lookup, "[2]"),
        (#"payload.headers."MIME-Version""#, mail, #""1.0""#),
        (#"payload.headers.["MIME-Version"]"#, mail, #""1.0""#),
        ("payload.headers.From", mail, #""Ann Lee <ann@example.org>""#),
        (#"[]."ip-dst_string""#, people, #"["198.51.100.7","203.0.113.9"]"#),
        ("[].{Name: name, ID: _id, Address: address, FriendName: friends.[].name}", people,
         #"[{"Address":"1 Main St","FriendName":["Bo","Cy"],"ID":"a1","Name":"Ann Lee"},{"Address":"2 Side Rd","FriendName":["Ann"],"ID":"b2","Name":"Dan Ng"}]"#),
        ("[].tags.[] | unique()", people, #"["vip","eu","ops"]"#),
        ("[].tags.[]", people, #"["vip","eu","eu","ops"]"#),
        ("[].guid | join(,)", people, #""g-1,g-2""#),
        ("[].guid | join(SEPARATOR)", people, #""g-1SEPARATORg-2""#),
        ("[].guid", people, #"["g-1","g-2"]"#),
        ("[]._id", people, #"["a1","b2"]"#),
        ("[].isActive", people, "[true,false]"),
        ("[].balance", people, #"["$1,020.50","$7.00"]"#),
        ("[].picture", people, #"["http://img/1","http://img/2"]"#),
        ("[].eyeColor", people, #"["green","brown"]"#),
        ("[].name", people, #"["Ann Lee","Dan Ng"]"#),
        ("[].age", people, "[31,45]"),
        ("[].gender", people, #"["female","male"]"#),
        ("[].company", people, #"["ACME","Initech"]"#),
        ("[].email", people, #"["ann@example.org","dan@example.org"]"#),
        ("[].phone", people, #"["+1 555 0100","+1 555 0101"]"#),
        ("[].address", people, #"["1 Main St","2 Side Rd"]"#),
        ("[].friends", people, #"[[{"id":0,"name":"Bo"},{"id":1,"name":"Cy"}],[{"id":0,"name":"Ann"}]]"#),
        ("[].tags.[] | unique() | join( / )", people, #""vip / eu / ops""#),
    ]

    @Test(arguments: cases)
    func examplePathsOfTheReference(path: String, result: JSONValue, expected: String) throws {
        let parsed = try OutputPath(path)
        #expect(parsed.evaluate(result)?.jsonText == expected, "\(path)")
    }

    @Test func missingKeysFindNothingAndElementsWithoutThemAreLeftOut() throws {
        #expect(try OutputPath("no.such.key").evaluate(Self.lookup) == nil)
        #expect(try OutputPath("[].nickname").evaluate(Self.people) == .array([]))
        #expect(try OutputPath("[].guid | join(,)").evaluateText(Self.people) == "g-1,g-2")
        #expect(try OutputPath("response_code").evaluateText(Self.lookup) == "1")
    }

    static let invalid: [(String, String)] = [
        (#"payload.headers["MIME-Version"]"#, "separate a bracket"),
        ("payload.headers[MIME-Version]", "separate a bracket"),
        ("payload.headers.[MIME-Version]", "must be quoted"),
        ("", "empty path"),
        ("country.", "cannot end with '.'"),
        (#"payload."MIME"#, "unterminated quoted key"),
        ("[].guid | join(,", "unterminated"),
        ("[].guid | sort()", "unknown function 'sort'"),
        ("[].{Name name}", "expected ':'"),
        ("[].tags | unique(x)", "takes no argument"),
    ]

    @Test(arguments: invalid)
    func invalidFormsAreRefusedWithAReason(path: String, reason: String) {
        #expect {
            _ = try OutputPath(path)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}
