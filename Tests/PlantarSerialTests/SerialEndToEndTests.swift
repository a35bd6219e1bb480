import Foundation
import PlantarCore
@testable import PlantarDrivers
import PlantarSession
import PlantarSimulator
import PlantarWire
import Synchronization
import Testing

/// The serial driver against the board emulator over a real pseudo-terminal, in real time.
/// Every wait is on an event with a timeout (the board's state, the session's end), never a
/// bare sleep.
@Suite("Serial driver and board emulator over a pty")
struct SerialEndToEndTests {
    /// What the governor let through, on the wire.
    static func governed(_ recorder: RecordingDriver) throws -> [WireMessage] {
        try recorder.applied.map { try WireMessage($0.command, foot: $0.foot, channels: recorder.profile.channels) }
    }

    /// The board carried out exactly what the governor let through, in order, nothing else:
    /// at most the last few (in flight when the session's final release gave them up) missing.
    static func expectSameCommands(board: [WireMessage], host: [WireMessage], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(board.count <= host.count, sourceLocation: sourceLocation)
        #expect(board.count >= host.count - WireProtocol.window, "board \(board.count) of \(host.count)", sourceLocation: sourceLocation)
        let mismatch = zip(board, host).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(mismatch == nil, "command \(mismatch.map { "\($0.offset): board \($0.element.0), host \($0.element.1)" } ?? "")",
                sourceLocation: sourceLocation)
    }

    @Test("a short routine runs to completion, and the board carries out exactly what the governor let through")
    func completes() async throws {
        try await onDedicatedThread {
            let rig = try await Rig.start()
            defer { rig.stop() }
            let recorder = RecordingDriver(rig.driver)
            let trace = try await runSession(recorder)
            #expect(trace.finalState == "finished", "\(trace.interventions)")
            let board = rig.emulator.snapshot
            #expect(board.pressed(above: 20))
            Self.expectSameCommands(board: board.executed, host: try Self.governed(recorder))
            // Back at rest and home at the end, as in the in-process simulator.
            let right = try #require(board.model.feet[.right])
            #expect(right.channels.values.allSatisfy { $0.pressure < 1 })
            #expect(right.position.distance(to: .home) < 0.5)
            #expect(board.isLatched, "the session's end released and latched the board")
            #expect(rig.driver.decoderStatistics.rejected == 0)
        }
    }

    @Test("with 5% of frames corrupted each way the routine still completes, with no wrong command applied")
    func corruptedFrames() async throws {
        try await onDedicatedThread {
            var options = BoardEmulatorOptions()
            options.corrupt = 0.05
            options.seed = 7
            let rig = try await Rig.start(options: options)
            defer { rig.stop() }
            let recorder = RecordingDriver(rig.driver)
            let trace = try await runSession(recorder)
            #expect(trace.finalState == "finished", "\(trace.interventions)")
            let board = rig.emulator.snapshot
            #expect(board.inboundCorrupted > 0 && board.outboundCorrupted > 0)
            #expect(board.decoderStatistics.rejected > 0 && rig.driver.decoderStatistics.rejected > 0)
            #expect(rig.driver.statistics.retransmissions + board.statistics.retransmissions > 0)
            Self.expectSameCommands(board: board.executed, host: try Self.governed(recorder))
        }
    }

    @Test("the switch pressed on the board releases there first and stops the session, latched")
    func switchOnTheBoard() async throws {
        try await onDedicatedThread {
            let rig = try await Rig.start()
            defer { rig.stop() }
            async let session = runSession(rig.driver)
            let pressing = await rig.emulator.wait(timeout: .seconds(10)) { $0.pressed(above: 5) }
            #expect(pressing)
            rig.emulator.inject(.switchPress)
            let trace = try await session
            #expect(trace.finalState.hasPrefix("stopped"), "\(trace.finalState)")
            #expect(trace.finalState.contains("discomfort switch"))
            #expect(trace.interventions.contains { $0.kind == .switchStop })
            let board = rig.emulator.snapshot
            // The reflex: the board released in the same instant it read the switch.
            let pressAt = try #require(board.records.first { $0.kind == .happened(.switchPress) }?.time)
            #expect(board.releases.contains { $0.time == pressAt && $0.reason == .discomfortSwitch })
            // Nothing moved or pressed after that.
            let after = board.records.filter { $0.time > pressAt }.compactMap { r -> WireMessage? in
                if case .executed(let m) = r.kind, m != .arm { m } else { nil }
            }
            #expect(after.allSatisfy { if case .release = $0 { true } else { false } }, "\(after)")
            #expect(board.isLatched)
            #expect(board.model.feet[.right]!.channels.values.allSatisfy { $0.pressure < 1 })
        }
    }

