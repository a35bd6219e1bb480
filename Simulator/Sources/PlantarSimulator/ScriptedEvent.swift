import PlantarCore

/// Something the simulated person or hardware does at a given time: `switch@4m10s`.
public struct ScriptedEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The discomfort switch is pressed (and held).
        case switchPress = "switch"
        case switchRelease = "switch-release"
        /// The ease button.
        case ease
        /// The person pulls their feet away: force drops, presence goes false.
        case pullAway = "pullaway"
        /// The feet come back.
        case footReturn = "return"
        /// The pressure sensor stops giving readings.
        case sensorFault = "sensor-fault"
    }

    public var kind: Kind
    public var time: Duration

    public init(_ kind: Kind, at time: Duration) {
        self.kind = kind
        self.time = time
    }

    /// Parses `KIND@TIME`, e.g. `switch@2m`, `pullaway@4m10s`, `ease@1.5s`.
    public static func parse(_ text: String) throws(ScriptError) -> ScriptedEvent {
        let (kind, time): (Kind, Duration) = try parseTimed(text, example: "switch@4m10s")
        return ScriptedEvent(kind, at: time)
    }

    public var description: String { "\(kind.rawValue)@\(DurationSyntax.format(time))" }
}

public struct ScriptError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `KIND@TIME` for any set of kinds: the one syntax of scripted events (the in-process
/// simulator's and the board emulator's), with one set of error messages.
func parseTimed<K: RawRepresentable & CaseIterable>(_ text: String, example: String) throws(ScriptError) -> (K, Duration)
    where K.RawValue == String {
    let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { throw ScriptError("event '\(text)' must look like KIND@TIME, e.g. \(example)") }
    guard let kind = K(rawValue: parts[0]) else {
        throw ScriptError("event '\(text)': unknown kind '\(parts[0])'; expected one of \(K.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    switch DurationSyntax.parsing(parts[1]) {
    case .success(let time): return (kind, time)
    case .failure(.tooLong):
        throw ScriptError("event '\(text)': time '\(parts[1])' is out of range (at most \(DurationSyntax.format(DurationSyntax.longest)))")
    case .failure(.malformed):
        throw ScriptError("event '\(text)': '\(parts[1])' is not a time such as 250s, 4m10s or 1.5s")
    }
}
