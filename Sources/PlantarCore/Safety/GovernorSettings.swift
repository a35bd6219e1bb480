/// The numbers the safety governor enforces. Every default has its reason beside it; the
/// sources are `PressureCaps`, `SessionLimits` and DESIGN.md's "Safety numbers".
///
/// `Governor.init` sanitizes these (see `sanitized`): a setting that could only make the
/// governor less safe than intended (a factor above 1, a NaN, an auto-off past the ceiling)
/// is pulled back to the safe side, never the other way.
public struct GovernorSettings: Sendable, Hashable {
    /// Base caps per zone sensitivity class, *before* the person's settings: the governor
    /// multiplies them by `sensitivityFactor` and, with `reducedSensation`, by
    /// `PressureCaps.reducedSensationFactor` (see `Governor.cap(for:)`).
    /// Default `PressureCaps.standard`: half of a conservative per-zone pain threshold.
    /// The compiler wants the person's caps already scaled: give it `personCaps`.
    public var caps: PressureCaps
    /// For reduced sensation (e.g. diabetic neuropathy): caps x0.6, because the person may not
    /// feel excess pressure and must not rely on discomfort signals alone. Default off.
    public var reducedSensation: Bool
    /// The person's sensitivity setting, 0.5...1.0, multiplies every cap. Default 1.0 (the
    /// caps are already conservative); never above 1, so a setting can only lower caps.
    public var sensitivityFactor: Double
    /// Fastest allowed rise in pressure (kPa/s), from `DeviceProfile.pressure.maxRampKPaPerS`:
    /// the device's own limit, which the compiler plans with too.
    public var maxRampKPaPerS: Double
    /// Hardware ceiling (kPa), from `DeviceProfile.pressure.maxKPa`: no cap exceeds it.
    public var deviceMaxKPa: Double
    /// Hold limit (60 s: the seeds' acupressure holds last about a minute) and auto-off
    /// (15 min: manufacturers advise at most 15 minutes per session; never above 30).
    public var limits: SessionLimits
    /// Ease-off lowers the current pressure by this fraction. Default 0.4: a clearly felt
    /// relief that keeps contact, so the massage can go on gently.
    public var easeFraction: Double
    /// The ease-off ramp completes within this. Default 300 ms: relief must follow the
    /// button at once (about a human reaction time), faster than any routine ramp.
    public var easeWithin: Duration
    /// After each ease the whole session's caps are multiplied by this, compounding.
    /// Default 0.8: a signal of discomfort means the caps were too high for this person today.
    public var easeCapFactor: Double
    /// The sensitivity class being worked when the ease happened gets this on top,
    /// compounding. Default 0.7: that class is where it hurt.
    public var easeZoneCapFactor: Double
    /// This many discomfort signals (ease button, API, pull-away) ...
    /// Default 3: one is a hint, two a pattern, three mean the session is not working.
    public var escalationCount: Int
    /// ... within this window stop the session, latched. Default 60 s, about one hold.
    public var escalationWindow: Duration
    /// No telemetry for longer than this while a session runs is a fault. Default 500 ms:
    /// two of the microcontroller's 250 ms leases (DESIGN.md principle 2), so the device has
    /// already released on its own when the host gives up; 50 samples at 100 Hz.
    public var telemetryTimeout: Duration
    /// Pressure readings outside this range are a fault. Default -5...400 kPa: a few kPa of
    /// sensor offset below zero; 400 kPa is above the 357 kPa mean pain threshold, which no
    /// cap comes near, so such a reading is a broken sensor or a runaway pump.
    public var pressureSensorRange: ClosedRange<Double>
    /// A command applied later than this past its due time is a fault. Default 250 ms: the
    /// microcontroller's lease; a host that late is stalled and its setpoints are stale.
    public var maxLateness: Duration
    /// While pressing with a steady or rising setpoint, contact force falling below this
    /// fraction of its recent peak is a pull-away.
    /// Default 0.5: losing half the contact while the node holds or pushes means the foot lifts.
    public var pullAwayForceDropFraction: Double
    /// How far back "recent" reaches for the force peak, and how long force readings are
    /// ignored after the setpoint was lowered (the force follows the pressure down with a lag).
    /// Default 500 ms: several pump and valve time constants (0.06–0.5 s in the profiles).
    public var pullAwayWindow: Duration
    /// A force peak below this (N) is too light to judge a pull-away from. Default 5 N:
    /// above sensor noise, below the contact of the lightest press.
    public var pullAwayMinimumForceN: Double
    /// Measured pressure above `max(cap, governed setpoint) * overPressureFactor +
    /// overPressureMarginKPa` ... Default 1.25 and 5 kPa: room for overshoot of a first-order
    /// pump and sensor noise; beyond that the hardware is not following the governor.
    public var overPressureFactor: Double
    public var overPressureMarginKPa: Double
    /// ... for longer than this is a fault. Default 200 ms: longer than the slowest profile's
    /// settling after a step, shorter than the time for pressure to hurt.
    public var overPressureDuration: Duration
    /// Whether every telemetry sample must carry pressure readings (the device has a pressure
    /// sensor). From the profile's inputs; when true, a nil reading is a fault.
    public var requiresPressureSensor: Bool
    /// Where on the device each sensitivity class applies, for this person (docs/safety.md
    /// §1): the governor caps by the place the node presses, whatever a command's label says.
    /// Build it with `CapField(map:size:device:)`. Without one (unit tests of other rules)
    /// only the labels select caps.
    public var capField: CapField?
    /// The release valve's time constant (s), from the profile: how long measured pressure
    /// lags a lowered setpoint. The over-pressure check allows the old level for
    /// `3 × valveTimeConstant + 50 ms` after a fall, and an ease aims low enough that the
    /// foot feels its 40% within `easeWithin` despite the lag.
    public var valveTimeConstant: Double
    /// The dose rule (docs/safety.md §3): no spot pressed longer than `limits.holdLimit`
    /// within any `doseWindow`. Default `SessionLimits.doseWindow`; short releases and pauses
    /// do not reset it.
    public var doseWindow: Duration
    /// A foot that left the device while pressed and has not come back within this ends the
    /// session. Default 2 minutes: time to resettle, not time to walk away.
    public var footAwayLimit: Duration

