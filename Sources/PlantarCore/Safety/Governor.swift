/// The safety governor: the last gate before every driver (DESIGN.md principle 4).
///
/// A pure state machine in the style of swift-nio's: one `mutating` function per event, each
/// returning the actions its caller must carry out, in order. It has no clock and does no IO:
/// `at` is the session time of the event (time since session start), passed into every call.
/// Time never runs backwards inside the governor: an earlier `at` than one already seen is
/// taken as the latest time seen.
///
/// Every event first applies the rules that depend only on time (auto-off, telemetry timeout,
/// hold limit, end of an ease-off), so the governor is safe however often `tick` is called;
/// `nextDeadline` tells the caller when the next of those rules can act.
///
/// Rules, in short:
/// - release always passes, in every state; nothing else passes unless a session runs;
/// - pressure is clamped to the cap of the place the node presses (`GovernorSettings.capField`:
///   the strictest class under the contact, along the whole path while it moves; a command's
///   zone label can only make it stricter), and a rise is never faster than the device's ramp
///   limit (lowering is never slowed); a move while pressing first lowers the pressure to the
///   cap along the path;
/// - no spot is pressed longer than the hold limit within the dose window (docs/safety.md §3):
///   the foot is released and the spot rests;
/// - the discomfort switch, an operator stop, escalated discomfort, auto-off and faults
///   release everything and latch; `rearm` leaves a latch only when the switch is not held and
///   no fault is present, and only to `idle`: it never resumes a routine;
/// - an ease (button, API, pull-away) lowers what the foot feels by `easeFraction` within
///   `easeWithin`, blocks every rise on that foot meanwhile, and lowers the caps for the rest of
///   the governor's life; a foot that leaves while pressed pauses the session until it is back.
///
/// Every intervention is both returned as `.report` and appended to `interventions`.
public struct Governor: Sendable {
    /// The settings in force (sanitized: see `GovernorSettings.sanitized`).
    public let settings: GovernorSettings
    public private(set) var state: State = .idle
    /// Everything the governor did that the routine did not ask for, in order: the same
    /// interventions its actions reported.
    public private(set) var interventions: [Intervention] = []

    /// Per foot: channels, position, presence, telemetry bookkeeping.
    private var feet = PerFoot<FootState?>()
    /// Product of `easeCapFactor` over every ease so far.
    private var sessionEaseFactor = 1.0
    /// Product of `easeZoneCapFactor` per sensitivity class over the eases that worked it.
    private var classEaseFactor: [Sensitivity: Double] = [:]
    /// Times of recent discomfort signals, for escalation.
    private var discomfortSignals: [Duration] = []
    /// The discomfort switch as last reported.
    private var switchPressed = false
    /// Latest event time seen (time never runs backwards here).
    private var lastTime: Duration = .zero
    /// When the running session was armed.
    private var armedAt: Duration = .zero
    /// The newest telemetry sample's time, of either foot (kept: it is read at every event).
    private var newestTelemetry: Duration?
    /// When the current ease-off ramp ends.
    private var easeEndsAt: Duration?
    /// Pressed time per spot (the dose rule).
    private var dose: DoseTracker
    /// `cap(for:)` of low, moderate and high, kept up to date when an ease changes the factors:
    /// it is asked for on every sample of every channel.
    private var capsInForce: [Double] = []

    public init(settings: GovernorSettings) {
        self.settings = settings.sanitized
        dose = DoseTracker(window: self.settings.doseWindow)
        capsInForce = computeCaps()
    }

    // MARK: Queries

    /// The pressure cap in force now for a zone sensitivity class (kPa): the base cap times
    /// the person's sensitivity factor, times 0.6 with reduced sensation, times every ease's
    /// factors so far, and never above the device's ceiling, nor above the cap of a less
    /// sensitive class: an ease that worked `moderate` tissue must not leave `high` tissue
    /// allowed more, so the most sensitive class is always the strictest.
    public func cap(for sensitivity: Sensitivity) -> Double {
        switch sensitivity {
        case .low: capsInForce[0]
        case .moderate: capsInForce[1]
        case .high: capsInForce[2]
        }
    }

    /// The caps of `cap(for:)`, low to high, from the settings and the ease factors so far.
    private func computeCaps() -> [Double] {
        let person = settings.sensitivityFactor * (settings.reducedSensation ? PressureCaps.reducedSensationFactor : 1)
        var cap = settings.deviceMaxKPa
        var caps: [Double] = []
        for s in [Sensitivity.low, .moderate, .high] {
            cap = min(cap, settings.caps[s] * person * sessionEaseFactor * (classEaseFactor[s] ?? 1))
            caps.append(cap)
        }
        return caps
    }

    /// The highest pressure setpoint let through for `foot` that is still in force (kPa).
    public func setpointKPa(for foot: Foot) -> Double {
        feet[foot]?.channels.values.map(\.target).max() ?? 0
    }

    /// The pressure setpoint let through for one channel of `foot` (kPa), 0 when none.
    public func setpointKPa(for foot: Foot, channel: String) -> Double {
        feet[foot]?.channels[channel]?.target ?? 0
    }

    /// The earliest session time at which `tick` can act (auto-off, telemetry timeout, a hold
    /// reaching its limit, the end of an ease-off); nil when no session runs. Rules that act
    /// on "longer than" act from one millisecond past their limit.
    public var nextDeadline: Duration? {
        guard state.isRunning else { return nil }
        let ms = Duration.milliseconds(1)
        var deadline = settings.limits.autoOff
        deadline = min(deadline, latestTelemetry + settings.telemetryTimeout + ms)
        for foot in Foot.allCases where feet[foot] != nil {
            // Field by field: the foot's state is read in place, not copied (this runs every turn).
            if feet[foot]!.pressing { deadline = min(deadline, max(feet[foot]!.lastTelemetry ?? armedAt, armedAt) + settings.telemetryTimeout + ms) }
            if let away = feet[foot]!.awaySince { deadline = min(deadline, away + settings.footAwayLimit + ms) }
        }
        if let end = easeEndsAt { deadline = min(deadline, end) }
        return max(deadline, lastTime)
    }

    // MARK: Session events

