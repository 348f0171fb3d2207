import Foundation
import HookBus
import Hummingbird
import HummingbirdTesting
import Testing
@testable import HookBusServer

/// The OpenAPI document against the router: every route registered with a handler is in it,
/// with its method, and nothing else is — so the document cannot drift from the routes. The
/// document is served to anyone. (The console's `/ui` pages are not API routes.)
@Suite struct OpenAPITests {
    @Test func everyRegisteredRouteIsDocumentedAndNothingElse() throws {
        let fixture = try ServerFixture()
        let registered = Set(makeRouter(state: fixture.state, methodNotAllowed: false).routes.compactMap { route -> String? in
            guard route.method != .head else { return nil }  // HEAD answers as GET does
            // The console's pages are HTML for browsers, not part of the API's contract.
            guard !route.path.description.hasPrefix("/ui") else { return nil }
            let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            return "\(route.method.rawValue) /\(path)"
        })
        let document = try #require(try JSONParser.parse(OpenAPIDocument.json).objectValue)
        #expect(document["openapi"] == .string("3.1.0"))
        var documented: Set<String> = []
        for (path, item) in try #require(document["paths"]?.objectValue) {
            for method in try #require(item.objectValue).keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        #expect(registered.subtracting(documented).isEmpty, "registered but not documented: \(registered.subtracting(documented).sorted())")
        #expect(documented.subtracting(registered).isEmpty, "documented but not registered: \(documented.subtracting(registered).sorted())")
        #expect(registered.count >= 14)
        // Every operation answers its errors in the one error shape.
        let error = try #require(document["components"]?["schemas"]?["Error"])
        #expect(error["required"] == .array([.string("error")]))
    }

    @Test func theDocumentIsServedToAnyone() async throws {
        let fixture = try ServerFixture()
        try await fixture.application.test(.router) { client in
            try await client.execute(uri: "/api/v1/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let document = try JSONParser.parse(String(buffer: response.body))
                #expect(document["info"]?["title"] == .string("HookBus"))
            }
        }
    }
}
