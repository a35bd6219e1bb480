/// Something the safety layer did that the routine did not ask for: clamping a command,
/// easing off, stopping. Every one is reported (simulate's report, logs, the API).
public struct Intervention: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A pressure setpoint above the cap in force was lowered to the cap.
        case capClamped = "cap-clamped"
        /// A ramp faster than the device allows was slowed.
        case rampLimited = "ramp-limited"
        /// The person signalled discomfort (ease button, API, pull-away): pressure eased off.
        case easeOff = "ease-off"
        /// Repeated discomfort signals within the window: stopped and latched.
        case escalatedStop = "escalated-stop"
        /// The discomfort switch: everything released, latched.
        case switchStop = "switch-stop"
        /// An operator stop (`plantar stop`, the API, Ctrl-C): everything released, latched.
        case operatorStop = "operator-stop"
        /// A press at one point reached the hold limit: pressure released there.
        case holdLimit = "hold-limit"
        /// A foot left the device while pressed (the session waits), came back, or stayed away
        /// too long (the session ends).
        case pullAway = "pull-away"
        /// The session reached auto-off.
        case autoOff = "auto-off"
        /// Lost telemetry, a reading out of range, a driver error, a missed deadline, a link loss.
        case fault
        /// A command was refused (stopped, faulted or not armed).
        case blocked
        /// The operator re-armed after a stop (never resumes a routine).
        case rearmed
    }

    /// Session time it happened.
    public var time: Duration
    public var kind: Kind
    public var foot: Foot?
    public var detail: String

    public init(time: Duration, kind: Kind, foot: Foot? = nil, detail: String) {
        self.time = time
        self.kind = kind
        self.foot = foot
        self.detail = detail
    }

    public var description: String {
        "\(clockText(time, millis: true)) \(kind.rawValue)\(foot.map { " (\($0.rawValue))" } ?? ""): \(detail)"
    }
}