    /// Session start: `idle` to `armed`. Refused (reported as blocked) when latched, while the
    /// discomfort switch is held, while a fault is present, or at or past auto-off.
    public mutating func arm(at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        advance(to: now, into: &actions)
        switch state {
        case .armed, .active, .easing:
            break
        case .stopped, .faulted:
            report(.blocked, nil, "arm refused: \(state); re-arm first", at: now, into: &actions)
        case .idle:
            if switchPressed {
                report(.blocked, nil, "arm refused: the discomfort switch is held", at: now, into: &actions)
            } else if let fault = presentFault {
                report(.blocked, nil, "arm refused: \(fault)", at: now, into: &actions)
            } else if now >= settings.limits.autoOff {
                report(.blocked, nil, "arm refused: the session is past its \(timeText(settings.limits.autoOff)) auto-off", at: now, into: &actions)
            } else {
                state = .armed
                armedAt = now
                easeEndsAt = nil
            }
        }
        return actions
    }

    /// The last gate before the driver. Release commands always pass. Moves pass while a
    /// session runs. Pressure commands pass while a session runs, clamped to the cap in force
    /// for `entry.sensitivity` and with any rise slowed to the device's ramp limit; each
    /// change is reported. Anything refused returns only a `.blocked` report.
    public mutating func filter(_ entry: TimelineEntry, at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        advance(to: now, into: &actions)
        let foot = entry.foot

        switch entry.command {
        case .release(let name):
            releaseChannel(foot, name, at: now)
            actions.append(.apply(entry.command, foot: foot))
            return actions

        case .move(let to, let speed):
            guard beginIfArmed() else {
                report(.blocked, foot, "\(describe(entry.command)) refused: \(state)", at: now, into: &actions)
                return actions
            }
            if feet[foot] == nil { feet[foot] = FootState() }
            let from = feet[foot]!.seen ?? feet[foot]!.position
            let starts = possibleStarts(foot, at: now)
            if let field = settings.capField, field.kind == .gantry, feet[foot]!.pressing {
                // Pressure held through a move must suit the whole path: lower it first.
                let path = starts.isEmpty ? .high : starts.map { field.sensitivity(along: $0, to: to) }.max()!
                lowerForMove(foot, to: to, sensitivity: max(path, entry.sensitivity), zone: entry.zone, at: now, into: &actions)
            }
            feet[foot]!.moveFrom = from
            feet[foot]!.moveStarts = starts
            feet[foot]!.movedAt = now
            feet[foot]!.moveSpeed = speed.isFinite && speed > 0 ? speed : 0
            feet[foot]!.position = to
            actions.append(.apply(entry.command, foot: foot))
            return actions

        case .pressure(let name, let kPa, let ramp):
            guard beginIfArmed() else {
                report(.blocked, foot, "\(describe(entry.command)) refused: \(state)", at: now, into: &actions)
                return actions
            }
            guard !kPa.isNaN else {
                report(.blocked, foot, "pressure \(name) refused: the setpoint is not a number", at: now, into: &actions)
                return actions
            }
            // After a discomfort signal the routine presses less, not only less than the
            // lowered cap: a request already under the cap is scaled by the same factors, so
            // pressure never climbs back to where the person asked for less.
            // The class of the place, not of the label: a label can only make it stricter.
            let sensitivity = max(entry.sensitivity, placeSensitivity(foot, channel: name) ?? entry.sensitivity)
            let easeScale = sessionEaseFactor * (classEaseFactor[sensitivity] ?? 1)
            var target = max(kPa, 0) * easeScale
            let cap = cap(for: sensitivity)
            if target > cap {
                let place = sensitivity == entry.sensitivity ? "" : " where the node presses (labelled \(entry.sensitivity.rawValue))"
                report(.capClamped, foot, "pressure \(name) \(num(kPa, 1)) kPa lowered to the \(sensitivity.rawValue)-sensitivity cap of \(num(cap, 1)) kPa\(place) [\(entry.zone)]", at: now, into: &actions)
                target = cap
            }
            let fs = feet[foot, default: FootState()]
            if target > 0, fs.present == false {
                report(.blocked, foot, "pressure \(name) refused: the \(foot.rawValue) foot is not on the device", at: now, into: &actions)
                return actions
            }
            if target > 0, let rest = restingSpot(foot, channel: name, at: now) {
                report(.holdLimit, foot, "pressure \(name) refused: \(rest)", at: now, into: &actions)
                return actions
            }
            let channel = fs.channels[name] ?? Channel()
            let level = channel.level(at: now)
            var rate = ramp
            if let until = fs.easingUntil, now <= until {  // the window's last instant too
                // An ease-off is running on this foot: nothing may rise, and a further
                // lowering goes at least as fast as the ease.
                guard target < channel.target || target == 0 else {
                    report(.blocked, foot, "pressure \(name) \(num(target, 1)) kPa refused: easing off until \(timeText(until, millis: true))", at: now, into: &actions)
                    return actions
                }
                rate = max(rate.isFinite && rate > 0 ? rate : 0, channel.ramp.isFinite ? channel.ramp : settings.maxRampKPaPerS)
            } else if target > min(level, channel.target) {
                // Rising: never faster than the device allows.
                let maxRamp = settings.maxRampKPaPerS
                if target < channel.target && rate.isFinite && rate > 0 {
                    // The setpoint is lowered while the level still climbs toward the old one:
                    // what is left of the rise goes at the device's limit; the routine asked
                    // for less, so this is no intervention to report.
                    rate = min(rate, maxRamp)
                } else if rate.isNaN || rate <= 0 {
                    report(.rampLimited, foot, "pressure \(name) ramp \(num(rate, 1)) kPa/s is not a rate: set to \(num(maxRamp, 1)) kPa/s", at: now, into: &actions)
                    rate = maxRamp
                } else if rate > maxRamp {
                    report(.rampLimited, foot, "pressure \(name) ramp \(num(rate, 1)) kPa/s slowed to the device's \(num(maxRamp, 1)) kPa/s", at: now, into: &actions)
                    rate = maxRamp
                }
            } else if !(rate.isFinite && rate > 0) {
                // Lowering is never slowed; a missing rate means as fast as the ease-off.
                rate = max(settings.deviceMaxKPa / settings.easeWithin.seconds, settings.maxRampKPaPerS)
            } else if level > cap {
                // A gentle lowering is the routine's to choose, but not from above the cap in
                // force here: the foot would feel more than the cap for as long as it takes.
                rate = max(rate, fastLowering)
            }
            setChannel(foot, name, to: target, ramp: rate, at: now, sensitivity: sensitivity, zone: entry.zone)
            actions.append(.apply(.pressure(channel: name, kPa: target, ramp: rate), foot: foot))
            return actions
        }
    }

