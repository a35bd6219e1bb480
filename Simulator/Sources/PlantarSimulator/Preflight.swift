import PlantarCore
import PlantarSession

/// What the governor would do to a compiled program that nobody interrupts: the timeline run
/// once through the real governor on the simulated device, in virtual time. `validate` and
/// `plan` report each intervention as a warning naming its step, so "ok" never hides a cut
/// (a hold cut by the dose rule, a cap clamp, auto-off).
public enum Preflight {
    /// One kind of intervention in one step, however often it happened.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        public var step: StepReference?
        public var foot: Foot?
        public var kind: Intervention.Kind
        public var first: Duration
        public var last: Duration
        public var count: Int
        /// The first occurrence's detail.
        public var detail: String

        public var description: String {
            let place = step.map { "step \($0.index) '\($0.name)'" + ($0.pass > 1 ? " (pass \($0.pass))" : "") } ?? "after the last step"
            let side = foot.map { " on the \($0.rawValue) foot" } ?? ""
            let span = count > 1 ? " (\(count) times, \(clockText(first, millis: true))–\(clockText(last, millis: true)))" : " at \(clockText(first, millis: true))"
            return "warning: \(place)\(side): the governor would intervene\(span): \(kind.rawValue): \(detail)"
        }
    }

    /// Runs `timeline` with `settings` (give them the cap field) and returns what the governor did.
    public static func run(_ timeline: Timeline, device: DeviceProfile, settings: GovernorSettings) async -> [Finding] {
        let driver = SimulatedDriver(profile: device)
        var options = RunnerOptions()
        options.sampleInterval = .zero
        options.settleAfterEnd = .zero
        let runner = SessionRunner(timeline: timeline, driver: driver, clock: VirtualClock(), settings: settings, options: options)
        let trace = await runner.run()
        var findings: [Finding] = []
        for intervention in trace.interventions {
            let step = timeline.steps.last { $0.start <= intervention.time && (intervention.foot == nil || $0.foot == intervention.foot) }
            let reference = step.flatMap { intervention.time <= $0.end ? $0.step : nil }
            if let i = findings.lastIndex(where: { $0.step == reference && $0.kind == intervention.kind && $0.foot == intervention.foot }) {
                findings[i].count += 1
                findings[i].last = intervention.time
            } else {
                findings.append(Finding(step: reference, foot: intervention.foot, kind: intervention.kind,
                                        first: intervention.time, last: intervention.time, count: 1, detail: intervention.detail))
            }
        }
        return findings
    }
}
