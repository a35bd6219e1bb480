import ArgumentParser
import Foundation
import PlantarAPI
import PlantarConfig
import PlantarCore
import PlantarSession
import Synchronization

/// `--socket PATH`, shared by every command that talks to plantard.
struct DaemonConnection: ParsableArguments {
    @Option(name: .long, help: "plantard's control socket (default: $PLANTAR_SOCKET, else /run/plantar/plantard.sock, else your own plantard's in $XDG_RUNTIME_DIR/plantar).")
    var socket: String?

    var client: UnixHTTPClient {
        UnixHTTPClient(socketPath: socket ?? DaemonConfig.clientSocketPath(environment: ProcessInfo.processInfo.environment))
    }

    /// Sends a request; a refusal or a missing daemon becomes one line for the person.
    func send(_ method: String, _ path: String) throws -> UnixHTTPClient.Response {
        do {
            let response = try client.send(method, apiVersionPrefix + path)
            if let refusal = response.refusal { throw ClientError.refused(refusal) }
            return response
        } catch let error as ClientError {
            throw UserFacingError(error.description)
        }
    }

    func send<T: Encodable>(_ method: String, _ path: String, body: T) throws -> UnixHTTPClient.Response {
        do {
            let response = try client.send(method, apiVersionPrefix + path, body: body)
            if let refusal = response.refusal { throw ClientError.refused(refusal) }
            return response
        } catch let error as ClientError {
            throw UserFacingError(error.description)
        }
    }

    /// Stop and ease go through plantard's stop lane (a socket and thread of their own, which a
    /// flood on the API cannot delay); the API's own endpoint when there is no lane.
    func sendUrgent(_ path: String) throws -> UnixHTTPClient.Response {
        let lane = UnixHTTPClient(socketPath: stopLanePath(forSocket: client.socketPath), timeout: .seconds(5))
        // Twice: a lane full of idle connections drops the one that has waited longest, which
        // may be this one if it was slow to send; a second try is served at once.
        for _ in 0..<2 {
            if let response = try? lane.send("POST", apiVersionPrefix + path) {
                if let refusal = response.refusal { throw UserFacingError(ClientError.refused(refusal).description) }
                return response
            }
        }
        return try send("POST", path)
    }

    func decode<T: Decodable>(_ response: UnixHTTPClient.Response, as type: T.Type) throws -> T {
        do { return try response.decode(T.self) } catch { throw UserFacingError(error.description) }
    }

    /// Follows `GET /v1/events` until `handle` returns false, the daemon ends the stream or
    /// `stop` is triggered.
    func follow(stop: StopToken? = nil, _ handle: (UnixHTTPClient.Event) -> Bool) throws {
        do {
            try client.follow(apiVersionPrefix + "/events", stop: stop, handle)
        } catch {
            throw UserFacingError(error.description)
        }
    }
}

/// A one-line answer for `plantar ease|stop|rearm|pause|resume`.
protocol DaemonAction: AsyncParsableCommand {
    var connection: DaemonConnection { get }
    static var path: String { get }
    /// Goes through the stop lane (stop, ease).
    static var urgent: Bool { get }
}

extension DaemonAction {
    static var urgent: Bool { false }

    func run() async throws {
        try await reportingFailures {
            let response = Self.urgent ? try connection.sendUrgent(Self.path) : try connection.send("POST", Self.path)
            let action = try connection.decode(response, as: ActionDocument.self)
            print(action.detail)
        }
    }
}

struct Ease: DaemonAction {
    static let configuration = CommandConfiguration(
        abstract: "Ease off: lower the pressure now and keep the caps lower for the rest of the session.")
    static let path = "/ease"
    static let urgent = true
    @OptionGroup var connection: DaemonConnection
}

struct Stop: DaemonAction {
    static let configuration = CommandConfiguration(
        abstract: "Stop the session: everything is released at once and the stop latches until 'plantar rearm'.")
    static let path = "/stop"
    static let urgent = true
    @OptionGroup var connection: DaemonConnection
}

