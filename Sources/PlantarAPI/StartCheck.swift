import PlantarConfig
import PlantarCore

/// A session start that passed every check and compiled: what `POST /v1/sessions` queues.
public struct CheckedStart: Sendable {
    /// The session's name: the program asked for, which for a routine sent as text is the
    /// request's `program` (checked by `ProgramName`), never the text's own `routine:` key.
    public var program: String
    public var title: String
    public var timeline: Timeline
    /// The governor's settings for this person: the configured ones, only ever lowered by the request.
    public var settings: GovernorSettings
}

/// A request the daemon will not carry out (a session start refused before anything runs,
/// a control request with no session, ...): an HTTP status (422 for the request's own
/// mistakes), a machine-readable code and one line that says why.
public struct Refusal: Error, Sendable, Hashable {
    public var status: Int
    public var code: String
    public var message: String
    /// Every diagnostic of a routine that does not check or compile.
    public var details: [String]?

    public init(_ status: Int, _ code: String, _ message: String, details: [String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }
}

/// What `POST /v1/sessions` does with a request before the session is queued (range checks,
/// the routine by name or as text, the person's caps, the compile), as a pure function: no
/// daemon, no device, no clock. The daemon's `SessionManager` calls it; the fuzz harness
/// (`plantar-fuzz api-start`) and tests call it alone.
public enum StartCheck {
    /// Checks and compiles `request`.
    /// - Parameters:
    ///   - who: who asked, named in the routine's file name for a routine sent as text.
    ///   - map: the foot map routines are checked against.
    ///   - profile: the device the session would run on.
    ///   - config: the daemon's configuration: the person, their caps and the session limits.
    ///   - library: where programs named by `request.program` are found.
    ///   - clockSpeed: how much faster than real time session time runs (simulator-speed; 1 on hardware).
    /// - Throws: `Refusal`: 422 `invalid-parameters`, `invalid-routine` or `unknown-program`.
    public static func check(_ request: StartRequest, who: String, map: FootMap, profile: DeviceProfile,
                             config: DaemonConfig, library: ConfigLibrary, clockSpeed: Double) throws(Refusal) -> CheckedStart {
        // Each problem names its key, first thing: `details` lists them, the message joins them.
        var problems: [String] = []
        if let i = request.intensity, !(1...5).contains(i) { problems.append("intensity: \(i) is out of range (1–5)") }
        if let s = request.sensitivity, !(s.isFinite && (0.5...1.0).contains(s)) { problems.append("sensitivity: \(s) is out of range (0.5–1.0)") }
        if let l = request.footLengthMM, !(l.isFinite && FootSize.plausibleRange.contains(l)) {
            problems.append("footLengthMM: \(l) is out of range (\(Int(FootSize.plausibleRange.lowerBound))–\(Int(FootSize.plausibleRange.upperBound)))")
        }
        if let z = request.shoeSize, !(z.isFinite && (30...52).contains(z)) { problems.append("shoeSize: \(z) is out of range (30–52)") }
        if request.footLengthMM != nil && request.shoeSize != nil { problems.append("footLengthMM, shoeSize: give one or the other, not both") }
        var feet: FeetSelection?
        if let f = request.feet {
            feet = FeetSelection(rawValue: f)
            if feet == nil { problems.append("feet: '\(f)' must be left, right or both") }
        }
        if request.routine != nil, !ProgramName.isValid(request.program) {
            problems.append("program: '\(request.program.prefix(80))' is not a program name (\(ProgramName.rule)); it names the routine sent")
        }
        if !problems.isEmpty { throw Refusal(422, "invalid-parameters", problems.joined(separator: "; "), details: problems) }

        // Routine: one the daemon has, by name only (never a path a client names), or the text
        // sent, which runs under the name in `program` (its own `routine:` key is not trusted:
        // it could be `../../x`).
        let routine: Routine
        if let text = request.routine {
            do {
                routine = try RoutineLoader.parse(text, file: "\(request.program) (sent by \(who))", map: map).0
            } catch {
                throw Refusal(422, "invalid-routine", "the routine sent does not check", details: error.diagnostics.map(\.description))
            }
        } else {
            let name = request.program
            guard ProgramName.isValid(name) else {
                throw Refusal(422, "unknown-program", "program must be the name of a program the daemon knows (GET /v1/programs), or send the routine's text in 'routine'")
            }
            do {
                routine = try library.loadRoutine(name, map: map).0
            } catch {
                switch error {
                case .config(let e): throw Refusal(422, "unknown-program", e.description)
                case .diagnostics(let d): throw Refusal(422, "invalid-routine", "program '\(name)' does not check", details: d.diagnostics.map(\.description))
                }
            }
        }

        // The configured person is the floor of safety: a request may only lower the caps.
        let size = request.shoeSize.map(FootSize.euShoeSize) ?? request.footLengthMM.map(FootSize.init(lengthMM:)) ?? config.footSize
        var settings = GovernorSettings.standard(for: profile, map: map, footSize: size)
        settings.sensitivityFactor = min(request.sensitivity ?? config.sensitivity, config.sensitivity)
        settings.reducedSensation = config.reducedSensation || (request.reducedSensation ?? false)
        settings.limits = config.limits
        // Sped up (simulator-speed), the loop's wall-clock jitter is that much longer in session
        // time: the bounds on the loop's own promptness (lateness, telemetry age) scale too.
        settings.maxLateness = settings.maxLateness * clockSpeed
        settings.telemetryTimeout = settings.telemetryTimeout * clockSpeed

        var parameters = request.parameters ?? [:]
        parameters["intensity"] = request.intensity.map(String.init) ?? parameters["intensity"] ?? String(config.intensity)
        let options = CompileOptions(parameters: parameters, feet: feet, footSize: size, caps: settings.personCaps, limits: config.limits)
        let timeline: Timeline
        do {
            timeline = try Compiler.compile(routine, map: map, device: profile, options: options)
        } catch {
            let errors = error.diagnostics.filter { $0.severity == .error }
            throw Refusal(422, "invalid-parameters", errors.first?.message ?? "the program does not compile for this device",
                               details: error.diagnostics.map(\.description))
        }
        return CheckedStart(program: request.routine == nil ? routine.name : request.program, title: routine.title,
                            timeline: timeline, settings: settings)
    }
}

/// What a program may be called: a file name in a routines folder without its extension, so
/// never a path (`/`, `..`), hidden (`.x`) or a YAML file name. docs/openapi.yaml's pattern
/// for `program` says the same.
public enum ProgramName {
    public static let rule = "1–64 letters, digits, '-', '_' or '.', starting with a letter or digit"

    public static func isValid(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasSuffix(".yaml"), !name.hasSuffix(".yml"), !name.contains("..") else { return false }
        return name.utf8.enumerated().allSatisfy { index, byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): index > 0
            default: false
            }
        }
    }
}