    /// The person asked for less (ease button, API) or pulled away: the pressure of `foot`
    /// (every foot when nil) ramps down by `easeFraction` within `easeWithin`, and the caps
    /// drop for the rest of the governor's life (the session by `easeCapFactor`, the classes
    /// being worked by `easeZoneCapFactor` more). The `escalationCount`-th signal within
    /// `escalationWindow` stops instead (latched). Ignored when no session runs.
    public mutating func ease(source: String, foot: Foot?, at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        advance(to: now, into: &actions)
        guard state.isRunning else { return actions }
        easeOff(source: source, foot: foot, at: now, into: &actions)
        return actions
    }

    /// The discomfort switch changed. Pressed: everything is released (even when the driver
    /// already released: release is idempotent), the session is aborted and the governor
    /// latches `stopped(.discomfortSwitch)` from any state. Letting go does not un-latch.
    public mutating func discomfortSwitch(pressed: Bool, alreadyReleased: Bool, at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        switchPressed = pressed
        var actions: [GovernorAction] = []
        guard pressed else {
            // Letting go changes nothing, but time has passed.
            advance(to: now, into: &actions)
            return actions
        }
        stopSession(.discomfortSwitch, kind: .switchStop,
                    detail: "discomfort switch pressed: everything released" + (alreadyReleased ? " (the driver had released first)" : ""),
                    at: now, into: &actions)
        return actions
    }

    /// An operator stop (`plantar stop`, the control API): as the switch, with its own reason.
    public mutating func stop(source: String, at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        stopSession(.operatorStop(source), kind: .operatorStop, detail: "operator stop from \(source): everything released",
                    at: now, into: &actions)
        return actions
    }

    /// A sample of one foot's hardware. A missing or out-of-range pressure reading is a fault;
    /// measured pressure well above the cap in force for longer than `overPressureDuration`
    /// is a fault; while pressing, the foot leaving the device (released at once) or the
    /// contact force collapsing is a pull-away, handled as an ease.
    public mutating func telemetry(_ t: Telemetry, at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        advance(to: now, into: &actions)
        let foot = t.foot
        let previousSample = feet[foot]?.lastTelemetry
        // Still pressed at the last sample, by the command or by what the valve had yet to vent.
        let measuredPressed = feet[foot]?.measured.values.contains { $0 > Self.pressedAboveKPa } ?? false
        let wasPresent = feet[foot]?.present != false
        feet[foot, default: FootState()].lastTelemetry = now
        newestTelemetry = max(newestTelemetry ?? now, now)
        feet[foot]!.seen = t.position
        // Where the node is, when no move let through says where it is going: here.
        if feet[foot]!.position == nil { feet[foot]!.position = t.position }
        if let target = feet[foot]!.position, feet[foot]!.moveFrom != nil, t.position.distance(to: target) <= Self.arrivedWithinMM {
            feet[foot]!.moveFrom = nil
        }

        if let problem = sensorProblem(t) {
            let onset = !feet[foot]!.sensorFault
            feet[foot]!.sensorFault = true
            let reason = "pressure sensor of the \(foot.rawValue) foot: \(problem)"
            if state.isRunning {
                latchFault(reason, foot: foot, at: now, into: &actions)
            } else if onset {
                report(.fault, foot, reason + " (no session runs; arming is refused until a good reading)", at: now, into: &actions)
            }
            return actions
        }
        feet[foot]!.sensorFault = false

        var overPressures: [(name: String, text: String)] = []
        // The channels as they were before this sample: each name is read once and written
        // only when its over-pressure state changes (rare), so the snapshot reads the same as
        // the foot's own dictionary, without reaching through the foot's state per reading.
        let channels = feet[foot]!.channels
        for (name, measured) in t.pressureKPa ?? [:] {
            var c = channels[name] ?? Channel()
            // A setpoint just lowered (a move into a stricter place, an ease, a release) is
            // followed by the valve with a lag: the level before it stays allowed meanwhile.
            let settling = now < c.settleUntil ? c.settleFrom : 0
            let limit = max(cap(for: c.sensitivity ?? .low), c.level(at: now), settling) * settings.overPressureFactor
                + settings.overPressureMarginKPa
            if measured > limit {
                let since = c.overSince ?? now
                c.overSince = since
                if now - since > settings.overPressureDuration && !c.overFaulted {
                    c.overFaulted = true
                    overPressures.append((name, "over-pressure on \(foot.rawValue) \(name): \(num(measured, 1)) kPa, above \(num(limit, 1)) kPa for \((now - since).milliseconds) ms"))
                }
                feet[foot]!.channels[name] = c
            } else if c.overSince != nil {
                c.overSince = nil
                c.overFaulted = false
                feet[foot]!.channels[name] = c
            }
        }
        for over in overPressures.sorted(by: { $0.name < $1.name }) {
            latchFault(over.text, foot: foot, at: now, into: &actions)
        }

        // The reading before stays for an ease arriving a loop turn after it was asked for.
        feet[foot]!.measuredBefore = previousSample.map { now - $0 <= Self.easeLookBack } == true ? feet[foot]!.measured : [:]
        feet[foot]!.measured = t.pressureKPa ?? [:]
        feet[foot]!.present = t.footPresent
        // Counted in every state: pressure a fault or a stop just cut still happened, and a
        // session re-armed soon after must not press the same spot afresh.
        if let previousSample, now > previousSample {
            countDose(foot, t, from: max(previousSample, now - settings.telemetryTimeout), to: now, into: &actions)
        }
        if state.isRunning, t.footPresent, feet[foot]!.awaySince != nil {
            feet[foot]!.awaySince = nil
            report(.pullAway, foot, "the \(foot.rawValue) foot is back on the device: the session goes on from light pressure", at: now, into: &actions)
            actions.append(.footReturned(foot))
        }
        guard state.isRunning, feet[foot]!.pressing || (measuredPressed && !t.footPresent && wasPresent) else {
            feet[foot]!.forceSamples = []
            return actions
        }
        if !t.footPresent {
            // The ease first, while the foot's channels still say what was being worked (the
            // caps of those classes fall); then the release.
            easeOff(source: "pull-away: the \(foot.rawValue) foot left the device while pressed (released it; the session waits for it)",
                    foot: foot, at: now, into: &actions)
            actions.append(.release(foot: foot))
            let easing = feet[foot]!.easingUntil
            releaseFoot(foot, at: now)
            feet[foot]!.easingUntil = easing
            if state.isRunning {
                feet[foot]!.awaySince = now
                actions.append(.awaitFoot(foot))
            }
            return actions
        }
        if let force = t.contactForceN, force.isFinite {
            guard now >= feet[foot]!.forceQuietUntil else {
                feet[foot]!.forceSamples = []
                return actions
            }
            feet[foot]!.forceSamples.removeAll { now - $0.time > settings.pullAwayWindow }
            let peak = feet[foot]!.forceSamples.map(\.force).max() ?? 0
            if peak >= settings.pullAwayMinimumForceN, force < settings.pullAwayForceDropFraction * peak {
                feet[foot]!.forceSamples = []
                easeOff(source: "pull-away: contact force of the \(foot.rawValue) foot fell from \(num(peak, 1)) N to \(num(force, 1)) N",
                        foot: foot, at: now, into: &actions)
            } else {
                feet[foot]!.forceSamples.append(ForceSample(time: now, force: force))
            }
        }
        return actions
    }

