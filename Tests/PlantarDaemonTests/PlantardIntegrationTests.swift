import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlantarAPI
import Testing

/// The real `plantard` on a temporary socket with the simulated device (sped up 10x unless
/// said), driven with the real `plantar` and with `curl --unix-socket`. Serialized: each test
/// runs a daemon, and the machine has two cores.
@Suite("plantard end to end", .serialized, .timeLimit(.minutes(3)))
struct PlantardIntegrationTests {
    @Test func startsAtRestAndTellsSystemd() throws {
        let daemon = try RunningDaemon()
        #expect(daemon.startupMessages.last?.contains("READY=1") == true)
        #expect(daemon.startupMessages.last?.contains("STATUS=idle; device simulator at rest") == true, "\(daemon.startupMessages)")
        let status = try daemon.status()
        #expect(status.state == "idle")
        #expect(status.device.atRest == true)
        // The control loop kicks the watchdog (WATCHDOG_USEC=2 s: every second) even when idle.
        #expect(daemon.notify.wait(for: "WATCHDOG=1", within: .seconds(3)) != nil)
        let mode = try FileManager.default.attributesOfItem(atPath: daemon.socket)[.posixPermissions] as? Int
        #expect(mode == 0o660)
    }

    @Test func runsBackPainToTheEndWithThePlantarClient() throws {
        // 13m46s of back-pain at 100x: about 8 s.
        let daemon = try RunningDaemon(config: "backend: simulator\nsimulator-speed: 100\n")
        let run = try daemon.plantar(["run", "back-pain", "--focus", "cervical"], limit: 90)
        #expect(run.status == 0, "\(run)\n\(daemon.log())")
        #expect(run.stdout.contains("Running back-pain on plantard's reference device (session 1"), "\(run)")
        #expect(run.stdout.contains("step 4: Extra passes where it hurts"), "\(run)")
        #expect(run.stdout.contains("Session finished. The device is at rest."), "\(run)")
        let status = try daemon.status()
        #expect(status.state == "idle" && !status.latched && status.session?.state == "finished", "\(status)")
        #expect(status.session?.parameters["focus"] == "cervical")
        let metrics = try daemon.curl(["http://plantard/metrics"])
        #expect(metrics.stdout.contains("plantar_sessions_total{outcome=\"finished\"} 1"), "\(metrics)")
        #expect(daemon.log().contains("session 1 started: back-pain"), "\(daemon.log())")
        #expect(daemon.log().contains("who=uid \(getuid())"), "\(daemon.log())")
    }

    @Test func easeThroughTheClientLowersThePressure() throws {
        let daemon = try RunningDaemon()
        let started = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        #expect(started.stdout.contains(#""program":"press-test""#), "\(started)")
        let holding = try daemon.waitForStatus("the hold pressing") { ($0.session?.step ?? 0) == 2 && ($0.session?.measuredKPa["right"] ?? 0) > 40 }
        let before = holding.session?.measuredKPa["right"] ?? 0
        let ease = try daemon.plantar(["ease"])
        #expect(ease.status == 0, "\(ease)")
        #expect(ease.stdout.hasPrefix("easing off"), "\(ease)")
        let eased = try daemon.waitForStatus("pressure eased") { ($0.session?.measuredKPa["right"] ?? 99) < before * 0.75 }
        #expect(eased.session?.state == "running" || eased.session?.state == "easing")
        #expect(eased.latched == false)
        #expect(daemon.log().contains("ease: easing off"))
        _ = try daemon.plantar(["stop"])
    }

