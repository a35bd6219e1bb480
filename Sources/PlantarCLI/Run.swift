import ArgumentParser
import Dispatch
import Foundation
import PlantarConfig
import PlantarCore
import PlantarDrivers
import PlantarSession
import PlantarSimulator
import Synchronization

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program: on the simulated device, a serial board or GPIO lines in this process, else through the daemon.",
        discussion: """
            --simulator runs on the simulated device (optionally sped up). A profile reached over \
            a serial link (--device reference-serial), --port or --backend serial runs through the \
            board on that port, in real time; start plantar-sim first to try it without hardware \
            (docs/serial.md). Ctrl-C stops the session safely: pressure is released first.
            """)

    @Argument(help: "A program name (back-pain) or a routine file.")
    var program: String

    @OptionGroup var choices: RunChoices

    @Flag(name: .long, help: "Run in this process on the simulated device, in real time.")
    var simulator = false

    @Option(name: .long, help: "Where the commands go: simulator, serial or gpio (default: --simulator, --port, or the profile's only link).")
    var backend: Backend?

    @Option(name: .long, help: "Serial port of the device's board, instead of the profile's (e.g. /tmp/plantar-mcu).")
    var port: String?

    @Option(name: .long, help: "With --simulator: run this many times faster than real time.")
    var speed: Double = 1

    @OptionGroup var connection: DaemonConnection

    func validate() throws {
        guard speed > 0 && speed <= 1000 else { throw ValidationError("--speed must be above 0 and at most 1000") }
        if simulator, let backend, backend != .simulator {
            throw ValidationError("--simulator and --backend \(backend.rawValue) contradict each other")
        }
        if port != nil, simulator || (backend != nil && backend != .serial) {
            throw ValidationError("--port is for the serial backend")
        }
    }

    func run() async throws {
        try await reportingFailures {
            // In this process: --simulator, --backend, --port, or a profile reached only over a
            // serial link (reference-serial). Anything else is the daemon's device.
            if !simulator && backend == nil && port == nil {
                let profile = try? ConfigLibrary.standard().loadDevice(choices.device)
                if profile.map({ Backend.infer(named: nil, simulatorFlag: false, port: nil, profile: $0) == nil }) ?? true {
                    return try await runThroughDaemon(connection)
                }
            }
            // From here on a terminating signal never ends this process before the outputs are
            // released: before a session exists it is remembered, and the session is never begun.
            let signals = StopSignals()
            defer { signals.cancel() }
            let (_, device, timeline, map) = try Workbench().compile(program, choices)
            guard let backend = Backend.infer(named: backend, simulatorFlag: simulator, port: port, profile: device) else {
                return try await runThroughDaemon(connection)
            }
            if backend != .simulator && speed != 1 {
                throw UserFacingError("--speed is for the simulated device; a real device runs in real time")
            }
            let display = LiveDisplay(routine: timeline.routine, speed: speed)
            let connected: ConnectedDevice
            do throws(BackendError) {
                connected = try await Backends.connect(backend, profile: device, port: port) { display.note($0) }
            } catch {
                throw UserFacingError(error.description)
            }
            defer { connected.close() }
            if let early = signals.received {
                connected.driver.releaseAll(.shutdown)
                print("\(StopSignals.name(early)) before the session began: nothing pressed; the device is at rest.")
                throw ExitCode(128 + early)
            }
            var options = RunnerOptions()
            options.sampleInterval = .zero
            options.settleAfterEnd = .milliseconds(500)
            options.onStatus = { display.update($0) }
            options.onIntervention = { display.note($0.description) }
            var settings = choices.governorSettings(for: device, map: map)
            print("Running \(timeline.routine) on \(connected.description), \(DurationSyntax.format(timeline.duration))" +
                  (speed == 1 ? "" : " at \(fixed(speed, speed < 10 ? 1 : 0))x speed (\(DurationSyntax.format(.roundedSeconds(timeline.duration.seconds / speed))))") +
                  ". Ctrl-C stops it safely.")
            let trace: SessionTrace
            if connected.isHardware {
                trace = await runSession(timeline: timeline, driver: connected.driver, clock: ContinuousClock(),
                                         settings: settings, options: options, display: display, signals: signals)
            } else {
                // Sped up X times, the loop's wall-clock jitter is X times longer in session time;
                // the simulated device lives in session time, so the bounds that supervise the
                // loop's own promptness (command lateness, telemetry age) scale too.
                settings.maxLateness = settings.maxLateness * max(speed, 1)
                settings.telemetryTimeout = settings.telemetryTimeout * max(speed, 1)
                trace = await runSession(timeline: timeline, driver: connected.driver, clock: ScaledClock(speed: speed),
                                         settings: settings, options: options, display: display, signals: signals)
            }
            display.finish()
            print("Session \(trace.finalState). The device is at rest.")
            // Ended by a signal other than Ctrl-C: the shell's convention, after the release
            // (and, through the deferred close, the serial board's last emergency release).
            if let signal = signals.received, signal != SIGINT { throw ExitCode(128 + signal) }
            if trace.finalState != "finished" { throw ExitCode(3) }
        }
    }

    /// One session with the live display; Ctrl-C (or any terminating signal) releases first,
    /// then stops it.
    func runSession<C: Clock>(timeline: Timeline, driver: any DeviceDriver, clock: C, settings: GovernorSettings,
                              options: RunnerOptions, display: LiveDisplay, signals: StopSignals) async -> SessionTrace where C.Duration == Duration {
        let runner = SessionRunner(timeline: timeline, driver: driver, clock: clock, settings: settings, options: options)
        signals.onSignal { number in
            let name = StopSignals.name(number)
            runner.stop(source: number == SIGINT ? "Ctrl-C" : name)
            display.note("\(number == SIGINT ? "Ctrl-C" : name): pressure released, stopping the session")
        }
        return await runner.run()
    }
}

