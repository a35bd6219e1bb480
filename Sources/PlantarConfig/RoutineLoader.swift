import PlantarCore
import Yams

/// Reads a routine file (`Config/routines/*.yaml`) and checks it against the foot map.
public enum RoutineLoader {
    /// A step may last from a breath to ten minutes; anything outside is a typo.
    static let stepDurations = Duration.milliseconds(500)...Duration.seconds(600)

    /// Parses and validates; throws every error in the file. Warnings are returned.
    public static func parse(_ text: String, file: String, map: FootMap,
                             limits: SessionLimits = .standard) throws(DiagnosticsError) -> (Routine, [Diagnostic]) {
        var r = YAMLReader(file: file)
        guard let root = r.compose(text),
              let top = r.mapping(root, "the routine",
                                  allowed: ["routine", "title", "summary", "sources", "feet", "order", "parameters", "steps"],
                                  required: ["routine", "title", "steps"])
        else { throw DiagnosticsError(r.problems) }

        let name = top["routine"].flatMap { r.string($0, "routine name") } ?? ""
        let title = top["title"].flatMap { r.string($0, "title") } ?? name
        let summary = top["summary"].flatMap { r.string($0, "summary") } ?? ""
        if let sources = top["sources"] { _ = r.sequence(sources, "sources") }
        let feet = top["feet"].flatMap { r.choice($0, "feet", FeetSelection.self) } ?? .both
        let order = top["order"].flatMap { r.choice($0, "order", FootOrder.self) } ?? .rightFirst
        let errorsBeforeParameters = r.problems.count
        let parameters = top["parameters"].map { parseParameters($0, &r) } ?? [:]
        let parametersBroken = r.problems.count > errorsBeforeParameters

        var steps: [RoutineStep] = []
        var numbered: [(number: Int, step: RoutineStep)] = []
        if let stepsNode = top["steps"], let items = r.sequence(stepsNode, "steps") {
            if items.isEmpty { r.error(stepsNode, "a routine needs at least one step") }
            for (i, item) in items.enumerated() {
                if let step = parseStep(item, number: i + 1, &r) {
                    steps.append(step)
                    numbered.append((i + 1, step))
                }
            }
        }
        let routine = Routine(name: name, title: title, summary: summary, feet: feet, order: order,
                              parameters: parameters, steps: steps, file: file)
        if !r.problems.hasErrors {
            r.problems += RoutineValidator.check(routine, map: map, limits: limits)
        } else {
            // Every error in the file is listed at once: the steps that parsed are still
            // checked against the map, under their own numbers. Not the total duration (some
            // steps are missing) and not steps that use a parameter when the parameters are
            // broken, so one mistake is not reported twice.
            for (number, step) in numbered
            where !(parametersBroken && !RoutineValidator.parameterReferences(in: step.zone).isEmpty) {
                r.problems += RoutineValidator.checkStep(step, number: number, parameters: routine.allParameters,
                                                         map: map, limits: limits)
            }
        }
        guard !r.problems.hasErrors else { throw DiagnosticsError(sorted(r.problems)) }
        return (routine, r.problems)
    }

    static func sorted(_ problems: [Diagnostic]) -> [Diagnostic] {
        problems.enumerated().sorted { a, b in
            let la = a.element.location, lb = b.element.location
            return ((la?.line ?? 0), (la?.column ?? 0), a.offset) < ((lb?.line ?? 0), (lb?.column ?? 0), b.offset)
        }.map(\.element)
    }

