import PlantarCore
import PlantarSession

/// A session trace as a picture (`plantar simulate --svg`): a self-contained SVG, no fonts,
/// scripts or links outside the file.
///
/// Top: pressure over time, one lane per foot in the order the routine works them; the
/// governed setpoint and the measured pressure as two lines; the routine's steps as numbered,
/// alternately shaded bands (consecutive passes of a step merged) named in a key below; every
/// intervention as a red marker labelled with its kind; the final state in the corner.
///
/// Bottom: each foot seen from below, toes up, the medial edge (v = 0, the big-toe side)
/// towards the middle so the two feet look like a pair (the left foot is the mirror image),
/// with every zone of the foot map where `geometry` places it (the spinal reflex segments in
/// their own colours) and the node's path over it, coloured by pressure, a dot where it held.
public enum TraceSVG {
    /// No drawn series has more points than this (see `Decimation.minMax`).
    public static let maxPointsPerSeries = 2000

    /// `feet` are the feet to draw (lanes and outlines); empty means every foot in the trace.
    public static func render(_ trace: SessionTrace, geometry: FootGeometry, feet: [Foot]) -> String {
        var renderer = Renderer(trace: trace, geometry: geometry, feet: feet)
        return renderer.render()
    }

    /// A step of the routine on the time axis of one foot: consecutive passes of the step
    /// on that foot make one band.
    public struct StepBand: Sendable, Hashable {
        public var foot: Foot
        /// 1-based step index (`StepReference.index`).
        public var index: Int
        public var name: String
        public var start: Duration
        public var end: Duration
        public var passes: Int
        /// False for a step the session never reached (it stopped first).
        public var ran: Bool
    }

    /// The bands as planned: from the first pass's start to the last pass's end.
    public static func stepBands(_ timeline: Timeline) -> [StepBand] {
        var bands: [StepBand] = []
        var lastOfFoot: [Foot: Int] = [:]
        for s in timeline.steps {
            if let i = lastOfFoot[s.foot], bands[i].index == s.step.index, bands[i].name == s.step.name {
                bands[i].end = max(bands[i].end, s.end)
                bands[i].passes += 1
                continue
            }
            bands.append(StepBand(foot: s.foot, index: s.step.index, name: s.step.name, start: s.start, end: s.end,
                                  passes: 1, ran: true))
            lastOfFoot[s.foot] = bands.count - 1
        }
        return bands
    }

    /// The bands as the session ran them. A step begins with its first timeline entry (the
    /// move that brings the node to it); where the foot's samples first show the step
    /// (`TraceSample.step`) at or after that moment, moved by the delay so far, tells how much
    /// later than planned it ran (a pause pushes everything after it later). Each band keeps
    /// its planned length up to the next band's start. A step that no sample shows did not
    /// run: it keeps its planned place, moved by the delay so far, with `ran` false. A band
    /// is longer by the time its foot's samples say `paused` inside it. A foot without
    /// samples keeps the plan.
    public static func stepBands(_ trace: SessionTrace) -> [StepBand] {
        var result = stepBands(trace.timeline)
        var onset: [Foot: [Int: Duration]] = [:]
        for entry in trace.timeline.entries where entry.step.index > 0 {
            onset[entry.foot, default: [:]][entry.step.index] = min(onset[entry.foot]?[entry.step.index] ?? entry.offset, entry.offset)
        }
        for foot in Foot.allCases {
            let list = trace.samples.filter { $0.foot == foot }.sorted { $0.time < $1.time }
            let positions = result.indices.filter { result[$0].foot == foot }
            guard !list.isEmpty, !positions.isEmpty else { continue }
            var bands = positions.map { result[$0] }
            var shift = Duration.zero
            var cursor = 0
            let tolerance = Duration.milliseconds(500)
            for k in bands.indices {
                let length = bands[k].end - bands[k].start
                let begins = min(onset[foot]?[bands[k].index] ?? bands[k].start, bands[k].start)
                let from = begins + shift - tolerance
                var i = cursor
                while i < list.count && list[i].time < from { i += 1 }
                while i < list.count && list[i].step != bands[k].index { i += 1 }
                if i < list.count {
                    shift = max(shift, list[i].time - begins)
                    cursor = i
                    bands[k].ran = true
                } else {
                    bands[k].ran = false
                }
                bands[k].start = max(bands[k].start + shift, k > 0 ? bands[k - 1].start : .zero)
                // A pause inside the step makes it last that much longer.
                var end = bands[k].start + length
                var j = cursor
                while j + 1 < list.count && list[j].time < end {
                    if list[j].state == "paused" && list[j].time >= bands[k].start { end += list[j + 1].time - list[j].time }
                    j += 1
                }
                bands[k].end = end
                if k > 0 { bands[k - 1].end = min(bands[k - 1].end, bands[k].start) }
            }
            for (k, position) in positions.enumerated() { result[position] = bands[k] }
        }
        return result
    }
}

// MARK: - Rendering

private struct Renderer {
    let trace: SessionTrace
    let geometry: FootGeometry
    /// Lanes, in the order the routine works the feet.
    let lanes: [Foot]
    let samples: [Foot: [TraceSample]]
    let bands: [TraceSVG.StepBand]
    /// Seconds shown on the time axis.
    let duration: Double
    /// Top of the pressure axis and the pressure colour scale, kPa.
    let kPaTop: Double
    let kPaStep: Double
    /// Colour per spinal-reflex segment (leaf zones of composite zones), in line order.
    let segmentColours: [(zone: String, colour: String)]
    var out: [String] = []

