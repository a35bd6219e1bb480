import PlantarCore
import PlantarOracle

/// A summary of a finished session and the safety invariants, as the independent oracle
/// (`PlantarOracle`) found them in the device's own log.
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
    /// Broken safety invariants as the oracle reported them; empty when the session was safe.
    public var safetyViolations: [Violation]
    /// The same, as text lines.
    public var violations: [String] { safetyViolations.map(\.description) }

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

    /// Summarizes `trace`; `violations` is what the oracle found in the device's log (the
    /// report never judges safety itself: the trace is the session's own view).
    public init(trace: SessionTrace, violations: [Violation], sampleInterval: Duration) {
        duration = trace.samples.last?.time ?? .zero
        finalState = trace.finalState
        interventions = trace.interventions

        var seconds: [String: Double] = [:], peaks: [String: Double] = [:]
        for s in trace.samples where !s.zone.isEmpty && s.setpointKPa > 0 {
            seconds[s.zone, default: 0] += sampleInterval.seconds
            peaks[s.zone] = max(peaks[s.zone] ?? 0, s.measuredKPa ?? 0)
        }
        zones = seconds.keys.sorted().map { ZoneSummary(zone: $0, seconds: seconds[$0]!, peakKPa: peaks[$0] ?? 0) }
        safetyViolations = violations
    }

    /// Repeated interventions of one kind on one foot with the same detail, as one line.
    public struct InterventionGroup: Sendable, Hashable, CustomStringConvertible {
        public var kind: Intervention.Kind
        public var foot: Foot?
        public var detail: String
        public var count: Int
        public var first: Duration
        public var last: Duration

        public var description: String {
            let side = foot.map { " (\($0.rawValue))" } ?? ""
            if count == 1 { return "\(clockText(first, millis: true)) \(kind.rawValue)\(side): \(detail)" }
            return "\(clockText(first, millis: true))–\(clockText(last, millis: true)) \(kind.rawValue)\(side) ×\(count): \(detail)"
        }
    }

    /// `interventions` coalesced (docs/safety.md §7): one group per kind, foot and detail, in
    /// the order each first happened.
    public var interventionGroups: [InterventionGroup] { Self.coalesce(interventions) }

    public static func coalesce(_ interventions: [Intervention]) -> [InterventionGroup] {
        struct Key: Hashable { var kind: Intervention.Kind; var foot: Foot?; var detail: String }
        var index: [Key: Int] = [:]
        var groups: [InterventionGroup] = []
        for i in interventions {
            let key = Key(kind: i.kind, foot: i.foot, detail: i.detail)
            if let at = index[key] {
                groups[at].count += 1
                groups[at].first = min(groups[at].first, i.time)
                groups[at].last = max(groups[at].last, i.time)
            } else {
                index[key] = groups.count
                groups.append(InterventionGroup(kind: i.kind, foot: i.foot, detail: i.detail, count: 1, first: i.time, last: i.time))
            }
        }
        return groups
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
        let groups = interventionGroups
        lines.append("interventions: \(interventions.isEmpty ? "none" : String(interventions.count))"
            + (groups.count < interventions.count ? " (\(groups.count) distinct)" : ""))
        for g in groups { lines.append("  " + g.description) }
        if violations.isEmpty {
            lines.append("safety invariants: all held")
        } else {
            var byRule: [SafetyRule: Int] = [:]
            for v in safetyViolations { byRule[v.rule, default: 0] += 1 }
            lines.append("SAFETY INVARIANTS VIOLATED: \(safetyViolations.count) ("
                + byRule.keys.sorted().map { "\($0.rawValue) \(byRule[$0]!)" }.joined(separator: ", ") + ")")
            for v in safetyViolations { lines.append("  " + v.description) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
