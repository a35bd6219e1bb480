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

        /// Whether the straight segment `a`–`b` touches the region.
        func touches(_ a: DevicePoint, _ b: DevicePoint) -> Bool {
            switch shape {
            case .polyline(let points, let radius):
                if points.count == 1 { return segmentDistance(points[0], a, b) <= radius }
                for i in points.indices.dropFirst() where segmentsDistance(a, b, points[i - 1], points[i]) <= radius { return true }
                return false
            case .rectangle(let u, let v, let radius):
                if excess(a) <= 0 || excess(b) <= 0 { return true }
                let corners = [DevicePoint(u: u.lowerBound, v: v.lowerBound), DevicePoint(u: u.upperBound, v: v.lowerBound),
                               DevicePoint(u: u.upperBound, v: v.upperBound), DevicePoint(u: u.lowerBound, v: v.upperBound)]
                for i in 0..<4 where segmentsDistance(a, b, corners[i], corners[(i + 1) % 4]) <= radius { return true }
                return false
            }
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

    /// The strictest class anywhere on the straight path from `a` to `b` (a move while pressing).
    public func sensitivity(along a: DevicePoint, to b: DevicePoint) -> Sensitivity {
        // Positions come from telemetry too: a non-finite one is anywhere.
        guard a.u.isFinite, a.v.isFinite, b.u.isFinite, b.v.isFinite else { return .high }
        guard a != b else { return sensitivity(at: a) }
        var worst: Sensitivity?
        for r in regions where r.touches(a, b) {
            if r.sensitivity == .high { return .high }
            worst = max(worst ?? r.sensitivity, r.sensitivity)
        }
        guard worst != nil else { return .high }
        // A stretch that no region covers is `high`: walk the path in steps of a millimetre.
        let steps = min(Int(a.distance(to: b).rounded(.up)), 2000)
        for k in 0...max(steps, 1) {
            let t = Double(k) / Double(max(steps, 1))
            let p = DevicePoint(u: a.u + (b.u - a.u) * t, v: a.v + (b.v - a.v) * t)
            if !regions.contains(where: { $0.excess(p) <= 0 }) { return .high }
        }
        return worst!
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
