import Foundation
import PlantarCore

/// The independent safety oracle: checks a device log against docs/safety.md.
///
/// It recomputes everything from the doc: where the node presses and which zones' regions
/// contain it (`CapMap`), the caps there (`OracleCaps`), the dose per spot, what ease, stop,
/// pause and resume require. It reads the foot map, the profile's plain values, the person's
/// settings and the routine's own commands (for resume); it never calls the governor or the
/// compiler and never reads the timeline's zone labels.
public struct Oracle: Sendable {
    /// A command of the routine as compiled: when it is due (s from the session's start) and
    /// what it asks. Only resume needs these (what the routine has in force at an instant).
    public struct RoutineCommand: Sendable, Hashable {
        public var offset: Double
        public var foot: Foot
        public var command: ActuatorCommand
        public init(offset: Double, foot: Foot, command: ActuatorCommand) {
            self.offset = offset
            self.foot = foot
            self.command = command
        }
    }

    public let profile: DeviceProfile
    public let settings: OracleSettings
    public let caps: CapMap
    public let routine: [RoutineCommand]
    /// Whether the device reports measured pressure; where it does not, the setpoint stands
    /// in for it (docs/safety.md §3).
    public let measuresPressure: Bool

    /// The profile's `contact-radius-mm` (docs/safety.md §1): a value the integrator wrote
    /// (or the loader's documented default), not anything the governor computed.
    public static func defaultContactRadius(for profile: DeviceProfile) -> Double {
        profile.contactRadiusMM
    }

    public init(map: FootMap, profile: DeviceProfile, footLengthMM: Double, settings: OracleSettings,
                contactRadiusMM: Double? = nil, routine: [RoutineCommand] = [], measuresPressure: Bool? = nil) {
        self.profile = profile
        self.settings = settings
        self.routine = routine.sorted { $0.offset < $1.offset }
        self.measuresPressure = measuresPressure ?? profile.inputs.contains(.pressureSensor)
        caps = CapMap(map: map, footLengthMM: footLengthMM, heelOffsetMM: profile.heelOffsetMM,
                      contactRadiusMM: contactRadiusMM ?? Self.defaultContactRadius(for: profile),
                      surfaces: profile.kind == .gantry ? profile.reach : nil)
    }

    /// The cap of a class for this person before any ease (kPa).
    public func cap(_ s: Sensitivity) -> Double {
        min(OracleCaps.base(s) * settings.personFactor, max(profile.pressure.maxKPa, 0))
    }

    /// Every violation in the log, in time order.
    public func check(_ log: DeviceLog) -> [Violation] {
        var checker = Checker(oracle: self)
        // In time order; stable, so at equal times the device's own order stands. A device
        // log is already in order, and then it is not copied.
        var ordered = true
        var last = -Double.infinity
        for r in log.records { if r.time < last { ordered = false; break }; last = r.time }
        if ordered {
            for record in log.records { checker.take(record) }
        } else {
            let records = log.records.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            for (_, record) in records { checker.take(record) }
        }
        checker.finish()
        return checker.violations.sorted { ($0.time, $0.rule) < ($1.time, $1.rule) }
    }

    // MARK: Allowances (docs/safety.md states each; see "How the oracle reads this page")

    /// How long after an event the host may take to act on it: one 50 ms telemetry interval
    /// to hear of it plus one 50 ms loop turn.
    static let hostReaction = 0.1
    /// A pause, resume or pull-away shifts the routine; its instants are known to within this.
    static let routineSlack = 0.15
    /// Sensor noise allowance for "lower" and "did not rise" comparisons (kPa).
    static let noiseKPa = 0.5
    /// A spot counts as pressed above this (kPa).
    static let pressedKPa = 2.0
    /// Dose window (s).
    static let doseWindow = 120.0
    /// Ease window (s) and the relief it must bring.
    static let easeWindow = 0.3
    static let easeRelief = 0.6
    /// Escalation: this many discomfort signals within this many seconds stop the session.
    static let escalationCount = 3
    static let escalationWindow = 60.0
    /// A foot gone this long after a pull-away ends the session (s).
    static let pullAwayLimit = 120.0

    /// The part of a pressure still measured `seconds` after its valve opened: the valve's
    /// first-order lag, `e^(−seconds / valve-time-constant-s)`.
    func ventedFraction(over seconds: Double) -> Double {
        let tau = profile.pressure.valveTimeConstant
        guard tau.isFinite, tau > 0 else { return 0 }
        return exp(-max(seconds, 0) / tau)
    }

