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
/// - pressure is clamped to `cap(for:)` of the zone's sensitivity class, and a rise is never
///   faster than the device's ramp limit (lowering is never slowed);
/// - the discomfort switch, an operator stop, escalated discomfort, auto-off and faults
///   release everything and latch; `rearm` leaves a latch only when the switch is not held and
///   no fault is present, and only to `idle`: it never resumes a routine;
/// - an ease (button, API, pull-away) lowers the pressure by `easeFraction` within `easeWithin`
///   and lowers the caps for the rest of the governor's life.
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
    private var feet: [Foot: FootState] = [:]
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
    /// When the current ease-off ramp ends.
    private var easeEndsAt: Duration?

    public init(settings: GovernorSettings) {
        self.settings = settings.sanitized
    }

    // MARK: Queries

    /// The pressure cap in force now for a zone sensitivity class (kPa): the base cap times
    /// the person's sensitivity factor, times 0.6 with reduced sensation, times every ease's
    /// factors so far, and never above the device's ceiling.
    public func cap(for sensitivity: Sensitivity) -> Double {
        let person = settings.caps[sensitivity] * settings.sensitivityFactor
            * (settings.reducedSensation ? PressureCaps.reducedSensationFactor : 1)
        return min(person * sessionEaseFactor * (classEaseFactor[sensitivity] ?? 1), settings.deviceMaxKPa)
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
        for foot in Foot.allCases {
            guard let fs = feet[foot] else { continue }
            if fs.pressing { deadline = min(deadline, max(fs.lastTelemetry ?? armedAt, armedAt) + settings.telemetryTimeout + ms) }
            for c in fs.channels.values { if let start = c.holdStart { deadline = min(deadline, start + settings.limits.holdLimit + ms) } }
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

        case .move(let to, _):
            guard beginIfArmed() else {
                report(.blocked, foot, "\(describe(entry.command)) refused: \(state)", at: now, into: &actions)
                return actions
            }
            if feet[foot] == nil { feet[foot] = FootState() }
            if feet[foot]!.position != to {
                // A new point: any press goes on somewhere else, so its hold starts over.
                for name in feet[foot]!.channelNames where feet[foot]!.channels[name]!.target > 0 {
                    feet[foot]!.channels[name]!.holdStart = now
                }
            }
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
            let easeScale = sessionEaseFactor * (classEaseFactor[entry.sensitivity] ?? 1)
            var target = max(kPa, 0) * easeScale
            let cap = cap(for: entry.sensitivity)
            if target > cap {
                report(.capClamped, foot, "pressure \(name) \(num(kPa, 1)) kPa lowered to the \(entry.sensitivity.rawValue)-sensitivity cap of \(num(cap, 1)) kPa [\(entry.zone)]", at: now, into: &actions)
                target = cap
            }
            let fs = feet[foot, default: FootState()]
            if target > 0, fs.present == false {
                report(.blocked, foot, "pressure \(name) refused: the \(foot.rawValue) foot is not on the device", at: now, into: &actions)
                return actions
            }
            let channel = fs.channels[name] ?? Channel()
            let level = channel.level(at: now)
            var rate = ramp
            if let until = fs.easingUntil, now < until {
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
                if rate.isNaN || rate <= 0 {
                    report(.rampLimited, foot, "pressure \(name) ramp \(num(rate, 1)) kPa/s is not a rate: set to \(num(maxRamp, 1)) kPa/s", at: now, into: &actions)
                    rate = maxRamp
                } else if rate > maxRamp {
                    report(.rampLimited, foot, "pressure \(name) ramp \(num(rate, 1)) kPa/s slowed to the device's \(num(maxRamp, 1)) kPa/s", at: now, into: &actions)
                    rate = maxRamp
                }
            } else if !(rate.isFinite && rate > 0) {
                // Lowering is never slowed; a missing rate means as fast as the ease-off.
                rate = max(settings.deviceMaxKPa / settings.easeWithin.seconds, settings.maxRampKPaPerS)
            }
            setChannel(foot, name, to: target, ramp: rate, at: now, sensitivity: entry.sensitivity, zone: entry.zone)
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
        feet[foot, default: FootState()].lastTelemetry = now

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
        for (name, measured) in t.pressureKPa ?? [:] {
            let known = feet[foot]!.channels[name]
            var c = known ?? Channel()
            let limit = max(cap(for: c.sensitivity ?? .low), c.level(at: now)) * settings.overPressureFactor
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

        feet[foot]!.present = t.footPresent
        guard state.isRunning, feet[foot]!.pressing else {
            feet[foot]!.forceSamples = []
            return actions
        }
        if !t.footPresent {
            actions.append(.release(foot: foot))
            releaseFoot(foot, at: now)
            easeOff(source: "pull-away: the \(foot.rawValue) foot left the device while pressed (released it)",
                    foot: foot, at: now, into: &actions)
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
            guard let fs = feet[foot] else { continue }
            // Runs on every event: a plain scan, no intermediate collections.
            var over: String?
            for (name, c) in fs.channels {
                guard let start = c.holdStart, now - start > settings.limits.holdLimit else { continue }
                if over == nil || name < over! { over = name }
            }
            if let name = over {
                let held = now - fs.channels[name]!.holdStart!
                actions.append(.release(foot: foot))
                releaseFoot(foot, at: now)
                report(.holdLimit, foot, "\(name) pressed at one point for \(num(held.seconds, 3)) s, over the \(num(settings.limits.holdLimit.seconds, 0)) s hold limit: released the foot",
                       at: now, into: &actions)
            }
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

    private var latestTelemetry: Duration {
        var latest = armedAt
        for foot in Foot.allCases { if let t = feet[foot]?.lastTelemetry, t > latest { latest = t } }
        return latest
    }

    private func telemetryOverdue(at now: Duration) -> String? {
        let timeout = settings.telemetryTimeout
        if now - latestTelemetry > timeout {
            return "no telemetry for \((now - latestTelemetry).milliseconds) ms (limit \(timeout.milliseconds) ms)"
        }
        for foot in Foot.allCases {
            guard let fs = feet[foot], fs.pressing else { continue }
            let last = max(fs.lastTelemetry ?? armedAt, armedAt)
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
        if discomfortSignals.count >= settings.escalationCount {
            stopSession(.escalated, kind: .escalatedStop,
                        detail: "\(discomfortSignals.count) discomfort signals within \(num(settings.escalationWindow.seconds, 0)) s (last: \(source)): everything released",
                        at: now, into: &actions)
            return
        }
        let eased = foot.map { [$0] } ?? Foot.allCases
        var worked = Set<Sensitivity>()
        for f in eased {
            for c in (feet[f]?.channels ?? [:]).values where c.target > 0 || c.level(at: now) > 0 {
                worked.insert(c.sensitivity ?? .high)
            }
        }
        sessionEaseFactor *= settings.easeCapFactor
        for s in worked { classEaseFactor[s, default: 1] *= settings.easeZoneCapFactor }

        var easing = false
        let within = settings.easeWithin
        for f in eased {
            guard let fs = feet[f] else { continue }
            for name in fs.channelNames {
                let c = fs.channels[name]!
                let level = c.level(at: now)
                guard level > 0 || c.target > 0 else { continue }
                let target = min(level * (1 - settings.easeFraction), c.target, cap(for: c.sensitivity ?? .high))
                guard target < level || target < c.target else { continue }
                let needed = (level - target) / within.seconds
                let rate = needed > 0 ? needed : settings.maxRampKPaPerS
                setChannel(f, name, to: target, ramp: rate, at: now, sensitivity: c.sensitivity, zone: c.zone)
                feet[f]!.easingUntil = now + within
                actions.append(.apply(.pressure(channel: name, kPa: target, ramp: rate), foot: f))
                easing = true
            }
        }
        if easing {
            state = .easing
            easeEndsAt = now + within
        }
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
        if state.isRunning { actions.append(.abortSession(.fault(reason))) }
        if !state.isLatched { state = .faulted(reason) }
        easeEndsAt = nil
        report(.fault, foot, reason, at: now, into: &actions)
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
        c.from = level
        c.rampStart = now
        c.target = target
        c.ramp = ramp
        c.sensitivity = sensitivity
        c.zone = zone
        if target > 0 {
            if c.holdStart == nil { c.holdStart = now }
        } else {
            c.holdStart = nil
        }
        if target < level {
            // The contact force follows the pressure down: judge no pull-away until it settled.
            fs.forceSamples = []
            fs.forceQuietUntil = max(fs.forceQuietUntil, c.rampEnd + settings.pullAwayWindow)
        }
        fs.channels[name] = c
        feet[foot] = fs
    }

    /// A channel released (its valve opens): the governed level falls to zero within
    /// `easeWithin`, the time the over-pressure check allows it.
    private mutating func releaseChannel(_ foot: Foot, _ name: String, at now: Duration) {
        let c = feet[foot]?.channels[name] ?? Channel()
        let level = c.level(at: now)
        setChannel(foot, name, to: 0, ramp: max(level / settings.easeWithin.seconds, settings.maxRampKPaPerS), at: now,
                   sensitivity: c.sensitivity, zone: c.zone)
    }

    private mutating func releaseFoot(_ foot: Foot, at now: Duration) {
        guard let names = feet[foot]?.channels.keys else { return }
        for name in names { releaseChannel(foot, name, at: now) }
        feet[foot]?.easingUntil = nil
    }

    private mutating func releaseEverything(at now: Duration) {
        for foot in Foot.allCases { releaseFoot(foot, at: now) }
    }
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
        /// Pressing at one point since (nil when the setpoint is 0).
        var holdStart: Duration?
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