    static let width = 1200.0
    static let chartLeft = 78.0
    static let chartRight = width - 24
    static let laneStride = 200.0
    static let stripHeight = 18.0
    static let ribbonHeight = 6.0
    static let plotHeight = 130.0
    static let font = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"

    static let setpointColour = "#d97706"
    static let measuredColour = "#2563eb"
    static let interventionColour = "#dc2626"
    static let bandShades = ["#e8eef6", "#f6f8fb"]
    static let travelColour = "#94a3b8"
    /// Pressure bins for the node path: light to dark red.
    static let pressureColours = ["#fcbba1", "#fb6a4a", "#cb181d", "#67000d"]
    static let segmentPalette = ["#7570b3", "#1f78b4", "#1b9e77", "#66a61e", "#e7298a", "#a6761d", "#e6ab02", "#666666"]
    static let zoneColour = "#64748b"
    /// Below this the node is taken to be travelling, not pressing.
    static let contactKPa = 2.0

    init(trace: SessionTrace, geometry: FootGeometry, feet: [Foot]) {
        self.trace = trace
        self.geometry = geometry
        var byFoot: [Foot: [TraceSample]] = [:]
        for s in trace.samples { byFoot[s.foot, default: []].append(s) }
        for foot in byFoot.keys { byFoot[foot]!.sort { $0.time < $1.time } }
        samples = byFoot

        var wanted = feet
        if wanted.isEmpty {
            wanted = trace.timeline.steps.map(\.foot) + trace.samples.map(\.foot)
        }
        var order: [Foot] = []
        for foot in trace.timeline.steps.map(\.foot) + wanted where wanted.contains(foot) && !order.contains(foot) {
            order.append(foot)
        }
        lanes = order
        bands = TraceSVG.stepBands(trace).filter { order.contains($0.foot) }

        var end = trace.timeline.duration.seconds
        if let last = trace.samples.map(\.time).max() { end = max(end, last.seconds) }
        if let last = trace.interventions.map(\.time).max() { end = max(end, last.seconds) }
        duration = max(end, 1)

        var peak = 0.0
        for s in trace.samples where order.contains(s.foot) {
            peak = max(peak, s.setpointKPa, s.measuredKPa ?? 0)
        }
        (kPaTop, kPaStep) = Self.niceAxis(max(peak * 1.08, 10), maxTicks: 5)

        var colours: [(String, String)] = []
        func leaves(_ id: String, depth: Int) -> [String] {
            guard depth < 8, let zone = geometry.map.zone(id) else { return [] }
            if case .segments(let parts) = zone.shape { return parts.flatMap { leaves($0, depth: depth + 1) } }
            return [id]
        }
        let composites = geometry.map.zones.values.filter {
            if case .segments = $0.shape { return true } else { return false }
        }
        // Longest composite first, so segments are coloured in the order of the longest line.
        for zone in composites.sorted(by: { (leaves($0.id, depth: 0).count, $1.id) > (leaves($1.id, depth: 0).count, $0.id) }) {
            for leaf in leaves(zone.id, depth: 0) where !colours.contains(where: { $0.0 == leaf }) {
                colours.append((leaf, Self.segmentPalette[colours.count % Self.segmentPalette.count]))
            }
        }
        segmentColours = colours
    }

    /// The colour of the state ribbon; nil where the session was just doing its work.
    static func stateColour(_ state: String) -> String? {
        switch state {
        case "running", "idle", "finished", "": nil
        case "easing": "#f59e0b"
        case "paused": "#94a3b8"
        case "stopped": "#dc2626"
        case "faulted": "#7f1d1d"
        default: "#a855f7"
        }
    }

    static func footName(_ foot: Foot) -> String {
        switch foot {
        case .left: "Left foot"
        case .right: "Right foot"
        }
    }

    static func niceAxis(_ value: Double, maxTicks: Int) -> (top: Double, step: Double) {
        for step in [1.0, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000] where value / step <= Double(maxTicks) {
            return ((value / step).rounded(.up) * step, step)
        }
        return ((value / 1000).rounded(.up) * 1000, 1000)
    }

    static func timeStep(_ duration: Double, maxTicks: Int) -> Double {
        for step in [1.0, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600] where duration / step <= Double(maxTicks) {
            return step
        }
        return 3600
    }

    func x(_ t: Double) -> Double {
        Self.chartLeft + t / duration * (Self.chartRight - Self.chartLeft)
    }

    func pressure(_ s: TraceSample) -> Double { s.measuredKPa ?? s.setpointKPa }

    /// 0: travelling (no pressure); 1…4: quarters of the pressure axis.
    func pressureBin(_ kPa: Double) -> Int {
        guard kPa >= Self.contactKPa else { return 0 }
        return 1 + min(Self.pressureColours.count - 1, Int(kPa / (kPaTop / Double(Self.pressureColours.count))))
    }

    func segmentColour(_ zone: String) -> String? {
        segmentColours.first { $0.zone == zone }?.colour
    }

    func textAttributes(_ size: Double, fill: String = "#1e293b", anchor: String = "start", weight: String? = nil,
                        halo: Bool = false) -> [(String, String)] {
        var a: [(String, String)] = [("font-size", SVG.num(size)), ("fill", fill)]
        if anchor != "start" { a.append(("text-anchor", anchor)) }
        if let weight { a.append(("font-weight", weight)) }
        if halo { a += [("stroke", "#ffffff"), ("stroke-width", "3"), ("stroke-linejoin", "round"), ("paint-order", "stroke")] }
        return a
    }

