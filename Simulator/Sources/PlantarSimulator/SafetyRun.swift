import PlantarCore
import PlantarOracle
import PlantarSession
import Synchronization

/// A whole simulated session checked by the independent oracle: what `plantar simulate`,
/// the adversarial generators and `plantar-bench safety-soak` all run.
///
/// The session runs as it always does (governor, simulated device, virtual clock); the
/// device keeps its own log, and the oracle reads that log with the foot map, the profile
/// and the person's settings. Nothing here feeds the governor's view to the oracle.
public enum SafetyRun {
    /// A request made to the session from outside at a session time (the API's or a
    /// storm's pause, resume, ease or stop). It is made at the end of the first loop turn at
    /// or after `time`, and noted in the device log at that instant.
    public struct Stimulus: Sendable, Hashable {
        public var time: Duration
        public var request: DeviceLog.Request
        public var foot: Foot?
        public init(_ request: DeviceLog.Request, at time: Duration, foot: Foot? = nil) {
            self.request = request
            self.time = time
            self.foot = foot
        }
    }

    public struct Result: Sendable {
        public var trace: SessionTrace
        public var log: DeviceLog
        public var violations: [Violation]
        public var report: SessionReport
        /// Wall seconds the oracle took to check the log (the session's own cost aside).
        public var oracleSeconds: Double
    }

    /// The oracle's view of a person's settings: the values they chose, nothing else.
    public static func oracleSettings(_ s: GovernorSettings) -> OracleSettings {
        OracleSettings(sensitivity: s.sensitivityFactor, reducedSensation: s.reducedSensation,
                       holdLimitSeconds: s.limits.holdLimit.seconds, autoOffSeconds: s.limits.autoOff.seconds)
    }

    /// The routine's commands as the oracle needs them for resume: times and commands, no labels.
    public static func routineCommands(_ timeline: Timeline) -> [Oracle.RoutineCommand] {
        timeline.entries.map { Oracle.RoutineCommand(offset: $0.offset.seconds, foot: $0.foot, command: $0.command) }
    }

    /// Runs `timeline` on the simulated `device` and checks the device's log.
    public static func run(timeline: Timeline, map: FootMap, device: DeviceProfile, footLengthMM: Double,
                           settings: GovernorSettings, script: [ScriptedEvent] = [], stimuli: [Stimulus] = [],
                           seed: UInt64 = 1, noise: Bool = false, sampleInterval: Duration = .milliseconds(100)) async -> Result {
        let driver = SimulatedDriver(profile: device, script: script, seed: seed, noise: noise, recordsDeviceLog: true)
        let clock = VirtualClock()
        var options = RunnerOptions()
        options.sampleInterval = sampleInterval
        let box = RunnerBox()
        if !stimuli.isEmpty {
            let pending = Mutex(stimuli.sorted { $0.time < $1.time })
            options.onStatus = { @Sendable _ in
                let now = clock.now.offset
                let due: [Stimulus] = pending.withLock { p in
                    let n = p.prefix { $0.time <= now }.count
                    defer { p.removeFirst(n) }
                    return Array(p.prefix(n))
                }
                guard !due.isEmpty, let runner = box.runner.withLock({ $0 }) else { return }
                for s in due {
                    driver.note(s.request, foot: s.foot, at: now)
                    switch s.request {
                    case .pause: runner.pause()
                    case .resume: runner.resume()
                    case .ease: runner.ease(source: "stimulus")
                    case .stop: runner.stop(source: "stimulus")
                    }
                }
            }
        }
        let runner = SessionRunner(timeline: timeline, driver: driver, clock: clock, settings: settings, options: options)
        box.runner.withLock { $0 = runner }
        let trace = await runner.run()
        // The runner's options hold the closure that holds the box: break the cycle.
        box.runner.withLock { $0 = nil }
        let log = driver.deviceLog
        let oracle = Oracle(map: map, profile: device, footLengthMM: footLengthMM, settings: oracleSettings(settings),
                            routine: routineCommands(timeline), measuresPressure: driver.measuresPressure)
        let checking = ContinuousClock.now
        let violations = oracle.check(log)
        let oracleSeconds = (ContinuousClock.now - checking).seconds
        let report = SessionReport(trace: trace, violations: violations, sampleInterval: sampleInterval)
        return Result(trace: trace, log: log, violations: violations, report: report, oracleSeconds: oracleSeconds)
    }

    final class RunnerBox: Sendable {
        let runner = Mutex<SessionRunner<VirtualClock>?>(nil)
    }
}
