import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PlantarAPI
import PlantarConfig
import PlantarDaemon
import Testing

/// Issue 11's contract points, each decided in docs/api.md and docs/openapi.yaml, through the
/// routes (in process, every response checked against the document). Tests that need a
/// session still running when their next request comes run it in real time (speed 1): on a
/// loaded machine a sped-up press-test can end between two requests.
@Suite("API contract points: routes", .timeLimit(.minutes(2)))
struct ContractPointRouteTests {
    static func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
    static func refusal(_ response: TestResponse) throws -> ErrorDocument {
        try JSONDecoder().decode(ErrorDocument.self, from: Data(response.body.readableBytesView))
    }

    /// Keys the docs show as null are there, as null (not left out).
    @Test func emptyKeysAreExplicitNulls() async throws {
        let s = try await RouteTests.setup(speed: 1)
        try await s.app.test(.router) { client in
            let status = String(buffer: try await client.checked(uri: "/v1/status", method: .get).body)
            for key in [#""latchReason":null"#, #""session":null"#, #""fault":null"#] { #expect(status.contains(key), "\(key) in \(status)") }
            let started = String(buffer: try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"press-test"}"#)).body)
            #expect(started.contains(#""foot":null"#), "before the first step: \(started)")
            let programs = String(buffer: try await client.checked(uri: "/v1/programs", method: .get).body)
            #expect(programs.contains(#""problem":null"#) && programs.contains(#""choices":null"#), "\(programs)")
            _ = try await client.checked(uri: "/v1/stop", method: .post)
            let refused = String(buffer: try await client.checked(uri: "/v1/ease", method: .post).body)
            #expect(refused.contains(#""details":null"#), "\(refused)")
        }
    }

    /// A range check's 422 names the key, in `details` as compile errors do.
    @Test func invalidParametersCarryDetailsNamingTheKey() async throws {
        let s = try await RouteTests.setup()
        try await s.app.test(.router) { client in
            let response = try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"back-pain","intensity":9}"#))
            #expect(response.status == .unprocessableContent)
            let error = try Self.refusal(response)
            #expect(error.code == "invalid-parameters" && error.details == ["intensity: 9 is out of range (1–5)"], "\(error)")
        }
    }

