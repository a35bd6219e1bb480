import Foundation
import Synchronization
import Testing

/// plantard with the serial backend, its board emulated by the built `plantar-sim` on a
/// pseudo-terminal: a program runs to the end through the daemon; a switch pressed on the
/// board stops it latched; the emulator killed mid-session faults and latches the daemon,
/// which keeps running. Serialized: each test runs a daemon and a board in real time, and
/// the machine has two cores.
@Suite("plantard on plantar-sim", .serialized, .timeLimit(.minutes(3)))
struct PlantardSerialTests {
    @Test func aProgramRunsThroughTheBoardAndTheSwitchOnTheBoardStopsIt() throws {
        let scratch = try Scratch("sim")
        let link = scratch.path + "/mcu"
        let board = try EmulatedBoard(["--device", "reference-serial", "--link", link, "--quiet"])
        defer { board.stop() }
        _ = try board.firstLine(within: 20)
        let daemon = try RunningDaemon(config: "backend: serial\ndevice: reference-serial\nport: \(link)\n")

        let run = try daemon.plantar(["run", "quick"], limit: 60)
        #expect(run.status == 0, "\(run)\n\(daemon.log())")
        #expect(run.stdout.contains("Session finished. The device is at rest."), "\(run)")

        // Now a longer one, and the person presses the switch on the board.
        let started = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        #expect(started.stdout.contains(#""program":"press-test""#), "\(started)")
        _ = try daemon.waitForStatus("pressing through the board") { ($0.session?.measuredKPa["right"] ?? 0) > 5 }
        board.signal(SIGUSR1)   // the switch, on the board: it releases first, then reports
        let stopped = try daemon.waitForStatus("stopped by the board's switch") { $0.latched && $0.session?.active == false }
        #expect(stopped.session?.state == "stopped", "\(stopped)")
        let refused = try daemon.plantar(["run", "quick"])
        #expect(refused.status != 0 && refused.stderr.contains("re-arm"), "\(refused)")
    }

    /// Between sessions, with no watchdog (so the idle tick is 5 s): the board's switch, pressed
    /// and let go, shows in the latch, the status and the API's refusals well before any tick.
    @Test func theBoardsSwitchBetweenSessionsCountsAtOnce() throws {
        let scratch = try Scratch("idle")
        let link = scratch.path + "/mcu"
        let board = try EmulatedBoard(["--device", "reference-serial", "--link", link, "--quiet"])
        defer { board.stop() }
        _ = try board.firstLine(within: 20)
        let daemon = try RunningDaemon(config: "backend: serial\ndevice: reference-serial\nport: \(link)\n",
                                       environment: ["WATCHDOG_USEC": ""])
        #expect(try !daemon.status().latched)
        let pressed = ContinuousClock.now
        board.signal(SIGUSR1)   // pressed (and held)
        _ = try daemon.waitForStatus(within: .seconds(10), "latched by the board's switch") { $0.latched && $0.device.switchPressed }
        let toLatch = pressed.duration(to: .now)
        let rearm = try daemon.curl(["-X", "POST", "http://plantard/v1/rearm"])
        #expect(rearm.stdout.contains(#""code":"switch-held""#), "\(rearm)")
        let start = try daemon.curl(["-X", "POST", "-d", #"{"program":"quick"}"#, "http://plantard/v1/sessions"])
        #expect(start.stdout.contains(#""code":"latched""#), "never 201 and then 'not started': \(start)")
        let letGo = ContinuousClock.now
        board.signal(SIGUSR1)   // let go
        _ = try daemon.waitForStatus(within: .seconds(10), "the switch let go") { !$0.device.switchPressed }
        let toRelease = letGo.duration(to: .now)
        let again = try daemon.curl(["-X", "POST", "-w", "%{http_code}", "http://plantard/v1/rearm"])
        #expect(again.stdout.hasSuffix("200"), "\(again)")
        print("board switch between sessions: latched \(toLatch), let go seen \(toRelease) (idle tick 5 s)")
        // Well below the 5 s tick even on this machine; typically a few milliseconds.
        #expect(toLatch < .seconds(2) && toRelease < .seconds(2), "\(toLatch) \(toRelease)\n\(daemon.log())")
    }

    @Test func theEmulatorKilledMidSessionFaultsAndLatchesAndTheDaemonLivesOn() throws {
        let scratch = try Scratch("kill")
        let link = scratch.path + "/mcu"
        let board = try EmulatedBoard(["--device", "reference-serial", "--link", link, "--quiet"])
        _ = try board.firstLine(within: 20)
        let daemon = try RunningDaemon(config: "backend: serial\ndevice: reference-serial\nport: \(link)\n")
        _ = try daemon.curl(["-X", "POST", "-d", #"{"program":"press-test"}"#, "http://plantard/v1/sessions"])
        _ = try daemon.waitForStatus("pressing through the board") { ($0.session?.measuredKPa["right"] ?? 0) > 5 }
        board.kill()
        let faulted = try daemon.waitForStatus("faulted by the lost link") { $0.latched && $0.session?.active == false }
        #expect(faulted.session?.state == "faulted", "\(faulted)\n\(daemon.log())")
        #expect(daemon.log().contains("link"), "\(daemon.log())")
        // The daemon is still there and says why it refuses.
        let status = try daemon.plantar(["status"])
        #expect(status.status == 0, "\(status)")
    }
}

/// `plantar-sim` in the background; its first line (the terminal's path) awaited with a limit.
final class EmulatedBoard: Sendable {
    private let process = Process()
    private let firstLineSeen = DispatchSemaphore(value: 0)
    private let output = Mutex("")

    init(_ arguments: [String]) throws {
        process.executableURL = try Executables.url("plantar-sim")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLANTAR_DATA_DIR"] = repository.appendingPathComponent("Config").path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            let complete = output.withLock { $0 += String(decoding: data, as: UTF8.self); return $0.contains("\n") }
            if complete || data.isEmpty { firstLineSeen.signal() }
        }
        try process.run()
    }

    func firstLine(within seconds: Double) throws -> String {
        guard firstLineSeen.wait(timeout: .now() + seconds) == .success else {
            throw TestFailure("plantar-sim printed nothing within \(Int(seconds)) s")
        }
        return output.withLock { String($0.split(separator: "\n").first ?? "") }
    }

    func signal(_ number: Int32) { Foundation.kill(process.processIdentifier, number) }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
