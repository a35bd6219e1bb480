/// Where on the device plane each sensitivity class applies, for one person on one device:
/// the governor's own map of the foot (DESIGN.md principle 7, docs/safety.md §1).
///
/// Built at session start from the foot map, the person's foot size and the device profile,
/// never from a timeline: a command's zone label can lower a cap, never raise it. Every zone
/// with a sensitivity of its own becomes a region, its shape grown by the device's contact
/// radius; a place lies under the most sensitive region that contains it, and a place no
/// region contains is treated as `high` (the strictest).
public struct CapField: Sendable, Hashable {
    /// One zone's footprint in device millimetres.
    public struct Region: Sendable, Hashable {
        public enum Shape: Sendable, Hashable {
            /// Points within `radius` of a polyline (one point: a disc).
            case polyline([DevicePoint], radius: Double)
            /// Points within `radius` of the rectangle `u` × `v`.
            case rectangle(u: ClosedRange<Double>, v: ClosedRange<Double>, radius: Double)
        }
        public var zone: String
        public var surface: Surface
        public var sensitivity: Sensitivity
        public var shape: Shape

        /// Distance from `p` to the bare shape (0 inside), minus the radius: ≤ 0 means inside.
        func excess(_ p: DevicePoint) -> Double {
            switch shape {
            case .polyline(let points, let radius):
                var best = Double.infinity
                if points.count == 1 { best = points[0].distance(to: p) }
                for i in points.indices.dropFirst() { best = min(best, segmentDistance(p, points[i - 1], points[i])) }
                return best - radius
            case .rectangle(let u, let v, let radius):
                let du = max(u.lowerBound - p.u, 0, p.u - u.upperBound)
                let dv = max(v.lowerBound - p.v, 0, p.v - v.upperBound)
                return (du * du + dv * dv).squareRoot() - radius
            }
        }

        /// The part of the straight segment `a`–`b` inside the region, as fractions of the way
        /// from `a` (nil when the segment misses it). A grown shape is convex, so the part is one
        /// interval; it is the hull of the parts inside the convex pieces the shape is made of
        /// (discs at points and corners, strips along segments, rectangles grown along one axis).
        func span(_ a: DevicePoint, _ b: DevicePoint) -> (Double, Double)? {
            var lo = Double.infinity, hi = -Double.infinity
            func take(_ part: (Double, Double)?) {
                guard let part else { return }
                lo = min(lo, part.0)
                hi = max(hi, part.1)
            }
            switch shape {
            case .polyline(let points, let radius):
                for p in points { take(lineInDisc(a, b, center: p, radius: radius)) }
                for i in points.indices.dropFirst() { take(lineInStrip(a, b, points[i - 1], points[i], radius: radius)) }
            case .rectangle(let u, let v, let radius):
                take(lineInBox(a, b, u: (u.lowerBound - radius)...(u.upperBound + radius), v: v))
                take(lineInBox(a, b, u: u, v: (v.lowerBound - radius)...(v.upperBound + radius)))
                for cu in [u.lowerBound, u.upperBound] {
                    for cv in [v.lowerBound, v.upperBound] { take(lineInDisc(a, b, center: DevicePoint(u: cu, v: cv), radius: radius)) }
                }
            }
            return lo <= hi ? (lo, hi) : nil
        }

        /// Whether the rectangle `u` × `v` (a zoned node) overlaps the region.
        func overlaps(u: ClosedRange<Double>, v: ClosedRange<Double>) -> Bool {
            let nearest: (DevicePoint) -> DevicePoint = { p in
                DevicePoint(u: min(max(p.u, u.lowerBound), u.upperBound), v: min(max(p.v, v.lowerBound), v.upperBound))
            }
            switch shape {
            case .polyline(let points, let radius):
                // A polyline overlaps the rectangle when it enters it or passes within the radius.
                for p in points where excess(nearest(p)) <= 0 { return true }
                let corners = [DevicePoint(u: u.lowerBound, v: v.lowerBound), DevicePoint(u: u.upperBound, v: v.lowerBound),
                               DevicePoint(u: u.upperBound, v: v.upperBound), DevicePoint(u: u.lowerBound, v: v.upperBound)]
                for i in points.indices.dropFirst() {
                    for k in 0..<4 where segmentsDistance(points[i - 1], points[i], corners[k], corners[(k + 1) % 4]) <= radius { return true }
                }
                return false
            case .rectangle(let ru, let rv, let radius):
                let du = max(ru.lowerBound - u.upperBound, 0, u.lowerBound - ru.upperBound)
                let dv = max(rv.lowerBound - v.upperBound, 0, v.lowerBound - rv.upperBound)
                return (du * du + dv * dv).squareRoot() <= radius
            }
        }
    }