    /// `3 × valve-time-constant-s + 50 ms`.
    var settling: Double {
        let tau = profile.pressure.valveTimeConstant
        return 3 * (tau.isFinite && tau > 0 ? tau : 0) + 0.05
    }
}

/// One pass over the log, in time order.
struct Checker {
    let oracle: Oracle
    var violations: [Violation] = []
    private var open: [Key: Int] = [:]

    struct Key: Hashable { var rule: SafetyRule; var foot: Foot?; var channel: String? }

    struct Channel {
        var setpoint = 0.0
        var ramped = 0.0
        var rampRate = 0.0
        var measured: Double?
        var sampledAt = -Double.infinity
        var commandedAt = -Double.infinity
        /// Caps in force at recent samples, for the settling allowance: (time, kPa).
        var capHistory: [(Double, Double)] = []
        /// Whether a pressure command came since the last stop trigger (for stop vs latch).
        var pressedSince = false

        /// Where the device's ramp is at `t`, from the last sample and the last command.
        func rampEstimate(at t: Double) -> Double {
            let since = max(0, t - max(sampledAt, commandedAt))
            guard since.isFinite else { return ramped }
            // The ramp bounds the change both ways (docs/serial-protocol.md, `pressure`): a
            // lowering with a slow ramp is still on its way down.
            if setpoint > ramped { return min(setpoint, ramped + rampRate * since) }
            return max(setpoint, ramped - rampRate * since)
        }
    }

    struct Move { var from: DevicePoint; var to: DevicePoint; var sensitivity: Sensitivity }

    struct FootTrack {
        var position = DevicePoint.home
        var present = true
        var lastSample = -Double.infinity
        var channels: [String: Channel] = [:]
        var move: Move?
        /// A pull-away while pressed: since when the foot is gone.
        var goneSince: Double?
    }

    struct Ease {
        var time: Double
        var foot: Foot
        /// Per channel: the pressure the relief is measured from (lower of measured and ramp).
        var from: [String: Double]
        var measuredAtEase: [String: Double]
        /// Per channel: the latest reading inside the window (a rise may come right at its end,
        /// before the first sample after it).
        var lastInWindow: [String: Double] = [:]
        var reliefChecked = false
    }

    struct Stop { var time: Double; var deadline: Double; var why: String; var rule: SafetyRule }

    var feet: [Foot: FootTrack] = [:] { didSet { anyGone = feet.values.contains { $0.goneSince != nil } } }
    /// Whether some foot is gone after a pull-away (kept so most records skip the check).
    var anyGone = false
    var nodeClass: [String: Sensitivity] = [:]
    var capFactorAll = 1.0
    var capFactorClass: [Sensitivity: Double] = [:]
    /// Ease factors that take effect at a time (after the host's reaction).
    var pendingFactors: [(at: Double, classes: Set<Sensitivity>)] = []
    var eases: [Ease] = []
    var signals: [Double] = []

    var armed = false
    var armTime = 0.0
    var sawCommandSinceArm = false
    var autoOffDone = false
    /// Latched since (a stop trigger or a release-all): nothing may press until the next arm.
    var stop: Stop?
    /// A stop the host must carry out, until its release-all reaches the device.
    var mustRelease: Stop?
    var pausedSince: Double?
    var pausedTotal = 0.0
    /// The last resume: when, and whether it ended a pull-away's pause (for the wording).
    var resumedAt = 0.0
    var resumedAfterPullAway = false
    /// After a resume: per foot and channel, the time before which the routine had it at rest.
    var restUntil: [Foot: [String: Double]] = [:]
    var sampleInterval = 0.05
    var dose: Dose

    init(oracle: Oracle) {
        self.oracle = oracle
        dose = Dose(limit: oracle.settings.holdLimit + oracle.settling + 0.05)
        if oracle.profile.kind == .zoned {
            for node in oracle.profile.nodes { nodeClass[node.id] = oracle.caps.sensitivity(ofNode: node) }
        }
        for foot in oracle.profile.feet { feet[foot] = FootTrack() }
    }

    // MARK: Caps in force

    /// docs/safety.md §1: a class's cap, lowered by the eases, and never above the cap of a
    /// less sensitive class.
    func capKPa(_ s: Sensitivity) -> Double {
        let own = oracle.cap(s) * capFactorAll * (capFactorClass[s] ?? 1)
        switch s {
        case .low: return own
        case .moderate: return min(own, capKPa(.low))
        case .high: return min(own, capKPa(.moderate))
        }
    }

