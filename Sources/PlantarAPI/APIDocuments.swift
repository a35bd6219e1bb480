import Foundation
import PlantarCore
import PlantarSession

/// The control API's version prefix. Every route but `/metrics` lives under it.
public let apiVersionPrefix = "/v1"

/// `GET /v1/status` and the `status` events of `GET /v1/events`.
public struct StatusDocument: Codable, Sendable, Hashable {
    /// `idle`, `running`, `paused`, `easing`, `stopped`, `finished`, `faulted`: the current
    /// session's state, or `stopped`/`faulted` while latched, else `idle`.
    public var state: String
    /// A stop or fault is latched: no session starts until `POST /v1/rearm`.
    public var latched: Bool
    /// Why it is latched; null when not.
    @Nullable public var latchReason: String?
    /// The running session, or the last one (with `active` false) since the daemon started;
    /// null before the first.
    @Nullable public var session: SessionDocument?
    public var device: DeviceDocument
    /// The daemon is shutting down: sessions are refused.
    public var stopping: Bool

    public init(state: String, latched: Bool, latchReason: String?, session: SessionDocument?, device: DeviceDocument, stopping: Bool) {
        self.state = state
        self.latched = latched
        self.latchReason = latchReason
        self.session = session
        self.device = device
        self.stopping = stopping
    }
}

/// The device as the daemon sees it.
public struct DeviceDocument: Codable, Sendable, Hashable {
    /// `simulator`, `serial` or `gpio`.
    public var backend: String
    /// Device profile name.
    public var profile: String
    /// `up`, or `down: REASON`.
    public var link: String
    /// The discomfort switch is held (re-arm is refused until it is let go).
    public var switchPressed: Bool
    /// A fault the device reported and that is still present; null when none.
    @Nullable public var fault: String?
    /// Simulator only (null otherwise): every output at rest (no pressure asked for, valves open).
    @Nullable public var atRest: Bool?
    /// Simulator only (null otherwise): the pressure the simulated device measures now, per foot (kPa).
    @Nullable public var measuredKPa: [String: Double]?

    public init(backend: String, profile: String, link: String, switchPressed: Bool, fault: String?,
                atRest: Bool? = nil, measuredKPa: [String: Double]? = nil) {
        self.backend = backend
        self.profile = profile
        self.link = link
        self.switchPressed = switchPressed
        self.fault = fault
        self.atRest = atRest
        self.measuredKPa = measuredKPa
    }
}

/// One session: what it runs and where it is.
public struct SessionDocument: Codable, Sendable, Hashable {
    /// Counts up from 1 for the daemon's life.
    public var id: Int
    public var program: String
    public var title: String
    public var device: String
    public var parameters: [String: String]
    /// Who started it (`uid 1000`, `tcp 127.0.0.1`, …).
    public var startedBy: String
    /// Still running (false once it finished, stopped or faulted).
    public var active: Bool
    /// State name, and with its reason (`stopped (latched): operator stop (...)`).
    public var state: String
    public var stateText: String
    public var elapsedSeconds: Double
    public var totalSeconds: Double
    public var progress: Double
    /// 1-based step (0 when none), its name, foot and zone.
    public var step: Int
    public var stepName: String
    /// Null before the first step.
    @Nullable public var foot: String?
    public var zone: String
    /// Per foot (`left`, `right`): the governed setpoint and the measured pressure (kPa).
    public var setpointKPa: [String: Double]
    public var measuredKPa: [String: Double]
    /// The cap in force for the zone being worked (kPa).
    public var capKPa: Double
    /// Interventions of the safety governor so far.
    public var interventions: Int