    @Test func stopMidHoldReleasesLatchesAndRequiresRearm() throws {
        let daemon = try RunningDaemon()
        let started = try daemon.curl(["-X", "POST", "-H", "Content-Type: application/json", "-d", #"{"program":"press-test"}"#,
                                       "-w", "%{http_code}", "http://plantard/v1/sessions"])
        #expect(started.stdout.hasSuffix("201"), "\(started)")
        try daemon.waitForStatus("mid-hold") { ($0.session?.step ?? 0) == 2 && ($0.session?.measuredKPa["right"] ?? 0) > 40 }

        let stop = try daemon.plantar(["stop"])
        #expect(stop.status == 0, "\(stop)")
        #expect(stop.stdout.contains("everything released"), "\(stop)")
        // Released at once: the device asks for no pressure anywhere, and the stop is latched.
        let now = try daemon.status()
        #expect(now.device.atRest == true, "\(now)")
        #expect(now.latched, "\(now)")
        let ended = try daemon.waitForStatus("the session ended") { $0.session?.active == false }
        #expect(ended.session?.stateText.hasPrefix("stopped (latched): operator stop") == true, "\(ended)")
        #expect(ended.state == "stopped" && ended.latched)

        // A new run is refused until re-armed, with what to do.
        let refused = try daemon.plantar(["run", "quick"])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("latched") && refused.stderr.contains("plantar rearm"), "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused)")
        let viaCurl = try daemon.curl(["-X", "POST", "-d", #"{"program":"quick"}"#, "-w", "%{http_code}", "http://plantard/v1/sessions"])
        #expect(viaCurl.stdout.hasSuffix("409") && viaCurl.stdout.contains(#""code":"latched""#), "\(viaCurl)")

        let rearm = try daemon.plantar(["rearm"])
        #expect(rearm.status == 0 && rearm.stdout.hasPrefix("re-armed"), "\(rearm)")
        // Re-arming resumed nothing.
        #expect(try daemon.status().session?.active == false)
        let run = try daemon.plantar(["run", "quick"])
        #expect(run.status == 0 && run.stdout.contains("Session finished"), "\(run)")
    }

    @Test func rearmIsRefusedWhileTheDiscomfortSwitchIsHeld() throws {
        let daemon = try RunningDaemon()
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        try daemon.waitForStatus("pressing") { ($0.session?.measuredKPa["right"] ?? 0) > 10 }
        let press = try daemon.curl(["-X", "POST", "http://plantard/v1/simulator/switch"])
        #expect(press.stdout.contains("simulated switch"), "\(press)")
        let ended = try daemon.waitForStatus("the switch stop") { $0.session?.active == false }
        #expect(ended.session?.stateText.contains("discomfort switch") == true, "\(ended)")
        #expect(ended.device.switchPressed && ended.device.atRest == true)
        let held = try daemon.plantar(["rearm"])
        #expect(held.status == 1 && held.stderr.contains("the discomfort switch is held"), "\(held)")
        _ = try daemon.curl(["-X", "POST", "http://plantard/v1/simulator/switch-release"])
        let rearm = try daemon.plantar(["rearm"])
        #expect(rearm.status == 0, "\(rearm)")
    }

    @Test func secondSessionIsRefusedWithAReason() throws {
        let daemon = try RunningDaemon()
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        let second = try daemon.plantar(["run", "quick"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("is running; one session at a time"), "\(second)")
        _ = try daemon.plantar(["stop"])
    }

    @Test func sigtermMidSessionLeavesTheDeviceAtRestBeforeExit() throws {
        let daemon = try RunningDaemon()
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        try daemon.waitForStatus("pressing") { ($0.session?.measuredKPa["right"] ?? 0) > 10 }
        daemon.signal(SIGTERM)
        let exit = try #require(daemon.waitForExit(within: 20), "plantard did not exit after SIGTERM\n\(daemon.log())")
        #expect(exit.0 == 0 && !exit.1, "\(exit)\n\(daemon.log())")
        let log = daemon.log()
        let stopped = try #require(log.range(of: "shutting down: session stopped, device released"), "\(log)")
        let atRest = try #require(log.range(of: "NOTICE device at rest"), "\(log)")
        #expect(stopped.lowerBound < atRest.lowerBound)
        #expect(!log.contains("NOT at rest"))
        #expect(daemon.notify.wait(for: "STOPPING=1", within: .seconds(1)) != nil)
        #expect(!FileManager.default.fileExists(atPath: daemon.socket) || (try? daemon.status()) == nil)
    }

    @Test func sigkillThenSafeStateReportsForTheSimulator() throws {
        let daemon = try RunningDaemon()
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        try daemon.waitForStatus("pressing") { ($0.session?.measuredKPa["right"] ?? 0) > 10 }
        daemon.signal(SIGKILL)
        #expect(daemon.waitForExit(within: 10)?.1 == true)
        let safe = try runProcess(try Executables.url("plantar"), ["safe-state", "--config", daemon.configPath],
                                  environment: ["PLANTAR_DATA_DIR": daemon.data])
        #expect(safe.status == 0, "\(safe)")
        #expect(safe.stdout.contains("backend simulator: the simulated device lived inside plantard and ended with it"), "\(safe)")
        // The client says the daemon is gone in one line.
        let status = try daemon.plantar(["status"])
        #expect(status.status == 1 && status.stderr.contains("plantard is not running"), "\(status)")
    }

    @Test func statusAndEventsThroughCurlAndAClientLeavingMidStreamChangesNothing() throws {
        let daemon = try RunningDaemon()
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        // curl follows the stream for a second, then goes away mid-stream.
        let events = try daemon.curl(["-N", "--max-time", "1", "http://plantard/v1/events"])
        #expect(events.stdout.contains("event: status\ndata: {"), "\(events)")
        #expect(events.stdout.components(separatedBy: "event: status").count > 3, "a few status events a second\n\(events)")
        let after = try daemon.status()
        #expect(after.session?.active == true && !after.latched, "\(after)")
        let text = try daemon.plantar(["status"])
        #expect(text.stdout.contains("state: running (session 1: press-test"), "\(text)")
        let json = try daemon.plantar(["status", "--json"])
        #expect((try? JSONDecoder().decode(StatusDocument.self, from: Data(json.stdout.utf8))) != nil, "\(json)")
        _ = try daemon.plantar(["stop"])
    }

    @Test func stopIsNotDelayedByAFloodOfOtherRequests() throws {
        let daemon = try RunningDaemon()
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        try daemon.waitForStatus("pressing") { ($0.session?.measuredKPa["right"] ?? 0) > 10 }
        let flood = Flood(socket: daemon.socket, clients: 50)
        flood.start()
        defer { flood.finish() }
        #expect(flood.waitForRequests(500, within: .seconds(30)), "the flood got going")
        let client = daemon.client
        let sent = ContinuousClock.now
        let stop = try client.send("POST", "/v1/stop")
        let took = sent.duration(to: .now)
        #expect(stop.status == 200)
        let action = try stop.decode(ActionDocument.self)
        #expect(action.status.device.atRest == true, "\(action)")
        // Generous for two shared cores under 50 clients; a stop queued behind the flood would take seconds.
        #expect(took < .milliseconds(500), "stop took \(took) under the flood")
        let metrics = String(decoding: try client.send("GET", "/metrics").body, as: UTF8.self)
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("plantar_stop_latency_max_seconds ") }
        let inDaemon = line.flatMap { Double($0.split(separator: " ")[1]) } ?? 1
        #expect(inDaemon < 0.01, "in-daemon stop latency \(inDaemon) s")
    }
}

extension PlantardIntegrationTests {
    @Test func aSessionCutShortByACrashStaysLatchedAfterTheRestart() throws {
        let state = try Scratch("state")
        let first = try RunningDaemon(environment: ["STATE_DIRECTORY": state.path])
        _ = try first.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        try first.waitForStatus("pressing") { ($0.session?.measuredKPa["right"] ?? 0) > 10 }
        first.signal(SIGKILL)
        #expect(first.waitForExit(within: 10)?.1 == true)

        let second = try RunningDaemon(environment: ["STATE_DIRECTORY": state.path])
        let status = try second.status()
        #expect(status.latched && status.latchReason == "before plantard restarted: plantard ended during session 1 (press-test)", "\(status)")
        let refused = try second.plantar(["run", "quick"])
        #expect(refused.status == 1 && refused.stderr.contains("latched"), "\(refused)")
        #expect(try second.plantar(["rearm"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: state.path + "/latch"), "re-arming forgets it")
        #expect(try second.plantar(["run", "quick"]).status == 0)
    }

