import PlantarCore

/// The two axes of a gantry node.
public enum Axis: Int, Sendable, Hashable, CaseIterable {
    case u, v
}

/// A rest-to-rest move of a gantry node along a straight line, as data: a trapezoidal (or,
/// when the move is too short to reach cruise speed, triangular) speed profile along the path,
/// and for each axis the number of steps and their times. Pure: no clock, no IO. The GPIO
/// driver's pulse thread asks it for one step time at a time, so nothing is allocated there.
public struct MovePlan: Sendable, Hashable {
    /// Length of the path (mm).
    public var pathMM: Double
    /// Highest speed reached along the path (mm/s): the cruise speed, or the peak of a
    /// triangular profile.
    public var peakSpeed: Double
    /// Acceleration and deceleration along the path (mm/s²).
    public var accel: Double
    /// Time from start to the last step (s).
    public var duration: Double
    /// Steps per axis, signed: positive moves away from home.
    public var uSteps: Int
    public var vSteps: Int

    /// Time spent accelerating (and, symmetrically, decelerating).
    public var accelTime: Double { accel > 0 ? peakSpeed / accel : 0 }
    /// Distance covered while accelerating.
    public var accelDistance: Double { peakSpeed * peakSpeed / (2 * accel) }

    public func steps(_ axis: Axis) -> Int { axis == .u ? uSteps : vSteps }

    /// When the node has covered `s` mm of the path (s, from the start).
    public func time(atPathMM s: Double) -> Double {
        guard pathMM > 0 else { return 0 }
        let s = min(max(s, 0), pathMM)
        let da = accelDistance
        if s <= da { return (2 * s / accel).squareRoot() }
        if s <= pathMM - da { return accelTime + (s - da) / peakSpeed }
        return duration - (2 * (pathMM - s) / accel).squareRoot()
    }

    /// When the `k`-th step (1-based) of `axis` is due, in seconds from the start: the
    /// moment the planned position along the path reaches that step.
    public func stepTime(_ axis: Axis, _ k: Int) -> Double {
        let n = abs(steps(axis))
        guard n > 0 else { return 0 }
        return time(atPathMM: pathMM * Double(k) / Double(n))
    }

    /// Every step time of `axis`, in order (for tests and tools; the driver asks one by one).
    public func stepTimes(_ axis: Axis) -> [Double] {
        let n = abs(steps(axis))
        return n == 0 ? [] : (1...n).map { stepTime(axis, $0) }
    }

    /// A move that goes nowhere.
    public static let none = MovePlan(pathMM: 0, peakSpeed: 0, accel: 1, duration: 0, uSteps: 0, vSteps: 0)
}

/// Plans step pulses for gantry moves within the axis limits of the device profile.
public enum StepPulsePlanner {
    /// The step position of a point on one axis, clamped to the axis travel.
    public static func stepPosition(_ mm: Double, _ limits: AxisLimits) -> Int {
        let clamped = min(max(mm, 0), limits.travelMM)
        return Int((clamped * limits.stepsPerMM).rounded())
    }

    /// Plans a straight move from the node's step position to `target` (device mm, clamped to
    /// the travel), cruising at no more than `speed` mm/s along the path. Both axes move
    /// together; each stays within its own speed and acceleration, so the path speed is the
    /// largest that keeps the busier axis within its limits.
    public static func plan(from position: (u: Int, v: Int), to target: DevicePoint, speed: Double,
                            u: AxisLimits, v: AxisLimits) -> MovePlan {
        let uSteps = stepPosition(target.u, u) - position.u
        let vSteps = stepPosition(target.v, v) - position.v
        let du = Double(uSteps) / u.stepsPerMM, dv = Double(vSteps) / v.stepsPerMM
        let d = (du * du + dv * dv).squareRoot()
        guard d > 0 else { return .none }
        let cu = abs(du) / d, cv = abs(dv) / d
        let maxSpeed = min(cu > 0 ? u.maxSpeed / cu : .infinity, cv > 0 ? v.maxSpeed / cv : .infinity, max(speed, 0.1))
        let accel = min(cu > 0 ? u.maxAccel / cu : .infinity, cv > 0 ? v.maxAccel / cv : .infinity)
        return profile(pathMM: d, maxSpeed: maxSpeed, accel: accel, uSteps: uSteps, vSteps: vSteps)
    }

    /// Plans a single-axis move of `distanceMM` (signed) within `limits`, cruising at no more
    /// than `speed`.
    public static func planAxis(_ axis: Axis, distanceMM: Double, speed: Double, limits: AxisLimits) -> MovePlan {
        let steps = Int((distanceMM * limits.stepsPerMM).rounded())
        let d = abs(Double(steps)) / limits.stepsPerMM
        guard d > 0 else { return .none }
        return profile(pathMM: d, maxSpeed: min(limits.maxSpeed, max(speed, 0.1)), accel: limits.maxAccel,
                       uSteps: axis == .u ? steps : 0, vSteps: axis == .v ? steps : 0)
    }

    static func profile(pathMM d: Double, maxSpeed: Double, accel: Double, uSteps: Int, vSteps: Int) -> MovePlan {
        // Trapezoid when the move is long enough to reach maxSpeed, else a triangle.
        let fullAccelDistance = maxSpeed * maxSpeed / accel   // speeding up plus slowing down
        let peak = d >= fullAccelDistance ? maxSpeed : (accel * d).squareRoot()
        let cruise = d >= fullAccelDistance ? (d - fullAccelDistance) / maxSpeed : 0
        return MovePlan(pathMM: d, peakSpeed: peak, accel: accel, duration: 2 * peak / accel + cruise,
                        uSteps: uSteps, vSteps: vSteps)
    }
}