/// Every catchable signal whose default would end the process, turned into one call (the
/// first signal only): a process that may hold pressure must release before it exits. Those
/// that come before a handler is set are remembered and handed to it when it is. SIGPIPE is
/// ignored instead (a closed display must not end a session without its release). The
/// defaults come back on `cancel`.
final class StopSignals {
    static let terminating: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ]

    /// What the signal sources' handlers share.
    private final class Shared: Sendable {
        let first = Atomic<Int32>(0)
        let handler = Mutex<(@Sendable (Int32) -> Void)?>(nil)
    }

    private let sources: [any DispatchSourceSignal]
    private let shared = Shared()

    init() {
        signal(SIGPIPE, SIG_IGN)
        var sources: [any DispatchSourceSignal] = []
        let shared = self.shared
        for number in Self.terminating {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                // One stop: a second signal while stopping changes nothing.
                guard shared.first.compareExchange(expected: 0, desired: number, ordering: .sequentiallyConsistent).exchanged else { return }
                shared.handler.withLock { $0 }?(number)
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// The first signal received, if any.
    var received: Int32? {
        let number = shared.first.load(ordering: .sequentiallyConsistent)
        return number == 0 ? nil : number
    }

    /// Calls `action` on the first signal, at once if one has come already.
    func onSignal(_ action: @escaping @Sendable (Int32) -> Void) {
        shared.handler.withLock { $0 = action }
        if let number = received { action(number) }
    }

    func cancel() {
        shared.handler.withLock { $0 = nil }
        for source in sources { source.cancel() }
        for number in Self.terminating { signal(number, SIG_DFL) }
        signal(SIGPIPE, SIG_DFL)
    }

    static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        case SIGQUIT: "SIGQUIT"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        case SIGALRM: "SIGALRM"
        case SIGVTALRM: "SIGVTALRM"
        case SIGPROF: "SIGPROF"
        case SIGXCPU: "SIGXCPU"
        case SIGXFSZ: "SIGXFSZ"
        default: "signal \(number)"
        }
    }
}

/// Turns SIGINT into a call, once; the default handler is restored when cancelled.
final class Interrupt {
    private let source: any DispatchSourceSignal

    init(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
    }

    func cancel() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