    @Test func theStopLaneStopsUnderTheFloodAndAnswersCurl() throws {
        let daemon = try RunningDaemon()
        let lane = stopLanePath(forSocket: daemon.socket)
        #expect((try FileManager.default.attributesOfItem(atPath: lane)[.posixPermissions] as? Int) == 0o660)
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        try daemon.waitForStatus("pressing") { ($0.session?.measuredKPa["right"] ?? 0) > 10 }
        let flood = Flood(socket: daemon.socket, clients: 50)
        flood.start()
        defer { flood.finish() }
        #expect(flood.waitForRequests(500, within: .seconds(30)), "the flood got going")
        let sent = ContinuousClock.now
        let stop = try UnixHTTPClient(socketPath: lane, timeout: .seconds(5)).send("POST", "/v1/stop")
        let took = sent.duration(to: .now)
        #expect(stop.status == 200, "\(String(decoding: stop.body, as: UTF8.self))")
        #expect(try stop.decode(ActionDocument.self).status.device.atRest == true)
        #expect(took < .milliseconds(200), "stop through the lane took \(took) under the flood")
        #expect(daemon.log().contains("via the stop lane"), "who asked is logged")
        // curl speaks to it too; anything but stop and ease is a 404.
        let other = try runProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "--unix-socket", lane, "-w", "%{http_code}", "http://plantard/v1/status"])
        #expect(other.stdout.hasSuffix("404"), "\(other)")
        let ease = try runProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "--unix-socket", lane, "-X", "POST", "-w", "%{http_code}", "http://plantard/v1/ease"])
        #expect(ease.stdout.hasSuffix("409") && ease.stdout.contains("no-session"), "\(ease)")
    }
}

