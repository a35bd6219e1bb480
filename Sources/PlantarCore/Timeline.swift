/// A setpoint for one actuator of one foot. Commands are latest-value setpoints: a later
/// command for the same actuator replaces an earlier one (DESIGN.md principle 5).
public enum ActuatorCommand: Sendable, Hashable {
    /// Move the node to `to` (device mm), cruising at no more than `speed` mm/s and
    /// accelerating within the axis limits; starts and ends at rest.
    case move(to: DevicePoint, speed: Double)
    /// Ramp the channel's pressure to `kPa`, changing by no more than `ramp` kPa/s.
    case pressure(channel: String, kPa: Double, ramp: Double)
    /// Open the channel's valve: pressure to zero as fast as the hardware can. Always allowed.
    case release(channel: String)

    /// The pressure this command asks for, if it is about pressure.
    public var requestedKPa: Double? {
        switch self {
        case .move: nil
        case .pressure(_, let kPa, _): kPa
        case .release: 0
        }
    }
}

/// Which part of a routine a timeline entry serves.
public struct StepReference: Sendable, Hashable {
    /// 1-based position of the step in its routine (0 for parking at the end).
    public var index: Int
    public var name: String
    /// 1-based repetition of the step.
    public var pass: Int

    public init(index: Int, name: String, pass: Int) {
        self.index = index
        self.name = name
        self.pass = pass
    }

    public static let parking = StepReference(index: 0, name: "park", pass: 1)
}

/// One timed command: at `offset` from the session's start, send `command` to `foot`.
public struct TimelineEntry: Sendable, Hashable {
    public var offset: Duration
    public var foot: Foot
    public var command: ActuatorCommand
    public var step: StepReference
    /// The zone (or spine segment) the command serves.
    public var zone: String
    /// The zone's sensitivity class, which selects the governor's pressure cap.
    public var sensitivity: Sensitivity

    public init(offset: Duration, foot: Foot, command: ActuatorCommand, step: StepReference, zone: String,
                sensitivity: Sensitivity) {
        self.offset = offset
        self.foot = foot
        self.command = command
        self.step = step
        self.zone = zone
        self.sensitivity = sensitivity
    }
}

/// One pass of one step on one foot, as scheduled.
public struct ScheduledStep: Sendable, Hashable {
    public var step: StepReference
    public var technique: Technique
    public var foot: Foot
    public var zone: String
    public var start: Duration
    public var end: Duration
}

/// A compiled program: every command with its offset, in time order. Pure data.
public struct Timeline: Sendable, Hashable {
    public var routine: String
    public var device: String
    /// The run parameters it was compiled with, e.g. focus, intensity, feet, foot length.
    public var parameters: [String: String]
    public var entries: [TimelineEntry]
    public var steps: [ScheduledStep]
    /// When the last command has completed.
    public var duration: Duration
    /// Time on the feet as the routine states it (without travel between steps).
    public var statedDuration: Duration

    public init(routine: String, device: String, parameters: [String: String], entries: [TimelineEntry],
                steps: [ScheduledStep], duration: Duration, statedDuration: Duration) {
        self.routine = routine
        self.device = device
        self.parameters = parameters
        self.entries = entries
        self.steps = steps
        self.duration = duration
        self.statedDuration = statedDuration
    }

    /// Seconds under pressure per zone: from each pressure command to the next one for that foot.
    public func pressingSecondsByZone() -> [String: Double] {
        var result: [String: Double] = [:]
        var lastPress: [Foot: (offset: Duration, zone: String)] = [:]
        for entry in entries {
            switch entry.command {
            case .pressure(_, let kPa, _) where kPa > 0:
                if let previous = lastPress[entry.foot] {
                    result[previous.zone, default: 0] += (entry.offset - previous.offset).seconds
                }
                lastPress[entry.foot] = (entry.offset, entry.zone)
            case .release, .pressure:
                if let previous = lastPress[entry.foot] {
                    result[previous.zone, default: 0] += (entry.offset - previous.offset).seconds
                }
                lastPress[entry.foot] = nil
            case .move:
                break
            }
        }
        return result
    }
}

extension Timeline {
    /// The timeline as stable text, one command a line: what `plantar plan` prints and what
    /// the golden files hold, so any change to a compiled program shows up in review.
    public func renderText() -> String {
        var lines: [String] = []
        lines.append("# routine \(routine) on device \(device)")
        lines.append("# parameters " + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        let travel = duration - statedDuration
        lines.append("# duration \(clockText(duration, millis: true)) (stated \(clockText(statedDuration)), travel and settling \(fixed(travel.seconds, 3)) s), \(entries.count) commands")
        var lastStep: (StepReference, Foot)? = nil
        for entry in entries {
            if lastStep == nil || lastStep!.0 != entry.step || lastStep!.1 != entry.foot {
                let s = entry.step
                lines.append(s.index == 0
                    ? "# \(entry.foot.rawValue): park"
                    : "# \(entry.foot.rawValue): step \(s.index) \"\(s.name)\" pass \(s.pass)")
                lastStep = (entry.step, entry.foot)
            }
            lines.append(pad(fixed(entry.offset.seconds, 3), 9) + "  " + pad(entry.foot.rawValue, 5, left: false)
                + "  " + entry.command.text + "  [" + entry.zone + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ActuatorCommand {
    /// Compact, stable text for the command.
    public var text: String {
        switch self {
        case .move(let p, let speed):
            "move u=\(fixed(p.u, 1)) v=\(fixed(p.v, 1)) speed=\(fixed(speed, 1))"
        case .pressure(let channel, let kPa, let ramp):
            "pressure \(channel) \(fixed(kPa, 1)) kPa ramp=\(fixed(ramp, 1))"
        case .release(let channel):
            "release \(channel)"
        }
    }
}

func pad(_ s: String, _ width: Int, left: Bool = true) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? fill + s : s + fill
}
