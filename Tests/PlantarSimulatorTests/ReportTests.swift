import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PlantarConfig
import PlantarCore
import PlantarSession
import PlantarSimulator
import Testing

// MARK: - Fixtures

/// The repository's root, from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private func configText(_ relative: String) throws -> (String, String) {
    let path = repositoryRoot.appendingPathComponent(relative).path
    return (try String(contentsOfFile: path, encoding: .utf8), path)
}

/// The shipped back-pain program compiled for the reference device, and the foot it is drawn on.
private func compiledBackPain() throws -> (Timeline, FootGeometry) {
    let (mapText, mapPath) = try configText("Config/footmap.yaml")
    let map = try FootMapLoader.parse(mapText, file: mapPath)
    let (routineText, routinePath) = try configText("Config/routines/back-pain.yaml")
    let (routine, _) = try RoutineLoader.parse(routineText, file: routinePath, map: map)
    let (deviceText, devicePath) = try configText("Config/devices/reference.yaml")
    let device = try DeviceProfileLoader.parse(deviceText, file: devicePath)
    let options = CompileOptions()
    let timeline = try Compiler.compile(routine, map: map, device: device, options: options)
    return (timeline, FootGeometry(map: map, size: options.footSize, device: device))
}

/// A stand-in for the session runner: walks the timeline at `rate` Hz per foot. Moves go in a
/// straight line at their speed, the setpoint is the last pressure command, and the measured
/// pressure follows it with the reference device's lags (pump 0.25 s, valve 0.06 s).
private func syntheticTrace(_ timeline: Timeline, rate: Double = 10, interventions: [Intervention] = [],
                            finalState: String = "finished") -> SessionTrace {
    struct FootState {
        var from = DevicePoint.home, to = DevicePoint.home
        var moveStart = 0.0, moveSeconds = 0.0
        var setpoint = 0.0, measured = 0.0
        var step = 0, zone = ""

        func position(at t: Double) -> DevicePoint {
            guard moveSeconds > 0 else { return to }
            let k = min(1, max(0, (t - moveStart) / moveSeconds))
            return DevicePoint(u: from.u + (to.u - from.u) * k, v: from.v + (to.v - from.v) * k)
        }
    }
    let feet = Foot.allCases.filter { foot in timeline.entries.contains { $0.foot == foot } }
    var state = Dictionary(uniqueKeysWithValues: feet.map { ($0, FootState()) })
    var next = 0
    var samples: [TraceSample] = []
    let dt = 1 / rate
    let pumpLag = 1 - exp(-dt / 0.25), valveLag = 1 - exp(-dt / 0.06)
    let ticks = Int((timeline.duration.seconds + 1) * rate)
    for k in 0...ticks {
        let t = Double(k) * dt
        while next < timeline.entries.count && timeline.entries[next].offset.seconds <= t + 1e-9 {
            let e = timeline.entries[next]
            let at = e.offset.seconds
            var s = state[e.foot]!
            switch e.command {
            case .move(let to, let speed):
                s.from = s.position(at: at)
                s.to = to
                s.moveStart = at
                s.moveSeconds = s.from.distance(to: to) / max(speed, 1)
            case .pressure(_, let kPa, _):
                s.setpoint = kPa
            case .release:
                s.setpoint = 0
            }
            s.step = e.step.index
            s.zone = e.zone
            state[e.foot] = s
            next += 1
        }
        for foot in feet {
            var s = state[foot]!
            s.measured += (s.setpoint - s.measured) * (s.setpoint > s.measured ? pumpLag : valveLag)
            state[foot] = s
            samples.append(TraceSample(time: .roundedSeconds(t), foot: foot, position: s.position(at: t),
                                       setpointKPa: s.setpoint, measuredKPa: s.measured,
                                       state: t < timeline.duration.seconds ? "running" : finalState,
                                       step: s.step, zone: s.zone))
        }
    }
    return SessionTrace(timeline: timeline, samples: samples, interventions: interventions, finalState: finalState)
}