    /// The class at a foot's node now: the swept segment during a move, the point otherwise.
    func placeClass(_ track: FootTrack, channel: String) -> (Sensitivity, SafetyRule) {
        if oracle.profile.kind == .zoned { return (nodeClass[channel] ?? .high, .capOnNode) }
        if let m = track.move { return (m.sensitivity, .capOnPath) }
        return (oracle.caps.sensitivity(at: track.position), .capByPlace)
    }

    /// Where, in words (only built for a violation).
    func placeText(_ track: FootTrack, channel: String) -> String {
        Self.placeText(oracle.profile.kind, track.position, track.move, channel, oracle.caps)
    }

    /// The place and the regions there, e.g. `u=74.9 v=0.0 (spine-lumbar high, spine-sacral low)`.
    static func placeText(_ kind: DeviceKind, _ position: DevicePoint, _ move: Move?, _ channel: String, _ caps: CapMap) -> String {
        if kind == .zoned { return "node \(channel)" }
        if let m = move { return "move \(m.from.placeText) → \(m.to.placeText)" }
        let zones = caps.zones(at: position).map { "\($0.zone) \($0.sensitivity.rawValue)" }
        return position.placeText + " (" + (zones.isEmpty ? "no zone" : zones.joined(separator: ", ")) + ")"
    }

    // MARK: Records

    mutating func take(_ record: DeviceLog.Record) {
        let t = record.time
        applyFactors(upTo: t)
        if armed && !autoOffDone && t >= armTime + oracle.settings.autoOff {
            autoOffDone = true
            trigger(at: armTime + oracle.settings.autoOff, deadline: armTime + oracle.settings.autoOff + Oracle.hostReaction,
                    why: "auto-off after \(fixed(oracle.settings.autoOff, 0)) s", rule: .autoOff)
        }
        for foot in Foot.allCases where anyGone {
            if let gone = feet[foot]?.goneSince, armed, stop == nil, t >= gone + Oracle.pullAwayLimit {
                trigger(at: gone + Oracle.pullAwayLimit, deadline: gone + Oracle.pullAwayLimit + Oracle.hostReaction,
                        why: "the \(foot.rawValue) foot did not return within 2 minutes", rule: .pullAway)
            }
        }
        if let m = mustRelease, t > m.deadline + 1e-9 {
            mustRelease = nil
            note(m.rule, m.deadline, nil, nil, "", t - m.time, Oracle.hostReaction, "s",
                 "the session did not stop: no release-all reached the device within 100 ms of the stop at \(fixed(m.time, 3)) s (\(m.why))")
        }
        switch record {
        case .sample(let s): sample(s)
        case .command(let c): command(c)
        case .arm(let t): arm(at: t)
        case .releaseAll(let t, let reason):
            mustRelease = nil
            trigger(at: t, deadline: t + Oracle.hostReaction, why: "release-all (\(reason))", ends: false)
            armed = false
            releasedByDevice()
        case .input(let t, let input):
            switch input {
            case .switchPress:
                // The device releases itself (the reflex): the very next sample shows it.
                trigger(at: t, deadline: t, why: "discomfort switch", ends: false)
                releasedByDevice()
            case .ease:
                ease(at: t, feet: Array(feet.keys))
            case .sensorFault where oracle.measuresPressure:
                trigger(at: t, deadline: t + sampleInterval + Oracle.hostReaction, why: "sensor fault")
            case .switchRelease, .pullAway, .footReturn, .sensorFault:
                break   // presence is read from the samples; a release does not re-arm
            }
        case .request(let t, let request, let foot):
            switch request {
            case .pause:
                if armed && stop == nil && pausedSince == nil { pausedSince = t }
            case .resume:
                if let since = pausedSince, feet.values.allSatisfy({ $0.goneSince == nil }) {
                    resume(at: t, pausedFor: t - since)
                }
            case .ease:
                ease(at: t, feet: foot.map { [$0] } ?? Array(feet.keys))
            case .stop:
                trigger(at: t, deadline: t + Oracle.hostReaction, why: "operator stop")
            }
        }
    }

    /// The device recorded that it put every output to rest (release-all, the switch's
    /// reflex): until its next sample, that is what it holds. Motion halts too.
    mutating func releasedByDevice() {
        for foot in feet.keys {
            feet[foot]!.move = nil
            for ch in feet[foot]!.channels.keys {
                feet[foot]!.channels[ch]!.setpoint = 0
                feet[foot]!.channels[ch]!.ramped = 0
            }
        }
    }

