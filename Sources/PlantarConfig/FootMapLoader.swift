import PlantarCore
import Yams

/// Reads a foot map file (`Config/footmap.yaml`).
public enum FootMapLoader {
    public static func parse(_ text: String, file: String) throws(DiagnosticsError) -> FootMap {
        var r = YAMLReader(file: file)
        guard let root = r.compose(text),
              let top = r.mapping(root, "the foot map", allowed: ["foot-map", "width-ratio", "zones"], required: ["foot-map", "zones"])
        else { throw DiagnosticsError(r.problems) }
        if let version = top["foot-map"] { _ = r.int(version, "foot-map format version", in: 1...1) }
        let widthRatio = top["width-ratio"].flatMap { r.double($0, "width-ratio", in: 0.25...0.6) } ?? 0.38

        var zones: [Zone] = []
        if let zonesNode = top["zones"], let entries = r.mapping(zonesNode, "zones", allowed: []) {
            for (id, keyNode, value) in entries.items {
                let what = "zone '\(id)'"
                guard let z = r.mapping(value, what, allowed: ["title", "surface", "sensitivity", "point", "path", "area", "segments"],
                                        required: ["title"]) else { continue }
                let title = z["title"].flatMap { r.string($0, "\(what) title") } ?? id
                let shapeKeys = ["point", "path", "area", "segments"].filter { z[$0] != nil }
                guard shapeKeys.count == 1 else {
                    r.error(value, "\(what) needs exactly one of point, path, area or segments")
                    continue
                }
                var shape: ZoneShape?
                switch shapeKeys[0] {
                case "point":
                    shape = r.footPoint(z["point"]!, "\(what) point").map(ZoneShape.point)
                case "path":
                    if let items = r.sequence(z["path"]!, "\(what) path") {
                        let points = items.compactMap { r.footPoint($0, "\(what) path point") }
                        // A bad point is reported where it is; count only what was written.
                        if items.count < 2 { r.error(z["path"]!, "\(what) path needs at least two points") }
                        else if points.count == items.count { shape = .path(points) }
                    }
                case "area":
                    if let corners = r.sequence(z["area"]!, "\(what) area"), corners.count == 2,
                       let a = r.footPoint(corners[0], "\(what) area corner"), let b = r.footPoint(corners[1], "\(what) area corner") {
                        shape = .area(from: a, to: b)
                    } else if case .sequence = z["area"]! {
                        r.error(z["area"]!, "\(what) area must be two corners [[x, y], [x, y]]")
                    }
                default:
                    if let items = r.sequence(z["segments"]!, "\(what) segments") {
                        shape = .segments(items.compactMap { r.string($0, "\(what) segment") })
                    }
                }
                let isSegments = if case .segments? = shape { true } else { false }
                let surface = z["surface"].flatMap { r.choice($0, "surface", Surface.self) }
                let sensitivity = z["sensitivity"].flatMap { r.choice($0, "sensitivity", Sensitivity.self) }
                if !isSegments {
                    if z["surface"] == nil { r.error(value, "\(what) is missing the required key 'surface'") }
                }
                guard let shape else { continue }
                zones.append(Zone(id: id, title: title, surface: surface ?? .sole, sensitivity: sensitivity ?? .high,
                                  setsCaps: !isSegments && z["sensitivity"] != nil, shape: shape, location: r.location(keyNode)))
            }
        }
        let map = FootMap(widthRatio: widthRatio, zones: zones)
        // A segment that is written but broken has its own error already.
        let written = Set(top["zones"].flatMap { node -> [String]? in
            guard case .mapping(let m) = node else { return nil }
            return m.keys.compactMap(\.string)
        } ?? [])
        for zone in zones {
            guard case .segments(let ids) = zone.shape else { continue }
            for id in ids where map.zone(id) == nil && !written.contains(id) {
                r.problems.append(Diagnostic(at: zone.location, "zone '\(zone.id)' names unknown segment '\(id)'"))
            }
            if ids.isEmpty {
                r.problems.append(Diagnostic(at: zone.location, "zone '\(zone.id)' segments must name at least one zone"))
            } else if let cycle = segmentCycle(from: zone.id, in: map) {
                // A line made of itself has no end: its steps would compile to nothing.
                r.problems.append(Diagnostic(at: zone.location, "zone '\(zone.id)' segments form a cycle: \(cycle.joined(separator: " -> "))"))
            }
        }
        guard !r.problems.hasErrors else { throw DiagnosticsError(r.problems) }
        return map
    }

    /// The first chain of segments leading from `start` back to a zone already on the chain.
    /// Zones whose segments were all walked without a cycle are not walked again, so a map of
    /// segments naming the same zones many times over stays linear, not exponential.
    static func segmentCycle(from start: String, in map: FootMap) -> [String]? {
        var cleared = Set<String>()
        func walk(_ id: String, _ chain: [String]) -> [String]? {
            if chain.contains(id) { return chain + [id] }
            guard !cleared.contains(id), case .segments(let ids)? = map.zone(id)?.shape else { return nil }
            for next in ids { if let cycle = walk(next, chain + [id]) { return cycle } }
            cleared.insert(id)
            return nil
        }
        guard let cycle = walk(start, []) else { return nil }
        // Only report it at a zone on the cycle itself, not at every zone leading into it.
        return cycle.first == start ? cycle : nil
    }
}