    mutating func render() -> String {
        var y = header()
        y = pressureChart(top: y)
        y = stepKey(top: y)
        let height = feetSection(top: y)
        let svg = SVG.element("svg", [
            ("xmlns", "http://www.w3.org/2000/svg"),
            ("width", SVG.num(Self.width)), ("height", SVG.num(height)),
            ("viewBox", "0 0 \(SVG.num(Self.width)) \(SVG.num(height))"),
            ("font-family", Self.font),
        ], "\n" + out.joined(separator: "\n") + "\n")
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg + "\n"
    }

    // MARK: Header

    mutating func header() -> Double {
        let tl = trace.timeline
        out.append(SVG.element("rect", [("width", "100%"), ("height", "100%"), ("fill", "#ffffff")]))
        out.append(SVG.text("Plantar simulation: \(tl.routine) on \(tl.device)", x: 24, y: 34,
                            textAttributes(20, weight: "bold")))
        let parameters = tl.parameters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let sampled = trace.samples.map(\.time).max().map { clockText($0) } ?? "0:00"
        let subtitle = (parameters + ["planned \(clockText(tl.duration))", "simulated \(sampled)",
                                      "\(trace.interventions.count) intervention\(trace.interventions.count == 1 ? "" : "s")"])
            .joined(separator: "  ·  ")
        out.append(SVG.text(subtitle, x: 24, y: 56, textAttributes(12, fill: "#475569")))

        // The final state, in the corner.
        let state = trace.finalState
        let colour = switch state {
        case "finished": "#15803d"
        case "stopped", "faulted": "#b91c1c"
        default: "#b45309"
        }
        let label = "final state: \(state)"
        let w = SVG.textWidth(label, size: 14) + 20
        out.append(SVG.element("g", [("class", "final-state")],
            SVG.rect(Self.chartRight - w, 16, w, 28, [("rx", "6"), ("fill", colour), ("fill-opacity", "0.12"),
                                                      ("stroke", colour)])
            + SVG.text(label, x: Self.chartRight - w / 2, y: 35, textAttributes(14, fill: colour, anchor: "middle", weight: "bold"))))
        return 74
    }

    // MARK: Pressure over time