    public init(caps: PressureCaps = .standard, reducedSensation: Bool = false, sensitivityFactor: Double = 1.0,
                maxRampKPaPerS: Double, deviceMaxKPa: Double, limits: SessionLimits = .standard,
                easeFraction: Double = 0.4, easeWithin: Duration = .milliseconds(300),
                easeCapFactor: Double = 0.8, easeZoneCapFactor: Double = 0.7,
                escalationCount: Int = 3, escalationWindow: Duration = .seconds(60),
                telemetryTimeout: Duration = .milliseconds(500),
                pressureSensorRange: ClosedRange<Double> = -5...400,
                maxLateness: Duration = .milliseconds(250),
                pullAwayForceDropFraction: Double = 0.5, pullAwayWindow: Duration = .milliseconds(500),
                pullAwayMinimumForceN: Double = 5,
                overPressureFactor: Double = 1.25, overPressureMarginKPa: Double = 5,
                overPressureDuration: Duration = .milliseconds(200),
                requiresPressureSensor: Bool = true, capField: CapField? = nil, valveTimeConstant: Double = 0.06,
                doseWindow: Duration = SessionLimits.doseWindow, footAwayLimit: Duration = .seconds(120)) {
        self.caps = caps
        self.reducedSensation = reducedSensation
        self.sensitivityFactor = sensitivityFactor
        self.maxRampKPaPerS = maxRampKPaPerS
        self.deviceMaxKPa = deviceMaxKPa
        self.limits = limits
        self.easeFraction = easeFraction
        self.easeWithin = easeWithin
        self.easeCapFactor = easeCapFactor
        self.easeZoneCapFactor = easeZoneCapFactor
        self.escalationCount = escalationCount
        self.escalationWindow = escalationWindow
        self.telemetryTimeout = telemetryTimeout
        self.pressureSensorRange = pressureSensorRange
        self.maxLateness = maxLateness
        self.pullAwayForceDropFraction = pullAwayForceDropFraction
        self.pullAwayWindow = pullAwayWindow
        self.pullAwayMinimumForceN = pullAwayMinimumForceN
        self.overPressureFactor = overPressureFactor
        self.overPressureMarginKPa = overPressureMarginKPa
        self.overPressureDuration = overPressureDuration
        self.requiresPressureSensor = requiresPressureSensor
        self.capField = capField
        self.valveTimeConstant = valveTimeConstant
        self.doseWindow = doseWindow
        self.footAwayLimit = footAwayLimit
    }

