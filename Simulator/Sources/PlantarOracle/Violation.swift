import PlantarCore

/// A rule of docs/safety.md, by the name the oracle reports it under.
public enum SafetyRule: String, Sendable, Hashable, CaseIterable, Comparable {
    /// §1: a setpoint above the cap of the place the node presses.
    case capByPlace = "cap-by-place"
    /// §1: a setpoint held during a move above the lowest cap on the swept segment.
    case capOnPath = "cap-on-path"
    /// §1: a zoned node's setpoint above the cap of the zones its rectangle covers.
    case capOnNode = "cap-on-node"
    /// §1: measured pressure above 1.1 × cap + 2 kPa after the settling allowance.
    case measuredOverCap = "measured-over-cap"
    /// §2: a rise asked for faster than the profile's ramp limit.
    case ramp
    /// §3: a spot pressed longer than the hold limit within 120 s.
    case dose
    /// §4: measured pressure not 40% lower within 300 ms of an ease.
    case easeRelief = "ease-relief"
    /// §4: something on the eased foot rose within 300 ms of the ease.
    case easeRise = "ease-rise"
    /// §5: setpoints not zero (valves not open) at once after a stop.
    case stop
    /// §5: pressure after a stop or release-all before a new session was armed.
    case latch
    /// §5: pressing past auto-off.
    case autoOff = "auto-off"
    /// §6: pressure during a pause.
    case pause
    /// §6: resume pressed a channel the routine had not in force.
    case resume
    /// §7: a foot pulled away while pressed: not released, or the session not paused/stopped.
    case pullAway = "pull-away"
    /// §8: an output not at rest before the first command or after the end.
    case rest

    public static func < (a: SafetyRule, b: SafetyRule) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One broken rule, as one episode: from the first to the last sample or command that broke
/// it in a row, with the worst value seen and the limit it broke.
public struct Violation: Sendable, Hashable, CustomStringConvertible {
    public var rule: SafetyRule
    /// Session seconds of the first and last occurrence.
    public var time: Double
    public var until: Double
    /// How many samples or commands broke it in this episode.
    public var count: Int
    public var foot: Foot?
    public var channel: String?
    /// Where: the node position (gantry), the node's rectangle name (zoned) or a spot.
    public var place: String
    /// The worst value (kPa, kPa/s or s, by rule) and the limit it was held to.
    public var value: Double
    public var limit: Double
    public var unit: String
    /// What the rule asked, in words.
    public var detail: String

    public init(rule: SafetyRule, time: Double, until: Double? = nil, count: Int = 1, foot: Foot?, channel: String?,
                place: String, value: Double, limit: Double, unit: String, detail: String) {
        self.rule = rule
        self.time = time
        self.until = until ?? time
        self.count = count
        self.foot = foot
        self.channel = channel
        self.place = place
        self.value = value
        self.limit = limit
        self.unit = unit
        self.detail = detail
    }

    public var description: String {
        let when = until > time + 1e-9
            ? "\(Self.clock(time))–\(Self.clock(until)) (\(count)×)"
            : Self.clock(time)
        let who = [foot?.rawValue, channel].compactMap { $0 }.joined(separator: " ")
        // Short times need milliseconds to be told apart from their limit.
        let digits = unit == "s" && abs(limit) < 10 ? 3 : 1
        return "\(rule.rawValue) at \(when)\(who.isEmpty ? "" : " " + who)\(place.isEmpty ? "" : " at " + place): "
            + "\(fixed(value, digits)) \(unit) against \(fixed(limit, digits)) \(unit): \(detail)"
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e9 else { return fixed(seconds, 3) + " s" }
        return clockText(.milliseconds(Int64((seconds * 1000).rounded())), millis: true)
    }
}

extension DevicePoint {
    /// `u=95.2 v=0.0`, as violations name a place.
    var placeText: String { "u=\(fixed(u, 1)) v=\(fixed(v, 1))" }
}
