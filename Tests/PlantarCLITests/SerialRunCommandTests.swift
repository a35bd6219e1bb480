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

/// `plantar-sim` in the background, its first line of output awaited with a time limit.
final class BoardProcess: Sendable {
    private let process: Process
    private let output = Mutex<String>("")
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
            let complete = output.withLock { $0 += text; return $0.contains("\n") }
            if complete || data.isEmpty { gotLine.signal() }
        }
        try process.run()
    }

    /// The first line it printed (the terminal's path), waiting at most `seconds`.
    func firstLine(within seconds: Double) throws -> String {
        guard gotLine.wait(timeout: .now() + seconds) == .success else {
            throw RunnerError("plantar-sim printed nothing within \(Int(seconds)) s")
        }
        return output.withLock { String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }
    }

    func stop() {
        reader.readabilityHandler = nil
        process.terminate()
        process.waitUntilExit()
    }
}