    /// Time passes: auto-off, telemetry timeout, hold limit, end of an ease-off.
    public mutating func tick(at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        advance(to: now, into: &actions)
        return actions
    }

    /// A driver error, a link loss, a device reset, a missed deadline: everything released,
    /// the session aborted, latched `faulted`.
    public mutating func fault(_ reason: String, at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        latchFault(reason, foot: nil, at: now, into: &actions)
        return actions
    }

    /// The driver applied a command due at `dueAt` at `appliedAt`; later than `maxLateness`
    /// while a session runs is a fault (the host stalled; its setpoints are stale).
    public mutating func commandApplied(dueAt: Duration, appliedAt: Duration) -> [GovernorAction] {
        let now = clock(appliedAt)
        var actions: [GovernorAction] = []
        advance(to: now, into: &actions)
        let lateness = appliedAt - dueAt
        if state.isRunning, lateness > settings.maxLateness {
            latchFault("missed deadline: a command due at \(timeText(dueAt, millis: true)) was applied \(lateness.milliseconds) ms late (limit \(settings.maxLateness.milliseconds) ms)",
                       foot: nil, at: now, into: &actions)
        }
        return actions
    }

    /// Leave a latch (`stopped` or `faulted`) for `idle`, as LinuxCNC's estop_latch: a reset
    /// with no fault present. Refused while the switch is pressed, while the caller reports a
    /// fault present, or while the governor sees one (a bad sensor, over-pressure). Never
    /// resumes a routine: a new `arm` is needed before anything presses again.
    /// `switchPressed` is the switch as read now; it replaces the last reported state.
    public mutating func rearm(switchPressed: Bool, faultPresent: Bool = false, at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        self.switchPressed = switchPressed
        advance(to: now, into: &actions)
        guard state.isLatched else { return actions }
        if switchPressed {
            report(.blocked, nil, "re-arm refused: the discomfort switch is still pressed", at: now, into: &actions)
        } else if faultPresent {
            report(.blocked, nil, "re-arm refused: a fault is still present", at: now, into: &actions)
        } else if let fault = presentFault {
            report(.blocked, nil, "re-arm refused: \(fault)", at: now, into: &actions)
        } else {
            let was = state
            state = .idle
            easeEndsAt = nil
            report(.rearmed, nil, "re-armed after \(was): idle until a new session is armed (nothing resumes)", at: now, into: &actions)
        }
        return actions
    }

    /// The routine completed: everything released, back to `idle`. A latch stays latched.
    public mutating func finish(at time: Duration) -> [GovernorAction] {
        let now = clock(time)
        var actions: [GovernorAction] = []
        advance(to: now, into: &actions)
        actions.append(.releaseAll)
        releaseEverything(at: now)
        if state.isRunning {
            state = .idle
            easeEndsAt = nil
        }
        return actions
    }

    // MARK: Rules

    /// Applies the rules that depend only on time.
    private mutating func advance(to now: Duration, into actions: inout [GovernorAction]) {
        guard state.isRunning else { return }
        if now >= settings.limits.autoOff {
            stopSession(.autoOff, kind: .autoOff,
                        detail: "auto-off at \(timeText(settings.limits.autoOff)): everything released",
                        at: now, into: &actions)
            return
        }
        if let overdue = telemetryOverdue(at: now) {
            latchFault(overdue, foot: nil, at: now, into: &actions)
            return
        }
        for foot in Foot.allCases {
            guard let away = feet[foot]?.awaySince, now - away > settings.footAwayLimit else { continue }
            stopSession(.footAway(foot), kind: .pullAway,
                        detail: "the \(foot.rawValue) foot has not come back within \(num(settings.footAwayLimit.seconds, 0)) s: everything released, the session ends",
                        at: now, into: &actions)
            return
        }
        if state == .easing, let end = easeEndsAt, now >= end {
            state = .active
            easeEndsAt = nil
        }
    }

    /// `armed` becomes `active` with the first command; true when commands may pass.
    private mutating func beginIfArmed() -> Bool {
        if state == .armed { state = .active }
        return state == .active || state == .easing
    }

    /// The newest telemetry of any foot, or the arming when none came since.
    private var latestTelemetry: Duration { max(newestTelemetry ?? armedAt, armedAt) }

    private func telemetryOverdue(at now: Duration) -> String? {
        let timeout = settings.telemetryTimeout
        if now - latestTelemetry > timeout {
            return "no telemetry for \((now - latestTelemetry).milliseconds) ms (limit \(timeout.milliseconds) ms)"
        }
        for foot in Foot.allCases where feet[foot]?.pressing == true {
            let last = max(feet[foot]!.lastTelemetry ?? armedAt, armedAt)
            if now - last > timeout {
                return "no telemetry from the \(foot.rawValue) foot for \((now - last).milliseconds) ms while pressing it (limit \(timeout.milliseconds) ms)"
            }
        }
        return nil
    }

    private func sensorProblem(_ t: Telemetry) -> String? {
        guard let readings = t.pressureKPa else {
            return settings.requiresPressureSensor ? "no reading" : nil
        }
        let range = settings.pressureSensorRange
        guard !readings.values.allSatisfy(range.contains) else { return nil }
        for (name, value) in readings.sorted(by: { $0.key < $1.key }) where !range.contains(value) {
            return "\(name) reads \(num(value, 1)) kPa, outside \(num(range.lowerBound, 0))...\(num(range.upperBound, 0)) kPa"
        }
        return nil
    }

