import ArgumentParser
import Dispatch
import Foundation
import PlantarConfig
import PlantarCore
import PlantarSession
import PlantarSimulator

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program: on the simulated device with --simulator, else through the daemon.",
        discussion: "Ctrl-C stops the session safely: pressure is released first.")

    @Argument(help: "A program name (back-pain) or a routine file.")
    var program: String

    @OptionGroup var choices: RunChoices

    @Flag(name: .long, help: "Run in this process on the simulated device, in real time.")
    var simulator = false

    @Option(name: .long, help: "With --simulator: run this many times faster than real time.")
    var speed: Double = 1

    @OptionGroup var connection: DaemonConnection

    func validate() throws {
        guard speed > 0 && speed <= 1000 else { throw ValidationError("--speed must be above 0 and at most 1000") }
    }

    func run() async throws {
        try await reportingFailures {
            guard simulator else { return try await runThroughDaemon(connection) }
            let (_, device, timeline) = try Workbench().compile(program, choices)
            let driver = SimulatedDriver(profile: device)
            let display = LiveDisplay(routine: timeline.routine, speed: speed)
            var options = RunnerOptions()
            options.sampleInterval = .zero
            options.settleAfterEnd = .milliseconds(500)
            options.onStatus = { display.update($0) }
            options.onIntervention = { display.note($0.description) }
            var settings = choices.governorSettings(for: device)
            // Sped up X times, the loop's wall-clock jitter is X times longer in session time;
            // the simulated device lives in session time, so the lateness bound scales too.
            settings.maxLateness = settings.maxLateness * speed
            let runner = SessionRunner(timeline: timeline, driver: driver, clock: ScaledClock(speed: speed),
                                       settings: settings, options: options)
            let interrupt = Interrupt {
                runner.stop(source: "Ctrl-C")
                display.note("Ctrl-C: pressure released, stopping the session")
            }
            print("Running \(timeline.routine) on the simulated \(device.name) device, \(DurationSyntax.format(timeline.duration))" +
                  (speed == 1 ? "" : " at \(fixed(speed, speed < 10 ? 1 : 0))x speed (\(DurationSyntax.format(.roundedSeconds(timeline.duration.seconds / speed))))") +
                  ". Ctrl-C stops it safely.")
            let trace = await runner.run()
            interrupt.cancel()
            display.finish()
            print("Session \(trace.finalState). The device is at rest.")
            if trace.finalState != "finished" { throw ExitCode(3) }
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