    public var regions: [Region]
    /// Gantry (the node moves: caps by place and path) or zoned (caps by node).
    public var kind: DeviceKind
    /// The contact radius the regions were grown by (mm).
    public var contactRadiusMM: Double
    /// A zoned device's class per node id (the strictest region it overlaps).
    public var nodeSensitivity: [String: Sensitivity]

    /// The field for one person (foot length) on one device. Regions on surfaces a gantry
    /// cannot reach are left out: its node never presses there.
    public init(map: FootMap, size: FootSize, device: DeviceProfile) {
        let length = size.lengthMM, width = size.lengthMM * map.widthRatio, heel = device.heelOffsetMM
        let radius = device.contactRadiusMM
        func place(_ p: FootPoint, _ surface: Surface) -> DevicePoint {
            let v: Double = switch surface {
            case .medialEdge: 0
            case .lateralEdge: width
            case .sole, .dorsum: p.y * width
            }
            return DevicePoint(u: heel + p.x * length, v: v)
        }
        var regions: [Region] = []
        for zone in map.zones.values.sorted(by: { $0.id < $1.id }) where zone.setsCaps {
            if device.kind == .gantry && !device.reach.contains(zone.surface) { continue }
            let shape: Region.Shape
            switch zone.shape {
            case .point(let p): shape = .polyline([place(p, zone.surface)], radius: radius)
            case .path(let points): shape = .polyline(points.map { place($0, zone.surface) }, radius: radius)
            case .area(let a, let b):
                let pa = place(a, zone.surface), pb = place(b, zone.surface)
                shape = .rectangle(u: min(pa.u, pb.u)...max(pa.u, pb.u), v: min(pa.v, pb.v)...max(pa.v, pb.v), radius: radius)
            case .segments: continue
            }
            regions.append(Region(zone: zone.id, surface: zone.surface, sensitivity: zone.sensitivity, shape: shape))
        }
        self.regions = regions
        kind = device.kind
        contactRadiusMM = radius
        var nodes: [String: Sensitivity] = [:]
        for node in device.nodes {
            var worst: Sensitivity?
            for r in regions where r.surface == node.surface && r.overlaps(u: node.u, v: node.v) {
                worst = max(worst ?? r.sensitivity, r.sensitivity)
            }
            nodes[node.id] = worst ?? .high
        }
        nodeSensitivity = nodes
    }

    /// The class in force at `p`: the most sensitive region containing it, `high` when none does.
    public func sensitivity(at p: DevicePoint) -> Sensitivity {
        var worst: Sensitivity?
        for r in regions where r.excess(p) <= 0 {
            if r.sensitivity == .high { return .high }
            worst = max(worst ?? r.sensitivity, r.sensitivity)
        }
        return worst ?? .high
    }

    /// The strictest class anywhere on the straight path from `a` to `b` (a move while
    /// pressing): the most sensitive region it meets, and `high` when any stretch of it lies
    /// outside every region. Exact: each region's part of the path is found in closed form,
    /// so no gap between regions is too narrow to see.
    public func sensitivity(along a: DevicePoint, to b: DevicePoint) -> Sensitivity {
        // Positions come from telemetry too: a non-finite one is anywhere.
        guard a.u.isFinite, a.v.isFinite, b.u.isFinite, b.v.isFinite else { return .high }
        guard a != b else { return sensitivity(at: a) }
        var worst: Sensitivity?
        var spans: [(Double, Double)] = []
        for r in regions {
            guard let span = r.span(a, b), span.1 >= 0, span.0 <= 1 else { continue }
            if r.sensitivity == .high { return .high }
            worst = max(worst ?? r.sensitivity, r.sensitivity)
            spans.append(span)
        }
        guard let worst else { return .high }
        // A stretch that no region covers is `high` (a nanometre of rounding at the joints).
        spans.sort { $0.0 < $1.0 }
        let slack = 1e-6 / a.distance(to: b)
        var reach = 0.0
        for (lo, hi) in spans {
            if lo > reach + slack { return .high }
            reach = max(reach, hi)
        }
        return reach >= 1 - slack ? worst : .high
    }

    /// Every class of a region containing `p` (`high` when none does): all the tissue under
    /// the node, not only the strictest (an ease lowers the caps of every class being worked).
    public func classes(at p: DevicePoint) -> Set<Sensitivity> {
        let found = Set(regions.filter { $0.excess(p) <= 0 }.map(\.sensitivity))
        return found.isEmpty ? [.high] : found
    }