    mutating func arm(at t: Double) {
        armed = true
        mustRelease = nil
        armTime = t
        sawCommandSinceArm = false
        autoOffDone = false
        stop = nil
        pausedSince = nil
        pausedTotal = 0
        restUntil = [:]
        eases = []
        signals = []
        pendingFactors = []
        capFactorAll = 1
        capFactorClass = [:]
        for foot in feet.keys {
            feet[foot]!.goneSince = nil
            for ch in feet[foot]!.channels.keys { feet[foot]!.channels[ch]!.pressedSince = false }
        }
    }

    /// A stop of any kind: latched from `time`; outputs must read zero from `deadline`.
    /// `ends`: the host must end the session, which reaches the device as a release-all by
    /// the deadline (the switch's reflex and a release-all itself need none).
    mutating func trigger(at time: Double, deadline: Double, why: String, rule: SafetyRule = .stop, ends: Bool = true) {
        if ends && armed && mustRelease == nil { mustRelease = Stop(time: time, deadline: deadline, why: why, rule: rule) }
        if let s = stop, s.time <= time { return }
        stop = Stop(time: time, deadline: deadline, why: why, rule: rule)
        pausedSince = nil
        for foot in feet.keys {
            for ch in feet[foot]!.channels.keys { feet[foot]!.channels[ch]!.pressedSince = false }
        }
    }

    mutating func applyFactors(upTo t: Double) {
        while let first = pendingFactors.first, first.at <= t {
            pendingFactors.removeFirst()
            capFactorAll *= 0.8
            for c in first.classes { capFactorClass[c, default: 1] *= 0.7 }
        }
    }

    /// An ease on `eased` feet at `t` (button, request, pull-away).
    mutating func ease(at t: Double, feet eased: [Foot]) {
        guard armed, stop == nil else { return }
        var classes: Set<Sensitivity> = []
        for foot in eased.sorted() {
            guard let track = feet[foot] else { continue }
            var from: [String: Double] = [:], measured: [String: Double] = [:]
            for (name, ch) in track.channels {
                let m = ch.measured ?? ch.setpoint
                from[name] = min(m, ch.rampEstimate(at: t))
                measured[name] = m
                if ch.setpoint > 0 || m > Oracle.pressedKPa { classes.insert(placeClass(track, channel: name).0) }
            }
            eases.append(Ease(time: t, foot: foot, from: from, measuredAtEase: measured))
        }
        pendingFactors.append((t + Oracle.hostReaction, classes))
        pendingFactors.sort { $0.at < $1.at }
        // Escalation: simultaneous signals (both feet leaving at once) count once.
        if signals.last != t { signals.append(t) }
        signals.removeAll { $0 < t - Oracle.escalationWindow }
        if signals.count >= Oracle.escalationCount {
            trigger(at: t, deadline: t + Oracle.hostReaction, why: "\(Oracle.escalationCount) discomfort signals within 60 s")
        }
    }

    /// Resume after `pausedFor`: what the routine had at rest stays at rest until its next press.
    mutating func resume(at t: Double, pausedFor: Double, afterPullAway: Bool = false) {
        pausedSince = nil
        resumedAfterPullAway = afterPullAway
        resumedAt = t
        pausedTotal += max(0, pausedFor)
        let routineTime = t - armTime - pausedTotal
        restUntil = [:]
        guard !oracle.routine.isEmpty else { return }
        for foot in oracle.profile.feet {
            for channel in oracle.profile.channels {
                var inForce = false
                var next: Double?
                for rc in oracle.routine where rc.foot == foot {
                    switch rc.command {
                    case .pressure(let ch, let kPa, _) where ch == channel:
                        if rc.offset <= routineTime { inForce = kPa > 0 } else if kPa > 0 && next == nil { next = rc.offset }
                    case .release(let ch) where ch == channel:
                        if rc.offset <= routineTime { inForce = false }
                    default: break
                    }
                }
                if !inForce {
                    restUntil[foot, default: [:]][channel] = next.map { armTime + $0 + pausedTotal - Oracle.routineSlack } ?? .infinity
                }
            }
        }
    }

    // MARK: Commands