    public init(id: Int, program: String, title: String, device: String, parameters: [String: String], startedBy: String,
                active: Bool, status: SessionStatus, interventions: Int) {
        self.id = id
        self.program = program
        self.title = title
        self.device = device
        self.parameters = parameters
        self.startedBy = startedBy
        self.active = active
        self.interventions = interventions
        state = status.state.name
        stateText = status.state.text
        elapsedSeconds = status.elapsed.seconds
        totalSeconds = status.total.seconds
        progress = status.progress
        step = status.step
        stepName = status.stepName
        foot = status.foot?.rawValue
        zone = status.zone
        setpointKPa = Dictionary(uniqueKeysWithValues: status.setpointKPa.map { ($0.key.rawValue, $0.value) })
        measuredKPa = Dictionary(uniqueKeysWithValues: status.measuredKPa.map { ($0.key.rawValue, $0.value) })
        capKPa = status.capKPa
    }

    /// The session status this document describes (for the CLI's live display).
    public var status: SessionStatus {
        SessionStatus(state: SessionState(name: state, text: stateText), elapsed: .roundedSeconds(elapsedSeconds),
                      total: .roundedSeconds(totalSeconds), step: step, stepName: stepName, foot: foot.flatMap(Foot.init(rawValue:)),
                      zone: zone, setpointKPa: Self.feet(setpointKPa), measuredKPa: Self.feet(measuredKPa), capKPa: capKPa)
    }

    static func feet(_ values: [String: Double]) -> [Foot: Double] {
        var result: [Foot: Double] = [:]
        for (key, value) in values { if let foot = Foot(rawValue: key) { result[foot] = value } }
        return result
    }
}

extension SessionState {
    /// Rebuilds a state from its name and its text (`stopped (latched): REASON`).
    public init(name: String, text: String) {
        func reason() -> String {
            guard let colon = text.range(of: ": ") else { return text }
            return String(text[colon.upperBound...])
        }
        switch name {
        case "running": self = .running
        case "paused": self = .paused
        case "easing": self = .easing
        case "finished": self = .finished
        case "stopped": self = .stopped(reason: reason())
        case "faulted": self = .faulted(reason: reason())
        default: self = .idle
        }
    }
}

/// `POST /v1/sessions`: what to run and for whom. Only `program` is required.
///
/// The person's safety settings in the daemon's configuration are a floor: a request may ask
/// for lower caps (a lower `sensitivity`, `reducedSensation`), never for higher ones.
public struct StartRequest: Codable, Sendable, Hashable {
    /// A program the daemon knows (`GET /v1/programs`), or a name for `routine`.
    public var program: String
    /// The routine file's text (YAML), for a routine the daemon does not have (the person's own).
    public var routine: String?
    /// Routine parameters (`focus`, …), as text.
    public var parameters: [String: String]?
    public var intensity: Int?
    /// `left`, `right` or `both`.
    public var feet: String?
    public var footLengthMM: Double?
    public var shoeSize: Double?
    public var sensitivity: Double?
    public var reducedSensation: Bool?

    public init(program: String, routine: String? = nil, parameters: [String: String]? = nil, intensity: Int? = nil,
                feet: String? = nil, footLengthMM: Double? = nil, shoeSize: Double? = nil, sensitivity: Double? = nil,
                reducedSensation: Bool? = nil) {
        self.program = program
        self.routine = routine
        self.parameters = parameters
        self.intensity = intensity
        self.feet = feet
        self.footLengthMM = footLengthMM
        self.shoeSize = shoeSize
        self.sensitivity = sensitivity
        self.reducedSensation = reducedSensation
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case program, routine, parameters, intensity, feet, footLengthMM, shoeSize, sensitivity, reducedSensation
    }