    /// A fault condition that is still present (blocks arming and re-arming).
    private var presentFault: String? {
        for foot in Foot.allCases {
            guard let fs = feet[foot] else { continue }
            if fs.sensorFault { return "the pressure sensor of the \(foot.rawValue) foot is not reading" }
            if let name = fs.channelNames.first(where: { fs.channels[$0]!.overSince != nil }) {
                return "over-pressure on \(foot.rawValue) \(name)"
            }
        }
        return nil
    }

    private mutating func easeOff(source: String, foot: Foot?, at now: Duration, into actions: inout [GovernorAction]) {
        discomfortSignals.removeAll { now - $0 > settings.escalationWindow }
        discomfortSignals.append(now)
        let eased = foot.map { [$0] } ?? Foot.allCases
        var worked = Set<Sensitivity>()
        for f in eased {
            guard let fs = feet[f] else { continue }
            // Pressed: commanded, or still measured above 2 kPa (a valve venting is still felt).
            var names = Array(fs.channels.keys)
            for name in fs.measured.keys where fs.channels[name] == nil { names.append(name) }
            for name in names {
                let c = fs.channels[name] ?? Channel()
                let felt = max(fs.measured[name] ?? 0, fs.measuredBefore[name] ?? 0)
                // Pressed when the person asked counts too: a pause or a release handled in
                // the same loop turn, just before the ease, does not make it unworked.
                let justReleased = c.pressedUntil > .zero && now - c.pressedUntil <= Self.easeLookBack
                guard c.target > 0 || c.level(at: now) > 0 || felt > Self.pressedAboveKPa || justReleased else { continue }
                // The class the channel was governed with, and the tissue's where it presses:
                // both were being worked (a label can be stricter than the place).
                if let s = c.sensitivity { worked.insert(s) }
                if let place = placeSensitivity(f, channel: name) { worked.insert(place) } else if c.sensitivity == nil { worked.insert(.high) }
                // And every class of the tissue under the node, not only the strictest: where the
                // device last reported it, and during a move the whole path from where it began
                // (docs/safety.md §1). Lowering one class too many is the safe side.
                if let field = settings.capField, field.kind == .gantry {
                    if let seen = fs.seen { worked.formUnion(field.classes(at: seen)) }
                    if let from = fs.moveFrom, let target = fs.position {
                        for start in [from] + fs.moveStarts { worked.formUnion(field.classes(along: start, to: target)) }
                    } else if let target = fs.position {
                        worked.formUnion(field.classes(at: target))
                    }
                }
            }
        }
        // Every signal lowers the caps, the one that escalates too: a session re-armed after
        // the stop starts from the lowered caps.
        sessionEaseFactor *= settings.easeCapFactor
        for s in worked { classEaseFactor[s, default: 1] *= settings.easeZoneCapFactor }
        capsInForce = computeCaps()
        if discomfortSignals.count >= settings.escalationCount {
            stopSession(.escalated, kind: .escalatedStop,
                        detail: "\(discomfortSignals.count) discomfort signals within \(num(settings.escalationWindow.seconds, 0)) s (last: \(source)): everything released",
                        at: now, into: &actions)
            return
        }

        let within = settings.easeWithin
        // The valve follows a lowered setpoint with a lag (first order, its time constant):
        // aim low enough that what the foot feels is down by the fraction within `within`,
        // keeping back a sample period and the setpoint's own fall as margin.
        let lag = exponential(-max(within.seconds - Self.easeLookBack.seconds - 0.03, 0.02) / settings.valveTimeConstant)
        for f in eased {
            // Nothing on an eased foot may rise for the window, even a channel at rest.
            feet[f, default: FootState()].easingUntil = now + within
            let fs = feet[f]!
            for name in fs.channelNames {
                let c = fs.channels[name]!
                let level = c.level(at: now)
                guard level > 0 || c.target > 0 else { continue }
                let measured = fs.measured[name].flatMap { $0.isFinite ? max($0, 0) : nil }
                let before = fs.measuredBefore[name].flatMap { $0.isFinite ? max($0, 0) : nil }
                // What the foot feels: the lower of the device's reading and the command, when
                // the person asked, which may have been a loop turn ago (a rise since does not
                // count: the relief is measured from the moment of asking).
                let earlier = c.level(at: max(now - Self.easeLookBack, c.rampStart))
                let felt = min(level, earlier, c.target, measured ?? level, before ?? level)
                let goal = felt * (1 - settings.easeFraction)
                let now0 = measured ?? level
                let aim = lag < 1 ? (goal - now0 * lag) / (1 - lag) : 0
                let target = min(max(aim, 0), goal, cap(for: c.sensitivity ?? .high))
                guard target < level || target < c.target else { continue }
                setChannel(f, name, to: target, ramp: fastLowering, at: now, sensitivity: c.sensitivity, zone: c.zone)
                actions.append(.apply(.pressure(channel: name, kPa: target, ramp: fastLowering), foot: f))
            }
        }
        // The lowered caps hold everywhere at once, on the feet not eased too: whatever now
        // stands above its place's cap comes down to it (docs/safety.md §4).
        for f in Foot.allCases { lowerToCaps(f, why: "caps lowered by the ease", at: now, into: &actions) }
        state = .easing
        easeEndsAt = now + within
        let classes = worked.sorted().map(\.rawValue).joined(separator: ", ")
        report(.easeOff, foot, "\(source): pressure down \(num(settings.easeFraction * 100, 0))% within \(within.milliseconds) ms; caps now x\(num(sessionEaseFactor, 2))"
               + (classes.isEmpty ? "" : " and x\(num(settings.easeZoneCapFactor, 2)) more for \(classes)"),
               at: now, into: &actions)
    }

    /// Everything released, the session aborted if one runs, latched `stopped` unless
    /// already latched.
    private mutating func stopSession(_ reason: StopReason, kind: Intervention.Kind, detail: String, at now: Duration,
                                      into actions: inout [GovernorAction]) {
        actions.append(.releaseAll)
        releaseEverything(at: now)
        haltMotion()
        if state.isRunning { actions.append(.abortSession(reason)) }
        if !state.isLatched { state = .stopped(reason) }
        easeEndsAt = nil
        report(kind, nil, detail, at: now, into: &actions)
    }

    /// Everything released, the session aborted if one runs, latched `faulted` unless
    /// already latched.
    private mutating func latchFault(_ reason: String, foot: Foot?, at now: Duration, into actions: inout [GovernorAction]) {
        actions.append(.releaseAll)
        releaseEverything(at: now)
        haltMotion()
        if state.isRunning { actions.append(.abortSession(.fault(reason))) }
        if !state.isLatched { state = .faulted(reason) }
        easeEndsAt = nil
        report(.fault, foot, reason, at: now, into: &actions)
    }

