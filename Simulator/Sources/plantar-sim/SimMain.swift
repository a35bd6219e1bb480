import ArgumentParser
import Dispatch
import Foundation
import PlantarConfig
import PlantarCore
import PlantarSimulator
import Synchronization

/// `plantar-sim`: the microcontroller board of a device profile on a pseudo-terminal, for the
/// serial driver to talk to (docs/serial.md).
@main
struct SimMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plantar-sim",
        abstract: "Emulate a device's microcontroller board on a pseudo-terminal.",
        discussion: """
            Prints the terminal's path; a host opens it as a serial port (plantar run PROGRAM \
            --device reference-serial). Signals: SIGUSR1 presses the discomfort switch (again: \
            lets go), SIGUSR2 pulls the feet away (again: puts them back), SIGRTMIN resets \
            the board (kill -RTMIN PID), SIGINT, SIGTERM or SIGHUP stops it (the host sees its \
            port hang up).
            """)

    @Option(name: .long, help: "Device profile: a name (reference, zoned) or a file.")
    var device = "reference"

    @Option(name: .long, help: "Also make this path a symlink to the terminal (e.g. /tmp/plantar-mcu).")
    var link: String?

    @Option(name: .long, help: "Pace bytes as a UART at this rate (default: the profile's serial baud; 0: as fast as the terminal).")
    var baud: Int?

    @Option(name: .long, help: "Fraction of frames lost in each direction, 0 to 1.")
    var drop = 0.0

    @Option(name: .long, help: "Fraction of frames with one bit flipped in each direction, 0 to 1.")
    var corrupt = 0.0

    @Option(name: .long, help: "Latency added to every frame in each direction, e.g. 5ms.")
    var latency = "0ms"

    @Option(name: .long, help: "Seed for the line faults and sensor noise.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Add noise to the sensors.")
    var noise = false

    @Option(name: .customLong("event"), help: ArgumentHelp("Something that happens at a time after start, KIND@TIME; kinds: \(BoardEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "KIND@TIME"))
    var events: [String] = []

    @Flag(name: .long, help: "Print only the terminal's path.")
    var quiet = false

    func validate() throws {
        guard (0...1).contains(drop), (0...1).contains(corrupt) else { throw ValidationError("--drop and --corrupt are fractions from 0 to 1") }
        guard DurationSyntax.parse(latency) != nil else { throw ValidationError("--latency '\(latency)' is not a time such as 5ms") }
        if let baud, baud < 0 { throw ValidationError("--baud must be 0 or more") }
    }

    func run() throws {
        let profile: DeviceProfile
        do {
            profile = try ConfigLibrary.standard().loadDevice(device)
        } catch {
            throw ValidationError("\(error)")
        }
        var options = BoardEmulatorOptions()
        options.drop = drop
        options.corrupt = corrupt
        options.latency = DurationSyntax.parse(latency) ?? .zero
        options.seed = seed
        options.noise = noise
        let rate = baud ?? profile.serial?.baud ?? 0
        options.baud = rate > 0 ? rate : nil
        do {
            options.script = try events.map { text throws(ScriptError) in try BoardEvent.parse(text) }
        } catch {
            throw ValidationError(error.description)
        }
        let started = Date()
        let quiet = quiet
        let emulator = try BoardEmulator(profile: profile, options: options) { line in
            guard !quiet else { return }
            say(String(format: "%8.3f  ", Date().timeIntervalSince(started)) + line)
        }
        if let link { try emulator.terminal.link(at: link) }
        say(emulator.path + (link.map { " (linked from \($0))" } ?? ""))
        if !quiet {
            let faults = [drop > 0 ? "drop \(drop)" : nil, corrupt > 0 ? "corrupt \(corrupt)" : nil,
                          options.latency > .zero ? "latency \(latency)" : nil].compactMap { $0 }
            say("board '\(profile.name)' (\(profile.file)), line \(options.baud.map { "\($0) baud" } ?? "unpaced")"
                + (faults.isEmpty ? "" : ", " + faults.joined(separator: ", "))
                + ". SIGUSR1: switch, SIGUSR2: feet away/back, SIGRTMIN: reset, Ctrl-C: stop.")
        }
        try emulator.start()
        let sources = Signals.install(emulator: emulator, link: link)
        withExtendedLifetime(sources) { dispatchMain() }
    }
}

/// The signals a person (or a script) uses to act on the running board.
enum Signals {
    static func install(emulator: BoardEmulator, link: String?) -> [any DispatchSourceSignal] {
        let toggles = Toggles()
        var sources: [any DispatchSourceSignal] = []
        let actions: [(Int32, @Sendable () -> Void)] = [
            (SIGUSR1, { emulator.inject(toggles.flipSwitch() ? .switchPress : .switchRelease) }),
            (SIGUSR2, { emulator.inject(toggles.flipFeet() ? .pullAway : .footReturn) }),
            // SIGRTMIN is a macro over this call.
            (__libc_current_sigrtmin(), { emulator.inject(.reset) }),
            (SIGINT, { stop(emulator, link) }),
            (SIGTERM, { stop(emulator, link) }),
            // The terminal it runs in closed: stop, and take the link away with it.
            (SIGHUP, { stop(emulator, link) }),
        ]
        for (number, action) in actions {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler(handler: action)
            source.resume()
            sources.append(source)
        }
        return sources
    }

    static func stop(_ emulator: BoardEmulator, _ link: String?) {
        emulator.stop()
        if let link { emulator.terminal.unlink(link: link) }
        exit(0)
    }

    /// Switch and feet as the signals left them.
    final class Toggles: Sendable {
        private let state = Mutex((switchPressed: false, feetAway: false))
        func flipSwitch() -> Bool { state.withLock { $0.switchPressed.toggle(); return $0.switchPressed } }
        func flipFeet() -> Bool { state.withLock { $0.feetAway.toggle(); return $0.feetAway } }
    }
}

/// One line to stdout at once (a pipe or a file sees it without waiting for a buffer to fill).
func say(_ line: String) {
    // A closed terminal or pipe must not bring the board down: the line is lost, that is all.
    try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
}