    mutating func pressureChart(top: Double) -> Double {
        let tickStep = Self.timeStep(duration, maxTicks: 16)
        for (laneIndex, foot) in lanes.enumerated() {
            let laneTop = top + Double(laneIndex) * Self.laneStride
            let stripTop = laneTop + 18
            let ribbonTop = stripTop + Self.stripHeight
            let plotTop = ribbonTop + Self.ribbonHeight
            let plotBottom = plotTop + Self.plotHeight
            var g: [String] = []
            g.append(SVG.text("\(Renderer.footName(foot))", x: Self.chartLeft, y: laneTop + 12,
                              textAttributes(13, weight: "bold")))
            g.append(SVG.text("pressure, kPa", x: Self.chartLeft + 80, y: laneTop + 12, textAttributes(11, fill: "#64748b")))

            // Step bands: a labelled strip above the plot, the shading carried through it; a
            // step the session never reached (it stopped before) is drawn faded.
            let footSamples = samples[foot] ?? []
            let footBands = bands.filter { $0.foot == foot }
            for (i, band) in footBands.enumerated() {
                let x0 = x(band.start.seconds), x1 = x(band.end.seconds)
                let shade = Self.bandShades[i % 2]
                let ran = band.ran
                let tip = "step \(band.index): \(band.name) (\(band.foot.rawValue) foot, \(band.passes) pass\(band.passes == 1 ? "" : "es"), \(clockText(band.start))–\(clockText(band.end))\(ran ? "" : ", not run"))"
                var content = SVG.rect(x0, stripTop, x1 - x0, Self.stripHeight + Self.ribbonHeight + Self.plotHeight,
                                       [("fill", shade)], tooltip: tip)
                content += SVG.rect(x0, stripTop, x1 - x0, Self.stripHeight,
                                    [("fill", i % 2 == 0 ? "#cbd5e1" : "#e2e8f0")])
                let full = "\(band.index) \(band.name)"
                let number = String(band.index)
                let label = SVG.textWidth(full, size: 10) + 6 <= x1 - x0 ? full
                    : SVG.textWidth(number, size: 10) + 2 <= x1 - x0 ? number : nil
                if let label {
                    content += SVG.text(label, x: (x0 + x1) / 2, y: stripTop + 13,
                                        textAttributes(10, fill: "#1e293b", anchor: "middle", weight: "bold"))
                }
                var attributes = [("class", "step-band"), ("data-step", String(band.index))]
                if !ran { attributes += [("opacity", "0.4"), ("data-run", "no")] }
                g.append(SVG.element("g", attributes, content))
            }

            // The session's state, where it was not simply running.
            var runStart = 0
            for i in footSamples.indices {
                let isLast = i == footSamples.count - 1
                guard isLast || footSamples[i + 1].state != footSamples[runStart].state else { continue }
                let state = footSamples[runStart].state
                if let colour = Self.stateColour(state) {
                    let t0 = footSamples[runStart].time.seconds
                    let t1 = isLast ? max(footSamples[i].time.seconds, t0) : footSamples[i + 1].time.seconds
                    g.append(SVG.rect(x(t0), ribbonTop, max(1, x(t1) - x(t0)), Self.ribbonHeight,
                                      [("class", "state"), ("data-state", state), ("fill", colour)],
                                      tooltip: "\(state) \(clockText(.roundedSeconds(t0)))–\(clockText(.roundedSeconds(t1)))"))
                }
                runStart = i + 1
            }

            // Axes and gridlines.
            var k = 0.0
            while k <= kPaTop + 1e-9 {
                let yy = plotBottom - k / kPaTop * Self.plotHeight
                g.append(SVG.line(Self.chartLeft, yy, Self.chartRight, yy,
                                  [("stroke", k == 0 ? "#475569" : "#cbd5e1"), ("stroke-width", k == 0 ? "1" : "0.7")]))
                g.append(SVG.text(SVG.num(k), x: Self.chartLeft - 6, y: yy + 4, textAttributes(10, fill: "#475569", anchor: "end")))
                k += kPaStep
            }
            var t = 0.0
            while t <= duration + 1e-9 {
                let xx = x(t)
                g.append(SVG.line(xx, plotTop, xx, plotBottom, [("stroke", "#cbd5e1"), ("stroke-width", "0.6"),
                                                              ("stroke-dasharray", "2 3")]))
                g.append(SVG.line(xx, plotBottom, xx, plotBottom + 4, [("stroke", "#475569")]))
                g.append(SVG.text(clockText(.roundedSeconds(t)), x: xx, y: plotBottom + 16,
                                  textAttributes(10, fill: "#475569", anchor: "middle")))
                t += tickStep
            }
            g.append(SVG.line(Self.chartLeft, plotTop, Self.chartLeft, plotBottom, [("stroke", "#475569")]))

            // Setpoint and measured pressure.
            let setpoint = footSamples.map { PlotPoint(x: $0.time.seconds, y: $0.setpointKPa) }
            var measuredRuns: [[PlotPoint]] = []
            var run: [PlotPoint] = []
            for s in footSamples {
                if let m = s.measuredKPa {
                    run.append(PlotPoint(x: s.time.seconds, y: m))
                } else if !run.isEmpty {
                    measuredRuns.append(run)
                    run = []
                }
            }
            if !run.isEmpty { measuredRuns.append(run) }
            let toPlot = { (p: PlotPoint) in
                PlotPoint(x: self.x(p.x), y: plotBottom - min(p.y, self.kPaTop) / self.kPaTop * Self.plotHeight)
            }
            let measuredCount = max(1, measuredRuns.reduce(0) { $0 + $1.count })
            var d = ""
            for run in measuredRuns {
                let budget = max(4, TraceSVG.maxPointsPerSeries * run.count / measuredCount)
                let points = Decimation.minMax(run, maxPoints: budget).map(toPlot)
                for (i, p) in points.enumerated() { d += (i == 0 ? "M" : "L") + SVG.num(p.x) + "," + SVG.num(p.y) }
            }
            if !d.isEmpty {
                g.append(SVG.element("path", [("class", "measured"), ("d", d), ("fill", "none"),
                                              ("stroke", Self.measuredColour), ("stroke-width", "1.4"),
                                              ("stroke-linejoin", "round")]))
            }
            g.append(SVG.polyline(Decimation.minMax(setpoint, maxPoints: TraceSVG.maxPointsPerSeries).map(toPlot),
                                  [("class", "setpoint"), ("stroke", Self.setpointColour), ("stroke-width", "0.9"),
                                   ("stroke-linejoin", "round")]))
            if footSamples.isEmpty {
                g.append(SVG.text("no samples for this foot", x: (Self.chartLeft + Self.chartRight) / 2,
                                  y: (plotTop + plotBottom) / 2, textAttributes(12, fill: "#94a3b8", anchor: "middle")))
            }

            // Interventions: a red marker each, labels where they do not collide. Repeats of one
            // kind with the same detail are one marker with a band over their time span and a
            // count (a foot off the device can be refused hundreds of times).
            var rows: [[ClosedRange<Double>]] = [[], [], []]
            let groups = SessionReport.coalesce(trace.interventions.sorted(by: { $0.time < $1.time }))
            for item in groups where item.foot == nil || item.foot == foot {
                let xx = x(item.first.seconds), xEnd = x(item.last.seconds)
                var content = ""
                if item.count > 1 {
                    content += SVG.rect(xx, plotTop, max(1, xEnd - xx), plotBottom - plotTop,
                                        [("fill", Self.interventionColour), ("fill-opacity", "0.08")])
                }
                content += SVG.line(xx, plotTop, xx, plotBottom, [("stroke", Self.interventionColour),
                                                                   ("stroke-width", "1.2"), ("stroke-opacity", "0.85")])
                content += SVG.element("polygon", [
                    ("points", "\(SVG.num(xx - 4.5)),\(SVG.num(plotTop)) \(SVG.num(xx + 4.5)),\(SVG.num(plotTop)) \(SVG.num(xx)),\(SVG.num(plotTop + 7))"),
                    ("fill", Self.interventionColour)], "<title>" + SVG.escapeText(item.description) + "</title>")
                let label = item.count > 1 ? "\(item.kind.rawValue) ×\(item.count)" : item.kind.rawValue
                let w = SVG.textWidth(label, size: 10)
                let rightward = xx + 6 + w <= Self.chartRight
                let span = rightward ? (xx + 3)...(xx + 8 + w) : (xx - 8 - w)...(xx - 3)
                if let row = rows.indices.first(where: { r in !rows[r].contains { $0.overlaps(span) } }) {
                    rows[row].append(span)
                    content += SVG.text(label, x: rightward ? xx + 6 : xx - 6, y: plotTop + 17 + Double(row) * 12,
                                        textAttributes(10, fill: Self.interventionColour,
                                                       anchor: rightward ? "start" : "end", weight: "bold", halo: true))
                }
                g.append(SVG.element("g", [("class", "intervention"), ("data-kind", item.kind.rawValue),
                                           ("data-count", String(item.count))], content))
            }
            out.append(SVG.element("g", [("class", "lane"), ("data-foot", foot.rawValue)], "\n" + g.joined(separator: "\n") + "\n"))
        }
        var y = top + Double(lanes.count) * Self.laneStride + 4
        // What the lines and marks mean.
        var x0 = Self.chartLeft
        func key(_ mark: String, _ text: String) -> String {
            defer { x0 += 28 + SVG.textWidth(text, size: 11) + 22 }
            return mark + SVG.text(text, x: x0 + 28, y: y + 4, textAttributes(11, fill: "#334155"))
        }
        var legend = ""
        legend += key(SVG.line(x0, y, x0 + 22, y, [("stroke", Self.setpointColour), ("stroke-width", "1.5")]),
                      "setpoint (after the governor)")
        legend += key(SVG.line(x0, y, x0 + 22, y, [("stroke", Self.measuredColour), ("stroke-width", "2")]),
                      "measured")
        legend += key(SVG.line(x0 + 11, y - 7, x0 + 11, y + 7, [("stroke", Self.interventionColour), ("stroke-width", "1.5")]),
                      "intervention (kind)")
        legend += key(SVG.rect(x0, y - 6, 22, 12, [("fill", "#cbd5e1")]), "step (number: see the key below)")
        var states: [String] = []
        for s in trace.samples where lanes.contains(s.foot) && Self.stateColour(s.state) != nil && !states.contains(s.state) {
            states.append(s.state)
        }
        for state in states {
            legend += key(SVG.rect(x0, y - 3, 22, Self.ribbonHeight, [("fill", Self.stateColour(state)!)]), state)
        }
        out.append(SVG.element("g", [("class", "chart-legend")], legend))
        y += 22
        return y
    }