    mutating func command(_ c: DeviceLog.Command) {
        let t = c.time
        guard var track = feet[c.foot] else { return }
        switch c.command {
        case .move(let to, _):
            let from = c.from ?? track.position
            guard from.u.isFinite, from.v.isFinite, to.u.isFinite, to.v.isFinite else { return }
            track.position = from
            let s = oracle.caps.sensitivity(along: from, to)
            track.move = from.distance(to: to) > 1e-6 ? Checker.Move(from: from, to: to, sensitivity: s) : nil
            feet[c.foot] = track
            for (name, ch) in track.channels where ch.setpoint > 0 {
                checkCap(track, foot: c.foot, channel: name, setpoint: ch.setpoint, at: t)
            }
        case .pressure(let name, let kPa, let ramp):
            // Where the device says its node was when the command arrived: what is left of a
            // move is the path from there on (the part behind it was checked sample by sample).
            if let p = c.from, p.u.isFinite, p.v.isFinite {
                track.position = p
                if let m = track.move {
                    track.move = p.distance(to: m.to) < 1e-3 ? nil
                        : Checker.Move(from: p, to: m.to, sensitivity: oracle.caps.sensitivity(along: p, m.to))
                }
                feet[c.foot] = track
            }
            var ch = track.channels[name] ?? Channel()
            let before = ch.rampEstimate(at: t)
            let rising = !(kPa <= before)
            if armed && !sawCommandSinceArm { startAtRest(at: t) }
            sawCommandSinceArm = true
            if rising && !(ramp <= oracle.profile.pressure.maxRampKPaPerS * (1 + 1e-9) + 1e-9) {
                note(.ramp, t, c.foot, name, track.position.placeText, ramp, oracle.profile.pressure.maxRampKPaPerS, "kPa/s",
                     "a rise asked for faster than max-ramp-kpa-s")
            }
            if kPa > 0 {
                if let s = stop {
                    note(.latch, t, c.foot, name, "", kPa, 0, "kPa", "pressure after the stop at \(fixed(s.time, 3)) s (\(s.why)) with no new session armed")
                } else if !armed {
                    note(.latch, t, c.foot, name, "", kPa, 0, "kPa", "pressure with no armed session")
                }
                if let p = pausedSince, t > p + Oracle.hostReaction {
                    note(.pause, t, c.foot, name, "", kPa, 0, "kPa", "pressure during the pause since \(fixed(p, 3)) s")
                }
                if let until = restUntil[c.foot]?[name], t < until {
                    let next = until.isFinite ? "its next press is due at \(fixed(until + Oracle.routineSlack, 3)) s" : "the routine never presses it again"
                    note(.resume, t, c.foot, name, "", kPa, 0, "kPa", resumedAfterPullAway
                         ? "pressed before the routine's time: the session should have paused while the foot was away, and the routine had this channel at rest at the return at \(fixed(resumedAt, 3)) s (\(next))"
                         : "resume at \(fixed(resumedAt, 3)) s pressed a channel the routine had at rest (\(next))")
                }
                if let gone = pullAwayPause(), t > gone + Oracle.hostReaction {
                    note(.pullAway, t, c.foot, name, "", kPa, 0, "kPa", "pressure while a foot that pulled away is gone (since \(fixed(gone, 3)) s)")
                }
            }
            if rising {
                for e in eases where e.foot == c.foot && t > e.time && t <= e.time + Oracle.easeWindow + 1e-9 {
                    note(.easeRise, t, c.foot, name, "", kPa, before, "kPa", "a rise asked for within 300 ms of the ease at \(fixed(e.time, 3)) s")
                }
            }
            ch.ramped = before
            ch.setpoint = kPa.isFinite ? kPa : .infinity
            ch.rampRate = ramp.isFinite ? max(ramp, 0) : .infinity
            ch.commandedAt = t
            if kPa > 0 { ch.pressedSince = true }
            track.channels[name] = ch
            feet[c.foot] = track
            if kPa > 0 { checkCap(track, foot: c.foot, channel: name, setpoint: kPa, at: t) }
        case .release(let name):
            var ch = track.channels[name] ?? Channel()
            ch.setpoint = 0
            ch.ramped = 0
            ch.commandedAt = t
            track.channels[name] = ch
            feet[c.foot] = track
        }
    }

    /// Since when the session must be paused for a pulled-away foot, if it must.
    func pullAwayPause() -> Double? {
        feet.values.compactMap(\.goneSince).min()
    }

    mutating func checkCap(_ track: FootTrack, foot: Foot, channel: String, setpoint: Double, at t: Double) {
        let (s, rule) = placeClass(track, channel: channel)
        let cap = capKPa(s)
        if setpoint > cap + 1e-6 {
            note(rule, t, foot, channel, placeText(track, channel: channel), setpoint, cap, "kPa", "setpoint above the \(s.rawValue) cap of the place")
        }
    }

    mutating func startAtRest(at t: Double) {
        for (foot, track) in feet {
            for (name, ch) in track.channels where !Self.atRest(ch) {
                note(.rest, t, foot, name, track.position.placeText, ch.measured ?? ch.setpoint, 0, "kPa",
                     "not at rest before the session's first command")
            }
        }
    }

