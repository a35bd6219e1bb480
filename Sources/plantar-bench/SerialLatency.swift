import ArgumentParser
import Foundation
import PlantarConfig
import PlantarCore
import PlantarDrivers
import PlantarSimulator
import PlantarWire
import Synchronization

/// Latency over the serial link: the serial driver and the board emulator in one process,
/// on a pseudo-terminal, both stamping with CLOCK_MONOTONIC.
///
/// A pty moves bytes at memory speed whatever baud the host sets, so the figures are the
/// software's own cost (driver, state machines, kernel tty layer, thread wake-ups). Next to each
/// is the wire time of the same frame at the profile's baud (10 bits a byte at 8N1): what a
/// real line adds at least. `--paced` makes the emulator hold bytes for their line time, to
/// show the two together.
struct SerialLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serial-latency",
        abstract: "Host command -> board applied, board switch -> host, host stop -> board released, over a pty.")

    @Option(help: "Device profile with a serial link.") var device = "reference-serial"
    @Option(help: "Samples of each measurement.") var samples = 300
    @Flag(help: "Hold bytes in the emulator for their time on a line at the profile's baud.") var paced = false

    func run() async throws {
        let profile = try ConfigLibrary.standard().loadDevice(device)
        guard let baud = profile.serial?.baud else { throw ValidationError("device '\(device)' has no serial link") }
        var boardOptions = BoardEmulatorOptions()
        if paced { boardOptions.baud = baud }
        let emulator = try BoardEmulator(profile: profile, options: boardOptions)
        try emulator.start()
        defer { emulator.stop() }

        let seen = Mutex<[(kind: DeviceEvent.Kind, time: UInt64)]>([])
        var options = SerialDriverOptions()
        options.port = emulator.path
        options.eventObserver = { kind, time in
            if case .telemetry = kind { return }
            seen.withLock { $0.append((kind, time)) }
        }
        let driver = try await SerialDriver.connect(profile: profile, options: options)
        defer { driver.shutdown() }
        let channel = profile.channels[0]
        let foot = profile.feet.contains(.right) ? Foot.right : profile.feet[0]

        // 1. A pressure setpoint: apply() called -> the board carried it out.
        driver.beginSession()
        var command: [Double] = []
        var frameBytes = 0
        for i in 0...samples {
            let kPa = 10 + Double(i % 40)
            let message = try WireMessage(.pressure(channel: channel, kPa: kPa, ramp: 150), foot: foot, channels: profile.channels)
            frameBytes = Frame(sequence: 1, message: message).encode().count
            let before = emulator.snapshot.executed.count
            let start = monotonicNanoseconds()
            try await driver.apply(.pressure(channel: channel, kPa: kPa, ramp: 150), foot: foot, at: .zero)
            guard await emulator.wait(timeout: .seconds(1), until: { $0.executed.count > before }) else {
                throw ValidationError("the board did not carry out command \(i)")
            }
            let done = emulator.snapshot.records.last { if case .executed(message) = $0.kind { true } else { false } }
            // The first one also carried the arm: leave it out.
            if i > 0, let done { command.append(Double(done.time - start) / 1e9) }
        }

        // 2. The switch on the board -> the host's reader has the event.
        var switchLatency: [Double] = []
        for i in 0..<samples {
            seen.withLock { $0.removeAll() }
            emulator.inject(.switchPress)
            guard await emulator.wait(timeout: .seconds(1), until: { _ in
                seen.withLock { $0.contains { $0.kind == .input(.discomfortSwitch(pressed: true, released: true)) } }
            }) else { throw ValidationError("the host did not hear switch press \(i)") }
            let pressed = emulator.snapshot.records.last { $0.kind == .happened(.switchPress) }!.time
            let heard = seen.withLock { $0.first { $0.kind == .input(.discomfortSwitch(pressed: true, released: true)) }!.time }
            switchLatency.append(Double(heard - pressed) / 1e9)
            emulator.inject(.switchRelease)
            guard await emulator.wait(timeout: .seconds(1), until: { _ in
                seen.withLock { $0.contains { $0.kind == .input(.discomfortSwitch(pressed: false, released: true)) } }
            }) else { throw ValidationError("the host did not hear switch release \(i)") }
        }

        // 3. releaseAll on the host -> the board released (armed and pressing before each).
        var stopLatency: [Double] = []
        for i in 0..<samples {
            driver.beginSession()
            let before = emulator.snapshot.executed.count
            try await driver.apply(.pressure(channel: channel, kPa: 20, ramp: 150), foot: foot, at: .zero)
            guard await emulator.wait(timeout: .seconds(1), until: { $0.executed.count > before && !$0.isLatched }) else {
                throw ValidationError("the board did not press before stop \(i)")
            }
            let releases = emulator.snapshot.releases.count
            let start = monotonicNanoseconds()
            driver.releaseAll(.governor)
            guard await emulator.wait(timeout: .seconds(1), until: { $0.releases.count > releases }) else {
                throw ValidationError("the board did not release for stop \(i)")
            }
            let released = emulator.snapshot.releases.last!
            guard released.reason == .emergencyRelease else { throw ValidationError("stop \(i) released for \(released.reason)") }
            stopLatency.append(Double(released.time - start) / 1e9)
        }

        let byte = 10.0 / Double(baud)
        func wire(_ bytes: Int) -> String { "\(fixed(Double(bytes) * byte * 1e6, 0)) µs (\(bytes) bytes)" }
        let stats = driver.statistics
        print("serial-latency: '\(profile.name)' at \(baud) baud, driver and board emulator in one process over a pty"
              + (paced ? ", the emulator holding bytes for their line time" : " (no line time: the pty moves bytes at memory speed)"))
        print("command -> board applied (pressure):       \(Summary(command).text("µs", scale: 1e6, decimals: 0)); wire time \(wire(frameBytes))")
        print("switch on board -> host has the event:     \(Summary(switchLatency).text("µs", scale: 1e6, decimals: 0)); wire time \(wire(7))")
        print("host releaseAll -> board released (stop):  \(Summary(stopLatency).text("µs", scale: 1e6, decimals: 0)); wire time \(wire(7)) (+63 padding bytes after the frame)")
        print("link: \(stats.framesSent) frames sent, \(stats.framesReceived) received, \(stats.retransmissions) retransmissions")
    }
}