    /// The defaults above for a device: its ramp limit, its ceiling, and whether it has a
    /// pressure sensor to demand readings from.
    /// With a foot map, the cap field for a person of `footSize` on this device too.
    public static func standard(for profile: DeviceProfile, map: FootMap? = nil, footSize: FootSize = .standard) -> GovernorSettings {
        GovernorSettings(maxRampKPaPerS: profile.pressure.maxRampKPaPerS,
                         deviceMaxKPa: profile.pressure.maxKPa,
                         requiresPressureSensor: profile.inputs.contains(.pressureSensor),
                         capField: map.map { CapField(map: $0, size: footSize, device: profile) },
                         valveTimeConstant: profile.pressure.valveTimeConstant)
    }

    /// The person's caps before any ease and before the device ceiling: what the compiler
    /// should plan with (`CompileOptions.caps`), so that a planned program passes unclamped.
    public var personCaps: PressureCaps {
        caps.scaled(by: Self.personFactor(sensitivityFactor) * (reducedSensation ? PressureCaps.reducedSensationFactor : 1))
    }

    /// A sensitivity setting as applied: at most 1 (a setting can only lower caps); a
    /// missing or non-positive value falls to the bottom of the range, 0.5.
    static func personFactor(_ f: Double) -> Double {
        guard f.isFinite, f > 0 else { return 0.5 }
        return min(f, 1)
    }

    /// The settings as the governor uses them: every value that would weaken a rule pulled
    /// back to the safe side (factors into 0...1, auto-off under its ceiling, positive times).
    public var sanitized: GovernorSettings {
        var s = self
        func fraction(_ x: Double, otherwise: Double) -> Double { x.isFinite ? min(max(x, 0), 1) : otherwise }
        func positive(_ d: Duration, otherwise: Duration) -> Duration { d > .zero ? d : otherwise }
        func kPa(_ x: Double) -> Double { x.isFinite ? max(x, 0) : 0 }
        s.caps = PressureCaps(low: kPa(caps.low), moderate: kPa(caps.moderate), high: kPa(caps.high))
        s.sensitivityFactor = Self.personFactor(sensitivityFactor)
        s.deviceMaxKPa = kPa(deviceMaxKPa)
        s.maxRampKPaPerS = maxRampKPaPerS.isFinite && maxRampKPaPerS > 0 ? maxRampKPaPerS : 1
        s.limits.autoOff = min(limits.autoOff, SessionLimits.autoOffCeiling)
        s.limits.holdLimit = positive(limits.holdLimit, otherwise: SessionLimits.standard.holdLimit)
        s.easeFraction = fraction(easeFraction, otherwise: 0.4)
        s.easeWithin = positive(easeWithin, otherwise: .milliseconds(300))
        s.easeCapFactor = fraction(easeCapFactor, otherwise: 0.8)
        s.easeZoneCapFactor = fraction(easeZoneCapFactor, otherwise: 0.7)
        s.escalationCount = max(escalationCount, 1)
        s.telemetryTimeout = positive(telemetryTimeout, otherwise: .milliseconds(500))
        s.pullAwayForceDropFraction = fraction(pullAwayForceDropFraction, otherwise: 0.5)
        s.overPressureFactor = overPressureFactor.isFinite ? max(overPressureFactor, 1) : 1.25
        s.overPressureMarginKPa = overPressureMarginKPa.isFinite ? max(overPressureMarginKPa, 0) : 5
        s.valveTimeConstant = valveTimeConstant.isFinite ? min(max(valveTimeConstant, 0.001), 10) : 0.06
        s.doseWindow = doseWindow > s.limits.holdLimit ? doseWindow : max(s.limits.holdLimit * 2, .seconds(120))
        s.footAwayLimit = positive(footAwayLimit, otherwise: .seconds(120))
        return s
    }
}