/// The trace as a stop at `time` would leave it: pressure vented within the valve's time, the
/// node where it was, the state `stopped` until the end.
private func stoppedAt(_ time: Duration, _ trace: SessionTrace) -> SessionTrace {
    var result = trace
    var frozen: [Foot: DevicePoint] = [:]
    var last: [Foot: Double] = [:]
    for i in result.samples.indices where result.samples[i].time >= time {
        var s = result.samples[i]
        let position = frozen[s.foot] ?? s.position
        frozen[s.foot] = position
        let measured = (last[s.foot] ?? s.measuredKPa ?? 0) * exp(-0.1 / 0.06)
        last[s.foot] = measured
        s.position = position
        s.setpointKPa = 0
        s.measuredKPa = measured
        s.state = "stopped"
        s.step = 0
        result.samples[i] = s
    }
    return result
}

/// The trace as a pause at `time` for `pause` would leave it: everything after moves later.
private func pausedAt(_ time: Duration, for pause: Duration, _ trace: SessionTrace) -> SessionTrace {
    var result = trace
    var samples = trace.samples.filter { $0.time < time }
    var last: [Foot: TraceSample] = [:]
    for s in samples { last[s.foot] = s }
    var t = time
    while t < time + pause {
        for foot in Foot.allCases {
            guard var held = last[foot] else { continue }
            held.time = t
            held.state = "paused"
            held.setpointKPa = 0
            held.measuredKPa = 0
            samples.append(held)
        }
        t += .milliseconds(100)
    }
    for var s in trace.samples where s.time >= time {
        s.time += pause
        samples.append(s)
    }
    result.samples = samples
    return result
}

private let sampleInterventions = [
    Intervention(time: .seconds(65), kind: .capClamped, foot: .right, detail: "58.0 kPa on spine-lumbar lowered to the cap 44.4 kPa"),
    Intervention(time: .seconds(250), kind: .easeOff, foot: .right, detail: "foot pulled away; pressure eased to 30%"),
    Intervention(time: .seconds(251), kind: .rampLimited, foot: .right, detail: "ramp 300 kPa/s slowed to 150 kPa/s"),
    Intervention(time: .seconds(700), kind: .holdLimit, foot: .left, detail: "press at web-1-2 held 60 s; released"),
]

/// Every text node of an XML document, or nil with the parser's error when it is not well formed.
private final class TextCollector: NSObject, XMLParserDelegate {
    var texts: [String] = []
    var elements: [String: Int] = [:]
    var classes: [String] = []
    var zoneIDs: Set<String> = []
    /// Node-path dots by foot, and the points of each zone's line by foot and zone.
    var dots: [String: [(x: Double, y: Double)]] = [:]
    var zoneLines: [String: [(x: Double, y: Double)]] = [:]
    private var current = ""
    private var groups: [[String: String]] = []

    private func enclosing(_ key: String) -> String? { groups.reversed().lazy.compactMap { $0[key] }.first }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements[name, default: 0] += 1
        if let c = attributes["class"] { classes.append(c) }
        if let z = attributes["data-zone"] { zoneIDs.insert(z) }
        if name == "circle", groups.contains(where: { $0["class"] == "node-path" }), let foot = enclosing("data-foot"),
           let x = attributes["cx"].flatMap(Double.init), let y = attributes["cy"].flatMap(Double.init) {
            dots[foot, default: []].append((x, y))
        }
        if name == "polyline", let zone = enclosing("data-zone"), let foot = enclosing("data-foot"),
           let points = attributes["points"] {
            zoneLines[foot + "/" + zone, default: []] += points.split(separator: " ").compactMap { pair in
                let xy = pair.split(separator: ",").compactMap { Double($0) }
                return xy.count == 2 ? (xy[0], xy[1]) : nil
            }
        }
        if name == "g" { groups.append(attributes) }
        current = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if !current.isEmpty { texts.append(current) }
        current = ""
        if name == "g" { groups.removeLast() }
    }
}

