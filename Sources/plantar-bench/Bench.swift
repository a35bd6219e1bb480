import ArgumentParser
import Foundation
import PlantarConfig
import PlantarCore
import PlantarOracle
import PlantarSession
import PlantarSimulator

/// `plantar-bench`: the long measurements, kept out of the test suite (see BENCHMARKS.md).
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plantar-bench",
        abstract: "Benchmarks for Plantar; figures go to BENCHMARKS.md.",
        subcommands: [SimulationSpeed.self, StopLatency.self, SerialLatency.self, DaemonBench.self, FloodCommand.self,
                      SafetySoak.self])
}

/// CPU time of the whole process so far (seconds).
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Percentiles of a sample, nearest-rank.
struct Summary: CustomStringConvertible {
    var p50: Double, p99: Double, max: Double, count: Int

    init(_ values: [Double]) {
        let sorted = values.sorted()
        func rank(_ q: Double) -> Double { sorted[Swift.max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1)] }
        p50 = rank(0.5); p99 = rank(0.99); max = sorted.last ?? 0; count = sorted.count
    }

    func text(_ unit: String, scale: Double = 1, decimals: Int = 2) -> String {
        "p50 \(fixed(p50 * scale, decimals)) \(unit), p99 \(fixed(p99 * scale, decimals)) \(unit), max \(fixed(max * scale, decimals)) \(unit) (n=\(count))"
    }

    var description: String { text("") }
}

struct SimulationSpeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim-speed",
        abstract: "Whole pipeline (parse, compile, govern, simulate physics) of back-pain in virtual time.")

    @Option(help: "Runs per profile.") var runs = 20
    @Option(help: "Telemetry the simulated device reports (Hz).") var telemetryRate = 20.0
    @Option(help: "Trace sample interval (ms); 0 for no trace.") var sampleMs = 100
    @Flag(help: "Have the simulated device keep its log for the oracle (what plantar simulate does).") var deviceLog = false
    @Flag(help: "Also check each run with the independent oracle (implies --device-log).") var oracle = false

    func run() async throws {
        let library = ConfigLibrary.standard()
        for profile in ["reference", "zoned"] {
            var walls: [Double] = []
            var cpus: [Double] = []
            var simulated = 0.0
            for _ in 0..<runs {
                let clock = ContinuousClock()
                let start = clock.now
                let cpuStart = processCPUSeconds()
                let map = try library.loadFootMap()
                let (routine, _) = try library.loadRoutine("back-pain", map: map)
                let device = try library.loadDevice(profile)
                let timeline = try Compiler.compile(routine, map: map, device: device)
                let driver = SimulatedDriver(profile: device, telemetryRate: telemetryRate, recordsDeviceLog: deviceLog || oracle)
                var options = RunnerOptions()
                options.sampleInterval = .milliseconds(sampleMs)
                let runner = SessionRunner(timeline: timeline, driver: driver, clock: VirtualClock(),
                                           settings: GovernorSettings.standard(for: device, map: map), options: options)
                let trace = await runner.run()
                if oracle {
                    let settings = GovernorSettings.standard(for: device, map: map)
                    _ = Oracle(map: map, profile: device, footLengthMM: FootSize.standard.lengthMM,
                               settings: SafetyRun.oracleSettings(settings), routine: SafetyRun.routineCommands(timeline),
                               measuresPressure: driver.measuresPressure).check(driver.deviceLog)
                }
                walls.append(start.duration(to: clock.now).seconds)
                cpus.append(processCPUSeconds() - cpuStart)
                simulated = trace.samples.last?.time.seconds ?? 0
                guard trace.finalState == "finished" else { throw ValidationError("run did not finish: \(trace.finalState)") }
            }
            let s = Summary(walls), c = Summary(cpus)
            print("\(profile): \(fixed(simulated, 1)) simulated s per run")
            print("  wall \(s.text("ms", scale: 1000)); speed at p50 \(fixed(simulated / s.p50, 0))x, at max \(fixed(simulated / s.max, 0))x real time")
            print("  CPU  \(c.text("ms", scale: 1000)); speed at p50 \(fixed(simulated / c.p50, 0))x (CPU time is what a shared machine's other load disturbs least)")
        }
    }
}
