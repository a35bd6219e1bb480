/// What a person chose for this run.
public struct CompileOptions: Sendable, Hashable {
    /// Values for the routine's parameters (`focus`, `intensity`, …); missing ones take defaults.
    public var parameters: [String: String]
    /// Overrides the routine's `feet`.
    public var feet: FeetSelection?
    public var footSize: FootSize
    /// The caps in force for this person (already scaled by their sensitivity setting).
    public var caps: PressureCaps
    public var limits: SessionLimits

    public init(parameters: [String: String] = [:], feet: FeetSelection? = nil, footSize: FootSize = .standard,
                caps: PressureCaps = .standard, limits: SessionLimits = .standard) {
        self.parameters = parameters
        self.feet = feet
        self.footSize = footSize
        self.caps = caps
        self.limits = limits
    }
}

/// Turns a routine into a timeline for one device. Pure: no clock, no IO; the same inputs
/// give the same timeline, byte for byte.
///
/// Each technique first becomes a device-independent contact plan (points on the person's
/// foot to press, in order, with a time budget); the plan is then lowered to the device: a
/// gantry moves its node and ramps its bellows, a zoned device pulses the node that covers
/// each point. The stated duration of every step is kept exactly; travel between steps and
/// valve settling are added on top.
public enum Compiler {
    /// Compiles `routine`; throws every problem found (validation, parameters, reach, timing).
    public static func compile(_ routine: Routine, map: FootMap, device: DeviceProfile,
                               options: CompileOptions = CompileOptions()) throws(DiagnosticsError) -> Timeline {
        var problems = RoutineValidator.check(routine, map: map, limits: options.limits).filter { $0.severity == .error }
        let parameters = resolveParameters(routine, options.parameters, problems: &problems)
        let selection = options.feet ?? routine.feet
        let feet = feetInOrder(selection, routine.order)
        for foot in feet where !device.feet.contains(foot) {
            problems.append(Diagnostic(at: nil, "device '\(device.name)' has no \(foot.rawValue) foot position"))
        }
        if !FootSize.plausibleRange.contains(options.footSize.lengthMM) {
            problems.append(Diagnostic(at: nil, "foot length \(fixed(options.footSize.lengthMM, 0)) mm is outside \(Int(FootSize.plausibleRange.lowerBound))–\(Int(FootSize.plausibleRange.upperBound)) mm"))
        }
        if device.kind == .gantry && (device.uAxis == nil || device.vAxis == nil) {
            problems.append(Diagnostic(at: nil, "gantry device '\(device.name)' needs both u and v axes"))
        }
        guard !problems.hasErrors else { throw DiagnosticsError(problems) }

        var emitter = Emitter(device: device, geometry: FootGeometry(map: map, size: options.footSize, device: device))
        emitter.holdLimit = options.limits.holdLimit.seconds
        let intensity = Int(parameters["intensity"] ?? "3") ?? 3

        var units: [(RoutineStep, Int, Foot, Int)] = []   // step, index, foot, pass
        if routine.order == .alternating {
            for (i, step) in routine.steps.enumerated() {
                for foot in feet { for pass in 1...max(1, step.repeats) { units.append((step, i + 1, foot, pass)) } }
            }
        } else {
            for foot in feet {
                for (i, step) in routine.steps.enumerated() {
                    for pass in 1...max(1, step.repeats) { units.append((step, i + 1, foot, pass)) }
                }
            }
        }

        for (step, index, foot, pass) in units {
            let zoneID = step.resolvedZone(parameters)
            let reference = StepReference(index: index, name: step.name, pass: pass)
            let label = "step \(index) '\(step.name)'"
            let context = StepContext(step: step, label: label, zone: zoneID, foot: foot, reference: reference,
                                      intensityScale: Intensity.scale(intensity), caps: options.caps)
            let phases = plan(context, map: map, geometry: emitter.geometry)
            emitter.run(phases, context)
        }
        emitter.park(feet)

        problems = emitter.problems
        guard !problems.hasErrors else { throw DiagnosticsError(deduplicated(problems)) }

        var shown = parameters
        shown["feet"] = selection.rawValue
        shown["foot-length"] = fixed(options.footSize.lengthMM, 0) + "mm"
        // Rounded up so that the last move has surely completed when the timeline ends.
        return Timeline(routine: routine.name, device: device.name, parameters: shown, entries: emitter.entries,
                        steps: emitter.scheduled, duration: .milliseconds(Int64((emitter.time * 1000).rounded(.up))),
                        statedDuration: routine.statedDuration(feet: selection))
    }

