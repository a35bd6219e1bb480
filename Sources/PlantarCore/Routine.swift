/// Massage techniques the seeds describe. Each is compiled to actuator motion by `Compiler`.
public enum Technique: String, Sendable, Hashable, CaseIterable, Codable {
    /// Small bites along a line: press, release, advance.
    case thumbWalk = "thumb-walk"
    /// A thumb-walk from the line's end back to its start ("go back down again").
    case walkBack = "walk-back"
    /// Thumb-walking with smaller, gentler bites (the knee/hip reflex).
    case fingerWalk = "finger-walk"
    /// Short walks across a reflex line at several stations along it.
    case crossWalk = "cross-walk"
    /// Press a point, hold, then ease off and rub in circles.
    case pressHold = "press-hold"
    /// Circular rubbing on a spot.
    case circleRub = "circle-rub"
    /// Rolling/kneading in lanes over an area to relax the whole sole.
    case roll
    /// A steady hold on a point (the solar plexus hold).
    case hold

    /// Whether the technique travels along a line (needs a path-like zone).
    public var walksALine: Bool {
        switch self {
        case .thumbWalk, .walkBack, .fingerWalk, .crossWalk: true
        default: false
        }
    }
}

/// A named pressure level: a fraction of the cap for the zone being worked.
public enum PressureLevel: String, Sendable, Hashable, CaseIterable, Codable {
    case light, moderate, firm

    /// Fraction of the zone's cap at the nominal intensity (3).
    public var fractionOfCap: Double {
        switch self {
        case .light: 0.4
        case .moderate: 0.65
        case .firm: 0.85
        }
    }
}

/// Which feet a routine works and in which order.
public enum FeetSelection: String, Sendable, Hashable, CaseIterable, Codable {
    case left, right, both
}

public enum FootOrder: String, Sendable, Hashable, CaseIterable, Codable {
    /// Whole routine on the right foot, then on the left (the seeds work the right first).
    case rightFirst = "right-first"
    case leftFirst = "left-first"
    /// Each step on one foot then the other before the next step.
    case alternating
}

/// A parameter a person may set when running a routine.
public enum ParameterSpec: Sendable, Hashable {
    case choice([String], default: String)
    case integer(ClosedRange<Int>, default: Int)

    public var defaultText: String {
        switch self {
        case .choice(_, let d): d
        case .integer(_, let d): String(d)
        }
    }

    /// Checks a value given on the command line or over the API; nil when it is valid.
    public func problem(with value: String) -> String? {
        switch self {
        case .choice(let choices, _):
            return choices.contains(value) ? nil : "must be one of \(choices.joined(separator: ", "))"
        case .integer(let range, _):
            guard let n = Int(value), range.contains(n) else {
                return "must be a whole number from \(range.lowerBound) to \(range.upperBound)"
            }
            return nil
        }
    }
}

/// One step of a routine, as written; zone names may refer to parameters (`spine-${focus}`).
public struct RoutineStep: Sendable, Hashable {
    public var name: String
    public var technique: Technique
    /// Zone id, possibly with `${parameter}` references.
    public var zone: String
    public var pressure: PressureLevel
    /// Duration of one pass on one foot. For `press-hold` it is hold plus rub.
    public var duration: Duration
    public var repeats: Int
    /// `press-hold`: how long to hold before easing off.
    public var hold: Duration?
    /// `press-hold`: how long to rub in circles after the hold.
    public var rub: Duration?
    /// Bite length for walks, in millimetres on the person's foot.
    public var biteMM: Double?
    /// `cross-walk`: number of stations along the line.
    public var crossings: Int?
    /// `cross-walk`: how far across the line each crossing goes, in millimetres.
    public var spanMM: Double?
    /// `circle-rub` and the rub after `press-hold`: circle radius in millimetres.
    public var radiusMM: Double?
    /// Where the step starts in its file.
    public var location: SourceLocation?
    /// Where each key's value is, for errors about that key.
    public var keyLocations: [String: SourceLocation]

    public init(name: String, technique: Technique, zone: String, pressure: PressureLevel = .moderate,
                duration: Duration, repeats: Int = 1, hold: Duration? = nil, rub: Duration? = nil,
                biteMM: Double? = nil, crossings: Int? = nil, spanMM: Double? = nil, radiusMM: Double? = nil,
                location: SourceLocation? = nil, keyLocations: [String: SourceLocation] = [:]) {
        self.name = name
        self.technique = technique
        self.zone = zone
        self.pressure = pressure
        self.duration = duration
        self.repeats = repeats
        self.hold = hold
        self.rub = rub
        self.biteMM = biteMM
        self.crossings = crossings
        self.spanMM = spanMM
        self.radiusMM = radiusMM
        self.location = location
        self.keyLocations = keyLocations
    }

    /// Location of `key`'s value, or of the step.
    public func location(of key: String) -> SourceLocation? { keyLocations[key] ?? location }

    /// The zone id once parameters are substituted.
    public func resolvedZone(_ parameters: [String: String]) -> String {
        var text = zone
        for (name, value) in parameters { text = text.replacing("${\(name)}", with: value) }
        return text
    }
}

/// A massage program: device-independent and anatomical.
public struct Routine: Sendable, Hashable {
    public var name: String
    public var title: String
    public var summary: String
    public var feet: FeetSelection
    public var order: FootOrder
    public var parameters: [String: ParameterSpec]
    public var steps: [RoutineStep]
    public var file: String

    public init(name: String, title: String, summary: String = "", feet: FeetSelection = .both,
                order: FootOrder = .rightFirst, parameters: [String: ParameterSpec] = [:],
                steps: [RoutineStep], file: String = "<memory>") {
        self.name = name
        self.title = title
        self.summary = summary
        self.feet = feet
        self.order = order
        self.parameters = parameters
        self.steps = steps
        self.file = file
    }

    /// The parameters every routine accepts, whether or not it declares them.
    public static let builtInParameters: [String: ParameterSpec] = [
        "intensity": .integer(1...5, default: 3),
    ]

    public var allParameters: [String: ParameterSpec] {
        Self.builtInParameters.merging(parameters) { _, declared in declared }
    }

    /// Time on the feet as written (every step × repeats × feet), without travel between steps.
    public func statedDuration(feet override: FeetSelection? = nil) -> Duration {
        let perFoot = steps.reduce(Duration.zero) { $0 + $1.duration * $1.repeats }
        return (override ?? feet) == .both ? perFoot * 2 : perFoot
    }
}