    /// A key the request does not have is refused, named, and nothing starts.
    @Test func unknownKeysAreRefusedByName() async throws {
        let s = try await RouteTests.setup()
        try await s.app.test(.router) { client in
            let response = try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"press-test","intensty":2}"#))
            #expect(response.status == .badRequest)
            let error = try Self.refusal(response)
            #expect(error.code == "bad-request" && error.error.contains("unknown key 'intensty'"), "\(error)")
            let status = try JSONDecoder().decode(StatusDocument.self, from: Data(try await client.checked(uri: "/v1/status", method: .get).body.readableBytesView))
            #expect(status.session == nil, "nothing started")
        }
    }

    /// With `routine`, the session is named by `program` (checked), not by the text's own key.
    @Test func aRoutineSentIsNamedByProgram() async throws {
        let s = try await RouteTests.setup(speed: 1)
        let routine = TestRoutines.quick.replacingOccurrences(of: "routine: quick", with: "routine: ../../x")
        let body: @Sendable (String) throws -> ByteBuffer = { program in
            Self.json(String(decoding: try JSONEncoder().encode(StartRequest(program: program, routine: routine)), as: UTF8.self))
        }
        try await s.app.test(.router) { client in
            let bad = try await client.checked(uri: "/v1/sessions", method: .post, body: try body("../../x"))
            #expect(bad.status == .unprocessableContent)
            #expect(try Self.refusal(bad).details?.first?.hasPrefix("program: '../../x' is not a program name") == true)
            let good = try await client.checked(uri: "/v1/sessions", method: .post, body: try body("my-own"))
            #expect(good.status == .created)
            let session = try JSONDecoder().decode(SessionDocument.self, from: Data(good.body.readableBytesView))
            #expect(session.program == "my-own")
            _ = try await client.checked(uri: "/v1/stop", method: .post)
        }
    }

    /// Resume with the session running is a 409 `not-paused`; after a pause it resumes.
    @Test func resumeWhileRunningIsRefused() async throws {
        let s = try await RouteTests.setup(speed: 1)
        try await s.app.test(.router) { client in
            _ = try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"press-test"}"#))
            let running = try await client.checked(uri: "/v1/resume", method: .post)
            #expect(try running.status == .conflict && Self.refusal(running).code == "not-paused", "\(String(buffer: running.body))")
            #expect(try await client.checked(uri: "/v1/pause", method: .post).status == .ok)
            // At once, before the runner's loop has carried the pause out: still a resume.
            #expect(try await client.checked(uri: "/v1/resume", method: .post).status == .ok)
            _ = try await client.checked(uri: "/v1/stop", method: .post)
        }
    }

    /// Re-arm with a session running and nothing latched: `busy`, answered at once.
    @Test func rearmWhileRunningIsBusyAtOnce() async throws {
        let s = try await RouteTests.setup(speed: 1)
        try await s.app.test(.router) { client in
            _ = try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"press-test"}"#))
            let asked = ContinuousClock.now
            let response = try await client.checked(uri: "/v1/rearm", method: .post)
            let took = asked.duration(to: .now)
            #expect(try response.status == .conflict && Self.refusal(response).code == "busy", "\(String(buffer: response.body))")
            // The wait for a stopped session to wind down is 10 s; this one never stopped.
            #expect(took < .seconds(2), "\(took)")
            _ = try await client.checked(uri: "/v1/stop", method: .post)
        }
    }

    /// The simulated sensor fault is a device fault: it latches, and re-arm is refused while it lasts.
    @Test func rearmWhileAFaultIsPresentIsRefused() async throws {
        let s = try await RouteTests.setup()
        try await s.app.test(.router) { client in
            #expect(try await client.checked(uri: "/v1/simulator/sensor-fault", method: .post).status == .ok)
            let status = try JSONDecoder().decode(StatusDocument.self, from: Data(try await client.checked(uri: "/v1/status", method: .get).body.readableBytesView))
            #expect(status.device.fault != nil && status.latched && status.state == "faulted", "\(status)")
            let rearm = try await client.checked(uri: "/v1/rearm", method: .post)
            #expect(try rearm.status == .conflict && Self.refusal(rearm).code == "fault", "\(String(buffer: rearm.body))")
            let start = try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"quick"}"#))
            #expect(try start.status == .conflict && Self.refusal(start).code == "latched")
        }
    }

    /// The stop latency counts from the arrival the edge stamped, not from the handler: a
    /// request that reached the daemon 50 ms before its handler ran shows 50 ms.
    @Test func stopLatencyCountsFromTheRequestsArrival() async throws {
        let s = try await RouteTests.setup()
        try await s.app.test(.router) { client in
            let arrived = ContinuousClock.now.advanced(by: .milliseconds(-50))
            _ = try await client.checked(uri: "/v1/stop", method: .post, headers: [RequestArrival.field: RequestArrival.stamp(arrived)])
            let metrics = String(buffer: try await client.checked(uri: "/metrics", method: .get).body)
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("plantar_stop_latency_max_seconds ") }
            let latency = try #require(line.flatMap { Double($0.split(separator: " ")[1]) }, "\(metrics)")
            #expect(latency >= 0.05 && latency < 5, "\(latency)")
        }
    }
}