private func parseXML(_ text: String) -> (TextCollector, Bool, String) {
    let parser = XMLParser(data: Data(text.utf8))
    let collector = TextCollector()
    parser.delegate = collector
    let ok = parser.parse()
    return (collector, ok, parser.parserError.map { "\($0)" } ?? "")
}

// MARK: - CSV

@Suite struct TraceCSVTests {
    @Test func headerAndRowsOfASmallTrace() throws {
        let (timeline, _) = try compiledBackPain()
        let trace = SessionTrace(timeline: timeline, samples: [
            TraceSample(time: .milliseconds(100), foot: .right, position: DevicePoint(u: 15.3, v: 0), setpointKPa: 44.4444,
                        measuredKPa: nil, state: "easing", step: 2, zone: "spine, \"lumbar\""),
            TraceSample(time: .zero, foot: .right, position: DevicePoint(u: 10, v: 2.5), setpointKPa: 0, measuredKPa: 0.004,
                        state: "running", step: 1, zone: "sole"),
            TraceSample(time: .milliseconds(100), foot: .left, position: .home, setpointKPa: 0, measuredKPa: 1.25,
                        state: "running", step: 0, zone: ""),
        ], interventions: [], finalState: "finished")
        let expected = """
            time_s,foot,u_mm,v_mm,setpoint_kpa,measured_kpa,state,step,zone
            0.000,right,10.00,2.50,0.00,0.00,running,1,sole
            0.100,left,0.00,0.00,0.00,1.25,running,0,
            0.100,right,15.30,0.00,44.44,,easing,2,"spine, ""lumbar\"\"\"

            """
        #expect(TraceCSV.render(trace) == expected)
    }

    @Test func quotesOnlyWhereNeeded() {
        #expect(TraceCSV.field("spine-lumbar") == "spine-lumbar")
        #expect(TraceCSV.field("a,b") == "\"a,b\"")
        #expect(TraceCSV.field("say \"ah\"") == "\"say \"\"ah\"\"\"")
        #expect(TraceCSV.field("two\nlines") == "\"two\nlines\"")
        #expect(TraceCSV.field("") == "")
    }

    @Test func oneRowPerSampleOfTheBackPainProgram() throws {
        let (timeline, _) = try compiledBackPain()
        let trace = syntheticTrace(timeline)
        let lines = TraceCSV.render(trace).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "time_s,foot,u_mm,v_mm,setpoint_kpa,measured_kpa,state,step,zone")
        #expect(lines.last == "")
        #expect(lines.count == trace.samples.count + 2)
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 9 })
    }
}

// MARK: - SVG

@Suite struct TraceSVGTests {
    @Test func backPainPictureIsWellFormedAndNamesEverything() throws {
        let (timeline, geometry) = try compiledBackPain()
        let trace = syntheticTrace(timeline, interventions: sampleInterventions)
        let svg = TraceSVG.render(trace, geometry: geometry, feet: [.right, .left])
        let (xml, ok, error) = parseXML(svg)
        #expect(ok, "not well-formed XML: \(error)")
        #expect(xml.elements["svg"] == 1)
        #expect(xml.elements["script"] == nil && !svg.contains("@import") && !svg.contains("href"),
                "the picture must be self-contained")

        let text = xml.texts.joined(separator: "\n")
        for step in timeline.steps {
            #expect(text.contains(step.step.name), "step name missing: \(step.step.name)")
        }
        for item in trace.interventions {
            #expect(text.contains(item.kind.rawValue), "intervention kind missing: \(item.kind.rawValue)")
        }
        #expect(text.contains("final state: finished"))
        #expect(text.contains("Right foot") && text.contains("Left foot"))
        #expect(text.contains("0:00") && text.contains("10:00"), "time axis in m:ss")