    // MARK: Place and dose

    /// How long before it reaches the governor an ease may have been asked for: a telemetry
    /// interval to hear a button and a loop turn (docs/safety.md, "Host reaction").
    static let easeLookBack = Duration.milliseconds(100)
    /// Telemetry within this of a move's end means the node has arrived.
    static let arrivedWithinMM = 1.0
    /// Measured above this, a spot counts as pressed (docs/safety.md §3): sensor noise is below it.
    static let pressedAboveKPa = 2.0
    /// A spot this close to its limit takes no new pressure: a press would be cut at once.
    static let restMargin = Duration.seconds(1)

    /// Lowering is never slowed: as fast as a valve opens, within what the wire can carry.
    private var fastLowering: Double {
        min(max(settings.deviceMaxKPa / 0.03, settings.maxRampKPaPerS), 6000)
    }

    /// The class of the place `channel` of `foot` presses, from the cap field: a zoned node's
    /// class; a gantry node's at its position, or the strictest on what is left of its move.
    /// Nil without a field. A gantry node whose position the governor does not know yet is
    /// taken to be anywhere: `high`.
    private func placeSensitivity(_ foot: Foot, channel: String) -> Sensitivity? {
        guard let field = settings.capField else { return nil }
        guard field.kind == .gantry else { return field.sensitivity(ofNode: channel) }
        guard let fs = feet[foot], let target = fs.position else { return .high }
        if let from = fs.moveFrom {
            // Until a sample comes from the new move, its start is anywhere it may have begun.
            if (fs.lastTelemetry ?? .zero) <= fs.movedAt, !fs.moveStarts.isEmpty {
                return fs.moveStarts.map { field.sensitivity(along: $0, to: target) }.max()!
            }
            return field.sensitivity(along: fs.seen ?? from, to: target)
        }
        return field.sensitivity(at: target)
    }

    /// Where a new move of `foot` may start: the latest telemetry's position and, while a move
    /// is under way, every place ahead of it on that move the node can have reached since
    /// (at the move's speed, half a millimetre of margin), a quarter millimetre apart. The
    /// device starts the new move from wherever it is, so each path from these is checked.
    private func possibleStarts(_ foot: Foot, at now: Duration) -> [DevicePoint] {
        guard let fs = feet[foot], let seen = fs.seen ?? fs.position else { return [] }
        guard fs.moveFrom != nil, let target = fs.position, let last = fs.lastTelemetry else { return [seen] }
        let left = seen.distance(to: target)
        let reach = min(left, fs.moveSpeed * max((now - last).seconds, 0) + 0.5)
        guard left > 0, reach > 0, reach.isFinite else { return [seen] }
        // Positions come from the device: bound the count before converting (Int traps).
        let n = Int(min((reach / 0.25).rounded(.up), 200))
        return (0...n).map { k in
            let f = reach * Double(k) / Double(n) / left
            return DevicePoint(u: seen.u + (target.u - seen.u) * f, v: seen.v + (target.v - seen.v) * f)
        }
    }

    /// A move while pressing: every channel above the cap along the path comes down to it first.
    private mutating func lowerForMove(_ foot: Foot, to: DevicePoint, sensitivity: Sensitivity, zone: String,
                                       at now: Duration, into actions: inout [GovernorAction]) {
        let cap = cap(for: sensitivity)
        for name in feet[foot]!.channelNames {
            let c = feet[foot]!.channels[name]!
            guard c.target > 0 else { continue }
            let stricter = max(c.sensitivity ?? sensitivity, sensitivity)
            // A lowering already under way fast enough (the compiler's own, before this move)
            // is what the rule asks for: nothing to do.
            let lowering = c.target <= cap && c.rampEnd <= now + .milliseconds(50)
            if !lowering && (c.target > cap || c.level(at: now) > cap) {
                report(.capClamped, foot, "move to u=\(num(to.u, 1)) v=\(num(to.v, 1)) while pressing: \(name) \(num(c.target, 1)) kPa lowered to the \(sensitivity.rawValue)-sensitivity cap of \(num(cap, 1)) kPa along the path [\(zone)]",
                       at: now, into: &actions)
                // A rise still under way keeps its own pace to the lower target: fast only downward.
                let lowered = min(c.target, cap)
                let rate = lowered < c.level(at: now) ? fastLowering : min(c.ramp.isFinite && c.ramp > 0 ? c.ramp : settings.maxRampKPaPerS, settings.maxRampKPaPerS)
                setChannel(foot, name, to: lowered, ramp: rate, at: now, sensitivity: stricter, zone: c.zone)
                actions.append(.apply(.pressure(channel: name, kPa: lowered, ramp: rate), foot: foot))
            } else {
                feet[foot]!.channels[name]!.sensitivity = stricter
            }
        }
    }

    /// Every channel of `foot` whose target stands above the cap of its class (the stricter of
    /// its label and its place) comes down to that cap: fast when the level is above it, at the
    /// rise's own pace when a rise has not reached it yet.
    private mutating func lowerToCaps(_ foot: Foot, why: String, at now: Duration, into actions: inout [GovernorAction]) {
        guard let fs = feet[foot] else { return }
        for name in fs.channelNames {
            let c = fs.channels[name]!
            guard c.target > 0 else { continue }
            let place = placeSensitivity(foot, channel: name)
            let strictest = max(c.sensitivity ?? place ?? .high, place ?? c.sensitivity ?? .high)
            let cap = cap(for: strictest), level = c.level(at: now)
            // Also a gentle lowering still above the new cap: it now goes down fast.
            guard c.target > cap || (level > cap && c.ramp < fastLowering) else { continue }
            let target = min(c.target, cap)
            let rate = target < level ? fastLowering : min(c.ramp.isFinite && c.ramp > 0 ? c.ramp : settings.maxRampKPaPerS, settings.maxRampKPaPerS)
            report(.capClamped, foot, "\(why): \(name) \(num(level, 1)) kPa lowered to the \(strictest.rawValue)-sensitivity cap of \(num(cap, 1)) kPa",
                   at: now, into: &actions)
            setChannel(foot, name, to: target, ramp: rate, at: now, sensitivity: strictest, zone: c.zone)
            actions.append(.apply(.pressure(channel: name, kPa: target, ramp: rate), foot: foot))
        }
    }