    /// The step names, by number.
    mutating func stepKey(top: Double) -> Double {
        var seen: [Int: (String, Int)] = [:]
        for band in bands where seen[band.index] == nil { seen[band.index] = (band.name, band.passes) }
        let steps = seen.sorted { $0.key < $1.key }
        guard !steps.isEmpty else { return top }
        var g = SVG.text("Steps", x: Self.chartLeft - 54, y: top + 12, textAttributes(12, weight: "bold"))
        let columns = 3
        let rowsPerColumn = (steps.count + columns - 1) / columns
        let columnWidth = (Self.chartRight - Self.chartLeft) / Double(columns)
        for (i, step) in steps.enumerated() {
            let col = i / rowsPerColumn, row = i % rowsPerColumn
            let xx = Self.chartLeft + Double(col) * columnWidth
            let yy = top + 12 + Double(row) * 16
            g += SVG.text(String(step.key), x: xx + 10, y: yy, textAttributes(11, fill: "#1e293b", anchor: "end", weight: "bold"))
            var name = SVG.escapeText(step.value.0)
            if step.value.1 > 1 {
                name += SVG.element("tspan", [("dx", "6"), ("fill", "#64748b"), ("font-size", "10")], "×\(step.value.1) passes")
            }
            g += SVG.element("text", [("x", SVG.num(xx + 16)), ("y", SVG.num(yy))] + textAttributes(11, fill: "#1e293b"), name)
        }
        out.append(SVG.element("g", [("class", "step-key")], g))
        return top + 12 + Double(rowsPerColumn) * 16 + 8
    }

    // MARK: Feet

    /// Where each foot is drawn: device plane (u, v) to the picture.
    struct FootFrame {
        var foot: Foot
        /// x of v = 0 (the medial edge).
        var originX: Double
        /// +1 when v grows to the right (the right foot), -1 for the mirrored left foot.
        var direction: Double
        var baseY: Double
        var uLow: Double
        var scale: Double

        func point(u: Double, v: Double) -> PlotPoint {
            PlotPoint(x: originX + direction * v * scale, y: baseY - (u - uLow) * scale)
        }
    }

