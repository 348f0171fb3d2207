import Foundation
import Testing
@testable import HookBus

/// A small HTTP listener (python's http.server) started by the test, standing in for the
/// incident system: it records each request as one JSON line and answers 200.
final class IncidentSystemListener {
    let process = Process()
    let port: Int
    let logPath: String

    init(folder: TempFolder) throws {
        logPath = folder.url.appendingPathComponent("requests.jsonl").path
        let script = folder.write("listener.py", """
            import json, sys
            from http.server import BaseHTTPRequestHandler, HTTPServer
            class Handler(BaseHTTPRequestHandler):
                def handle_one(self):
                    length = int(self.headers.get('Content-Length', 0))
                    body = self.rfile.read(length).decode()
                    with open(sys.argv[1], 'a') as log:
                        log.write(json.dumps({'method': self.command, 'path': self.path,
                            'authorization': self.headers.get('Authorization'), 'body': body}) + '\\n')
                    self.send_response(200)
                    self.send_header('Content-Type', 'application/json')
                    self.end_headers()
                    self.wfile.write(b'{"ok": true}')
                do_PUT = do_POST = handle_one
                def log_message(self, *args):
                    pass
            server = HTTPServer(('127.0.0.1', 0), Handler)
            with open(sys.argv[2] + '.tmp', 'w') as f:
                f.write(str(server.server_address[1]))
            import os
            os.rename(sys.argv[2] + '.tmp', sys.argv[2])
            server.serve_forever()
            """)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let portFile = folder.url.appendingPathComponent("port").path
        process.arguments = [script, logPath, portFile]
        try process.run()
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            if port == nil { usleep(20_000) }
        }
        guard let port else { throw EventError(.malformed, "listener did not start") }
        self.port = port
    }

    deinit {
        // SIGKILL: a child spawned from a test worker thread may inherit a mask blocking SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var requests: [JSONValue] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }
}

@Suite struct SeedStyleTriggerTests {
    /// Written the way the framework's own Python examples are: argparse with EnvDefault,
    /// `requests`, a PUT to {incmanurl}/api/v2/incidents/{id} with the bearer token.
    static let seedStyleCode = """
        import json
        import argparse
        import os
        import sys
        import requests
        class EnvDefault(argparse.Action):
          def __init__(self, required=True, default=None, **kwargs):
               envvar = kwargs.get("dest")
               default = os.environ.get(envvar, default) if envvar in os.environ else default
               required = False if required and default else required
               super(EnvDefault, self).__init__(default=default, required=required,**kwargs)
          def __call__(self, parser, namespace, values, option_string=None):
               setattr(namespace, self.dest, values)
        parser = argparse.ArgumentParser()
        parser.add_argument('--incidentsDetail', help='incident', required=False)
        parser.add_argument('--token', help='JWT token , REQUIRED', required=True)
        parser.add_argument('--incmanurl', help='IncMan URL , REQUIRED', required=True)
        parser.add_argument('--text', help='text', required=False)
        parser.add_argument('--note', help='note', required=True, action=EnvDefault)
        args, unknown = parser.parse_known_args()
        inc = json.loads(args.incidentsDetail)
        headers = {
           'Accept': 'application/json;charset=UTF-8',
           'Content-Type': 'application/x-www-form-urlencoded',
           'Authorization': 'Bearer ' + args.token
        }
        end_point = '{incmanurl}/api/v2/incidents/{incidentid}'.format(incmanurl=args.incmanurl, incidentid=inc.get('id'))
        session = requests.Session()
        session.verify = False
        payload = {"additional_info": inc.get('additional_info') + "<br>" + str(args.text if args.text else '') + " " + args.note}
        incident = session.put(end_point, headers=headers, data=payload, proxies=None, timeout=(5, 60))
        try:
            incident.raise_for_status()
        except Exception as e:
            sys.stderr.write(str(e))
            exit(1)
        print("updated", inc.get('id'))
        """

    @Test func aSeedStyleTriggerUpdatesTheIncidentThroughTheAPI() async throws {
        let listenerFolder = TempFolder()
        let listener = try IncidentSystemListener(folder: listenerFolder)
        let fixture = try RunnerFixture(
            actions: [("seed.yaml", triggerYAML("Custom trigger button", hooks: ["incidentCustomAction"], extra: "check_not_null_field: 'opt_92'",
                                                code: Self.seedStyleCode.replacingOccurrences(of: "\n", with: "\n    ")))],
            config: """
                incident_system:
                  url: http://127.0.0.1:\(listener.port)
                  jwt: {key: {env: JWT_KEY}, lifetime: 60, issuer: hookbus-test}
                integrations: {'Incident Tools': {settings: {note: 'via HookBus'}}}
                """,
            environment: ["JWT_KEY": "jwt-signing-key"])
        let event = try fixture.event(.incidentCustomAction, #"{"incidentsDetail": {"id": 1743, "additional_info": "first", "opt_92": "x"}, "trigger": "Custom trigger button", "text": "analyst says hi"}"#)
        let run = try #require(try await fixture.fire(event).first)
        #expect(run.result.outcome == .succeeded, "\(run.result.stderr)")
        #expect(run.result.stdout == "updated 1743\n")
        let request = try #require(listener.requests.first)
        #expect(request["method"] == .string("PUT"))
        #expect(request["path"] == .string("/api/v2/incidents/1743"))
        #expect(request["body"] == .string("additional_info=first%3Cbr%3Eanalyst+says+hi+via+HookBus"))
        // The bearer token is a JWT signed with the configured key, naming the trigger and event.
        let authorization = try #require(request["authorization"]?.stringValue)
        let token = String(authorization.dropFirst("Bearer ".count))
        let parts = token.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        let claims = try JSONParser.parse(String(decoding: Data(base64URL: parts[1])!, as: UTF8.self))
        #expect(claims["trigger"] == .string("Custom trigger button"))
        #expect(claims["event"] == .string(event.id))
        #expect(claims["iss"] == .string("hookbus-test"))
        let resigned = TokenMinter.sign(claims: claims, key: Secret("jwt-signing-key", origin: "test"))
        #expect(resigned.split(separator: ".")[2] == parts[2])
    }
}

extension Data {
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        self.init(base64Encoded: base64)
    }
}