    /// Defaults merged with the given values; unknown or invalid values are errors.
    static func resolveParameters(_ routine: Routine, _ given: [String: String], problems: inout [Diagnostic]) -> [String: String] {
        let specs = routine.allParameters
        var values = specs.mapValues(\.defaultText)
        for (name, value) in given.sorted(by: { $0.key < $1.key }) {
            guard let spec = specs[name] else {
                problems.append(Diagnostic(at: nil, "unknown parameter '\(name)'; routine '\(routine.name)' takes \(specs.keys.sorted().joined(separator: ", "))"))
                continue
            }
            if let problem = spec.problem(with: value) {
                problems.append(Diagnostic(at: nil, "parameter \(name)=\(value): \(problem)"))
                continue
            }
            values[name] = value
        }
        return values
    }

    static func feetInOrder(_ selection: FeetSelection, _ order: FootOrder) -> [Foot] {
        switch selection {
        case .left: [.left]
        case .right: [.right]
        case .both: order == .leftFirst ? [.left, .right] : [.right, .left]
        }
    }

    static func deduplicated(_ problems: [Diagnostic]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        return problems.filter { seen.insert($0).inserted }
    }
}

// MARK: - Contact plans (device-independent)

/// A point to press on the person's foot, already placed on the device plane.
struct Contact: Hashable {
    var point: DevicePoint
    var surface: Surface
    var zone: String
    var sensitivity: Sensitivity
}

/// One phase of a technique with its share of the step's time.
enum Phase {
    /// Press each contact in turn, easing to a light touch between them (walking in bites).
    case bites([Contact], fraction: Double, budget: Double)
    /// Keep pressing while the node glides through the contacts (rubbing, rolling);
    /// `knead` alternates firmer and lighter pressure at each waypoint.
    case glide([Contact], fraction: Double, budget: Double, knead: Bool)
}

struct StepContext {
    var step: RoutineStep
    var label: String
    var zone: String
    var foot: Foot
    var reference: StepReference
    var intensityScale: Double
    var caps: PressureCaps
}

/// The person's foot on the device: normalized map points to device millimetres.
public struct FootGeometry: Sendable {
    public var map: FootMap
    public var lengthMM: Double
    public var widthMM: Double
    public var heelOffsetMM: Double

    public init(map: FootMap, size: FootSize, device: DeviceProfile) {
        self.map = map
        self.lengthMM = size.lengthMM
        self.widthMM = size.lengthMM * map.widthRatio
        self.heelOffsetMM = device.heelOffsetMM
    }

    /// Where a point of the normalized foot lies on the device plane (edges at v = 0 and v = width).
    public func place(_ p: FootPoint, on surface: Surface) -> DevicePoint {
        let v: Double = switch surface {
        case .medialEdge: 0
        case .lateralEdge: widthMM
        default: p.y * widthMM
        }
        return DevicePoint(u: heelOffsetMM + p.x * lengthMM, v: v)
    }

    func contact(_ zp: ZonePoint) -> Contact {
        Contact(point: place(zp.point, on: zp.surface), surface: zp.surface, zone: zp.zone, sensitivity: zp.sensitivity)
    }

    /// The zone's line resampled every `spacing` mm (at least its two ends), each sample
    /// attributed to the segment it falls in.
    func resample(_ zoneID: String, spacing: Double) -> [Contact] {
        guard let line = map.line(of: zoneID), let first = line.first else { return [] }
        let placed = line.map(contact)
        guard placed.count > 1 else { return [contact(first)] }
        var lengths: [Double] = [0]
        for i in 1..<placed.count { lengths.append(lengths[i - 1] + placed[i - 1].point.distance(to: placed[i].point)) }
        let total = lengths.last!
        let bites = max(1, Int((total / spacing).rounded()))
        var result: [Contact] = []
        var segment = 1
        for k in 0...bites {
            let s = total * Double(k) / Double(bites)
            while segment < placed.count - 1 && lengths[segment] < s { segment += 1 }
            let a = placed[segment - 1], b = placed[segment]
            let span = lengths[segment] - lengths[segment - 1]
            let t = span > 0 ? (s - lengths[segment - 1]) / span : 0
            let point = DevicePoint(u: a.point.u + (b.point.u - a.point.u) * t, v: a.point.v + (b.point.v - a.point.v) * t)
            let owner = k == 0 ? a : b
            result.append(Contact(point: point, surface: owner.surface, zone: owner.zone, sensitivity: owner.sensitivity))
        }
        return result
    }
}

extension Compiler {
    static let thumbBiteMM = 6.0
    static let fingerBiteMM = 4.0
    static let rubRadiusMM = 5.0
    /// One circle of rubbing takes about this long, a calm pace.
    static let rubCircleSeconds = 2.5
    static let pointsPerCircle = 8
    /// Pressure left on after the hold of a press-hold ("then pressure decreases").
    static let rubAfterHoldFraction = 0.6