    mutating func feetSection(top: Double) -> Double {
        let drawn = Foot.allCases.filter { lanes.contains($0) }   // left, then right: a pair as seen from above
        guard !drawn.isEmpty else { return top + 10 }
        out.append(SVG.text("Where the node went, over each sole (seen from below, toes up; the spinal reflex runs along the medial edge, v = 0, on the big-toe side)",
                            x: 24, y: top + 18, textAttributes(13, weight: "bold")))

        var uLow = 0.0, uHigh = geometry.heelOffsetMM + geometry.lengthMM
        var vLow = 0.0, vHigh = geometry.widthMM
        for s in trace.samples where drawn.contains(s.foot) {
            uLow = min(uLow, s.position.u); uHigh = max(uHigh, s.position.u)
            vLow = min(vLow, s.position.v); vHigh = max(vHigh, s.position.v)
        }
        uLow -= 4; uHigh += 6
        let drawTop = top + 48
        let drawHeight = 440.0
        let scale = drawHeight / (uHigh - uLow)
        let baseY = drawTop + drawHeight
        let lateralRoom = 104.0, medialRoom = 126.0
        var frames: [FootFrame] = []
        var cursor = 24.0
        for foot in drawn {
            if foot == .left {
                let origin = cursor + lateralRoom + vHigh * scale
                frames.append(FootFrame(foot: foot, originX: origin, direction: -1, baseY: baseY, uLow: uLow, scale: scale))
                cursor = origin - vLow * scale + 2 * medialRoom
            } else {
                let origin = cursor + (drawn.count == 1 ? medialRoom : 0) - vLow * scale
                frames.append(FootFrame(foot: foot, originX: origin, direction: 1, baseY: baseY, uLow: uLow, scale: scale))
                cursor = origin + vHigh * scale + lateralRoom
            }
        }
        for frame in frames { drawFoot(frame, vLow: vLow, vHigh: vHigh, top: drawTop, bottom: baseY) }
        let legendBottom = feetLegend(x: max(cursor + 12, 820), top: top + 40)
        return max(baseY + 40, legendBottom + 16)
    }

    mutating func drawFoot(_ f: FootFrame, vLow: Double, vHigh: Double, top: Double, bottom: Double) {
        let g = geometry
        var parts: [String] = []
        func place(_ p: FootPoint, _ surface: Surface = .sole) -> PlotPoint {
            let d = g.place(p, on: surface)
            return f.point(u: d.u, v: d.v)
        }
        // The sole.
        parts.append(SVG.element("path", [("class", "foot-outline"), ("data-foot", f.foot.rawValue),
                                          ("d", FootOutline.path { place($0) }),
                                          ("fill", "#fbf3ea"), ("stroke", "#a8896c"), ("stroke-width", "1.5")]))
        let heel = f.point(u: g.heelOffsetMM, v: g.widthMM / 2)
        parts.append(SVG.text("\(Renderer.footName(f.foot))", x: heel.x, y: bottom + 16,
                              textAttributes(13, anchor: "middle", weight: "bold")))
        let medialX = f.originX - f.direction * 3
        let toe = f.point(u: g.heelOffsetMM + g.lengthMM, v: 0)
        parts.append(SVG.text("medial", x: medialX, y: toe.y - 6,
                              textAttributes(9, fill: "#94a3b8", anchor: f.direction > 0 ? "end" : "start")))

        // Zones, drawn where the compiler places them; composite lines are drawn by their parts.
        var labels: [(anchor: PlotPoint, text: String, medial: Bool, colour: String, tip: String)] = []
        for zone in g.map.zones.values.sorted(by: { $0.id < $1.id }) {
            let segmentColour = segmentColour(zone.id)
            let colour = segmentColour ?? Self.zoneColour
            let tip = "\(zone.id): \(zone.title) (\(zone.surface.rawValue), \(zone.sensitivity.rawValue) sensitivity)"
            var content = "<title>" + SVG.escapeText(tip) + "</title>"
            var anchor: PlotPoint
            var anchorY: Double   // normalized y, to choose a side for the label
            switch zone.shape {
            case .segments:
                continue
            case .path(let points):
                let placed = points.map { place($0, zone.surface) }
                content += SVG.polyline(placed, [("stroke", colour), ("stroke-width", segmentColour == nil ? "3" : "8"),
                                                 ("stroke-opacity", segmentColour == nil ? "0.55" : "0.5"),
                                                 ("stroke-linecap", segmentColour == nil ? "round" : "butt")])
                anchor = Self.midpoint(placed)
                anchorY = points.map(\.y).reduce(0, +) / Double(max(1, points.count))
            case .point(let p):
                anchor = place(p, zone.surface)
                var attributes: [(String, String)] = [("fill", "#ffffff"), ("fill-opacity", "0.6"), ("stroke", colour),
                                                      ("stroke-width", "1.6")]
                if zone.surface == .dorsum { attributes.append(("stroke-dasharray", "2 1.5")) }
                content += SVG.circle(anchor.x, anchor.y, 4.5, attributes)
                anchorY = p.y
            case .area(let from, let to):
                let a = place(from, zone.surface), b = place(to, zone.surface)
                content += SVG.rect(min(a.x, b.x), min(a.y, b.y), abs(b.x - a.x), abs(b.y - a.y),
                                    [("fill", colour), ("fill-opacity", "0.07"), ("stroke", colour), ("stroke-width", "0.8"),
                                     ("stroke-opacity", "0.6")])
                anchor = PlotPoint(x: (a.x + b.x) / 2, y: min(a.y, b.y))
                anchorY = (from.y + to.y) / 2
            }
            let medial = switch zone.surface {
            case .medialEdge: true
            case .lateralEdge: false
            default: anchorY < 0.5
            }
            labels.append((anchor, zone.id, medial, segmentColour ?? "#475569", tip))
            parts.append(SVG.element("g", [("class", "zone"), ("data-zone", zone.id)], content))
        }

        parts.append(nodePath(f))

        // Labels beside the foot, with leader lines, pushed apart so they do not overlap.
        for medial in [true, false] {
            let side = labels.filter { $0.medial == medial }.sorted { $0.anchor.y < $1.anchor.y }
            var ys = side.map(\.anchor.y)
            Self.spread(&ys, spacing: 12.5, low: top, high: bottom)
            let outward = medial ? -f.direction : f.direction
            let edgeV = medial ? vLow : vHigh
            let edgeX = f.originX + f.direction * edgeV * f.scale
            let labelX = edgeX + outward * 22
            for i in side.indices {
                let item = side[i]
                var content = SVG.element("polyline", [
                    ("points", SVG.points([item.anchor, PlotPoint(x: edgeX + outward * 8, y: ys[i] - 3.5),
                                           PlotPoint(x: labelX - outward * 2, y: ys[i] - 3.5)])),
                    ("fill", "none"), ("stroke", "#94a3b8"), ("stroke-width", "0.6")])
                content += SVG.text(item.text, x: labelX, y: ys[i], textAttributes(10, fill: item.colour,
                                    anchor: outward > 0 ? "start" : "end", weight: segmentColour(item.text) == nil ? nil : "bold"),
                                    tooltip: item.tip)
                parts.append(SVG.element("g", [("class", "zone-label")], content))
            }
        }
        out.append(SVG.element("g", [("class", "foot"), ("data-foot", f.foot.rawValue)], "\n" + parts.joined(separator: "\n") + "\n"))
    }

