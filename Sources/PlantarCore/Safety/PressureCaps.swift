/// Upper limits on contact pressure per zone sensitivity class, in kPa.
///
/// Derivation (DESIGN.md's safety numbers): plantar pressure pain threshold in healthy adults
/// is 357 ± 165 kPa by algometer (Lewin, Naemi & Price). A conservative threshold is one
/// standard deviation below the mean, 192 kPa, lowered by the ~23% drop over a standing
/// workday (Messing & Kilbom 2001): 148 kPa, which we take for the least sensitive zone (the
/// heel). The medial arch and the dorsum near the toes are the most sensitive (Xiong,
/// Goonetileke & Jiang; Wu, Liu & Qu 2024): we scale to 0.8 (moderate) and 0.6 (high).
/// Caps are half of those conservative thresholds. ISO/TS 15066 body-region limits are
/// injury ceilings for robots and deliberately play no part here.
public struct PressureCaps: Sendable, Hashable, Codable {
    public var low: Double
    public var moderate: Double
    public var high: Double

    public init(low: Double, moderate: Double, high: Double) {
        self.low = low
        self.moderate = moderate
        self.high = high
    }

    /// Conservative pain threshold for the least sensitive zone, kPa (see the type's notes).
    public static let conservativeHeelThresholdKPa = (357.0 - 165.0) * 0.77

    public static let standard = PressureCaps(
        low: conservativeHeelThresholdKPa * 0.5,
        moderate: conservativeHeelThresholdKPa * 0.8 * 0.5,
        high: conservativeHeelThresholdKPa * 0.6 * 0.5)

    /// For reduced sensation (e.g. diabetic neuropathy): a person may not feel excess
    /// pressure, so the caps drop to 60% and do not rely on discomfort signals alone.
    public static let reducedSensationFactor = 0.6

    public subscript(_ sensitivity: Sensitivity) -> Double {
        switch sensitivity {
        case .low: low
        case .moderate: moderate
        case .high: high
        }
    }

    /// Every cap multiplied by `factor` (a person's sensitivity setting, reduced sensation).
    public func scaled(by factor: Double) -> PressureCaps {
        PressureCaps(low: low * factor, moderate: moderate * factor, high: high * factor)
    }
}

/// How the intensity parameter (1–5) scales a level within the caps; 3 is nominal.
public enum Intensity {
    public static let range = 1...5

    public static func scale(_ intensity: Int) -> Double {
        switch intensity {
        case ...1: 0.6
        case 2: 0.8
        case 3: 1.0
        case 4: 1.1
        default: 1.2
        }
    }
}

/// Session limits that the compiler checks and the governor enforces.
public struct SessionLimits: Sendable, Hashable, Codable {
    /// Longest continuous press at one point (the seeds hold about a minute).
    public var holdLimit: Duration
    /// Session auto-off (manufacturers advise at most 15 minutes).
    public var autoOff: Duration

    /// The dose rule's sliding window (docs/safety.md §3): no spot pressed longer than
    /// `holdLimit` within any stretch this long. Two holds' worth: a minute's hold needs a
    /// minute's rest.
    public static let doseWindow = Duration.seconds(120)

    /// Auto-off may be configured, but never above this.
    public static let autoOffCeiling = Duration.seconds(30 * 60)

    public static let standard = SessionLimits(holdLimit: .seconds(60), autoOff: .seconds(15 * 60))

    public init(holdLimit: Duration, autoOff: Duration) {
        self.holdLimit = holdLimit
        self.autoOff = min(autoOff, Self.autoOffCeiling)
    }
}