    @Test("a frozen host: the board releases by its lease, 250 ms after the last frame it heard")
    func heartbeatLoss() async throws {
        try await onDedicatedThread {
            // What the driver reports, as it reads it (poll would race the reader's catching up).
            let heard = Mutex<[DeviceEvent.Kind]>([])
            var driverOptions = SerialDriverOptions()
            driverOptions.eventObserver = { kind, _ in
                if case .telemetry = kind { return }
                heard.withLock { $0.append(kind) }
            }
            let rig = try await Rig.start(driverOptions: driverOptions)
            defer { rig.stop() }
            rig.driver.beginSession()
            try await rig.driver.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .right, at: .zero)
            let pressed = await rig.emulator.wait(timeout: .seconds(2)) { $0.pressed(above: 29) && !$0.isLatched }
            #expect(pressed)
            rig.driver.freezeForTesting(true)
            let released = await rig.emulator.wait(timeout: .seconds(2)) { s in s.releases.contains { $0.reason == .leaseExpired } }
            #expect(released)
            let board = rig.emulator.snapshot
            let releaseAt = try #require(board.releases.first { $0.reason == .leaseExpired }?.time)
            let lastHeard = try #require(board.lastHeard)
            let silence = Double(releaseAt - lastHeard) / 1e6
            #expect(silence >= 250 && silence <= 290, "released \(silence) ms after the last frame")
            #expect(board.isLatched)
            // Thawed, the host reads what the board said meanwhile: the lease expired (or, when
            // the host froze for longer than its own link timeout, that the link was lost). Either
            // way the driver is disarmed: a setpoint now goes nowhere until a new session begins.
            rig.driver.freezeForTesting(false)
            let told = await rig.emulator.wait(timeout: .seconds(2)) { _ in
                heard.withLock { kinds in
                    kinds.contains { kind in
                        switch kind {
                        case .fault(let fault): fault.code == "lease-expired"
                        case .link(.down): true
                        default: false
                        }
                    }
                }
            }
            #expect(told, "\(heard.withLock { $0 })")
            // (Refused outright when the link went down; held back when only the lease expired.)
            try? await rig.driver.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .right, at: .zero)
            let pressedAgain = await rig.emulator.wait(timeout: .milliseconds(300)) { s in
                s.records.contains { if case .executed(.arm) = $0.kind { $0.time > releaseAt } else { false } }
            }
            #expect(!pressedAgain, "no arm without a new session")
        }
    }

    @Test("the emulator killed mid-session: a latched stop with a readable reason; the port's return re-handshakes and presses nothing")
    func emulatorKilled() async throws {
        try await onDedicatedThread {
            let directory = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let link = directory + "/mcu"
            var driverOptions = SerialDriverOptions()
            driverOptions.reconnectInterval = .milliseconds(100)
            let rig = try await Rig.start(link: link, driverOptions: driverOptions)
            defer { rig.driver.shutdown() }
            async let session = runSession(rig.driver)
            let pressing = await rig.emulator.wait(timeout: .seconds(10)) { $0.pressed(above: 5) }
            #expect(pressing)
            rig.emulator.stop()
            // As plantar-sim does on its way out: the link must not point at a terminal number
            // another test's emulator may be given next.
            rig.emulator.terminal.unlink(link: link)
            let trace = try await session
            #expect(trace.finalState.hasPrefix("faulted"), "\(trace.finalState)")
            #expect(trace.finalState.contains("link down: serial port \(link)"), "\(trace.finalState)")
            #expect(trace.finalState.contains("hung up"), "\(trace.finalState)")

            // A new board on the same path: the driver finds it, shakes hands, and arms nothing.
            var secondOptions = BoardEmulatorOptions()
            secondOptions.realtimePriority = 60
            let second = try BoardEmulator(profile: Fixtures.serial, options: secondOptions)
            try second.terminal.link(at: link)
            try second.start()
            defer { second.stop() }
            let greeted = await second.wait(timeout: .seconds(3)) { s in s.records.contains { $0.kind == .session } }
            #expect(greeted)
            let events = await rig.driver.poll(upTo: .seconds(60))
            let up = await second.wait(timeout: .seconds(1)) { _ in rig.driver.isLinkUp }
            #expect(up)
            let pressed = await second.wait(timeout: .milliseconds(300)) { !$0.executed.isEmpty || !$0.isLatched }
            #expect(!pressed, "nothing resumes after the port returns")
            #expect(events.contains { $0.kind == .link(.up) } || rig.driver.isLinkUp)
        }
    }

    @Test("a board reset mid-session ends it faulted; the board is greeted again and stays latched")
    func boardReset() async throws {
        try await onDedicatedThread {
            let rig = try await Rig.start()
            defer { rig.stop() }
            async let session = runSession(rig.driver)
            let pressing = await rig.emulator.wait(timeout: .seconds(10)) { $0.pressed(above: 5) }
            #expect(pressing)
            rig.emulator.inject(.reset)
            let trace = try await session
            #expect(trace.finalState.hasPrefix("faulted"), "\(trace.finalState)")
            #expect(trace.finalState.contains("reset"), "\(trace.finalState)")
            let greeted = await rig.emulator.wait(timeout: .seconds(2)) { s in s.records.filter { $0.kind == .session }.count >= 2 }
            #expect(greeted)
            let resetAt = try #require(rig.emulator.snapshot.records.first { $0.kind == .happened(.reset) }?.time)
            let armed = await rig.emulator.wait(timeout: .milliseconds(300)) { s in
                s.records.contains { if case .executed = $0.kind { $0.time > resetAt } else { false } }
            }
            #expect(!armed)
        }
    }

    @Test("a zoned profile against the gantry board is refused with every difference named")
    func handshakeMismatch() async throws {
        try await onDedicatedThread {
            let emulator = try BoardEmulator(profile: Fixtures.serial)
            try emulator.start()
            defer { emulator.stop() }
            var options = SerialDriverOptions()
            options.port = emulator.path
            options.baud = 115_200
            let error = await #expect(throws: SerialError.self) {
                _ = try await SerialDriver.connect(profile: Fixtures.zoned, options: options)
            }
            #expect(error?.kind == .mismatch)
            let text = error?.description ?? ""
            #expect(text.contains("board \"plantar-sim reference-serial\" does not match device profile 'zoned'"), "\(text)")
            #expect(text.contains("the board has axes u and v"), "\(text)")
            #expect(text.contains("9 pressure channels per foot"), "\(text)")
            // The driver said goodbye with an emergency release: the board stays at rest, latched.
            let released = await emulator.wait(timeout: .seconds(1)) { s in s.releases.contains { $0.reason == .emergencyRelease } }
            #expect(released)
            #expect(emulator.snapshot.isLatched)
        }
    }
}