    /// At rest: nothing asked for and the ramp at zero, so the valve vents (what is left in
    /// the bellows is venting; a slow valve may take seconds).
    static func atRest(_ ch: Channel) -> Bool {
        ch.setpoint == 0 && ch.ramped == 0
    }

    // MARK: Samples

    mutating func sample(_ s: DeviceLog.Sample) {
        let t = s.time
        guard feet[s.foot] != nil else { return }
        let dt = feet[s.foot]!.lastSample.isFinite ? t - feet[s.foot]!.lastSample : sampleInterval
        if dt > 0 && dt < 10 && feet[s.foot]!.lastSample.isFinite { sampleInterval = dt }
        presence(s)
        // Taken out of the table while it is worked on, so its buffers are not copied.
        var track = feet.removeValue(forKey: s.foot)!
        let gonePause = [pullAwayPause(), track.goneSince].compactMap { $0 }.min()
        defer { track.lastSample = t; feet[s.foot] = track }
        let positionOK = s.position.u.isFinite && s.position.v.isFinite && abs(s.position.u) < 1e5 && abs(s.position.v) < 1e5
        if positionOK { track.position = s.position }
        if let m = track.move, positionOK, s.position.distance(to: m.to) < 1e-3 { track.move = nil }

        for cs in s.channels {
            var ch = track.channels.removeValue(forKey: cs.channel) ?? Channel()
            let previousRamped = ch.ramped, previousAt = ch.sampledAt
            let measured = cs.measuredKPa.flatMap { $0.isFinite ? $0 : nil }
            ch.setpoint = cs.setpointKPa
            ch.ramped = cs.rampKPa
            ch.measured = measured
            ch.sampledAt = t
            let (cls, rule) = placeClass(track, channel: cs.channel)
            let cap = capKPa(cls)
            let kind = oracle.profile.kind, position = track.position, move = track.move, name = cs.channel
            let caps = oracle.caps
            func place() -> String { Self.placeText(kind, position, move, name, caps) }

            // §1 setpoint against the place.
            if cs.setpointKPa > cap + 1e-6 {
                note(rule, t, s.foot, cs.channel, place(), cs.setpointKPa, cap, "kPa", "setpoint above the \(cls.rawValue) cap of the place")
            }
            // §1 measured, with the settling allowance after a cap fell.
            let pointCap = oracle.profile.kind == .gantry ? capKPa(oracle.caps.sensitivity(at: track.position)) : cap
            ch.capHistory.append((t, pointCap))
            while ch.capHistory.count > 1 && ch.capHistory[1].0 <= t - oracle.settling { ch.capHistory.removeFirst() }
            if let m = measured {
                var highest = pointCap
                for (_, c) in ch.capHistory where c > highest { highest = c }
                let allowed = 1.1 * highest + 2
                if m > allowed + 1e-9 {
                    note(.measuredOverCap, t, s.foot, cs.channel, Self.placeText(kind, position, nil, name, caps), m, allowed, "kPa",
                         "measured above 1.1 × cap + 2 kPa after the settling allowance")
                }
            }
            // §2 the device's own ramp, as observed.
            if previousAt.isFinite, t > previousAt, cs.rampKPa > previousRamped {
                let rate = (cs.rampKPa - previousRamped) / (t - previousAt)
                let limit = oracle.profile.pressure.maxRampKPaPerS
                if rate > limit * 1.01 + 0.01 / (t - previousAt) {
                    note(.ramp, t, s.foot, cs.channel, place(), rate, limit, "kPa/s", "the device's setpoint rose faster than max-ramp-kpa-s")
                }
            }
            let live = cs.setpointKPa > 0 || cs.rampKPa > 0
            // §5 stop and latch.
            if let st = stop, t >= st.deadline - 1e-9, live {
                note(ch.pressedSince ? .latch : st.rule, t, s.foot, cs.channel, place(), max(cs.setpointKPa, cs.rampKPa), 0, "kPa",
                     ch.pressedSince ? "pressing again after the stop at \(fixed(st.time, 3)) s (\(st.why))"
                                     : "not released after the stop at \(fixed(st.time, 3)) s (\(st.why))")
            }
            // §6 pause.
            if let p = pausedSince, t >= p + Oracle.hostReaction - 1e-9, live, gonePause == nil {
                note(.pause, t, s.foot, cs.channel, place(), max(cs.setpointKPa, cs.rampKPa), 0, "kPa", "pressure during the pause since \(fixed(p, 3)) s")
            }
            // §7 pull-away: the gone foot released within the ease window, every foot paused.
            if let gone = gonePause, live {
                let own = track.goneSince != nil
                let deadline = gone + (own ? Oracle.easeWindow : 0) + Oracle.hostReaction
                if t >= deadline {
                    note(.pullAway, t, s.foot, cs.channel, place(), max(cs.setpointKPa, cs.rampKPa), 0, "kPa",
                         own ? "the foot pulled away at \(fixed(gone, 3)) s is still pressed" : "the session did not pause for the foot that pulled away at \(fixed(gone, 3)) s")
                }
            }
            // §4 ease: no rise, then the relief.
            for i in eases.indices where eases[i].foot == s.foot {
                let e = eases[i]
                if t >= e.time + Oracle.hostReaction - 1e-9 && t <= e.time + Oracle.easeWindow + 1e-9 && previousAt.isFinite
                    && cs.rampKPa > previousRamped + 1e-6 {
                    note(.easeRise, t, s.foot, cs.channel, place(), cs.rampKPa, previousRamped, "kPa", "the setpoint rose within 300 ms of the ease at \(fixed(e.time, 3)) s")
                }
                if t > e.time && t < e.time + Oracle.easeWindow - 1e-9 {
                    eases[i].lastInWindow[cs.channel] = measured ?? cs.rampKPa
                } else if t >= e.time + Oracle.easeWindow - 1e-9 && !eases[i].reliefChecked {
                    if let from = e.from[cs.channel], from > Oracle.pressedKPa {
                        let now = min(measured ?? cs.rampKPa, e.lastInWindow[cs.channel] ?? .infinity)
                        // No valve vents faster than its time constant: what was measured at
                        // the ease, vented from the host's reaction on, is as low as any device
                        // can get by the check (it matters when the setpoint was already far
                        // below the measured pressure).
                        let vented = (e.measuredAtEase[cs.channel] ?? 0) * oracle.ventedFraction(over: Oracle.easeWindow - Oracle.hostReaction)
                        let limit = max(Oracle.easeRelief * from, vented) + Oracle.noiseKPa
                        if now > limit {
                            note(.easeRelief, t, s.foot, cs.channel, place(), now, limit, "kPa",
                                 "not 40% below \(fixed(from, 1)) kPa within 300 ms of the ease at \(fixed(e.time, 3)) s")
                        }
                    }
                }
            }
            // §3 dose.
            let pressedValue = oracle.measuresPressure ? (measured ?? cs.setpointKPa) : cs.setpointKPa
            if pressedValue > Oracle.pressedKPa && dt > 0 && dt < 10 {
                let spot: Dose.Spot = oracle.profile.kind == .zoned ? .node(cs.channel) : .point(track.position)
                if let over = dose.add(foot: s.foot, spot: spot, at: t, seconds: dt) {
                    note(.dose, t, s.foot, cs.channel, over.place, over.seconds, oracle.settings.holdLimit, "s",
                         "spot pressed longer than the hold limit within 120 s (allowance \(fixed(dose.limit - oracle.settings.holdLimit, 2)) s)")
                }
            }
            track.channels[cs.channel] = ch
        }
        // Every channel of the sample has been seen: ease reliefs are settled.
        for i in eases.indices where eases[i].foot == s.foot && t >= eases[i].time + Oracle.easeWindow - 1e-9 { eases[i].reliefChecked = true }
        eases.removeAll { $0.reliefChecked && t > $0.time + 1 }
    }