    /// Every class of a region the straight path from `a` to `b` meets, with `high` when a
    /// stretch of it lies outside every region (or a position is not finite).
    public func classes(along a: DevicePoint, to b: DevicePoint) -> Set<Sensitivity> {
        guard a.u.isFinite, a.v.isFinite, b.u.isFinite, b.v.isFinite else { return [.high] }
        guard a != b else { return classes(at: a) }
        var found: Set<Sensitivity> = []
        for r in regions {
            guard let span = r.span(a, b), span.1 >= 0, span.0 <= 1 else { continue }
            found.insert(r.sensitivity)
        }
        if sensitivity(along: a, to: b) == .high { found.insert(.high) }
        return found
    }

    /// A zoned device's node: the strictest region it overlaps (`high` for an unknown node).
    public func sensitivity(ofNode id: String) -> Sensitivity { nodeSensitivity[id] ?? .high }
}

/// Distance from `p` to the segment `a`–`b`.
func segmentDistance(_ p: DevicePoint, _ a: DevicePoint, _ b: DevicePoint) -> Double {
    let du = b.u - a.u, dv = b.v - a.v
    let length2 = du * du + dv * dv
    guard length2 > 0 else { return p.distance(to: a) }
    let t = min(max(((p.u - a.u) * du + (p.v - a.v) * dv) / length2, 0), 1)
    return p.distance(to: DevicePoint(u: a.u + du * t, v: a.v + dv * t))
}

/// Distance between the segments `a`–`b` and `c`–`d` (0 when they cross).
func segmentsDistance(_ a: DevicePoint, _ b: DevicePoint, _ c: DevicePoint, _ d: DevicePoint) -> Double {
    func cross(_ o: DevicePoint, _ p: DevicePoint, _ q: DevicePoint) -> Double {
        (p.u - o.u) * (q.v - o.v) - (p.v - o.v) * (q.u - o.u)
    }
    let d1 = cross(c, d, a), d2 = cross(c, d, b), d3 = cross(a, b, c), d4 = cross(a, b, d)
    if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) { return 0 }
    return min(segmentDistance(a, c, d), segmentDistance(b, c, d), segmentDistance(c, a, b), segmentDistance(d, a, b))
}

/// The fractions `t` of the line `a + t (b − a)` within `radius` of `center` (a quadratic).
func lineInDisc(_ a: DevicePoint, _ b: DevicePoint, center: DevicePoint, radius: Double) -> (Double, Double)? {
    let du = b.u - a.u, dv = b.v - a.v
    let fu = a.u - center.u, fv = a.v - center.v
    let qa = du * du + dv * dv
    guard qa > 0 else { return nil }
    let qb = 2 * (fu * du + fv * dv), qc = fu * fu + fv * fv - radius * radius
    let disc = qb * qb - 4 * qa * qc
    guard disc >= 0 else { return nil }
    let root = disc.squareRoot()
    return ((-qb - root) / (2 * qa), (-qb + root) / (2 * qa))
}

/// The fractions of the line `a + t (b − a)` inside the axis-aligned box (Liang–Barsky).
func lineInBox(_ a: DevicePoint, _ b: DevicePoint, u: ClosedRange<Double>, v: ClosedRange<Double>) -> (Double, Double)? {
    var lo = -Double.infinity, hi = Double.infinity
    for (p, q) in [(-(b.u - a.u), a.u - u.lowerBound), (b.u - a.u, u.upperBound - a.u),
                   (-(b.v - a.v), a.v - v.lowerBound), (b.v - a.v, v.upperBound - a.v)] {
        if p == 0 {
            if q < 0 { return nil }
        } else if p < 0 {
            lo = max(lo, q / p)
        } else {
            hi = min(hi, q / p)
        }
    }
    return lo <= hi ? (lo, hi) : nil
}

/// The fractions of the line `a + t (b − a)` within `radius` of segment `c`–`d` measured
/// across it, with the foot of the perpendicular on the segment (the capsule's straight part).
func lineInStrip(_ a: DevicePoint, _ b: DevicePoint, _ c: DevicePoint, _ d: DevicePoint, radius: Double) -> (Double, Double)? {
    let eu = d.u - c.u, ev = d.v - c.v
    let length = (eu * eu + ev * ev).squareRoot()
    guard length > 0 else { return nil }
    // In the segment's frame: x along it (0...length), y across it (-radius...radius).
    func frame(_ p: DevicePoint) -> DevicePoint {
        let pu = p.u - c.u, pv = p.v - c.v
        return DevicePoint(u: (pu * eu + pv * ev) / length, v: (-pu * ev + pv * eu) / length)
    }
    return lineInBox(frame(a), frame(b), u: 0...length, v: -radius...radius)
}
