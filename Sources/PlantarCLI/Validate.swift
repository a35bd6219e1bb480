import ArgumentParser
import PlantarConfig
import PlantarCore
import PlantarSimulator

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check routine files and report every error with its file, line and column.",
        discussion: "A valid routine is also compiled against the device, so a step the device cannot perform is reported too, and run once through the governor on the simulator at default settings: every intervention it would make (a hold cut by the dose rule, a cap clamp, auto-off) is a warning naming the step.")

    @Argument(help: "Routine files or program names.")
    var programs: [String]

    @Option(name: .long, help: "Device profile to check the routines against.")
    var device: String = "reference"

    func run() async throws {
        try await reportingFailures {
            let library = ConfigLibrary.standard()
            let map = try library.loadFootMap()
            let profile = try library.loadDevice(device)
            var failed = 0
            for program in programs {
                do {
                    let (routine, warnings) = try library.loadRoutine(program, map: map)
                    warnings.forEach { printError($0.description) }
                    let timeline = try Compiler.compile(routine, map: map, device: profile)
                    print("\(routine.file): ok: \(routine.steps.count) steps, \(DurationSyntax.format(routine.statedDuration())) on \(routine.feet.rawValue) feet as written, \(DurationSyntax.format(timeline.duration)) on device '\(profile.name)' with travel")
                    for (i, step) in routine.steps.enumerated() {
                        let repeats = step.repeats > 1 ? " x\(step.repeats)" : ""
                        print("  \(i + 1). \(step.name): \(step.technique.rawValue) on \(step.zone), \(step.pressure.rawValue), \(DurationSyntax.format(step.duration))\(repeats)")
                    }
                    let settings = GovernorSettings.standard(for: profile, map: map)
                    for finding in await Preflight.run(timeline, device: profile, settings: settings) {
                        printError("\(routine.file): \(finding)")
                    }
                } catch let error as LoadError {
                    printError(error.description)
                    failed += 1
                } catch let error as DiagnosticsError {
                    printError(error.description)
                    failed += 1
                }
            }
            if failed > 0 {
                printError("\(failed) of \(programs.count) file\(programs.count == 1 ? "" : "s") failed validation")
                throw ExitCode(1)
            }
        }
    }
}