    /// Counts one telemetry interval toward the dose of the spot each channel presses; a spot
    /// at its limit releases the foot.
    private mutating func countDose(_ foot: Foot, _ t: Telemetry, from start: Duration, to now: Duration,
                                    into actions: inout [GovernorAction]) {
        guard let channels = feet[foot]?.channels else { return }
        // Released a little before the limit: the valve's tail still counts as pressed.
        let settle = Duration.milliseconds(Int64((3 * settings.valveTimeConstant * 1000).rounded(.up)) + 150)
        let limit = settings.limits.holdLimit - settle
        var over: (name: String, dose: Duration)?
        // Every channel that reads pressure counts, commanded by this governor or not: the
        // commanded ones, then the readings of channels it never commanded. No arrays, sets or
        // sorting: this runs on every sample; each channel's count is independent of the
        // others', and `over` takes the first name in order whatever order they come in.
        let readings = t.pressureKPa ?? [:]
        func count(_ name: String, _ c: Channel, _ kPa: Double) {
            let pressed = kPa > Self.pressedAboveKPa
            let place: DevicePoint?
            if name == DeviceProfile.nodeChannel {
                guard pressed else { dose.lifted(foot); return }
                dose.pressed(foot, at: t.position, from: start, to: now)
                place = t.position
            } else {
                guard pressed else { return }
                dose.pressed(foot, node: name, from: start, to: now)
                place = nil
            }
            // Only a channel still pressing is cut: a released one's tail counts, but is no press.
            guard c.target > 0, let spent = dose.exceeds(foot, channel: name, at: place, now: now, limit: limit) else { return }
            if over.map({ name < $0.name }) ?? true { over = (name, spent) }
        }
        for (name, c) in channels { count(name, c, readings[name] ?? c.level(at: now)) }
        for (name, kPa) in readings where channels[name] == nil { count(name, Channel(), kPa) }
        guard let over, state.isRunning else { return }
        actions.append(.release(foot: foot))
        releaseFoot(foot, at: now)
        dose.lifted(foot)
        let place = over.name == DeviceProfile.nodeChannel ? "the spot at u=\(num(t.position.u, 1)) v=\(num(t.position.v, 1))" : "node \(over.name)"
        report(.holdLimit, foot, "\(place) pressed \(num(over.dose.seconds, 1)) s within \(num(settings.doseWindow.seconds, 0)) s, at the \(num(settings.limits.holdLimit.seconds, 0)) s hold limit: released the foot; the spot rests",
               at: now, into: &actions)
    }

    /// Why `channel` of `foot` may not press now (its spot is resting), or nil.
    private mutating func restingSpot(_ foot: Foot, channel: String, at now: Duration) -> String? {
        let settle = Duration.milliseconds(Int64((3 * settings.valveTimeConstant * 1000).rounded(.up)) + 150)
        let limit = settings.limits.holdLimit - settle - Self.restMargin
        let spent: Duration
        let place: String
        if channel == DeviceProfile.nodeChannel {
            guard let fs = feet[foot], let p = fs.position ?? fs.seen else { return nil }
            spent = max(dose.dose(foot, near: p, at: now), fs.seen.map { dose.dose(foot, near: $0, at: now) } ?? .zero)
            place = "the spot at u=\(num(p.u, 1)) v=\(num(p.v, 1))"
        } else {
            spent = dose.dose(foot, node: channel, at: now)
            place = "node \(channel)"
        }
        guard spent >= limit else { return nil }
        return "\(place) was pressed \(num(spent.seconds, 1)) s within the last \(num(settings.doseWindow.seconds, 0)) s and rests (hold limit \(num(settings.limits.holdLimit.seconds, 0)) s)"
    }

    // MARK: Bookkeeping

    private mutating func clock(_ time: Duration) -> Duration {
        lastTime = max(time, lastTime)
        return lastTime
    }

    private mutating func report(_ kind: Intervention.Kind, _ foot: Foot?, _ detail: String, at now: Duration,
                                 into actions: inout [GovernorAction]) {
        let intervention = Intervention(time: now, kind: kind, foot: foot, detail: detail)
        interventions.append(intervention)
        actions.append(.report(intervention))
    }

    private mutating func setChannel(_ foot: Foot, _ name: String, to target: Double, ramp: Double, at now: Duration,
                                     sensitivity: Sensitivity?, zone: String) {
        var fs = feet[foot] ?? FootState()
        var c = fs.channels[name] ?? Channel()
        let level = c.level(at: now)
        if c.target > 0 && !(target > 0) { c.pressedUntil = now }
        c.from = level
        c.rampStart = now
        c.target = target
        c.ramp = ramp
        c.sensitivity = sensitivity
        c.zone = zone
        if target < level {
            // Measured pressure follows down with the valve's lag: allow the old level until
            // it has settled (docs/safety.md §1, "Measured pressure").
            let settle = Duration.milliseconds(Int64((3 * settings.valveTimeConstant * 1000).rounded(.up)) + 50)
            c.settleFrom = now < c.settleUntil ? max(c.settleFrom, level) : level
            c.settleUntil = c.rampEnd + settle
        }
        if target < level {
            // The contact force follows the pressure down: judge no pull-away until it settled.
            fs.forceSamples = []
            fs.forceQuietUntil = max(fs.forceQuietUntil, c.rampEnd + settings.pullAwayWindow)
        }
        fs.channels[name] = c
        feet[foot] = fs
    }

    /// A channel released (its valve opens): the device's setpoint is zero at once, and so is
    /// the governed level, so a later command ramps from where the device really starts (a
    /// "lowering" judged from a level the device no longer has would rise at the lowering's
    /// speed). The valve's tail is the over-pressure check's settling allowance.
    private mutating func releaseChannel(_ foot: Foot, _ name: String, at now: Duration) {
        let c = feet[foot]?.channels[name] ?? Channel()
        setChannel(foot, name, to: 0, ramp: .infinity, at: now, sensitivity: c.sensitivity, zone: c.zone)
        feet[foot]?.channels[name]?.from = 0
    }

    private mutating func releaseFoot(_ foot: Foot, at now: Duration) {
        guard let names = feet[foot]?.channels.keys else { return }
        for name in names { releaseChannel(foot, name, at: now) }
        feet[foot]?.easingUntil = nil
    }

    private mutating func releaseEverything(at now: Duration) {
        for foot in Foot.allCases { releaseFoot(foot, at: now) }
    }