    /// The node's path over one foot: travel dashed, pressing coloured by pressure, a dot
    /// wherever it stayed and pressed (a bite, a hold), coloured by the peak there.
    func nodePath(_ f: FootFrame) -> String {
        let list = samples[f.foot] ?? []
        guard !list.isEmpty else { return "" }
        var paths = Array(repeating: "", count: Self.pressureColours.count + 1)
        var last: PlotPoint? = nil
        var lastBin = -1
        for i in list.indices {
            let p = f.point(u: list[i].position.u, v: list[i].position.v)
            let kPa = i == 0 ? pressure(list[i]) : (pressure(list[i]) + pressure(list[i - 1])) / 2
            let bin = pressureBin(kPa)
            if let previous = last {
                let moved = ((p.x - previous.x) * (p.x - previous.x) + (p.y - previous.y) * (p.y - previous.y)).squareRoot()
                if moved < 0.8 && bin == lastBin && i != list.count - 1 { continue }
                if bin != lastBin {
                    paths[bin] += "M" + SVG.num(previous.x) + "," + SVG.num(previous.y)
                }
                if moved >= 0.05 { paths[bin] += "L" + SVG.num(p.x) + "," + SVG.num(p.y) }
            }
            last = p
            lastBin = bin
        }

        // Dwells: the node stayed within half a millimetre for at least a quarter second.
        var dots: [String: (point: PlotPoint, peak: Double, since: Duration)] = [:]
        var start = 0
        func closeDwell(_ end: Int) {
            guard end > start, list[end - 1].time - list[start].time >= .milliseconds(250) else { return }
            let peak = list[start..<end].map(pressure).max() ?? 0
            guard pressureBin(peak) > 0 else { return }
            let p = f.point(u: list[start].position.u, v: list[start].position.v)
            let key = SVG.num(p.x.rounded()) + "," + SVG.num(p.y.rounded())
            if dots[key] == nil || dots[key]!.peak < peak { dots[key] = (p, peak, list[start].time) }
        }
        for i in list.indices.dropFirst() where list[i].position.distance(to: list[start].position) > 0.5 {
            closeDwell(i)
            start = i
        }
        closeDwell(list.count)

        var content = ""
        if !paths[0].isEmpty {
            content += SVG.element("path", [("class", "travel"), ("d", paths[0]), ("fill", "none"), ("stroke", Self.travelColour),
                                            ("stroke-width", "1"), ("stroke-dasharray", "3 3")])
        }
        for bin in 1..<paths.count where !paths[bin].isEmpty {
            content += SVG.element("path", [("class", "pressing"), ("d", paths[bin]), ("fill", "none"),
                                            ("stroke", Self.pressureColours[bin - 1]), ("stroke-width", "2"),
                                            ("stroke-linecap", "round"), ("stroke-linejoin", "round")])
        }
        for dot in dots.values.sorted(by: { ($0.peak, $0.since) < ($1.peak, $1.since) }) {
            content += SVG.circle(dot.point.x, dot.point.y, 2.6, [("fill", Self.pressureColours[pressureBin(dot.peak) - 1]),
                                                                  ("stroke", "#ffffff"), ("stroke-width", "0.6")])
        }
        return SVG.element("g", [("class", "node-path"), ("data-foot", f.foot.rawValue)], content)
    }

    static func midpoint(_ points: [PlotPoint]) -> PlotPoint {
        guard points.count > 1 else { return points.first ?? PlotPoint(x: 0, y: 0) }
        var lengths: [Double] = [0]
        for i in 1..<points.count {
            let dx = points[i].x - points[i - 1].x, dy = points[i].y - points[i - 1].y
            lengths.append(lengths[i - 1] + (dx * dx + dy * dy).squareRoot())
        }
        let half = lengths.last! / 2
        for i in 1..<points.count where lengths[i] >= half {
            let span = lengths[i] - lengths[i - 1]
            let t = span > 0 ? (half - lengths[i - 1]) / span : 0
            return PlotPoint(x: points[i - 1].x + (points[i].x - points[i - 1].x) * t,
                             y: points[i - 1].y + (points[i].y - points[i - 1].y) * t)
        }
        return points.last!
    }

