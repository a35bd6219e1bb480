/// Checks a routine against a foot map: what can be known before choosing a device.
public enum RoutineValidator {
    /// Every problem with `routine`, each at the key it concerns. Empty when it is valid.
    public static func check(_ routine: Routine, map: FootMap, limits: SessionLimits = .standard) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        for (index, step) in routine.steps.enumerated() {
            problems += checkStep(step, number: index + 1, parameters: routine.allParameters, map: map, limits: limits)
        }

        let total = routine.statedDuration()
        if total > SessionLimits.autoOffCeiling {
            problems.append(Diagnostic(at: routine.steps.first?.location,
                "routine lasts \(DurationSyntax.format(total)) on \(routine.feet.rawValue) feet, over the \(DurationSyntax.format(SessionLimits.autoOffCeiling)) that no session may exceed"))
        } else if total > limits.autoOff {
            problems.append(Diagnostic(.warning, at: routine.steps.first?.location,
                "routine lasts \(DurationSyntax.format(total)), longer than the \(DurationSyntax.format(limits.autoOff)) auto-off; sessions will stop there"))
        }
        return problems
    }

    /// The problems of one step, numbered `number` (1-based) in its routine: zones and
    /// parameter references against the map, technique against zone shape, hold limits.
    /// Loaders call it for the steps that parsed when others did not, so a file's every
    /// error is listed at once.
    public static func checkStep(_ step: RoutineStep, number: Int, parameters: [String: ParameterSpec],
                                 map: FootMap, limits: SessionLimits = .standard) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        let label = "step \(number) '\(step.name)'"
        let zoneAt = step.location(of: "zone")
        let references = parameterReferences(in: step.zone)
        var resolutions: [[String: String]] = [[:]]
        var referencesKnown = true
        for name in references {
            guard case .choice(let choices, _)? = parameters[name] else {
                problems.append(Diagnostic(at: zoneAt, "\(label): zone refers to '${\(name)}', which is not a choice parameter of this routine"))
                referencesKnown = false
                continue
            }
            resolutions = resolutions.flatMap { partial in choices.map { partial.merging([name: $0]) { $1 } } }
        }
        guard referencesKnown else { return problems }

        for resolution in resolutions {
            let id = step.resolvedZone(resolution)
            let with = resolution.isEmpty ? "" : " (when " + resolution.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
            guard let zone = map.zone(id) else {
                let hint = nearestName(to: id, in: map.zones.keys).map { "; did you mean '\($0)'?" } ?? ""
                problems.append(Diagnostic(at: zoneAt, "\(label): unknown zone '\(id)'\(with)\(hint)"))
                continue
            }
            if let problem = shapeProblem(step.technique, zone) {
                problems.append(Diagnostic(at: zoneAt, "\(label): \(problem)\(with)"))
            }
        }

        switch step.technique {
        case .hold where step.duration > limits.holdLimit:
            problems.append(Diagnostic(at: step.location(of: "duration"),
                "\(label): a hold of \(DurationSyntax.format(step.duration)) exceeds the hold limit of \(DurationSyntax.format(limits.holdLimit)) at one point"))
        case .pressHold where (step.hold ?? .zero) > limits.holdLimit:
            problems.append(Diagnostic(at: step.location(of: "hold"),
                "\(label): a hold of \(DurationSyntax.format(step.hold ?? .zero)) exceeds the hold limit of \(DurationSyntax.format(limits.holdLimit)) at one point"))
        default:
            break
        }
        return problems
    }

    /// `${name}` references in a zone template, in order of appearance.
    public static func parameterReferences(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstRange(of: "${") {
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}") else { break }
            let name = String(afterOpen[..<close])
            if !names.contains(name) { names.append(name) }
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        return names
    }

    static func shapeProblem(_ technique: Technique, _ zone: Zone) -> String? {
        let isPoint = if case .point = zone.shape { true } else { false }
        switch technique {
        case .thumbWalk, .walkBack, .fingerWalk, .crossWalk, .roll:
            return isPoint ? "\(technique.rawValue) needs a line or an area, but zone '\(zone.id)' is a point" : nil
        case .pressHold, .circleRub, .hold:
            return isPoint ? nil : "\(technique.rawValue) needs a point, but zone '\(zone.id)' is a line or an area"
        }
    }

    /// The closest known name by edit distance, if it is close enough to be a typo.
    public static func nearestName(to name: String, in candidates: some Sequence<String>) -> String? {
        let scored = candidates.map { ($0, editDistance(name, $0)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let best = scored.first, best.1 <= max(2, name.count / 3) else { return nil }
        return best.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