    /// A release of everything halts motion where it is (DESIGN.md): the node is no longer
    /// going where the last move went, and where it stopped is known from the next telemetry.
    private mutating func haltMotion() {
        for foot in Foot.allCases where feet[foot] != nil {
            feet[foot]!.moveFrom = nil
            feet[foot]!.position = nil
        }
    }
}

/// e^x without Foundation (the core stays pure): halve x until small, sum the series, square back.
func exponential(_ x: Double) -> Double {
    guard x.isFinite else { return x > 0 ? .infinity : 0 }
    guard x > -700 else { return 0 }
    var reduced = x, squarings = 0
    while abs(reduced) > 0.5 && squarings < 64 { reduced /= 2; squarings += 1 }
    var term = 1.0, sum = 1.0
    for n in 1..<16 { term *= reduced / Double(n); sum += term }
    for _ in 0..<squarings { sum *= sum }
    return sum
}

// MARK: - Text that never traps

/// `fixed` for numbers that come from outside (commands, telemetry): NaN, infinities and
/// absurd magnitudes are printed as they are instead of trapping in `fixed`.
private func num(_ value: Double, _ decimals: Int) -> String {
    value.isFinite && abs(value) < 1e12 ? fixed(value, decimals) : "\(value)"
}

/// `clockText` for any duration: a negative one (a due time before the session started)
/// would trap there.
private func timeText(_ d: Duration, millis: Bool = false) -> String {
    d < .zero ? "-" + clockText(.zero - d, millis: millis) : clockText(d, millis: millis)
}

private func describe(_ command: ActuatorCommand) -> String {
    switch command {
    case .move(let p, let speed): "move u=\(num(p.u, 1)) v=\(num(p.v, 1)) speed=\(num(speed, 1))"
    case .pressure(let channel, let kPa, let ramp): "pressure \(channel) \(num(kPa, 1)) kPa ramp=\(num(ramp, 1))"
    case .release(let channel): "release \(channel)"
    }
}

// MARK: - Per foot and channel state

/// A value per foot in two stored properties, not a dictionary: the governor reads and
/// writes its feet on every telemetry sample, and hashing was most of a simulation's time.
/// `_modify` lets `feet[foot]!.x = y` change the value in place.
struct PerFoot<Value: Sendable>: Sendable {
    private var left: Value
    private var right: Value

    init(_ initial: Value) {
        left = initial
        right = initial
    }

    subscript(_ foot: Foot) -> Value {
        // `_read` lends the value: `feet[foot]?.measured` reads in place instead of copying the
        // whole foot's state (its dictionaries retained and released) on every sample.
        _read {
            if foot == .left { yield left } else { yield right }
        }
        _modify {
            if foot == .left { yield &left } else { yield &right }
        }
    }
}

extension PerFoot {
    /// Nothing for either foot yet.
    init<Wrapped>() where Value == Wrapped? { self.init(nil) }

    /// As a dictionary's `subscript(_:default:)`, changed in place.
    subscript<Wrapped>(_ foot: Foot, default value: @autoclosure () -> Wrapped) -> Wrapped where Value == Wrapped? {
        get { self[foot] ?? value() }
        _modify {
            if foot == .left {
                if left == nil { left = value() }
                yield &left!
            } else {
                if right == nil { right = value() }
                yield &right!
            }
        }
    }
}

extension Governor {
    /// What the governor let through for one pressure channel, and what it measured there.
    struct Channel: Sendable {
        /// The setpoint let through (kPa).
        var target = 0.0
        /// The governed level when `target` was set, and when, and how fast it moves (kPa/s).
        var from = 0.0
        var rampStart: Duration = .zero
        var ramp = Double.infinity
        /// The zone the channel serves, and its class (selects the cap).
        var sensitivity: Sensitivity?
        var zone = ""
        /// When the channel last stopped pressing (its target went to zero).
        var pressedUntil: Duration = .zero
        /// A level just lowered from, allowed to the measured pressure until `settleUntil`.
        var settleFrom = 0.0
        var settleUntil: Duration = .zero
        /// Measured above the over-pressure limit since; whether that was faulted already.
        var overSince: Duration?
        var overFaulted = false

        /// The governed pressure at `t`: the ramp from `from` toward `target`.
        func level(at t: Duration) -> Double {
            guard target != from else { return target }
            let dt = (t - rampStart).seconds
            guard dt > 0 else { return from }
            let change = ramp * dt
            return target > from ? min(target, from + change) : max(target, from - change)
        }

        /// When the current ramp reaches its target.
        var rampEnd: Duration {
            guard ramp.isFinite, ramp > 0, target != from else { return rampStart }
            let seconds = min(abs(target - from) / ramp, 24 * 3600)
            return rampStart + .milliseconds(Int64((seconds * 1000).rounded(.up)))
        }
    }

    struct ForceSample: Sendable {
        var time: Duration
        var force: Double
    }

    struct FootState: Sendable {
        var channels: [String: Channel] = [:]
        /// Where the last move let through was going.
        var position: DevicePoint?
        /// Where that move started, while it is under way (nil once telemetry shows arrival).
        var moveFrom: DevicePoint?
        /// That move's speed (mm/s), the most the node travels per second along it.
        var moveSpeed = 0.0
        /// Where that move may have begun (`possibleStarts`), and when it was let through.
        var moveStarts: [DevicePoint] = []
        var movedAt: Duration = .zero
        /// The node's position in the latest telemetry.
        var seen: DevicePoint?
        /// The latest measured pressure per channel, and the sample's before it (when recent).
        var measured: [String: Double] = [:]
        var measuredBefore: [String: Double] = [:]
        /// Left the device while pressed at this time, and not back yet.
        var awaySince: Duration?
        /// Whether the foot was on the device at the last telemetry (nil before any).
        var present: Bool?
        var lastTelemetry: Duration?
        /// Recent contact force while pressing steadily, for pull-away detection.
        var forceSamples: [ForceSample] = []
        /// Force readings before this are not judged (the pressure was lowered).
        var forceQuietUntil: Duration = .zero
        /// The last telemetry had a missing or out-of-range pressure reading.
        var sensorFault = false
        /// An ease-off ramp runs on this foot until then.
        var easingUntil: Duration?

        var pressing: Bool { channels.values.contains { $0.target > 0 } }
        /// Channel names in a fixed order, so actions come out the same every run.
        var channelNames: [String] { channels.keys.sorted() }
    }
}