struct Rearm: DaemonAction {
    static let configuration = CommandConfiguration(
        abstract: "Clear a latched stop so a new session may start (refused while the discomfort switch is held). Never resumes anything.")
    static let path = "/rearm"
    @OptionGroup var connection: DaemonConnection
}

struct Pause: DaemonAction {
    static let configuration = CommandConfiguration(abstract: "Pause the session (pressure released) until 'plantar resume'.")
    static let path = "/pause"
    @OptionGroup var connection: DaemonConnection
}

struct Resume: DaemonAction {
    static let configuration = CommandConfiguration(abstract: "Resume a paused session.")
    static let path = "/resume"
    @OptionGroup var connection: DaemonConnection
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what plantard is doing: the session, its progress and pressure, the latch and the device.")

    @OptionGroup var connection: DaemonConnection

    @Flag(name: .long, help: "Keep following (live line while a session runs) until Ctrl-C.")
    var follow = false

    @Flag(name: .long, help: "Print JSON (with --follow: one status document a line).")
    var json = false

    func run() async throws {
        try await reportingFailures {
            guard follow else {
                let response = try connection.send("GET", "/status")
                if json {
                    print(String(decoding: response.body, as: UTF8.self))
                } else {
                    print(Self.text(try connection.decode(response, as: StatusDocument.self)))
                }
                return
            }
            let display = LiveDisplay(routine: "", speed: 1)
            var lastText = ""
            try connection.follow { event in
                guard event.name == "status" else {
                    if event.name == "intervention", !json,
                       let i = try? JSONDecoder().decode(InterventionDocument.self, from: Data(event.data.utf8)) {
                        display.note(i.text)
                    }
                    return true
                }
                if json {
                    FileHandle.standardOutput.write(Data((event.data + "\n").utf8))
                    return true
                }
                guard let status = try? JSONDecoder().decode(StatusDocument.self, from: Data(event.data.utf8)) else { return true }
                if let session = status.session, session.active {
                    display.update(session.status)
                    lastText = ""
                } else {
                    let text = Self.text(status)
                    if text != lastText { display.note(text) }
                    lastText = text
                }
                return true
            }
        }
    }

    /// The status as people read it.
    static func text(_ s: StatusDocument) -> String {
        var lines: [String] = []
        if let session = s.session, session.active {
            lines.append("state: \(session.state) (session \(session.id): \(session.program), started by \(session.startedBy))")
            lines.append("progress: \(clockText(.roundedSeconds(session.elapsedSeconds)))/\(clockText(.roundedSeconds(session.totalSeconds)))" +
                         (session.step > 0 ? ", step \(session.step) \(session.stepName), \(session.foot ?? "-") foot, \(session.zone)" : ""))
            let feet = session.measuredKPa.keys.sorted().map { foot in
                "\(foot) \(fixed(session.measuredKPa[foot] ?? 0, 1)) kPa (setpoint \(fixed(session.setpointKPa[foot] ?? 0, 1)))"
            }
            if !feet.isEmpty { lines.append("pressure: " + feet.joined(separator: ", ") + ", cap \(fixed(session.capKPa, 1)) kPa") }
        } else {
            lines.append("state: \(s.state)" + (s.stopping ? " (plantard is shutting down)" : ""))
            if let session = s.session {
                lines.append("last session: \(session.id) \(session.program): \(session.stateText) after \(clockText(.roundedSeconds(session.elapsedSeconds)))")
            }
        }
        if s.latched {
            lines.append("latched: \(s.latchReason ?? "yes"): 'plantar rearm' before the next session")
        }
        lines.append("device: \(s.device.profile) (\(s.device.backend)), link \(s.device.link)" +
                     (s.device.switchPressed ? ", discomfort switch HELD" : "") + (s.device.fault.map { ", fault: \($0)" } ?? ""))
        return lines.joined(separator: "\n")
    }
}
