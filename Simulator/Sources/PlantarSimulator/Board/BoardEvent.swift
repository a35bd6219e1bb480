import PlantarCore

/// Something that happens to the emulated board, at a time after it started or on demand:
/// `switch@5s`, `reset@1m`, `silence@20s`.
public struct BoardEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The person presses the discomfort switch (and holds it): the board releases, latches, reports.
        case switchPress = "switch"
        case switchRelease = "switch-release"
        /// The ease button.
        case ease
        /// The feet leave the device: force drops, presence goes false.
        case pullAway = "pullaway"
        /// The feet come back.
        case footReturn = "return"
        /// The pressure sensor stops reading: the board releases, latches and reports a fault.
        case sensorFault = "sensor-fault"
        /// The board restarts (watchdog): outputs at rest, session gone, `board-reset` sent.
        case reset
        /// The board's line goes deaf and mute (a cut wire): it neither reads nor sends, while its
        /// lease still runs and releases everything 250 ms after the last frame it heard.
        case silence
        /// The line works again after `silence`.
        case answer
    }

    public var kind: Kind
    /// Time after the emulator started.
    public var time: Duration

    public init(_ kind: Kind, at time: Duration) {
        self.kind = kind
        self.time = time
    }

    /// Parses `KIND@TIME`, e.g. `switch@5s`, `reset@1m30s`.
    public static func parse(_ text: String) throws(ScriptError) -> BoardEvent {
        let (kind, time): (Kind, Duration) = try parseTimed(text, example: "switch@5s")
        return BoardEvent(kind, at: time)
    }

    public var description: String { "\(kind.rawValue)@\(DurationSyntax.format(time))" }
}
