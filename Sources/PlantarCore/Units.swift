/// A foot on the device. The routine language and the timeline both speak of feet by side.
public enum Foot: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case left, right

    public static func < (a: Foot, b: Foot) -> Bool { a == .left && b == .right }

    // A raw-valued enum hashes its String; feet key hot dictionaries in the governor and
    // the simulator, where that hashing dominated a whole simulated session.
    public func hash(into hasher: inout Hasher) { hasher.combine(self == .left) }
}

/// A point on the device's working plane for one foot, in millimetres.
/// `u` runs heel to toe, `v` runs medial to lateral (DESIGN.md's reference device).
public struct DevicePoint: Sendable, Hashable, Codable {
    public var u: Double
    public var v: Double

    public init(u: Double, v: Double) {
        self.u = u
        self.v = v
    }

    public static let home = DevicePoint(u: 0, v: 0)

    public func distance(to other: DevicePoint) -> Double {
        let du = other.u - u, dv = other.v - v
        return (du * du + dv * dv).squareRoot()
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// A duration from floating-point seconds, rounded to the millisecond so that compiled
    /// timelines are exactly reproducible and print the same everywhere.
    /// Saturating: NaN is zero and magnitudes beyond ±10¹² s (31,000 years) are clamped there,
    /// so no value from outside can trap in the conversion. Parsers reject such values first
    /// with an error naming them; this is the backstop.
    public static func roundedSeconds(_ s: Double) -> Duration {
        guard !s.isNaN else { return .zero }
        let ms = min(max(s * 1000, -1e15), 1e15)
        return .milliseconds(Int64(ms.rounded()))
    }

    /// Whole milliseconds, rounded.
    public var milliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + Int64((Double(parts.attoseconds) * 1e-15).rounded())
    }
}

/// Fixed-point formatting without Foundation: `fixed(3.14159, 2) == "3.14"`.
/// Used for golden files, so it must be exact and locale-free.
public func fixed(_ value: Double, _ decimals: Int) -> String {
    // Never trap on what a bad input or a broken sensor can produce.
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    guard abs(value) < 1e15 else { return value < 0 ? "-huge" : "huge" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (value * scale).rounded()
    let negative = scaled < 0
    let magnitude = Int64(abs(scaled))
    var digits = String(magnitude)
    if decimals > 0 {
        while digits.count <= decimals { digits = "0" + digits }
        let cut = digits.index(digits.endIndex, offsetBy: -decimals)
        digits = digits[..<cut] + "." + digits[cut...]
    }
    return (negative && magnitude != 0 ? "-" : "") + digits
}

/// `m:ss` or `m:ss.mmm` for showing offsets to people.
public func clockText(_ d: Duration, millis: Bool = false) -> String {
    if d < .zero { return "-" + clockText(.zero - d, millis: millis) }
    let ms = d.milliseconds
    let totalSeconds = ms / 1000
    let m = totalSeconds / 60, s = totalSeconds % 60
    var text = "\(m):" + (s < 10 ? "0" : "") + String(s)
    if millis {
        let rest = ms % 1000
        text += "." + String(repeating: "0", count: 3 - String(rest).count) + String(rest)
    }
    return text
}