/// The same contract on the wire: the real HTTP server (Hummingbird's live test server over
/// loopback TCP, the same edge as the Unix socket), raw bytes in, every answer checked
/// against the document.
@Suite("API contract points: the wire", .serialized, .timeLimit(.minutes(2)))
struct ContractPointWireTests {
    static func app(_ limits: ConnectionLimits = ConnectionLimits()) async throws -> (Scratch, Application<RouterResponder<PlantarRequestContext>>) {
        let scratch = try Scratch("wire")
        var config = DaemonConfig()
        config.simulatorSpeed = 20
        let options = Daemon.Options(socketPath: scratch.path + "/s.sock", environment: [:],
                                     library: ConfigLibrary(dataDirectories: [try scratch.dataDirectory()]),
                                     notifier: SystemdNotifier(environment: [:]), connectionLimits: limits)
        let (app, _) = try await buildApplication(config: config, options: options, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        return (scratch, app)
    }

    /// Sends `bytes` on a new connection; the answer, parsed, checked against the document
    /// (as `route`'s when given, else as a bare Refusal), and whether the server then closed.
    static func exchange(_ port: Int, _ bytes: String, route: (String, String)? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws -> RawHTTPResponse {
        let connection = try RawConnection(port: port)
        try connection.send(bytes)
        let response = try #require(await connection.readResponse(within: .seconds(10)), "no answer to \(bytes.debugDescription.prefix(80))", sourceLocation: sourceLocation)
        let contract = try OpenAPIContract.shared.get()
        if let (method, path) = route {
            let violations = contract.violations(method: method, uri: path, status: response.status, contentType: response.headers["content-type"], body: response.body)
            #expect(violations.isEmpty, "\(violations)", sourceLocation: sourceLocation)
        } else {
            #expect(response.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
            let errors = (try? JSONValue.parse(response.body)).map { contract.validator.errors($0, contract.schema("Refusal")) } ?? ["not JSON: \(String(decoding: response.body, as: UTF8.self))"]
            #expect(errors.isEmpty, "\(errors)", sourceLocation: sourceLocation)
        }
        return response
    }

    /// What the HTTP parser rejects before any route: a JSON 400 `bad-request`, then the
    /// connection closes (it cannot be trusted to carry another request).
    @Test func unparseableRequestsGetTheJSONRefusalAndAClose() async throws {
        let (scratch, app) = try await Self.app()
        _ = scratch
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let cases: [(String, String)] = [
                ("garbage request line", "HELLO THERE\r\n\r\n"),
                ("oversized URI", "GET /v1/status?" + String(repeating: "a", count: 100_000) + " HTTP/1.1\r\nHost: x\r\n\r\n"),
                ("oversized header", "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 100_000) + "\r\n\r\n"),
                ("NUL in the path", "GET /v1/st\u{0}atus HTTP/1.1\r\nHost: x\r\n\r\n"),
                ("Content-Length and Transfer-Encoding", "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                ("negative Content-Length", "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
            ]
            for (what, bytes) in cases {
                let response = try await Self.exchange(port, bytes)
                #expect(response.status == 400, "\(what): \(response)")
                #expect(response.closed, "\(what): the connection stays open")
                let document = try? JSONDecoder().decode(ErrorDocument.self, from: response.body)
                #expect(document?.code == "bad-request", "\(what): \(response)")
            }
        }
    }

    /// A malformed chunked body is a 400 from the route (it was a 413 "larger than 64 KiB").
    @Test func malformedChunkedBodiesAreA400() async throws {
        let (scratch, app) = try await Self.app()
        _ = scratch
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let head = "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            for (what, bytes) in [
                ("chunk size zz", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
                ("chunk size -5", head + "Transfer-Encoding: chunked\r\n\r\n-5\r\n{}\r\n0\r\n\r\n"),
                ("Transfer-Encoding frob", head + "Transfer-Encoding: frob\r\n\r\n{}"),
            ] {
                let response = try await Self.exchange(port, bytes, route: ("POST", "/v1/sessions"))
                #expect(response.status == 400, "\(what): \(response)")
                #expect((try? JSONDecoder().decode(ErrorDocument.self, from: response.body))?.code == "bad-request", "\(what): \(response)")
            }
            // And a good request on the same server still starts (nothing was left half-read).
            let body = #"{"program":"quick"}"#
            let good = try await Self.exchange(port, head + "Content-Length: \(body.utf8.count)\r\n\r\n" + body, route: ("POST", "/v1/sessions"))
            #expect(good.status == 201, "\(good)")
        }
    }

    /// The event stream: its content type is the document's, and its status events carry
    /// Status documents as the document describes them (a stream never ends, so the route
    /// tests cannot take it whole).
    @Test func eventStreamDocumentsFollowTheContract() async throws {
        let (scratch, app) = try await Self.app()
        _ = scratch
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let connection = try RawConnection(port: port)
            try connection.send("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = try #require(await connection.read(upTo: "\n\n", within: .seconds(10)), "no first event")
            let head = try #require(text.components(separatedBy: "\r\n\r\n").first)
            let contentType = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type:") }.map { String($0.dropFirst("content-type:".count)).trimmingCharacters(in: .whitespaces) }
            let contract = try OpenAPIContract.shared.get()
            #expect(contract.violations(method: "GET", uri: "/v1/events", status: 200, contentType: contentType, body: Data()) == [])
            let data = try #require(text.split(separator: "\n").first { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }, "\(text)")
            #expect(contract.validator.errors(try JSONValue.parse(Data(data.utf8)), contract.schema("Status")) == [])
        }
    }

    /// The edge's stamp cannot be forged: a client's own `Plantar-Received-Ns: 0` is
    /// overwritten (honoured, it would read as an hour-old request).
    @Test func aClientCannotSetTheArrivalStamp() async throws {
        let (scratch, app) = try await Self.app()
        _ = scratch
        try await app.test(.live) { client in
            let port = try #require(client.port)
            _ = try await Self.exchange(port, "POST /v1/stop HTTP/1.1\r\nHost: x\r\n\(RequestArrival.field): 0\r\nContent-Length: 0\r\n\r\n", route: ("POST", "/v1/stop"))
            let metrics = try await Self.exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", route: ("GET", "/metrics"))
            let text = String(decoding: metrics.body, as: UTF8.self)
            let line = text.split(separator: "\n").first { $0.hasPrefix("plantar_stop_latency_max_seconds ") }
            let latency = try #require(line.flatMap { Double($0.split(separator: " ")[1]) }, "\(text)")
            #expect(latency < 60, "\(latency)")
        }
    }

    /// Idle and dribbling clients are closed by the head and body deadlines (short here).
    @Test func idleAndDribblingConnectionsAreClosed() async throws {
        let limits = ConnectionLimits(headTimeout: .milliseconds(300), bodyTimeout: .milliseconds(300), maxConnections: 128)
        let (scratch, app) = try await Self.app(limits)
        _ = scratch
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let idle = try RawConnection(port: port)
            let head = try RawConnection(port: port)
            try head.send("GET /v1/sta")
            let body = try RawConnection(port: port)
            try body.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pro")
            // A keep-alive connection after its answer is idle too.
            let kept = try RawConnection(port: port)
            try kept.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await kept.readResponse(within: .seconds(10))?.status == 200)
            for (what, connection) in [("idle", idle), ("dribbled head", head), ("dribbled body", body), ("kept alive", kept)] {
                // Bounded: the server closes within its 300 ms deadline; 10 s is for a loaded machine.
                #expect(await connection.waitForClose(within: .seconds(10)), "\(what): still open")
            }
        }
    }