/// Clients hammering status and events on their own threads, for the flood tests and the benchmark.
final class Flood: @unchecked Sendable {
    // @unchecked: `requests` and `running` are atomics-by-lock below; the rest is immutable.
    let socket: String
    let clients: Int
    private let lock = NSLock()
    private var count = 0
    private var running = true
    private var threads: [Thread] = []
    private var tokens: [StopToken] = []
    private let done = DispatchGroup()
    private var target = Int.max
    private let reached = DispatchSemaphore(value: 0)

    init(socket: String, clients: Int) {
        self.socket = socket
        self.clients = clients
    }

    var requests: Int { lock.withLock { count } }
    var isRunning: Bool { lock.withLock { running } }

    func start() {
        for i in 0..<clients {
            done.enter()
            let thread = Thread { [self] in
                defer { done.leave() }
                let client = UnixHTTPClient(socketPath: socket, timeout: .seconds(10))
                while isRunning {
                    if i % 5 == 0 {
                        // An events client: reads a few events, then reconnects.
                        var seen = 0
                        let token = StopToken()
                        lock.withLock { tokens.append(token) }
                        if !isRunning { token.stop() }
                        try? client.follow("/v1/events", stop: token) { _ in seen += 1; return seen < 3 && self.isRunning }
                    } else {
                        _ = try? client.send("GET", "/v1/status")
                    }
                    lock.withLock {
                        count += 1
                        if count == target { reached.signal() }
                    }
                }
            }
            threads.append(thread)
            thread.start()
        }
    }

    /// Waits until the clients have made `n` requests in all.
    func waitForRequests(_ n: Int, within limit: Duration) -> Bool {
        let already = lock.withLock { () -> Bool in
            target = n
            return count >= n
        }
        if already { return true }
        return reached.wait(timeout: .now() + Double(limit.components.seconds)) == .success
    }

    func finish() {
        let open = lock.withLock { () -> [StopToken] in
            running = false
            return tokens
        }
        for token in open { token.stop() }
        done.wait()
    }
}
