import PlantarCore

/// The person and the session limits the oracle checks against: plain values, read from
/// docs/safety.md's terms, not from the governor's settings type.
public struct OracleSettings: Sendable, Hashable {
    /// The person's sensitivity setting (0.5–1.0); caps scale by it.
    public var sensitivity: Double
    /// Reduced sensation: caps × 0.6 more.
    public var reducedSensation: Bool
    /// Hold limit per spot within the 120 s window (s); `hold-limit`, 60 by default.
    public var holdLimitSeconds: Double
    /// Auto-off (s); 15 minutes by default, never above 30.
    public var autoOffSeconds: Double

    public init(sensitivity: Double = 1, reducedSensation: Bool = false, holdLimitSeconds: Double = 60,
                autoOffSeconds: Double = 15 * 60) {
        self.sensitivity = sensitivity
        self.reducedSensation = reducedSensation
        self.holdLimitSeconds = holdLimitSeconds
        self.autoOffSeconds = autoOffSeconds
    }

    /// The person factor of docs/safety.md §1. A setting can only lower caps: above 1 counts
    /// as 1; a missing or non-positive value counts as the strictest setting, 0.5.
    public var personFactor: Double {
        let s = sensitivity.isFinite && sensitivity > 0 ? min(sensitivity, 1) : 0.5
        return s * (reducedSensation ? 0.6 : 1)
    }

    /// Hold limit as checked: a non-positive or non-finite value falls back to the default.
    var holdLimit: Double { holdLimitSeconds.isFinite && holdLimitSeconds > 0 ? holdLimitSeconds : 60 }
    /// Auto-off as checked: never above the 30-minute ceiling.
    var autoOff: Double { autoOffSeconds.isFinite && autoOffSeconds > 0 ? min(autoOffSeconds, 30 * 60) : 15 * 60 }
}

/// docs/safety.md §1, computed here from the doc's own numbers (not from the governor's table).
public enum OracleCaps {
    /// Half of (357 − 165) kPa × 0.77, times 1, 0.8 and 0.6 for low, moderate and high.
    public static func base(_ s: Sensitivity) -> Double {
        let conservative = (357.0 - 165.0) * 0.77
        switch s {
        case .low: return conservative * 1.0 * 0.5
        case .moderate: return conservative * 0.8 * 0.5
        case .high: return conservative * 0.6 * 0.5
        }
    }
}

/// The foot map laid onto one device for one person: every region with its class, in
/// device millimetres, grown by the contact radius (docs/safety.md §1, "Regions").
public struct CapMap: Sendable {
    /// The convex core of a region piece; the piece is every point within `radius` of it.
    enum Core: Sendable, Hashable {
        case point(DevicePoint)
        case segment(DevicePoint, DevicePoint)
        case rect(lo: DevicePoint, hi: DevicePoint)

        func distance(to p: DevicePoint) -> Double {
            switch self {
            case .point(let c):
                return c.distance(to: p)
            case .segment(let a, let b):
                let du = b.u - a.u, dv = b.v - a.v
                let len2 = du * du + dv * dv
                guard len2 > 0 else { return a.distance(to: p) }
                let s = min(1, max(0, ((p.u - a.u) * du + (p.v - a.v) * dv) / len2))
                return DevicePoint(u: a.u + s * du, v: a.v + s * dv).distance(to: p)
            case .rect(let lo, let hi):
                let eu = max(lo.u - p.u, 0, p.u - hi.u), ev = max(lo.v - p.v, 0, p.v - hi.v)
                return (eu * eu + ev * ev).squareRoot()
            }
        }

        /// Distance from this core to an axis-aligned rectangle (0 when they touch).
        func distance(toRect lo: DevicePoint, _ hi: DevicePoint) -> Double {
            let rect = Core.rect(lo: lo, hi: hi)
            switch self {
            case .point(let c):
                return rect.distance(to: c)
            case .segment(let a, let b):
                if Self.segment(a, b, crosses: lo, hi) { return 0 }
                let corners = [lo, DevicePoint(u: hi.u, v: lo.v), hi, DevicePoint(u: lo.u, v: hi.v)]
                return min(rect.distance(to: a), rect.distance(to: b), corners.map { self.distance(to: $0) }.min()!)
            case .rect(let lo2, let hi2):
                let eu = max(lo.u - hi2.u, 0, lo2.u - hi.u), ev = max(lo.v - hi2.v, 0, lo2.v - hi.v)
                return (eu * eu + ev * ev).squareRoot()
            }
        }

