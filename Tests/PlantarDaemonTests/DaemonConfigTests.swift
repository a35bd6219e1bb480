import Foundation
import PlantarConfig
import PlantarCore
import Testing

/// plantard.yaml: every problem at once, each as FILE:LINE:COLUMN naming the key; the daemon
/// refuses to start on any of them.
@Suite("daemon configuration")
struct DaemonConfigTests {
    static func problems(_ text: String) -> [String] {
        do {
            _ = try DaemonConfigLoader.parse(text, file: "plantard.yaml")
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func shippedConfigurationIsTheSimulatorWithDefaults() throws {
        let path = repository.appendingPathComponent("Config/plantard.yaml").path
        let config = try DaemonConfigLoader.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
        #expect(config.backend == .simulator && config.device == "reference" && config.simulatorSpeed == 1)
        #expect(config.socketPath == nil && config.socketMode == 0o660 && config.socketGroup == "plantar")
        #expect(config.tcp == nil && config.intensity == 3 && config.sensitivity == 1 && !config.reducedSensation)
        #expect(config.limits == SessionLimits.standard)
    }

    @Test func everyKeyReadsAsWritten() throws {
        let config = try DaemonConfigLoader.parse("""
            backend: gpio
            device: zoned
            socket: {path: /tmp/x.sock, group: staff, mode: "0600"}
            tcp: {listen: "127.0.0.1:8470", token: 0123456789abcdef0123456789abcdef}
            user: {shoe-size: 39, intensity: 2, sensitivity: 0.7, reduced-sensation: true}
            limits: {auto-off: 20m, hold-limit: 45s}
            """, file: "plantard.yaml")
        #expect(config.backend == .gpio && config.device == "zoned" && config.socketPath == "/tmp/x.sock")
        #expect(config.socketGroup == "staff" && config.socketMode == 0o600)
        #expect(config.tcp == DaemonConfig.TCPListen(host: "127.0.0.1", port: 8470, token: "0123456789abcdef0123456789abcdef"))
        #expect(abs(config.footSize.lengthMM - (39 * 20.0 / 3 - 15)) < 1e-9)
        #expect(config.intensity == 2 && config.sensitivity == 0.7 && config.reducedSensation)
        #expect(config.limits == SessionLimits(holdLimit: .seconds(45), autoOff: .seconds(20 * 60)))
    }

    @Test func everyProblemWithItsPosition() {
        let problems = Self.problems("""
            backend: bluetooth
            simulator-speed: 0
            socket:
              path: relative.sock
              mode: "0666"
            tcp:
              listen: "localhost"
              token: short
            user:
              foot-length: 400mm
              sensitivity: 1.5
              intensity: 7
            limits:
              auto-off: 45m
              hold-limit: 2m
            colour: blue
            """)
        #expect(problems == [
            "plantard.yaml:1:10: error: unknown backend 'bluetooth'; expected one of simulator, serial, gpio",
            "plantard.yaml:2:18: error: simulator-speed 0 is out of range (0.010–1000)",
            "plantard.yaml:4:9: error: socket path must be absolute, got 'relative.sock'",
            "plantard.yaml:5:9: error: socket mode 0666 lets every user on the machine control the device; use 0660 or stricter",
            "plantard.yaml:7:11: error: tcp listen must be HOST:PORT such as 127.0.0.1:8470, got 'localhost'",
            "plantard.yaml:8:10: error: tcp token must be at least 24 characters (it is 5); e.g. the output of 'openssl rand -hex 24'",
            "plantard.yaml:10:16: error: user foot-length 400mm is out of range (180–330 mm)",
            "plantard.yaml:11:16: error: user sensitivity 1.5 is out of range (0.500–1)",
            "plantard.yaml:12:14: error: user intensity 7 is out of range (1–5)",
            "plantard.yaml:14:13: error: limits auto-off 45m is out of range (1s–30m)",
            "plantard.yaml:15:15: error: limits hold-limit 2m is out of range (1s–1m)",
            "plantard.yaml:16:1: error: unknown key 'colour' in the daemon configuration",
        ], "\(problems.joined(separator: "\n"))")
    }

    @Test func tcpNeedsAToken() {
        #expect(Self.problems("tcp: {listen: \"127.0.0.1:8470\"}") == ["plantard.yaml:1:6: error: tcp is missing the required key 'token'"])
    }

    @Test func plantardRefusesToStartOnBadConfiguration() throws {
        let scratch = try Scratch("cfg")
        let config = try scratch.write("backend: simulator\nuser:\n  intensity: 9\n", to: "bad.yaml")
        let run = try runProcess(try Executables.url("plantard"), ["--config", config, "--socket", scratch.path + "/s.sock"])
        #expect(run.status == 1, "\(run)")
        #expect(run.stderr == "\(config):3:14: error: user intensity 9 is out of range (1–5)\nplantard: refusing to start\n", "\(run)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/s.sock"))
    }
}
