import PlantarCore

/// A summary of a finished session and the safety invariants checked against what the
/// device was actually told and what it measured.
public struct SessionReport: Sendable {
    public struct ZoneSummary: Sendable, Hashable {
        public var zone: String
        /// Seconds the zone was under pressure (from the trace samples).
        public var seconds: Double
        /// Highest measured pressure while working it (kPa).
        public var peakKPa: Double
    }

    public var duration: Duration
    public var finalState: String
    public var zones: [ZoneSummary]
    public var interventions: [Intervention]
    /// Broken safety invariants; empty when the session was safe.
    public var violations: [String]

    /// Commands the device received, as recorded by the driver.
    public struct AppliedCommand: Sendable, Hashable {
        public var time: Duration
        public var foot: Foot
        public var command: ActuatorCommand
        public init(time: Duration, foot: Foot, command: ActuatorCommand) {
            self.time = time
            self.foot = foot
            self.command = command
        }
    }

    /// Summarizes `trace` and checks it: nothing above the highest cap in force reached the
    /// device, no raising ramp above the device's limit, nothing pressed after a stop or
    /// fault, every output at rest at the end, the session within auto-off.
    public init(trace: SessionTrace, applied: [AppliedCommand], settings: GovernorSettings, sampleInterval: Duration) {
        duration = trace.samples.last?.time ?? .zero
        finalState = trace.finalState
        interventions = trace.interventions

        var seconds: [String: Double] = [:], peaks: [String: Double] = [:]
        for s in trace.samples where !s.zone.isEmpty && s.setpointKPa > 0 {
            seconds[s.zone, default: 0] += sampleInterval.seconds
            peaks[s.zone] = max(peaks[s.zone] ?? 0, s.measuredKPa ?? 0)
        }
        zones = seconds.keys.sorted().map { ZoneSummary(zone: $0, seconds: seconds[$0]!, peakKPa: peaks[$0] ?? 0) }

        var problems: [String] = []
        let fresh = Governor(settings: settings)
        let highestCap = Sensitivity.allCases.map { fresh.cap(for: $0) }.max() ?? 0
        let stopAt = trace.interventions.first { [.switchStop, .operatorStop, .escalatedStop, .fault, .autoOff].contains($0.kind) }?.time
        var last: [Foot: [String: Double]] = [:]
        for a in applied {
            if case .release(let channel) = a.command { last[a.foot, default: [:]][channel] = 0 }
            guard case .pressure(let channel, let kPa, let ramp) = a.command else { continue }
            let raising = kPa > last[a.foot]?[channel] ?? 0
            last[a.foot, default: [:]][channel] = kPa
            if kPa > highestCap + 1e-9 {
                problems.append("\(clockText(a.time, millis: true)): \(fixed(kPa, 1)) kPa sent to the \(a.foot.rawValue) foot, above every cap (\(fixed(highestCap, 1)) kPa)")
            }
            if raising && ramp > settings.maxRampKPaPerS + 1e-9 {
                problems.append("\(clockText(a.time, millis: true)): ramp \(fixed(ramp, 1)) kPa/s above the device limit \(fixed(settings.maxRampKPaPerS, 1))")
            }
            if let stopAt, a.time > stopAt, kPa > 0 {
                problems.append("\(clockText(a.time, millis: true)): pressure \(fixed(kPa, 1)) kPa sent after the stop at \(clockText(stopAt, millis: true))")
            }
        }
        for s in trace.samples {
            if let m = s.measuredKPa, m > highestCap * 1.1 + 2 {
                problems.append("\(clockText(s.time, millis: true)): measured \(fixed(m, 1)) kPa on the \(s.foot.rawValue) foot, above every cap")
                break
            }
        }
        if let last = trace.samples.last, (trace.samples.filter { $0.time == last.time }.contains { ($0.measuredKPa ?? 0) > 1 }) {
            problems.append("the device was not at rest at the end of the trace")
        }
        if let endOfWork = trace.samples.last(where: { $0.setpointKPa > 0 })?.time, endOfWork > settings.limits.autoOff {
            problems.append("pressing went on past auto-off (\(clockText(endOfWork)) > \(clockText(settings.limits.autoOff)))")
        }
        violations = problems
    }

    /// The report as people read it.
    public func text() -> String {
        var lines: [String] = []
        lines.append("duration: \(clockText(duration, millis: true))")
        lines.append("final state: \(finalState)")
        lines.append("zones (time under pressure, peak measured):")
        let width = zones.map(\.zone.count).max() ?? 0
        for z in zones {
            lines.append("  " + z.zone + String(repeating: " ", count: width - z.zone.count) + "  " + fixed(z.seconds, 1) + " s  " + fixed(z.peakKPa, 1) + " kPa")
        }
        lines.append("interventions: \(interventions.isEmpty ? "none" : String(interventions.count))")
        for i in interventions { lines.append("  " + i.description) }
        if violations.isEmpty {
            lines.append("safety invariants: all held")
        } else {
            lines.append("SAFETY INVARIANTS VIOLATED: \(violations.count)")
            for v in violations { lines.append("  " + v) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
