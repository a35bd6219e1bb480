/// Which face of the foot a zone lies on. Devices say which faces they can reach.
public enum Surface: String, Sendable, Hashable, CaseIterable, Codable {
    case sole
    case medialEdge = "medial-edge"
    case lateralEdge = "lateral-edge"
    case dorsum
}

/// How sensitive the tissue under a zone is; selects the pressure cap (see `PressureCaps`).
/// The heel is the least sensitive part of the sole, the medial arch and the dorsum near the
/// toes the most (Xiong, Goonetileke & Jiang; Wu, Liu & Qu 2024).
public enum Sensitivity: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case low, moderate, high

    public static func < (a: Sensitivity, b: Sensitivity) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A point on the normalized foot: `x` from heel (0) to the tip of the longest toe (1),
/// `y` from the medial border (0) to the lateral border (1).
public struct FootPoint: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// The shape of a zone on the normalized foot.
public enum ZoneShape: Sendable, Hashable {
    /// A single point: holds and presses.
    case point(FootPoint)
    /// A reflex line, walked in order from its first point to its last.
    case path([FootPoint])
    /// A rectangle (corners `from` and `to`), worked in lanes by rolling.
    case area(from: FootPoint, to: FootPoint)
    /// A line made of other zones end to end (the spine of its segments); each bite is
    /// attributed to the segment it lands on.
    case segments([String])
}

/// A named zone of the foot map.
public struct Zone: Sendable, Hashable {
    public var id: String
    public var title: String
    public var surface: Surface
    /// The tissue's class. A work zone (no `sensitivity` in the map, `setsCaps` false) has
    /// `high` here: what the compiler plans with when it has nothing better, never what the
    /// governor caps by (it uses the tissue zones under the node: docs/safety.md §1).
    public var sensitivity: Sensitivity
    /// Whether the zone is tissue with a class of its own (a region of the cap field) rather
    /// than a place to work (`sole`, `sole-midline`) that takes the caps of what lies under it.
    public var setsCaps: Bool
    public var shape: ZoneShape
    public var location: SourceLocation?

    public init(id: String, title: String, surface: Surface, sensitivity: Sensitivity, setsCaps: Bool = true,
                shape: ZoneShape, location: SourceLocation? = nil) {
        self.id = id
        self.title = title
        self.surface = surface
        self.sensitivity = sensitivity
        self.setsCaps = setsCaps
        self.shape = shape
        self.location = location
    }
}

/// A point of a zone's line, attributed to the zone (or segment) it belongs to.
public struct ZonePoint: Sendable, Hashable {
    public var point: FootPoint
    public var zone: String
    public var surface: Surface
    public var sensitivity: Sensitivity
}

/// Named zones on a normalized foot, scaled to a person by their foot length.
public struct FootMap: Sendable, Hashable {
    /// Foot width as a fraction of its length (about 0.38 for adults).
    public var widthRatio: Double
    public var zones: [String: Zone]

    public init(widthRatio: Double, zones: [Zone]) {
        self.widthRatio = widthRatio
        self.zones = Dictionary(zones.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func zone(_ id: String) -> Zone? { zones[id] }

    /// The zone's line as attributed points: a path's points, a point alone, an area's
    /// centre line, or the segments' lines end to end. Nil for an unknown zone.
    public func line(of id: String, depth: Int = 0) -> [ZonePoint]? {
        guard let zone = zones[id], depth < 8 else { return nil }
        func attributed(_ p: FootPoint) -> ZonePoint {
            ZonePoint(point: p, zone: zone.id, surface: zone.surface, sensitivity: zone.sensitivity)
        }
        switch zone.shape {
        case .point(let p): return [attributed(p)]
        case .path(let points): return points.map(attributed)
        case .area(let a, let b):
            let y = (a.y + b.y) / 2
            return [attributed(FootPoint(x: a.x, y: y)), attributed(FootPoint(x: b.x, y: y))]
        case .segments(let ids):
            var result: [ZonePoint] = []
            for segment in ids {
                guard let part = line(of: segment, depth: depth + 1) else { return nil }
                // Drop a joint point shared by consecutive segments.
                if let last = result.last, let first = part.first, last.point == first.point {
                    result.append(contentsOf: part.dropFirst())
                } else {
                    result.append(contentsOf: part)
                }
            }
            return result
        }
    }
}

/// The person's foot, which scales the normalized map to millimetres.
public struct FootSize: Sendable, Hashable, Codable {
    /// Heel to the tip of the longest toe, in millimetres.
    public var lengthMM: Double

    public init(lengthMM: Double) { self.lengthMM = lengthMM }

    /// An adult's average foot (EU size 42).
    public static let standard = FootSize(lengthMM: 265)

    /// Plausible adult foot lengths; outside this a value is almost certainly a typo.
    public static let plausibleRange: ClosedRange<Double> = 180...330

    /// Foot length from an EU (Paris point) shoe size: the last is size × 2/3 cm long and
    /// about 15 mm longer than the foot.
    public static func euShoeSize(_ size: Double) -> FootSize {
        FootSize(lengthMM: size * 20 / 3 - 15)
    }
}