    static func parseParameters(_ node: Node, _ r: inout YAMLReader) -> [String: ParameterSpec] {
        guard let entries = r.mapping(node, "parameters", allowed: []) else { return [:] }
        var result: [String: ParameterSpec] = [:]
        for (name, _, value) in entries.items {
            let what = "parameter '\(name)'"
            guard let p = r.mapping(value, what, allowed: ["choices", "range", "default", "help"], required: ["default"]) else { continue }
            if let choicesNode = p["choices"] {
                guard let items = r.sequence(choicesNode, "\(what) choices") else { continue }
                let choices = items.compactMap { r.string($0, "\(what) choice") }
                guard let defaultNode = p["default"], let d = r.string(defaultNode, "\(what) default") else { continue }
                if !choices.contains(d) { r.error(defaultNode, "\(what) default '\(d)' is not one of its choices (\(choices.joined(separator: ", ")))") }
                result[name] = .choice(choices, default: d)
            } else if let rangeNode = p["range"] {
                guard let items = r.sequence(rangeNode, "\(what) range") else { continue }
                guard items.count == 2, let lo = r.int(items[0], "\(what) range start", in: -1000...1000),
                      let hi = r.int(items[1], "\(what) range end", in: lo...1000) else {
                    if items.count != 2 { r.error(rangeNode, "\(what) range must be [lowest, highest]") }
                    continue
                }
                guard let defaultNode = p["default"], let d = r.int(defaultNode, "\(what) default", in: lo...hi) else { continue }
                if name == "intensity" && (lo < Intensity.range.lowerBound || hi > Intensity.range.upperBound) {
                    r.error(rangeNode, "intensity can be narrowed but not widened beyond 1–5")
                }
                result[name] = .integer(lo...hi, default: d)
            } else {
                r.error(value, "\(what) needs either 'choices' or 'range'")
            }
        }
        return result
    }

    static func parseStep(_ node: Node, number: Int, _ r: inout YAMLReader) -> RoutineStep? {
        let what = "step \(number)"
        guard let s = r.mapping(node, what,
                                allowed: ["name", "technique", "zone", "pressure", "duration", "repeat", "hold", "rub",
                                          "bite", "crossings", "span", "radius", "note"],
                                required: ["technique", "zone"]) else { return nil }
        var keyLocations: [String: SourceLocation] = [:]
        for item in s.items { keyLocations[item.key] = r.location(item.value) }
        let errorsBefore = r.problems.count

        let technique = s["technique"].flatMap { r.choice($0, "technique", Technique.self) }
        let name = s["name"].flatMap { r.string($0, "\(what) name") } ?? technique?.rawValue ?? what
        let zone = s["zone"].flatMap { r.string($0, "\(what) zone") }
        let pressure = s["pressure"].flatMap { r.choice($0, "pressure level", PressureLevel.self) } ?? .moderate
        let repeats = s["repeat"].flatMap { r.int($0, "\(what) repeat", in: 1...20) } ?? 1
        let hold = s["hold"].flatMap { r.duration($0, "\(what) hold", in: stepDurations) }
        let rub = s["rub"].flatMap { r.duration($0, "\(what) rub", in: .zero...stepDurations.upperBound) }
        var duration = s["duration"].flatMap { r.duration($0, "\(what) duration", in: stepDurations) }
        let bite = s["bite"].flatMap { r.millimetres($0, "\(what) bite", in: 2...30) }
        let crossings = s["crossings"].flatMap { r.int($0, "\(what) crossings", in: 1...12) }
        let span = s["span"].flatMap { r.millimetres($0, "\(what) span", in: 5...60) }
        let radius = s["radius"].flatMap { r.millimetres($0, "\(what) radius", in: 2...20) }
        if let note = s["note"] { _ = r.string(note, "\(what) note") }

        if let technique {
            if technique == .pressHold {
                if s["duration"] != nil { r.error(s["duration"]!, "\(what): press-hold takes 'hold' and 'rub', not 'duration'") }
                if s["hold"] == nil { r.error(node, "\(what): press-hold needs 'hold' (how long to press the point)") }
                duration = (hold ?? .zero) + (rub ?? .zero)
            } else {
                for key in ["hold", "rub"] where s[key] != nil {
                    r.error(s[key]!, "\(what): '\(key)' applies only to press-hold")
                }
                if s["duration"] == nil { r.error(node, "\(what) is missing the required key 'duration'") }
            }
            for key in ["crossings", "span"] where s[key] != nil && technique != .crossWalk {
                r.error(s[key]!, "\(what): '\(key)' applies only to cross-walk")
            }
            if s["bite"] != nil && !technique.walksALine {
                r.error(s["bite"]!, "\(what): 'bite' applies only to walking techniques")
            }
            if s["radius"] != nil && technique != .circleRub && technique != .pressHold {
                r.error(s["radius"]!, "\(what): 'radius' applies only to circle-rub and press-hold")
            }
        }
        guard r.problems.count == errorsBefore, let technique, let zone, let duration else { return nil }
        return RoutineStep(name: name, technique: technique, zone: zone, pressure: pressure, duration: duration,
                           repeats: repeats, hold: hold, rub: rub, biteMM: bite, crossings: crossings, spanMM: span,
                           radiusMM: radius, location: r.location(node), keyLocations: keyLocations)
    }
}
