import PlantarCore

/// What a session is doing, as a person sees it.
public enum SessionState: Sendable, Hashable {
    case idle
    case running
    case paused
    /// Pressure is being eased off after a discomfort signal; the routine goes on gentler.
    case easing
    /// Stopped and latched (switch, operator, escalation): nothing presses until re-armed.
    case stopped(reason: String)
    case finished
    /// A fault stopped the session (lost telemetry, driver or link error): latched.
    case faulted(reason: String)

    public var name: String {
        switch self {
        case .idle: "idle"
        case .running: "running"
        case .paused: "paused"
        case .easing: "easing"
        case .stopped: "stopped"
        case .finished: "finished"
        case .faulted: "faulted"
        }
    }

    public var isTerminal: Bool {
        switch self {
        case .stopped, .finished, .faulted: true
        default: false
        }
    }

    /// The state with its reason, for people.
    public var text: String {
        switch self {
        case .stopped(let reason): "stopped (latched): \(reason)"
        case .faulted(let reason): "faulted (latched): \(reason)"
        default: name
        }
    }
}

/// A snapshot for displays and the API: where the session is and what the device does.
public struct SessionStatus: Sendable, Hashable {
    public var state: SessionState
    public var elapsed: Duration
    public var total: Duration
    /// The step being worked (1-based; 0 when none), its name, foot and zone.
    public var step: Int
    public var stepName: String
    public var foot: Foot?
    public var zone: String
    /// Per foot: the setpoint the governor let through and the measured pressure (kPa).
    public var setpointKPa: [Foot: Double]
    public var measuredKPa: [Foot: Double]
    /// The cap in force for the zone being worked (kPa).
    public var capKPa: Double

    public init(state: SessionState, elapsed: Duration, total: Duration, step: Int, stepName: String, foot: Foot?,
                zone: String, setpointKPa: [Foot: Double], measuredKPa: [Foot: Double], capKPa: Double) {
        self.state = state
        self.elapsed = elapsed
        self.total = total
        self.step = step
        self.stepName = stepName
        self.foot = foot
        self.zone = zone
        self.setpointKPa = setpointKPa
        self.measuredKPa = measuredKPa
        self.capKPa = capKPa
    }

    public var progress: Double {
        total > .zero ? min(1, elapsed.seconds / total.seconds) : 0
    }
}
