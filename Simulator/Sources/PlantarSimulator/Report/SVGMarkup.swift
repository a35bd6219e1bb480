import PlantarCore

/// A point on a chart or drawing, in whatever units the caller uses.
public struct PlotPoint: Sendable, Hashable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// Thinning a long series for drawing without losing what a person looks for in it.
public enum Decimation {
    /// At most `maxPoints` points of `points` (taken in x order): the first and the last, and
    /// from each of equal buckets in between its lowest and its highest point, in their
    /// original order. Peaks and troughs survive; a series that already fits is returned as is.
    public static func minMax(_ points: [PlotPoint], maxPoints: Int) -> [PlotPoint] {
        guard points.count > max(maxPoints, 4) else { return points }
        let interior = points.count - 2
        let buckets = max(1, (maxPoints - 2) / 2)
        var result: [PlotPoint] = [points[0]]
        result.reserveCapacity(buckets * 2 + 2)
        for b in 0..<buckets {
            let lo = 1 + interior * b / buckets
            let hi = 1 + interior * (b + 1) / buckets
            guard lo < hi else { continue }
            var iMin = lo, iMax = lo
            for i in lo..<hi {
                if points[i].y < points[iMin].y { iMin = i }
                if points[i].y > points[iMax].y { iMax = i }
            }
            if iMin == iMax {
                result.append(points[iMin])
            } else {
                result.append(points[min(iMin, iMax)])
                result.append(points[max(iMin, iMax)])
            }
        }
        result.append(points[points.count - 1])
        return result
    }
}

/// Just enough SVG writing: compact numbers, escaping, elements. No Foundation.
enum SVG {
    /// A coordinate with at most one decimal, without a trailing `.0`.
    static func num(_ x: Double) -> String {
        let s = fixed(x, 1)
        return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }

    static func escapeText(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\t", "\n", "\r", "\r\n": out.append(c)
            // Other control characters are not allowed in XML 1.0 at all.
            case _ where c.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0xFFFE || $0.value == 0xFFFF }): continue
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeAttribute(_ s: String) -> String {
        var out = ""
        for c in escapeText(s) {
            if c == "\"" { out += "&quot;" } else { out.append(c) }
        }
        return out
    }

    /// `<name a="1" …/>` or `<name …>content</name>`; attribute values are escaped here,
    /// content is taken as markup (escape text with `escapeText`).
    static func element(_ name: String, _ attributes: [(String, String)], _ content: String? = nil) -> String {
        var s = "<" + name
        for (key, value) in attributes { s += " " + key + "=\"" + escapeAttribute(value) + "\"" }
        guard let content else { return s + "/>" }
        return s + ">" + content + "</" + name + ">"
    }

    static func text(_ string: String, x: Double, y: Double, _ attributes: [(String, String)] = [],
                      tooltip: String? = nil) -> String {
        var content = escapeText(string)
        if let tooltip { content = "<title>" + escapeText(tooltip) + "</title>" + content }
        return element("text", [("x", num(x)), ("y", num(y))] + attributes, content)
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ attributes: [(String, String)]) -> String {
        element("line", [("x1", num(x1)), ("y1", num(y1)), ("x2", num(x2)), ("y2", num(y2))] + attributes)
    }

    static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ attributes: [(String, String)],
                     tooltip: String? = nil) -> String {
        element("rect", [("x", num(x)), ("y", num(y)), ("width", num(max(0, w))), ("height", num(max(0, h)))] + attributes,
                tooltip.map { "<title>" + escapeText($0) + "</title>" })
    }

    static func circle(_ x: Double, _ y: Double, _ r: Double, _ attributes: [(String, String)],
                       tooltip: String? = nil) -> String {
        element("circle", [("cx", num(x)), ("cy", num(y)), ("r", num(r))] + attributes,
                tooltip.map { "<title>" + escapeText($0) + "</title>" })
    }

    static func points(_ points: [PlotPoint]) -> String {
        points.map { num($0.x) + "," + num($0.y) }.joined(separator: " ")
    }

    static func polyline(_ points: [PlotPoint], _ attributes: [(String, String)], tooltip: String? = nil) -> String {
        element("polyline", [("points", SVG.points(points)), ("fill", "none")] + attributes,
                tooltip.map { "<title>" + escapeText($0) + "</title>" })
    }

    /// Rough width of `text` in a sans-serif face at `size` px, for layout without font metrics.
    static func textWidth(_ text: String, size: Double) -> Double {
        Double(text.count) * size * 0.58
    }
}