        /// The least distance from this core to segment a–b, in closed form (exact).
        func distance(toSegment a: DevicePoint, _ b: DevicePoint) -> Double {
            let line = Core.segment(a, b)
            switch self {
            case .point(let c):
                return line.distance(to: c)
            case .segment(let c, let d):
                if Self.segments(a, b, cross: c, d) { return 0 }
                return min(self.distance(to: a), self.distance(to: b), line.distance(to: c), line.distance(to: d))
            case .rect(let lo, let hi):
                return line.distance(toRect: lo, hi)
            }
        }

        /// Whether segments a–b and c–d cross or touch.
        static func segments(_ a: DevicePoint, _ b: DevicePoint, cross c: DevicePoint, _ d: DevicePoint) -> Bool {
            func orient(_ p: DevicePoint, _ q: DevicePoint, _ r: DevicePoint) -> Double {
                (q.u - p.u) * (r.v - p.v) - (q.v - p.v) * (r.u - p.u)
            }
            let d1 = orient(c, d, a), d2 = orient(c, d, b), d3 = orient(a, b, c), d4 = orient(a, b, d)
            if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) { return true }
            // Collinear or touching cases are caught by the endpoint distances being zero.
            return false
        }

        /// Whether segment a–b meets the rectangle (Liang–Barsky clipping).
        static func segment(_ a: DevicePoint, _ b: DevicePoint, crosses lo: DevicePoint, _ hi: DevicePoint) -> Bool {
            var t0 = 0.0, t1 = 1.0
            let d = (b.u - a.u, b.v - a.v)
            for (p, q) in [(-d.0, a.u - lo.u), (d.0, hi.u - a.u), (-d.1, a.v - lo.v), (d.1, hi.v - a.v)] {
                if p == 0 {
                    if q < 0 { return false }
                } else {
                    let r = q / p
                    if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
                    if t0 > t1 { return false }
                }
            }
            return true
        }
    }

    /// One convex piece of a zone's region.
    struct Piece: Sendable {
        var zone: String
        var surface: Surface
        var sensitivity: Sensitivity
        var core: Core
    }

    let pieces: [Piece]
    /// The contact radius the regions are grown by (mm).
    public let radius: Double
    /// Foot length and width (mm) as placed.
    public let lengthMM: Double
    public let widthMM: Double
    public let heelOffsetMM: Double

    /// Which class a zone's tissue has, or nil for a work zone with no sensitivity of its
    /// own (written without one in the map: `setsCaps` is the loader's record of that).
    static func tissueClass(_ zone: Zone) -> Sensitivity? { zone.setsCaps ? zone.sensitivity : nil }

    /// Lays the map out. `surfaces`: only zones on these count (a gantry's reach); nil for all.
    public init(map: FootMap, footLengthMM: Double, heelOffsetMM: Double, contactRadiusMM: Double,
                surfaces: Set<Surface>?) {
        let length = footLengthMM.isFinite && footLengthMM > 0 ? footLengthMM : 265
        let width = (map.widthRatio.isFinite && map.widthRatio > 0 ? map.widthRatio : 0.38) * length
        let heel = heelOffsetMM.isFinite ? heelOffsetMM : 0
        lengthMM = length
        widthMM = width
        self.heelOffsetMM = heel
        radius = contactRadiusMM.isFinite && contactRadiusMM > 0 ? contactRadiusMM : 0
        // docs/safety.md §1, "Placing a zone".
        func place(_ p: FootPoint, _ surface: Surface) -> DevicePoint {
            let v: Double = switch surface {
            case .medialEdge: 0
            case .lateralEdge: width
            case .sole, .dorsum: p.y * width
            }
            return DevicePoint(u: heel + p.x * length, v: v)
        }
        var pieces: [Piece] = []
        for zone in map.zones.values.sorted(by: { $0.id < $1.id }) {
            guard let s = Self.tissueClass(zone) else { continue }
            if let surfaces, !surfaces.contains(zone.surface) { continue }
            func add(_ core: Core) { pieces.append(Piece(zone: zone.id, surface: zone.surface, sensitivity: s, core: core)) }
            switch zone.shape {
            case .point(let p):
                add(.point(place(p, zone.surface)))
            case .path(let points):
                let placed = points.map { place($0, zone.surface) }
                if placed.count == 1 { add(.point(placed[0])) }
                for i in placed.indices.dropFirst() { add(.segment(placed[i - 1], placed[i])) }
            case .area(let a, let b):
                let pa = place(a, zone.surface), pb = place(b, zone.surface)
                add(.rect(lo: DevicePoint(u: min(pa.u, pb.u), v: min(pa.v, pb.v)),
                          hi: DevicePoint(u: max(pa.u, pb.u), v: max(pa.v, pb.v))))
            case .segments:
                continue   // no region of its own: its segments have theirs
            }
        }
        self.pieces = pieces
    }

    /// Zones whose region contains `p`, most sensitive first.
    public func zones(at p: DevicePoint) -> [(zone: String, sensitivity: Sensitivity)] {
        pieces.filter { $0.core.distance(to: p) <= radius + 1e-9 }
            .map { ($0.zone, $0.sensitivity) }
            .sorted { ($0.sensitivity, $1.zone) > ($1.sensitivity, $0.zone) }
    }

    /// The class whose cap holds at `p`: the most sensitive region containing it; `high`
    /// where none does.
    public func sensitivity(at p: DevicePoint) -> Sensitivity {
        var worst: Sensitivity?
        for piece in pieces where piece.core.distance(to: p) <= radius + 1e-9 {
            if worst == nil || piece.sensitivity > worst! { worst = piece.sensitivity }
            if worst == .high { return .high }
        }
        return worst ?? .high
    }

    /// The strictest class anywhere on the straight segment a–b (docs/safety.md §1, a move
    /// with pressure held): the most sensitive region it meets, and `high` if any part of
    /// it lies outside every region.
    public func sensitivity(along a: DevicePoint, _ b: DevicePoint) -> Sensitivity {
        let length = a.distance(to: b)
        guard length > 1e-9 else { return sensitivity(at: a) }
        var worst: Sensitivity?
        var covered: [(Double, Double)] = []
        for piece in pieces {
            guard let span = Self.interval(piece.core, radius, a, b) else { continue }
            covered.append(span)
            if worst == nil || piece.sensitivity > worst! { worst = piece.sensitivity }
            if worst == .high { return .high }
        }
        // Any stretch no region covers takes the strictest cap.
        covered.sort { $0.0 < $1.0 }
        var reach = 0.0
        let slack = 1e-6 / length   // a micrometre of rounding at the joints
        for (lo, hi) in covered {
            if lo > reach + slack { return .high }
            reach = max(reach, hi)
        }
        if reach < 1 - slack { return .high }
        return worst ?? .high
    }

    /// The part of segment a–b (as fractions 0...1) within `r` of a convex core. The
    /// distance along a line to a convex set is convex, so the part is one interval: find the
    /// closest fraction, then each edge by bisection.
    static func interval(_ core: Core, _ r: Double, _ a: DevicePoint, _ b: DevicePoint) -> (Double, Double)? {
        func at(_ s: Double) -> DevicePoint { DevicePoint(u: a.u + (b.u - a.u) * s, v: a.v + (b.v - a.v) * s) }
        func d(_ s: Double) -> Double { core.distance(to: at(s)) }
        let limit = r + 1e-9
        // Most pieces are nowhere near the segment: the exact distance rules them out at once.
        guard core.distance(toSegment: a, b) <= limit else { return nil }
        var lo = 0.0, hi = 1.0
        for _ in 0..<80 {
            let m1 = lo + (hi - lo) / 3, m2 = hi - (hi - lo) / 3
            if d(m1) <= d(m2) { hi = m2 } else { lo = m1 }
        }
        var best = (lo + hi) / 2
        for s in [0.0, 1.0] where d(s) < d(best) { best = s }
        guard d(best) <= limit else { return nil }
        func edge(_ inside: Double, _ outside: Double) -> Double {
            guard d(outside) > limit else { return outside }
            var i = inside, o = outside
            for _ in 0..<60 { let m = (i + o) / 2; if d(m) <= limit { i = m } else { o = m } }
            return i
        }
        return (edge(best, 0), edge(best, 1))
    }

    /// A zoned node's class: the most sensitive region on the node's surface that meets its
    /// rectangle; `high` when none does (docs/safety.md §1, "Zoned device").
    public func sensitivity(ofNode node: ZonedNode) -> Sensitivity {
        let lo = DevicePoint(u: node.u.lowerBound, v: node.v.lowerBound)
        let hi = DevicePoint(u: node.u.upperBound, v: node.v.upperBound)
        var worst: Sensitivity?
        for piece in pieces where piece.surface == node.surface && piece.core.distance(toRect: lo, hi) <= radius + 1e-9 {
            if worst == nil || piece.sensitivity > worst! { worst = piece.sensitivity }
        }
        return worst ?? .high
    }
}