    /// Refuses keys it does not know: a misspelled `intensty` silently ignored would run the
    /// session at another intensity than the person asked for.
    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = any.allKeys.map(\.stringValue).sorted().first(where: { CodingKeys(stringValue: $0) == nil }) {
            throw DecodingError.dataCorrupted(.init(codingPath: [AnyKey(stringValue: unknown)],
                debugDescription: "unknown key '\(unknown)'; a start request takes \(CodingKeys.allCases.map(\.stringValue).joined(separator: ", "))"))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        program = try c.decode(String.self, forKey: .program)
        routine = try c.decodeIfPresent(String.self, forKey: .routine)
        parameters = try c.decodeIfPresent([String: String].self, forKey: .parameters)
        intensity = try c.decodeIfPresent(Int.self, forKey: .intensity)
        feet = try c.decodeIfPresent(String.self, forKey: .feet)
        footLengthMM = try c.decodeIfPresent(Double.self, forKey: .footLengthMM)
        shoeSize = try c.decodeIfPresent(Double.self, forKey: .shoeSize)
        sensitivity = try c.decodeIfPresent(Double.self, forKey: .sensitivity)
        reducedSensation = try c.decodeIfPresent(Bool.self, forKey: .reducedSensation)
    }
}

/// Any key of a JSON object, to list the keys a request carries.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Every refusal: a 4xx (or 503) with one line that says why and, when it helps, what to do.
public struct ErrorDocument: Codable, Sendable, Hashable {
    /// A short machine-readable kind: `bad-request`, `too-large`, `unknown-program`,
    /// `invalid-parameters`, `busy`, `latched`, `no-session`, `switch-held`, `fault`,
    /// `stopping`, `unauthorized`, `not-found`.
    public var code: String
    public var error: String
    /// Further lines, each naming what it is about: every diagnostic of a routine that does
    /// not check, every parameter out of range (`intensity: 9 is out of range (1–5)`); null
    /// when the one line says it all.
    @Nullable public var details: [String]?

    public init(code: String, error: String, details: [String]? = nil) {
        self.code = code
        self.error = error
        self.details = details
    }
}

/// The answer of `POST /v1/pause|resume|ease|stop|rearm`.
public struct ActionDocument: Codable, Sendable, Hashable {
    public var action: String
    /// What happened, for people.
    public var detail: String
    public var status: StatusDocument

    public init(action: String, detail: String, status: StatusDocument) {
        self.action = action
        self.detail = detail
        self.status = status
    }
}

/// `GET /v1/programs`: the programs the daemon can run.
public struct ProgramDocument: Codable, Sendable, Hashable {
    public struct Parameter: Codable, Sendable, Hashable {
        public var name: String
        /// A choice parameter's values (null for an integer one).
        @Nullable public var choices: [String]?
        /// An integer parameter's range (null for a choice one).
        @Nullable public var minimum: Int?
        @Nullable public var maximum: Int?
        public var defaultValue: String

        public init(name: String, choices: [String]?, minimum: Int?, maximum: Int?, defaultValue: String) {
            self.name = name
            self.choices = choices
            self.minimum = minimum
            self.maximum = maximum
            self.defaultValue = defaultValue
        }
    }

    public var name: String
    public var title: String
    /// `built-in` or `user`.
    public var origin: String
    /// The routine's stated duration (without travel), seconds; null when the file is invalid.
    @Nullable public var statedSeconds: Double?
    public var parameters: [Parameter]
    /// Why the file cannot run; null when it can.
    @Nullable public var problem: String?

    public init(name: String, title: String, origin: String, statedSeconds: Double?, parameters: [Parameter], problem: String?) {
        self.name = name
        self.title = title
        self.origin = origin
        self.statedSeconds = statedSeconds
        self.parameters = parameters
        self.problem = problem
    }
}

/// The `intervention` events of `GET /v1/events`.
public struct InterventionDocument: Codable, Sendable, Hashable {
    public var session: Int
    public var timeSeconds: Double
    public var kind: String
    /// Null when the intervention is not about one foot.
    @Nullable public var foot: String?
    public var detail: String
    public var text: String

    public init(session: Int, _ i: Intervention) {
        self.session = session
        timeSeconds = i.time.seconds
        kind = i.kind.rawValue
        foot = i.foot?.rawValue
        detail = i.detail
        text = i.description
    }
}
