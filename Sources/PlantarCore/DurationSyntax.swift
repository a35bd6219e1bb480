/// The one syntax for durations in routine files and on the command line:
/// `45s`, `1.5s`, `500ms`, `2m`, `4m10s`, `1h`, `1m30.5s`. Units descend and appear once.
public enum DurationSyntax {
    /// Why a text is not a duration.
    public enum Problem: Error, Sendable, Hashable {
        /// Not in this syntax at all.
        case malformed
        /// In the syntax, but longer than `longest`: no setting or step of Plantar's comes
        /// near it, and beyond it arithmetic on the value could overflow.
        case tooLong
    }

    /// The longest duration any text may give: a year.
    public static let longest = Duration.seconds(366 * 24 * 3600)

    /// Parses `text`; returns nil when it is not a duration in this syntax or too long.
    public static func parse(_ text: String) -> Duration? { try? parsing(text).get() }

    /// Parses `text`, saying why not when it is not a duration.
    public static func parsing(_ text: String) -> Result<Duration, Problem> {
        let units: [(String, Double)] = [("h", 3600), ("m", 60), ("s", 1), ("ms", 0.001)]
        var rest = Substring(text.trimmingSpaces())
        guard !rest.isEmpty else { return .failure(.malformed) }
        var total = 0.0
        var lastUnitIndex = -1
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return .failure(.malformed) }
            guard value.isFinite else { return .failure(.tooLong) }   // 400 digits read as infinity
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            guard let index = units.firstIndex(where: { $0.0 == unitText }), index > lastUnitIndex
            else { return .failure(.malformed) }
            lastUnitIndex = index
            total += value * units[index].1
            // Checked before any conversion: a 400-digit number is a Double, not an Int64.
            guard total.isFinite, total <= longest.seconds else { return .failure(.tooLong) }
        }
        return .success(.roundedSeconds(total))
    }

    /// Renders a duration in the same syntax, shortest form: `4m10s`, `1.5s`, `0s`.
    public static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms == 0 { return "0s" }
        let minutes = ms / 60_000
        let restMs = ms % 60_000
        var text = minutes > 0 ? "\(minutes)m" : ""
        if restMs > 0 {
            let s = Double(restMs) / 1000
            text += (restMs % 1000 == 0 ? String(restMs / 1000) : fixed(s, 3).trimmingTrailingZeros()) + "s"
        }
        return text
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }

    func trimmingTrailingZeros() -> String {
        guard contains(".") else { return self }
        var s = Substring(self)
        while s.last == "0" { s = s.dropLast() }
        if s.last == "." { s = s.dropLast() }
        return String(s)
    }
}