    static func plan(_ c: StepContext, map: FootMap, geometry g: FootGeometry) -> [Phase] {
        let step = c.step
        let budget = step.duration.seconds
        let fraction = step.pressure.fractionOfCap
        switch step.technique {
        case .thumbWalk, .fingerWalk, .walkBack:
            let bite = step.biteMM ?? (step.technique == .fingerWalk ? fingerBiteMM : thumbBiteMM)
            var contacts = g.resample(c.zone, spacing: bite)
            if step.technique == .walkBack { contacts.reverse() }
            return [.bites(contacts, fraction: fraction, budget: budget)]

        case .crossWalk:
            let line = g.resample(c.zone, spacing: 1)
            guard !line.isEmpty else { return [] }
            let crossings = step.crossings ?? 3
            let span = step.spanMM ?? 15
            let bite = step.biteMM ?? thumbBiteMM
            var contacts: [Contact] = []
            for k in 0..<crossings {
                let station = line[min(line.count - 1, Int(Double(line.count) * (Double(k) + 0.5) / Double(crossings)))]
                // Cross toward the middle of the sole, whichever edge the line is on.
                let direction: Double = station.point.v > g.widthMM / 2 ? -1 : 1
                let biteCount = max(1, Int((span / bite).rounded()))
                for j in 0...biteCount {
                    var p = station
                    p.point.v += direction * span * Double(j) / Double(biteCount)
                    if j > 0 && station.surface != .sole { p.surface = .sole }
                    contacts.append(p)
                }
            }
            return [.bites(contacts, fraction: fraction, budget: budget)]

        case .pressHold:
            guard let center = g.resample(c.zone, spacing: 1).first else { return [] }
            let hold = (step.hold ?? .seconds(60)).seconds
            let rub = (step.rub ?? .zero).seconds
            var phases: [Phase] = [.bites([center], fraction: fraction, budget: hold)]
            if rub > 0 {
                phases.append(.glide(circle(around: center, radius: step.radiusMM ?? rubRadiusMM, seconds: rub),
                                     fraction: fraction * rubAfterHoldFraction, budget: rub, knead: false))
            }
            return phases

        case .circleRub:
            guard let center = g.resample(c.zone, spacing: 1).first else { return [] }
            return [.glide(circle(around: center, radius: step.radiusMM ?? rubRadiusMM, seconds: budget),
                           fraction: fraction, budget: budget, knead: false)]

        case .roll:
            return [.glide(lanes(c.zone, geometry: g), fraction: fraction, budget: budget, knead: true)]

        case .hold:
            guard let point = g.resample(c.zone, spacing: 1).first else { return [] }
            return [.bites([point], fraction: fraction, budget: budget)]
        }
    }

    static func circle(around center: Contact, radius: Double, seconds: Double) -> [Contact] {
        let circles = max(1, Int((seconds / rubCircleSeconds).rounded()))
        var points: [Contact] = []
        for i in 0...(circles * pointsPerCircle) {
            let angle = 2 * Double.pi * Double(i % pointsPerCircle) / Double(pointsPerCircle)
            var p = center
            p.point.u += radius * cosine(angle)
            p.point.v += radius * sine(angle)
            if center.surface != .sole { p.surface = .sole }
            points.append(p)
        }
        return points
    }

    /// Back-and-forth lanes heel to toe over an area (or along a line), a waypoint every 15 mm.
    static func lanes(_ zoneID: String, geometry g: FootGeometry) -> [Contact] {
        guard let zone = g.map.zone(zoneID) else { return [] }
        guard case .area(let from, let to) = zone.shape else { return g.resample(zoneID, spacing: 15) }
        let a = g.place(from, on: zone.surface), b = g.place(to, on: zone.surface)
        let laneCount = max(2, Int((abs(b.v - a.v) / 18).rounded()))
        let waypoints = max(2, Int((abs(b.u - a.u) / 15).rounded()))
        var points: [Contact] = []
        for lane in 0..<laneCount {
            let v = a.v + (b.v - a.v) * Double(lane) / Double(laneCount - 1)
            for w in 0...waypoints {
                let k = lane % 2 == 0 ? w : waypoints - w
                let u = a.u + (b.u - a.u) * Double(k) / Double(waypoints)
                points.append(Contact(point: DevicePoint(u: u, v: v), surface: zone.surface, zone: zone.id, sensitivity: zone.sensitivity))
            }
        }
        return points
    }
}

// Foundation-free sine and cosine (Taylor series after range reduction): the core stays pure
// and the results are identical on every platform, which golden files need.
func sine(_ x: Double) -> Double {
    var a = x.truncatingRemainder(dividingBy: 2 * .pi)
    if a > .pi { a -= 2 * .pi } else if a < -.pi { a += 2 * .pi }
    var term = a, sum = a
    for n in 1..<12 {
        term *= -a * a / Double((2 * n) * (2 * n + 1))
        sum += term
    }
    return sum
}

func cosine(_ x: Double) -> Double { sine(x + .pi / 2) }
