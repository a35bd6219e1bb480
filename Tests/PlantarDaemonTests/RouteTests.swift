import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import PlantarAPI
import PlantarConfig
import PlantarDaemon
import Testing

/// The control API through `app.test(.router)`: no socket, the simulated device in process,
/// logs captured in memory (the logging system is never bootstrapped).
@Suite("control API routes", .timeLimit(.minutes(2)))
struct RouteTests {
    struct Setup {
        let scratch: Scratch
        let app: Application<RouterResponder<PlantarRequestContext>>
        let daemon: Daemon
        let logs: InMemoryLogHandler
    }

    static func setup(speed: Double = 20) async throws -> Setup {
        let scratch = try Scratch("r")
        let data = try scratch.dataDirectory()
        var config = DaemonConfig()
        config.simulatorSpeed = speed
        let logs = InMemoryLogHandler()
        let logger = Logger(label: "test") { _ in logs }
        let options = Daemon.Options(socketPath: scratch.path + "/s.sock", environment: [:],
                                     library: ConfigLibrary(dataDirectories: [data]), notifier: SystemdNotifier(environment: [:]))
        let (app, daemon) = try await buildApplication(config: config, options: options, logger: logger)
        return Setup(scratch: scratch, app: app, daemon: daemon, logs: logs)
    }