        #expect(xml.classes.filter { $0 == "foot-outline" }.count == 2)
        #expect(xml.classes.filter { $0 == "node-path" }.count == 2)
        #expect(xml.classes.filter { $0 == "lane" }.count == 2)
        #expect(xml.classes.filter { $0 == "setpoint" }.count == 2)
        #expect(xml.classes.filter { $0 == "measured" }.count == 2)
        #expect(xml.classes.filter { $0 == "intervention" }.count == trace.interventions.count)
        // Every zone that has a shape of its own is drawn; composite lines are drawn by their parts.
        let drawable = geometry.map.zones.values.filter { if case .segments = $0.shape { false } else { true } }.map(\.id)
        #expect(xml.zoneIDs == Set(drawable))
        #expect(!xml.zoneIDs.contains("spine") && !xml.zoneIDs.contains("spine-to-brain"))
    }

    @Test func sizeStaysReasonableAndSeriesAreThinned() throws {
        let (timeline, geometry) = try compiledBackPain()
        #expect(timeline.duration > .seconds(600), "the back-pain program runs for about 15 minutes")
        let trace = syntheticTrace(timeline, interventions: sampleInterventions)
        let svg = TraceSVG.render(trace, geometry: geometry, feet: [.right, .left])
        #expect(svg.utf8.count < 600_000, "SVG is \(svg.utf8.count) bytes")
        // Each drawn series has at most the limit's points.
        for polyline in svg.split(separator: "<polyline").dropFirst() {
            let points = polyline.prefix { $0 != ">" }.split(separator: "points=\"").dropFirst().first?
                .prefix { $0 != "\"" }.split(separator: " ").count ?? 0
            #expect(points <= TraceSVG.maxPointsPerSeries)
        }
    }

    @Test func samePictureForTheSameTrace() throws {
        let (timeline, geometry) = try compiledBackPain()
        let trace = syntheticTrace(timeline, interventions: sampleInterventions)
        #expect(TraceSVG.render(trace, geometry: geometry, feet: [.right, .left])
                == TraceSVG.render(trace, geometry: geometry, feet: [.right, .left]))
    }

    @Test func oneFootAndAStopAreDrawnToo() throws {
        let (timeline, geometry) = try compiledBackPain()
        var trace = syntheticTrace(timeline, interventions: [
            Intervention(time: .seconds(120), kind: .switchStop, detail: "discomfort switch pressed; released and latched"),
        ], finalState: "stopped")
        trace.samples = trace.samples.filter { $0.time <= .seconds(125) }
        let svg = TraceSVG.render(trace, geometry: geometry, feet: [.right])
        let (xml, ok, error) = parseXML(svg)
        #expect(ok, "not well-formed XML: \(error)")
        #expect(xml.classes.filter { $0 == "foot-outline" }.count == 1)
        let text = xml.texts.joined(separator: "\n")
        #expect(text.contains("switch-stop") && text.contains("final state: stopped"))
    }

    /// Hundreds of identical refusals (a foot off the device) are one marker with a count,
    /// in the picture and in the text report; different ones stay apart.
    @Test func repeatedInterventionsAreCoalesced() throws {
        let (timeline, geometry) = try compiledBackPain()
        var items = (0..<300).map {
            Intervention(time: .milliseconds(180_000 + 500 * Int64($0)), kind: .blocked, foot: .right,
                         detail: "pressure node refused: the right foot is not on the device")
        }
        items.append(Intervention(time: .seconds(400), kind: .blocked, foot: .right, detail: "something else"))
        let trace = syntheticTrace(timeline, interventions: items)
        let (xml, ok, error) = parseXML(TraceSVG.render(trace, geometry: geometry, feet: [.right]))
        #expect(ok, "not well-formed XML: \(error)")
        #expect(xml.classes.filter { $0 == "intervention" }.count == 2)
        #expect(xml.texts.contains { $0.contains("blocked ×300") })

        let report = SessionReport(trace: trace, violations: [], sampleInterval: .milliseconds(100))
        let lines = report.text().split(separator: "\n").filter { $0.contains("blocked") }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first.map { $0.contains("3:00.000–5:29.500") && $0.contains("×300") } == true, "\(lines)")
        #expect(report.text().contains("interventions: 301 (2 distinct)"))
    }

    @Test func textIsEscaped() throws {
        let (timeline, geometry) = try compiledBackPain()
        let trace = syntheticTrace(timeline, interventions: [
            Intervention(time: .seconds(1), kind: .fault, foot: .left, detail: "reading <bad> & \"odd\""),
        ])
        let (xml, ok, error) = parseXML(TraceSVG.render(trace, geometry: geometry, feet: []))
        #expect(ok, "not well-formed XML: \(error)")
        #expect(xml.texts.contains { $0.contains("reading <bad> & \"odd\"") })
    }

    /// The "done when": the heel-to-toe spinal passes show on the medial edge of both
    /// feet. The node's dots lie on the spinal reflex line, from its heel end to its toe end.
    @Test func spinalPassesAreDrawnOnTheMedialEdgeOfBothFeet() throws {
        let (timeline, geometry) = try compiledBackPain()
        let svg = TraceSVG.render(syntheticTrace(timeline), geometry: geometry, feet: [.right, .left])
        let (xml, ok, _) = parseXML(svg)
        #expect(ok)
        for foot in ["left", "right"] {
            let coccyx = try #require(xml.zoneLines["\(foot)/spine-coccyx"])
            let cervical = try #require(xml.zoneLines["\(foot)/spine-cervical"])
            let edgeX = coccyx[0].x
            #expect(abs(cervical[0].x - edgeX) < 0.5, "the spinal reflex is one straight edge")
            let heelY = coccyx.map(\.y).max()!, toeY = cervical.map(\.y).min()!
            let onEdge = (xml.dots[foot] ?? []).filter { abs($0.x - edgeX) < 0.6 }
            #expect(onEdge.count >= 20, "\(foot) foot: \(onEdge.count) presses on the medial edge")
            #expect(onEdge.contains { abs($0.y - heelY) < 16 } && onEdge.contains { abs($0.y - toeY) < 16 },
                    "\(foot) foot: presses from the heel end to the toe end of the spinal reflex (within a 10 mm bite)")
        }
        // The pair: the left foot is the mirror image, medial edges facing each other.
        let leftEdge = try #require(xml.zoneLines["left/spine-coccyx"]?.first?.x)
        let rightEdge = try #require(xml.zoneLines["right/spine-coccyx"]?.first?.x)
        let leftLateral = try #require(xml.zoneLines["left/knee-hip"]?.first?.x)
        let rightLateral = try #require(xml.zoneLines["right/knee-hip"]?.first?.x)
        #expect(leftLateral < leftEdge && leftEdge < rightEdge && rightEdge < rightLateral)
    }

    @Test func bandsFollowAPauseAndFadeAfterAStop() throws {
        let (timeline, _) = try compiledBackPain()
        let planned = TraceSVG.stepBands(timeline)
        let paused = TraceSVG.stepBands(pausedAt(.seconds(100), for: .seconds(20), syntheticTrace(timeline)))
        #expect(paused.count == planned.count)
        for (p, q) in zip(planned, paused) {
            #expect(q.ran)
            if p.start < .seconds(100) {
                #expect(abs((q.start - p.start).seconds) <= 0.1, "step \(p.index) \(p.foot): \(q.start) vs \(p.start)")
            } else {
                #expect(abs((q.start - p.start - .seconds(20)).seconds) <= 0.1, "step \(p.index) \(p.foot) moves 20 s later")
            }
        }
        let stopped = TraceSVG.stepBands(stoppedAt(.seconds(120), syntheticTrace(timeline)))
        for band in stopped {
            #expect(band.ran == (band.foot == .right && band.start < .seconds(120)), "step \(band.index) \(band.foot)")
        }
    }

    @Test func stepBandsMergeConsecutivePasses() throws {
        let (timeline, _) = try compiledBackPain()
        let bands = TraceSVG.stepBands(timeline)
        let routineSteps = Set(timeline.steps.map(\.step.index)).count
        #expect(bands.count == routineSteps * 2, "one band per step per foot")
        let walk = try #require(bands.first { $0.foot == .right && $0.index == 2 })
        #expect(walk.passes == 2)
        let passes = timeline.steps.filter { $0.foot == .right && $0.step.index == 2 }
        #expect(walk.start == passes.first!.start && walk.end == passes.last!.end)
    }

    /// Writes the back-pain picture for a person to look at:
    /// `PLANTAR_REPORT_SVG=/tmp/plantar-report.svg swift test --filter writeBackPainPicture`,
    /// then `rsvg-convert -o /tmp/plantar-report.png /tmp/plantar-report.svg`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PLANTAR_REPORT_SVG"] != nil))
    func writeBackPainPicture() throws {
        let path = ProcessInfo.processInfo.environment["PLANTAR_REPORT_SVG"]!
        let (timeline, geometry) = try compiledBackPain()
        let trace = syntheticTrace(timeline, interventions: sampleInterventions)
        try TraceSVG.render(trace, geometry: geometry, feet: [.right, .left]).write(toFile: path, atomically: true, encoding: .utf8)
        try TraceCSV.render(trace).write(toFile: path + ".csv", atomically: true, encoding: .utf8)
        let stopped = stoppedAt(.seconds(120), syntheticTrace(timeline, interventions: [
            Intervention(time: .seconds(120), kind: .switchStop, detail: "discomfort switch pressed; released and latched"),
        ], finalState: "stopped"))
        try TraceSVG.render(stopped, geometry: geometry, feet: [.right, .left])
            .write(toFile: path.replacingOccurrences(of: ".svg", with: "") + "-stopped.svg", atomically: true, encoding: .utf8)
        let paused = pausedAt(.seconds(100), for: .seconds(20), syntheticTrace(timeline))
        try TraceSVG.render(paused, geometry: geometry, feet: [.right, .left])
            .write(toFile: path.replacingOccurrences(of: ".svg", with: "") + "-paused.svg", atomically: true, encoding: .utf8)
        try TraceSVG.render(stopped, geometry: geometry, feet: [.right])
            .write(toFile: path.replacingOccurrences(of: ".svg", with: "") + "-right.svg", atomically: true, encoding: .utf8)
    }
}

// MARK: - Decimation

@Suite struct DecimationTests {
    @Test func keepsPeaksEndsAndOrder() {
        var points: [PlotPoint] = []
        var state: UInt64 = 42
        for i in 0..<9_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            points.append(PlotPoint(x: Double(i) / 10, y: 30 + Double(state >> 40) / Double(1 << 24) * 10))
        }
        points[4_321].y = 97.5   // one short peak
        points[777].y = -3       // and one dip
        let thinned = Decimation.minMax(points, maxPoints: 2_000)
        #expect(thinned.count <= 2_000)
        #expect(thinned.count > 1_500)
        #expect(thinned.map(\.y).max() == 97.5)
        #expect(thinned.map(\.y).min() == -3)
        #expect(thinned.first == points.first && thinned.last == points.last)
        #expect(zip(thinned, thinned.dropFirst()).allSatisfy { $0.x < $1.x })
    }

    @Test func leavesShortSeriesAlone() {
        let points = (0..<50).map { PlotPoint(x: Double($0), y: Double($0 % 7)) }
        #expect(Decimation.minMax(points, maxPoints: 2_000) == points)
    }
}
