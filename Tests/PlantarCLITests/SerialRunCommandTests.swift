import Foundation
import Synchronization
import Testing

/// `plantar run` through the serial backend, with `plantar-sim` as the board, both built
/// executables run as a person runs them (docs/serial.md).
@Suite("plantar run on plantar-sim")
struct SerialRunCommandTests {
    @Test("no board on the port: one line that says how to start the emulator")
    func missingBoard() throws {
        let run = try Plantar.run(["run", "back-pain", "--device", "reference-serial", "--port", "/nonexistent/plantar-mcu"])
        expectNoCrash(run)
        #expect(run.status == 1, "\(run)")
        #expect(run.stderrLines == ["error: no serial device at /nonexistent/plantar-mcu (unplugged, or the board emulator is not running) (open: No such file or directory (errno 2)); to try it without hardware start the board emulator first: plantar-sim --device reference-serial --link /nonexistent/plantar-mcu"], "\(run)")
    }

    @Test("--speed is for the simulated device only")
    func speedNeedsTheSimulator() throws {
        let run = try Plantar.run(["run", "back-pain", "--device", "reference-serial", "--speed", "10"])
        #expect(run.status == 1, "\(run)")
        #expect(run.stderrLines == ["error: --speed is for the simulated device; a real device runs in real time"], "\(run)")
    }

    @Test("back-pain runs on plantar-sim until the switch, pressed on the board, stops it")
    func switchOnTheEmulator() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let link = folder.appendingPathComponent("mcu").path
        let board = try BoardProcess(["--device", "reference-serial", "--link", link, "--quiet", "--event", "switch@3s"])
        defer { board.stop() }
        let path = try board.firstLine(within: 20)
        #expect(path == "\(try FileManager.default.destinationOfSymbolicLink(atPath: link)) (linked from \(link))")

        let run = try Plantar.run(["run", "back-pain", "--device", "reference-serial", "--port", link], limit: 60)
        expectNoCrash(run)
        #expect(run.status == 3, "\(run)")
        #expect(run.stdoutLines.first == "Running back-pain on the board on \(link) (250000 baud), 13m15.798s. Ctrl-C stops it safely.", "\(run)")
        #expect(run.stdout.contains("switch-stop: discomfort switch pressed: everything released (the driver had released first)"), "\(run)")
        #expect(run.stdoutLines.last == "Session stopped (latched): discomfort switch. The device is at rest.", "\(run)")
    }
}

/// `plantar run` straight to the board, ended by a signal while it presses: the board hears
/// an emergency release from the host (not only its lease running out 250 ms later), and the
/// exit status is 128 + the signal.
@Suite("plantar run on plantar-sim, ended by signals", .serialized)
struct SerialRunSignalTests {
    // The two the issue saw and Ctrl-C; the others take the same path (StopSignals.terminating)
    // and each one here is a real-time board and host beside the other serial tests.
    @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
    func aSignalReleasesOnTheBoardBeforeExit(_ number: Int32) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-sig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let link = folder.appendingPathComponent("mcu").path
        let board = try BoardProcess(["--device", "reference-serial", "--link", link])
        defer { board.stop() }
        _ = try board.firstLine(within: 20)

        let out = folder.appendingPathComponent("stdout"), err = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = try Plantar.executable()
        process.arguments = ["run", "back-pain", "--device", "reference-serial", "--port", link]
        var environment = ProcessInfo.processInfo.environment
        environment["PLANTAR_DATA_DIR"] = repositoryDirectory.appendingPathComponent("Config").path
        environment["HOME"] = folder.path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        // Pressing: the host armed the board and a pressure setpoint went out.
        #expect(board.wait(for: "armed by the host", within: 30), "\(board.output)")
        let before = board.output.count
        kill(process.processIdentifier, number)
        #expect(exited.wait(timeout: .now() + 20) == .success, "plantar did not exit after signal \(number)")
        let stdout = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        #expect(process.terminationReason == .exit, "ended by the signal itself\n\(stdout)\n\(stderr)")
        #expect(process.terminationStatus == (number == SIGINT ? 3 : 128 + number), "\(stdout)\n\(stderr)")
        // What the board saw after the signal: the host's emergency release, before any lease ran out.
        #expect(board.wait(for: "released everything: emergency release", within: 5, after: before), "\(board.output)")
        let after = String(board.output.dropFirst(before))
        let emergency = after.range(of: "released everything: emergency release")
        let lease = after.range(of: "released everything: lease expired")
        #expect(emergency != nil && (lease == nil || emergency!.lowerBound < lease!.lowerBound), "\(after)")
        #expect(stdout.contains("The device is at rest."), "\(stdout)")
    }
}

/// `plantar-sim` in the background, its first line of output awaited with a time limit.
final class BoardProcess: Sendable {
    private let process: Process
    private let printed = Mutex<String>("")
    private let gotLine = DispatchSemaphore(value: 0)
    private let reader: FileHandle

    init(_ arguments: [String]) throws {
        let executable = try Plantar.executable().deletingLastPathComponent().appendingPathComponent("plantar-sim")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw RunnerError("no built plantar-sim at \(executable.path): run 'swift build' first (./dev test does)")
        }
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLANTAR_DATA_DIR"] = repositoryDirectory.appendingPathComponent("Config").path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        reader = pipe.fileHandleForReading
        reader.readabilityHandler = { [self] handle in
            let data = handle.availableData
            let text = String(decoding: data, as: UTF8.self)
            let complete = printed.withLock { $0 += text; return $0.contains("\n") }
            if complete || data.isEmpty { gotLine.signal() }
        }
        try process.run()
    }

    /// The first line it printed (the terminal's path), waiting at most `seconds`.
    func firstLine(within seconds: Double) throws -> String {
        guard gotLine.wait(timeout: .now() + seconds) == .success else {
            throw RunnerError("plantar-sim printed nothing within \(Int(seconds)) s")
        }
        return printed.withLock { String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }
    }

    /// Everything it printed so far.
    var output: String { printed.withLock { $0 } }

    /// Waits (at most `seconds`) until what it printed after the first `after` characters
    /// contains `text`.
    func wait(for text: String, within seconds: Double, after: Int = 0) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if String(output.dropFirst(after)).contains(text) { return true }
            _ = gotLine.wait(timeout: .now() + 0.05)
        }
        return String(output.dropFirst(after)).contains(text)
    }

    func stop() {
        reader.readabilityHandler = nil
        process.terminate()
        process.waitUntilExit()
    }
}
