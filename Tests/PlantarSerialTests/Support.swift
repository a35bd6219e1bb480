import Foundation
import PlantarConfig
import PlantarCore
import PlantarDrivers
import PlantarSession
import PlantarSimulator
import PlantarWire
import Synchronization

/// The shipped files and a short routine, for the serial link tests.
enum Fixtures {
    static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config").path

    static func text(_ relative: String) -> String {
        (try? String(contentsOfFile: config + "/" + relative, encoding: .utf8)) ?? ""
    }

    static let map: FootMap = try! FootMapLoader.parse(text("footmap.yaml"), file: "footmap.yaml")
    static let serial: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/reference-serial.yaml"),
                                                                      file: "reference-serial.yaml")
    static let zoned: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/zoned.yaml"), file: "zoned.yaml")

    /// About 15 s on the right foot: a roll over the heel, then bites along the sacral reflex,
    /// then the park move home.
    static let shortRoutine = """
        routine: serial-check
        title: A short routine for the serial link tests
        feet: right
        steps:
          - name: Roll the heel
            technique: roll
            zone: heel
            pressure: moderate
            duration: 6s
          - name: Walk the sacral reflex
            technique: thumb-walk
            zone: spine-sacral
            pressure: firm
            bite: 10mm
            duration: 4s
        """

    static let timeline: Timeline = {
        let routine = try! RoutineLoader.parse(shortRoutine, file: "serial-check.yaml", map: map).0
        return try! Compiler.compile(routine, map: map, device: serial)
    }()

    /// A fresh directory for symlinks.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "plantar-serial-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A board emulator on a pty and the serial driver connected to it.
struct Rig {
    let emulator: BoardEmulator
    let driver: SerialDriver
    let logs: LogSink

    /// Starts a board for `board` and connects a driver for `host` to it (through `link`, a
    /// symlink, when given, so a second emulator can take the port over).
    static func start(board: DeviceProfile = Fixtures.serial, host: DeviceProfile = Fixtures.serial,
                      options: BoardEmulatorOptions = BoardEmulatorOptions(), link: String? = nil,
                      driverOptions: SerialDriverOptions = SerialDriverOptions()) async throws -> Rig {
        let emulator = try BoardEmulator(profile: board, options: options)
        if let link { try emulator.terminal.link(at: link) }
        try emulator.start()
        var driverOptions = driverOptions
        driverOptions.port = link ?? emulator.path
        let logs = LogSink()
        do {
            let driver = try await SerialDriver.connect(profile: host, options: driverOptions, log: logs.log)
            return Rig(emulator: emulator, driver: driver, logs: logs)
        } catch {
            emulator.stop()
            throw error
        }
    }

    func stop() {
        driver.shutdown()
        emulator.stop()
    }
}

/// Driver messages, kept for assertions.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var log: SerialLog { { level, text in self.lines.withLock { $0.append("\(level.rawValue): \(text)") } } }
    var all: [String] { lines.withLock { $0 } }
}

/// Wraps a driver and records every command the governor let through, in order.
final class RecordingDriver: DeviceDriver {
    let inner: any DeviceDriver
    private let commands = Mutex<[(foot: Foot, command: ActuatorCommand)]>([])

    init(_ inner: any DeviceDriver) { self.inner = inner }

    var profile: DeviceProfile { inner.profile }
    var applied: [(foot: Foot, command: ActuatorCommand)] { commands.withLock { $0 } }

    func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError) {
        commands.withLock { $0.append((foot, command)) }
        try await inner.apply(command, foot: foot, at: time)
    }

    func releaseAll(_ reason: ReleaseReason) { inner.releaseAll(reason) }
    func poll(upTo now: Duration) async -> [DeviceEvent] { await inner.poll(upTo: now) }
    func beginSession() { inner.beginSession() }
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(what)" }
}

/// Runs a session in real time through `driver`; cancelled (the runner releases and ends)
/// and reported when it takes longer than `limit`.
func runSession(_ driver: any DeviceDriver, timeline: Timeline = Fixtures.timeline, within limit: Duration = .seconds(40)) async throws -> SessionTrace {
    var options = RunnerOptions()
    options.settleAfterEnd = .milliseconds(200)
    let runner = SessionRunner(timeline: timeline, driver: driver, clock: ContinuousClock(),
                               settings: GovernorSettings.standard(for: driver.profile), options: options)
    let trace = await withTaskGroup(of: SessionTrace?.self) { group in
        group.addTask { await runner.run() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next()!
        group.cancelAll()
        return first
    }
    guard let trace else { throw TimedOut(what: "the session did not end within \(limit)") }
    return trace
}

extension BoardSnapshot {
    /// Whether the board has carried out a pressure setpoint above `kPa`.
    func pressed(above kPa: Double) -> Bool {
        executed.contains { if case .pressure(_, _, let p, _) = $0 { p.value > kPa } else { false } }
    }
}
