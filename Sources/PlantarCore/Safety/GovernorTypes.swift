/// Why a session was stopped.
public enum StopReason: Sendable, Hashable, CustomStringConvertible {
    /// The person pressed the discomfort switch.
    case discomfortSwitch
    /// Too many discomfort signals (ease button, API, pull-away) within the window.
    case escalated
    /// The session reached auto-off.
    case autoOff
    /// An operator stop (`plantar stop`, the control API); the string says where from.
    case operatorStop(String)
    /// Lost telemetry, a bad reading, over-pressure, a driver error, a link loss, a missed deadline.
    case fault(String)
    /// A foot left the device while pressed and did not come back in time.
    case footAway(Foot)

    public var description: String {
        switch self {
        case .discomfortSwitch: "discomfort switch"
        case .escalated: "escalated discomfort"
        case .autoOff: "auto-off"
        case .operatorStop(let source): "operator stop (\(source))"
        case .fault(let reason): "fault: \(reason)"
        case .footAway(let foot): "the \(foot.rawValue) foot left the device and did not come back"
        }
    }
}

/// What the governor asks its caller to do, in order. Safety actions (releases) come first
/// in every list; reports come after the actions they describe.
public enum GovernorAction: Sendable, Hashable {
    /// Send this (possibly modified) command to the driver for `foot`.
    case apply(ActuatorCommand, foot: Foot)
    /// Every channel of every foot to rest, now (`DeviceDriver.releaseAll`).
    case releaseAll
    /// Every channel of one foot to rest, now.
    case release(foot: Foot)
    /// The session must stop: no further commands of its timeline are sent.
    case abortSession(StopReason)
    /// A foot left the device while pressed: hold the session where it is (as a pause, every
    /// channel released) until `footReturned`; the governor ends it if the foot stays away.
    case awaitFoot(Foot)
    /// The foot is back: the session goes on, restoring what the routine has in force from rest.
    case footReturned(Foot)
    /// Something the governor did; also appended to `Governor.interventions`.
    case report(Intervention)
}

extension Governor {
    /// The governor's state. `stopped` and `faulted` are latched: only `rearm` leaves them,
    /// and only to `idle`.
    public enum State: Sendable, Hashable, CustomStringConvertible {
        /// Not armed: nothing presses.
        case idle
        /// A session started; no command has gone through yet.
        case armed
        /// Commands go through, governed.
        case active
        /// An ease-off ramp is running: nothing on an eased foot may rise until it completes.
        case easing
        /// Stopped and latched.
        case stopped(StopReason)
        /// Faulted and latched.
        case faulted(String)

        /// Whether a session is running (armed, active or easing).
        public var isRunning: Bool {
            switch self {
            case .armed, .active, .easing: true
            case .idle, .stopped, .faulted: false
            }
        }

        /// Whether only `rearm` leaves this state.
        public var isLatched: Bool {
            switch self {
            case .stopped, .faulted: true
            case .idle, .armed, .active, .easing: false
            }
        }

        /// A short name for traces and the API.
        public var name: String {
            switch self {
            case .idle: "idle"
            case .armed: "armed"
            case .active: "active"
            case .easing: "easing"
            case .stopped: "stopped"
            case .faulted: "faulted"
            }
        }

        public var description: String {
            switch self {
            case .stopped(let reason): "stopped (\(reason))"
            case .faulted(let reason): "faulted (\(reason))"
            default: name
            }
        }
    }
}