    /// A foot leaving while pressed (§7): an ease, then a pause until it returns (§6).
    mutating func presence(_ s: DeviceLog.Sample) {
        let t = s.time
        let track = feet[s.foot]!
        let wasPressed = track.channels.values.contains { $0.setpoint > 0 || ($0.measured ?? 0) > Oracle.pressedKPa }
        if track.present && !s.present && wasPressed && armed && stop == nil {
            feet[s.foot]!.goneSince = t
            ease(at: t, feet: [s.foot])
            if pausedSince == nil { pausedSince = t }
        }
        if !track.present && s.present, let gone = track.goneSince {
            feet[s.foot]!.goneSince = nil
            if feet.values.allSatisfy({ $0.goneSince == nil }), let since = pausedSince {
                resume(at: t, pausedFor: t - min(since, gone), afterPullAway: true)
            }
        }
        feet[s.foot]!.present = s.present
    }

    mutating func finish() {
        if let m = mustRelease {
            note(m.rule, m.deadline, nil, nil, "", 0, Oracle.hostReaction, "s",
                 "the session did not stop: the log ends with no release-all after the stop at \(fixed(m.time, 3)) s (\(m.why))")
        }
        for (foot, track) in feet where track.lastSample.isFinite {
            for (name, ch) in track.channels {
                let resting = ch.setpoint == 0 && ch.ramped == 0
                if !resting {
                    note(.rest, track.lastSample, foot, name, track.position.placeText, max(ch.setpoint, ch.ramped), 0, "kPa",
                         "not at rest at the end of the log")
                }
            }
        }
    }