    static func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
    }

    /// Every refusal is a JSON error document with a code and a message.
    static func expectRefusal(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        let error = try decode(ErrorDocument.self, response)
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(!error.error.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func statusAndProgramsWhenIdle() async throws {
        let s = try await Self.setup()
        try await s.app.test(.router) { client in
            let status = try Self.decode(StatusDocument.self, try await client.checked(uri: "/v1/status", method: .get))
            #expect(status.state == "idle" && !status.latched && status.session == nil)
            #expect(status.device.backend == "simulator" && status.device.atRest == true)
            let programs = try Self.decode([ProgramDocument].self, try await client.checked(uri: "/v1/programs", method: .get))
            #expect(programs.map(\.name) == ["back-pain", "press-test", "quick"])
            let backPain = try #require(programs.first)
            #expect(backPain.parameters.first { $0.name == "focus" }?.choices == ["cervical", "thoracic", "lumbar", "sacral"])
        }
    }

    @Test func badRequestsGetAClear4xxAndChangeNothing() async throws {
        let s = try await Self.setup()
        try await s.app.test(.router) { client in
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json("{not json")), .badRequest, "bad-request")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"parameters":{}}"#)), .badRequest, "bad-request")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post), .badRequest, "bad-request")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"back-pian"}"#)), .unprocessableContent, "unknown-program")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"/etc/passwd"}"#)), .unprocessableContent, "unknown-program")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"back-pain","intensity":9}"#)), .unprocessableContent, "invalid-parameters")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"back-pain","parameters":{"focus":"nowhere"}}"#)), .unprocessableContent, "invalid-parameters")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"back-pain","sensitivity":2}"#)), .unprocessableContent, "invalid-parameters")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"x","routine":"routine: [broken"}"#)), .unprocessableContent, "invalid-routine")
            let huge = #"{"program":"back-pain","routine":""# + String(repeating: "x", count: 100_000) + #""}"#
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(huge)), .contentTooLarge, "too-large")
            try Self.expectRefusal(try await client.outsideTheDocument(uri: "/v1/nowhere", method: .get), .notFound, "not-found")
            try Self.expectRefusal(try await client.checked(uri: "/v1/ease", method: .post), .conflict, "no-session")
            try Self.expectRefusal(try await client.checked(uri: "/v1/pause", method: .post), .conflict, "no-session")
            let status = try Self.decode(StatusDocument.self, try await client.checked(uri: "/v1/status", method: .get))
            #expect(status.state == "idle" && !status.latched && status.session == nil, "nothing changed: \(status)")
            let metrics = String(buffer: try await client.checked(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"plantar_requests_refused_total{code="bad-request"} 3"#), "\(metrics)")
        }
    }

    @Test func oneSessionAtATimeThenStopLatchesUntilRearm() async throws {
        let s = try await Self.setup()
        try await s.app.test(.router) { client in
            let created = try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"press-test","intensity":2}"#))
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let session = try Self.decode(SessionDocument.self, created)
            #expect(session.id == 1 && session.active && session.parameters["intensity"] == "2")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"quick"}"#)), .conflict, "busy")

            let stop = try Self.decode(ActionDocument.self, try await client.checked(uri: "/v1/stop", method: .post))
            #expect(stop.status.latched && stop.status.device.atRest == true, "\(stop)")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"quick"}"#)), .conflict, "latched")
            let rearm = try await client.checked(uri: "/v1/rearm", method: .post)
            #expect(rearm.status == .ok, "\(String(buffer: rearm.body))")
            let after = try Self.decode(ActionDocument.self, rearm)
            #expect(!after.status.latched && after.status.session?.active == false, "re-arm resumes nothing: \(after)")
            let again = try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"quick"}"#))
            #expect(again.status == .created)
            _ = try await client.checked(uri: "/v1/stop", method: .post)
        }
        // Logged with who asked (the router tests have no socket: "unknown").
        let messages = s.logs.entries.map { "\($0.level) \($0.message) \($0.metadata)" }
        #expect(messages.contains { $0.contains("session 1 started: press-test") && $0.contains("who") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("warning stop:") && $0.contains("who") }, "\(messages)")
        #expect(messages.contains { $0.contains("re-armed") && $0.contains("who") }, "\(messages)")
    }

    @Test func stopWithNoSessionStillReleasesAndLatches() async throws {
        let s = try await Self.setup()
        try await s.app.test(.router) { client in
            let stop = try Self.decode(ActionDocument.self, try await client.checked(uri: "/v1/stop", method: .post))
            #expect(stop.detail.hasPrefix("no session was running"))
            #expect(stop.status.latched && stop.status.state == "stopped")
            let metrics = String(buffer: try await client.checked(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("plantar_stop_latency_seconds_count 1"), "\(metrics)")
            #expect(metrics.contains("plantar_latched 1"))
        }
    }

    @Test func metricsInPrometheusText() async throws {
        let s = try await Self.setup()
        try await s.app.test(.router) { client in
            let response = try await client.checked(uri: "/metrics", method: .get)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: response.body)
            for family in ["plantar_sessions_total", "plantar_interventions_total", "plantar_stop_latency_seconds",
                           "plantar_link_errors_total", "plantar_dispatch_lateness_seconds"] {
                #expect(text.contains("# TYPE \(family) "), "\(family)")
            }
            #expect(text.contains(#"plantar_interventions_total{kind="switch-stop"} 0"#))
            #expect(text.contains(#"plantar_stop_latency_seconds_bucket{le="+Inf"} 0"#))
        }
    }

    @Test func simulatorSwitchLatchesEvenWhenIdleAndBlocksRearmWhileHeld() async throws {
        let s = try await Self.setup()
        try await s.app.test(.router) { client in
            _ = try await client.checked(uri: "/v1/simulator/switch", method: .post)
            let status = try Self.decode(StatusDocument.self, try await client.checked(uri: "/v1/status", method: .get))
            #expect(status.latched && status.device.switchPressed, "\(status)")
            try Self.expectRefusal(try await client.checked(uri: "/v1/rearm", method: .post), .conflict, "switch-held")
            try Self.expectRefusal(try await client.checked(uri: "/v1/sessions", method: .post, body: Self.json(#"{"program":"quick"}"#)), .conflict, "latched")
            _ = try await client.checked(uri: "/v1/simulator/switch-release", method: .post)
            #expect(try await client.checked(uri: "/v1/rearm", method: .post).status == .ok)
            try Self.expectRefusal(try await client.checked(uri: "/v1/simulator/levitate", method: .post), .notFound, "not-found")
        }
    }
}

/// Over TCP (HummingbirdTesting's live server binds TCP), every request needs the token.
@Suite("control API over TCP", .timeLimit(.minutes(1)))
struct TCPTokenTests {
    @Test func everyTCPRequestNeedsTheToken() async throws {
        let scratch = try Scratch("tcp")
        var config = DaemonConfig()
        let token = "0123456789abcdef0123456789abcdef"
        config.tcp = DaemonConfig.TCPListen(host: "127.0.0.1", port: 0, token: token)
        let options = Daemon.Options(socketPath: scratch.path + "/s.sock", environment: [:],
                                     library: ConfigLibrary(dataDirectories: [try scratch.dataDirectory()]),
                                     notifier: SystemdNotifier(environment: [:]))
        let (app, _) = try await buildApplication(config: config, options: options, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await app.test(.live) { client in
            let refused = try await client.checked(uri: "/v1/status", method: .get)
            #expect(refused.status == .unauthorized)
            #expect(String(buffer: refused.body).contains(#""code":"unauthorized""#))
            let stop = try await client.checked(uri: "/v1/stop", method: .post, headers: [.authorization: "Bearer wrong-token-wrong-token-wrong"])
            #expect(stop.status == .unauthorized)
            let allowed = try await client.checked(uri: "/v1/status", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(allowed.status == .ok)
            let status = try JSONDecoder().decode(StatusDocument.self, from: Data(allowed.body.readableBytesView))
            #expect(!status.latched, "the refused stop changed nothing")
        }
    }
}
