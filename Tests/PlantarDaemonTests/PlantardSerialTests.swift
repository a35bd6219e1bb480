import Foundation
import Synchronization
import Testing

/// plantard with the serial backend, its board emulated by the built `plantar-sim` on a
/// pseudo-terminal: a program runs to the end through the daemon; a switch pressed on the
/// board stops it latched; the emulator killed mid-session faults and latches the daemon,
/// which keeps running.
@Suite("plantard on plantar-sim", .timeLimit(.minutes(3)))
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