@Suite("Serial port errors")
struct SerialPortErrorTests {
    @Test("a missing port says so and names the call")
    func missingPort() async {
        await onDedicatedThread {
            var options = SerialDriverOptions()
            options.port = "/nonexistent/plantar-mcu"
            let error = await #expect(throws: SerialError.self) {
                _ = try await SerialDriver.connect(profile: Fixtures.serial, options: options)
            }
            #expect(error?.kind == .portMissing)
            #expect(error?.description.hasPrefix("no serial device at /nonexistent/plantar-mcu") == true, "\(String(describing: error))")
            #expect(error?.description.contains("(open: No such file or directory") == true)
        }
    }

    @Test("a file that is not a terminal is refused")
    func notATerminal() {
        #expect { try SerialPort(path: "/dev/null", baud: 250_000) } throws: { error in
            (error as? SerialError)?.description.contains("/dev/null is not a terminal device") == true
        }
    }

    @Test("a board that never answers: connect gives up after its timeout with the port and baud named")
    func noAnswer() async throws {
        try await onDedicatedThread {
            let silent = try BoardEmulator(profile: Fixtures.serial)   // never started: nobody answers
            var options = SerialDriverOptions()
            options.port = silent.path
            options.handshakeTimeout = .milliseconds(600)
            let error = await #expect(throws: SerialError.self) {
                _ = try await SerialDriver.connect(profile: Fixtures.serial, options: options)
            }
            #expect(error?.kind == .noAnswer)
            #expect(error?.description.contains("no answer from the board on \(silent.path) at 250000 baud within 600 ms") == true,
                    "\(String(describing: error))")
        }
    }

    @Test("standard rates map to termios constants; 250000 has none and goes through termios2")
    func rates() throws {
        #expect(SerialPort.standardSpeed(115_200) != nil)
        #expect(SerialPort.standardSpeed(250_000) == nil)
        let pty = try BoardEmulator(profile: Fixtures.serial)
        do {
            let port = try SerialPort(path: pty.path, baud: 250_000)
            #expect(port.baud == 250_000)
        }
        do {
            let standard = try SerialPort(path: pty.path, baud: 115_200)
            #expect(standard.baud == 115_200)
        }
    }
}
