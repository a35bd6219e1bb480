import PlantarCore

/// A plausible sole, on the normalized foot of `FootPoint` (x heel 0 → longest toe 1,
/// y medial border 0 → lateral border 1), for drawing only.
///
/// The medial border is kept straight at y = 0 from the heel to the big toe, because that is
/// where `FootGeometry` places medial-edge zones (v = 0) and the node walks the spinal reflex;
/// the lateral border reaches y = 1 from the arch forward, where lateral-edge zones lie (v =
/// width), and narrows at the heel and the little toe as a foot does.
enum FootOutline {
    /// Closed, in order around the sole: heel, medial border, big toe, the other toes, lateral border.
    static let points: [FootPoint] = [
        (0.000, 0.45), (0.010, 0.24), (0.040, 0.09), (0.090, 0.020), (0.160, 0.0),
        (0.350, 0.0), (0.550, 0.0), (0.700, -0.012), (0.800, -0.006),
        // great toe
        (0.890, 0.004), (0.955, 0.035), (0.993, 0.110), (0.990, 0.205), (0.955, 0.270),
        (0.905, 0.305),
        // second to fifth toes, each: rise, tip, fall, web
        (0.940, 0.330), (0.960, 0.380), (0.945, 0.430), (0.905, 0.460),
        (0.928, 0.485), (0.935, 0.530), (0.915, 0.575), (0.880, 0.600),
        (0.898, 0.625), (0.898, 0.665), (0.878, 0.705), (0.845, 0.730),
        (0.855, 0.755), (0.848, 0.800), (0.815, 0.850), (0.770, 0.905),
        // lateral border back to the heel
        (0.700, 0.975), (0.600, 1.0), (0.450, 1.0), (0.300, 0.990), (0.200, 0.970),
        (0.120, 0.930), (0.055, 0.840), (0.015, 0.660),
    ].map { FootPoint(x: $0.0, y: $0.1) }

    /// The outline as a smooth closed SVG path (Catmull-Rom through the points), once each
    /// point is placed by `transform`.
    static func path(_ transform: (FootPoint) -> PlotPoint) -> String {
        let p = points.map(transform)
        let n = p.count
        var d = "M" + SVG.num(p[0].x) + "," + SVG.num(p[0].y)
        for i in 0..<n {
            let p0 = p[(i - 1 + n) % n], p1 = p[i], p2 = p[(i + 1) % n], p3 = p[(i + 2) % n]
            let c1 = PlotPoint(x: p1.x + (p2.x - p0.x) / 6, y: p1.y + (p2.y - p0.y) / 6)
            let c2 = PlotPoint(x: p2.x - (p3.x - p1.x) / 6, y: p2.y - (p3.y - p1.y) / 6)
            d += "C" + SVG.num(c1.x) + "," + SVG.num(c1.y) + " " + SVG.num(c2.x) + "," + SVG.num(c2.y)
                + " " + SVG.num(p2.x) + "," + SVG.num(p2.y)
        }
        return d + "Z"
    }
}