    /// At most `maxConnections` are served; the next waits until one closes. On the API's
    /// own Unix socket, the application run as plantard runs it: Hummingbird's live test
    /// server rebinds with a configuration that drops the cap.
    @Test func theConnectionCapHoldsTheNextUntilOneCloses() async throws {
        let scratch = try Scratch("cap")
        let notify = try NotifyListener(path: scratch.path + "/notify")
        let socket = scratch.path + "/s.sock"
        let options = Daemon.Options(socketPath: socket, environment: [:],
                                     library: ConfigLibrary(dataDirectories: [try scratch.dataDirectory()]),
                                     notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": notify.path]),
                                     connectionLimits: ConnectionLimits(headTimeout: .seconds(30), bodyTimeout: .seconds(30), maxConnections: 2))
        let (app, _) = try await buildApplication(config: DaemonConfig(), options: options, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            #expect(await offThePool { notify.wait(for: "READY=1", within: .seconds(20)) != nil })
            // Two connections, each kept alive after an answer (so surely accepted): the cap.
            // (It gates the listener's reads: connections arriving in one burst may be accepted together.)
            let first = try RawConnection(unixPath: socket), second = try RawConnection(unixPath: socket)
            for connection in [first, second] {
                try connection.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(await connection.readResponse(within: .seconds(10))?.status == 200)
            }
            let waiting = try RawConnection(unixPath: socket)
            try waiting.send("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await waiting.readResponse(within: .milliseconds(300)) == nil, "served beyond the cap")
            first.close()
            #expect(await waiting.readResponse(within: .seconds(10))?.status == 200)
        }
    }
}