    /// Moves sorted positions apart to at least `spacing`, keeping them within low…high
    /// where there is room, each as close to where it wanted to be as the others allow.
    static func spread(_ ys: inout [Double], spacing: Double, low: Double, high: Double) {
        guard !ys.isEmpty else { return }
        for i in ys.indices { ys[i] = min(max(ys[i], low), high) }
        for i in ys.indices.dropFirst() where ys[i] < ys[i - 1] + spacing { ys[i] = ys[i - 1] + spacing }
        if ys[ys.count - 1] > high {
            ys[ys.count - 1] = high
            for i in ys.indices.dropLast().reversed() where ys[i] > ys[i + 1] - spacing { ys[i] = ys[i + 1] - spacing }
        }
    }

    // MARK: Legend beside the feet

    mutating func feetLegend(x x0: Double, top: Double) -> Double {
        var y = top
        var g = ""
        let width = Self.chartRight - x0
        func heading(_ text: String) {
            y += 18
            g += SVG.text(text, x: x0, y: y, textAttributes(12, weight: "bold"))
            y += 6
        }
        /// A row of the legend: a mark drawn around `mid` (the row's middle), then the text.
        /// A row of the legend: a mark drawn around `mid` (the row's middle), then the text,
        /// on up to `lines` lines.
        func row(_ text: String, colour: String = "#334155", lines: Int = 1, mark: (_ mid: Double) -> String = { _ in "" }) {
            y += 16
            g += mark(y - 3.5)
            let maxChars = Int((width - 30) / (10 * 0.58))
            var rest = Substring(text)
            for line in 1...lines {
                var shown = rest
                if rest.count > maxChars {
                    let cut = rest.index(rest.startIndex, offsetBy: maxChars - 1)
                    if line < lines, let space = rest[..<cut].lastIndex(of: " ") {
                        shown = rest[..<space]
                    } else {
                        shown = rest[..<cut] + "…"
                    }
                }
                g += SVG.text(String(shown), x: x0 + 30 + (line > 1 ? 10 : 0), y: y, textAttributes(10, fill: colour),
                              tooltip: line == 1 && shown.count < text.count ? text : nil)
                rest = rest.dropFirst(min(rest.count, shown.hasSuffix("…") ? rest.count : shown.count)).drop { $0 == " " }
                if rest.isEmpty { break }
                y += 13
            }
        }
        heading("Node path (colour: measured pressure)")
        row("travelling, under \(SVG.num(Self.contactKPa)) kPa") {
            SVG.line(x0, $0, x0 + 22, $0, [("stroke", Self.travelColour), ("stroke-dasharray", "3 3")])
        }
        let binWidth = kPaTop / Double(Self.pressureColours.count)
        for (i, colour) in Self.pressureColours.enumerated() {
            let lo = i == 0 ? Self.contactKPa : Double(i) * binWidth
            let range = i == Self.pressureColours.count - 1
                ? "\(SVG.num(lo)) kPa and more" : "\(SVG.num(lo))–\(SVG.num(Double(i + 1) * binWidth)) kPa"
            row(range) { SVG.line(x0, $0, x0 + 22, $0, [("stroke", colour), ("stroke-width", "3")]) }
        }
        row("pressed in place (a bite or a hold), by its peak") {
            SVG.circle(x0 + 11, $0, 3, [("fill", Self.pressureColours[2]), ("stroke", "#ffffff")])
        }

        heading("Spinal reflex line, by segment")
        for (zone, colour) in segmentColours {
            let title = geometry.map.zone(zone)?.title ?? ""
            row("\(zone): \(title)", colour: "#1e293b") {
                SVG.line(x0, $0, x0 + 22, $0, [("stroke", colour), ("stroke-width", "8"), ("stroke-opacity", "0.5")])
            }
        }
        heading("Other zones")
        row("a reflex line") {
            SVG.line(x0, $0, x0 + 22, $0, [("stroke", Self.zoneColour), ("stroke-width", "3"), ("stroke-opacity", "0.55")])
        }
        row("a point on the sole") {
            SVG.circle(x0 + 11, $0, 4, [("fill", "none"), ("stroke", Self.zoneColour), ("stroke-width", "1.6")])
        }
        row("a point on the top of the foot (dorsum)") {
            SVG.circle(x0 + 11, $0, 4, [("fill", "none"), ("stroke", Self.zoneColour), ("stroke-width", "1.6"),
                                        ("stroke-dasharray", "2 1.5")])
        }
        row("an area, worked in lanes") {
            SVG.rect(x0, $0 - 5, 22, 10, [("fill", Self.zoneColour), ("fill-opacity", "0.07"), ("stroke", Self.zoneColour),
                                          ("stroke-width", "0.8"), ("stroke-opacity", "0.6")])
        }

        heading("Interventions (\(trace.interventions.count))")
        if trace.interventions.isEmpty {
            row("none: the governor let every command through")
        }
        let shown = 12
        for item in trace.interventions.sorted(by: { $0.time < $1.time }).prefix(shown) {
            let foot = item.foot.map { " (\($0.rawValue))" } ?? ""
            row("\(clockText(item.time, millis: true))  \(item.kind.rawValue)\(foot): \(item.detail)", lines: 2) {
                SVG.line(x0 + 11, $0 - 6, x0 + 11, $0 + 6, [("stroke", Self.interventionColour), ("stroke-width", "1.5")])
            }
        }
        if trace.interventions.count > shown {
            var counts: [String: Int] = [:]
            for item in trace.interventions { counts[item.kind.rawValue, default: 0] += 1 }
            row("\(trace.interventions.count - shown) more; in all: "
                + counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
        out.append(SVG.element("g", [("class", "feet-legend")], g))
        return y
    }
}
