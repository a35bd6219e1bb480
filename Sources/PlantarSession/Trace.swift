import PlantarCore

/// One row of a session trace: what one foot's hardware was asked for and what it did.
public struct TraceSample: Sendable, Hashable {
    public var time: Duration
    public var foot: Foot
    /// Node position (device mm).
    public var position: DevicePoint
    /// The pressure the governor let through for this foot (kPa, highest channel).
    public var setpointKPa: Double
    /// The pressure the device measured (kPa, highest channel); nil when unreadable.
    public var measuredKPa: Double?
    /// Session state name at that time (`running`, `easing`, `stopped`, …).
    public var state: String
    /// 1-based step index (0 when no step is running).
    public var step: Int
    public var zone: String

    public init(time: Duration, foot: Foot, position: DevicePoint, setpointKPa: Double, measuredKPa: Double?,
                state: String, step: Int, zone: String) {
        self.time = time
        self.foot = foot
        self.position = position
        self.setpointKPa = setpointKPa
        self.measuredKPa = measuredKPa
        self.state = state
        self.step = step
        self.zone = zone
    }
}

/// What happened in a session: samples at a fixed rate, every intervention, the plan it ran.
public struct SessionTrace: Sendable, Hashable {
    public var timeline: Timeline
    public var samples: [TraceSample]
    public var interventions: [Intervention]
    /// Final session state name.
    public var finalState: String

    public init(timeline: Timeline, samples: [TraceSample], interventions: [Intervention], finalState: String) {
        self.timeline = timeline
        self.samples = samples
        self.interventions = interventions
        self.finalState = finalState
    }
}