    // MARK: Episodes

    /// Records a violation, merged into the open episode of the same rule, foot and channel
    /// when it follows within a second.
    mutating func note(_ rule: SafetyRule, _ t: Double, _ foot: Foot?, _ channel: String?, _ place: String,
                       _ value: Double, _ limit: Double, _ unit: String, _ detail: String) {
        let key = Key(rule: rule, foot: foot, channel: channel)
        if let i = open[key], t - violations[i].until <= 1.0 {
            violations[i].until = max(violations[i].until, t)
            violations[i].count += 1
            if value - limit > violations[i].value - violations[i].limit {
                violations[i].value = value
                violations[i].limit = limit
                violations[i].place = place
                violations[i].detail = detail
            }
            return
        }
        open[key] = violations.count
        violations.append(Violation(rule: rule, time: t, foot: foot, channel: channel, place: place, value: value,
                                    limit: limit, unit: unit, detail: detail))
    }
}

/// Pressed time per 10 mm spot within a sliding 120 s window (docs/safety.md §3).
///
/// A gantry spot is a disc 10 mm across; spots are checked centred on a 1 mm grid (every
/// disc is within 0.71 mm of one of them). A zoned node is one spot.
struct Dose {
    enum Spot { case point(DevicePoint), node(String) }

    struct Cell {
        var times: [Double] = []
        var seconds: [Double] = []
        var head = 0
        var total = 0.0
    }

    let limit: Double
    /// Grid cells by foot and centre; nodes by foot and id. Mutated in place: a cell's
    /// arrays must never be copied per sample.
    var cells: [Int: Cell] = [:]
    var nodes: [String: Cell] = [:]

    init(limit: Double) { self.limit = limit }

    /// Adds `seconds` pressed at `t`; returns the worst spot over the limit, if any.
    mutating func add(foot: Foot, spot: Spot, at t: Double, seconds: Double) -> (place: String, seconds: Double)? {
        switch spot {
        case .node(let id):
            let key = foot.rawValue + "/" + id
            Self.push(&nodes[key, default: Cell()], t, seconds)
            let total = nodes[key]!.total
            return total > limit ? ("node \(id)", total) : nil
        case .point(let p):
            guard p.u.isFinite, p.v.isFinite, abs(p.u) < 10_000, abs(p.v) < 10_000 else { return nil }
            var worst: (place: String, seconds: Double)?
            let side = foot == .left ? 0 : 1
            let u0 = Int((p.u - 5).rounded(.up)), u1 = Int((p.u + 5).rounded(.down))
            guard u0 <= u1 else { return nil }
            for i in u0...u1 {
                let du = Double(i) - p.u
                let reach = 25 - du * du
                guard reach >= 0 else { continue }
                let half = reach.squareRoot()
                let v0 = Int((p.v - half).rounded(.up)), v1 = Int((p.v + half).rounded(.down))
                guard v0 <= v1 else { continue }
                for j in v0...v1 {
                    let key = (side * 40_000 + i + 20_000) * 40_000 + (j + 20_000)
                    Self.push(&cells[key, default: Cell()], t, seconds)
                    let total = cells[key]!.total
                    if total > limit && (worst == nil || total > worst!.seconds) {
                        worst = ("spot u=\(i) v=\(j)", total)
                    }
                }
            }
            return worst
        }
    }

    static func push(_ cell: inout Cell, _ t: Double, _ seconds: Double) {
        cell.times.append(t)
        cell.seconds.append(seconds)
        cell.total += seconds
        // A sample's pressed time is the interval ending at it: it lies in the window
        // (t − 120 s, t] when the sample does.
        while cell.head < cell.times.count && cell.times[cell.head] <= t - Oracle.doseWindow + 1e-9 {
            cell.total -= cell.seconds[cell.head]
            cell.head += 1
        }
        if cell.head > 4096 {
            cell.times.removeFirst(cell.head)
            cell.seconds.removeFirst(cell.head)
            cell.head = 0
        }
    }
}
