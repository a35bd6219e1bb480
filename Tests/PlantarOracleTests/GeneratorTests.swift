import PlantarCore
import PlantarOracle
import PlantarSimulator
import Testing

/// The adversarial generators, each a set of whole simulated sessions (or governor command
/// sequences) checked by the oracle on what the simulated device received. This is the
/// fast subset; `plantar-bench safety-soak` runs the long one (BENCHMARKS.md).
///
// Serialized, and yielding between sessions: the generators are CPU-bound on the shared
// cooperative pool (two threads here), and the serial end-to-end tests beside them must get a
// thread within their 250 ms lease.
@Suite("adversarial generators checked by the oracle", .serialized)
struct GeneratorTests {
    static let map = Shipped.map
    /// Where the governor and the oracle still disagree after the cap field landed (issue 10,
    /// left open): caps after an ease on random command sequences and on loader extremes.
    /// A known issue that stops happening fails its test, so the marks cannot be forgotten.
    /// Runs every session; returns the compiled ones' violations and how many compiled.
    static func check(_ sessions: [SafetyGenerators.Session]) async -> (ran: Int, violations: [(String, Violation)]) {
        var ran = 0
        var found: [(String, Violation)] = []
        for s in sessions {
            await Task.yield()
            let outcome = await SafetyGenerators.run(s, map: map)
            guard let v = outcome.violations else { continue }
            ran += 1
            found += v.map { (s.name, $0) }
        }
        return (ran, found)
    }

    static func summary(_ found: [(String, Violation)]) -> String {
        var byRule: [SafetyRule: Int] = [:]
        for (_, v) in found { byRule[v.rule, default: 0] += 1 }
        let counts = byRule.keys.sorted().map { "\($0.rawValue) \(byRule[$0]!)" }.joined(separator: ", ")
        let firsts = Dictionary(grouping: found, by: { $0.1.rule }).keys.sorted().compactMap { rule in
            found.first { $0.1.rule == rule }.map { "  \($0.0): \($0.1)" }
        }
        return "\(found.count) violations (\(counts))\n" + firsts.joined(separator: "\n")
    }

    @Test("the generators read the map: border-crossing lines and every zone come from it")
    func generatorsReadTheMap() {
        let lines = SafetyGenerators.borderCrossingLines(map: Self.map)
        // Today's map: the spine's segments run low → high → moderate.
        #expect(lines.contains("spine") && lines.contains("spine-to-brain"), "\(lines)")
        let all = SafetyGenerators.everyTechniqueOverEveryZone(map: Self.map, device: Shipped.reference)
        #expect(all.count == Self.map.zones.count * Technique.allCases.count * SafetyGenerators.people.count)
        let extremes = SafetyGenerators.extremes(of: Shipped.reference)
        #expect(extremes.map(\.pressure.maxKPa).max() == 357)
        #expect(extremes.map(\.pressure.maxRampKPaPerS).max() == 2000)
        #expect(extremes.map(\.pressure.valveTimeConstant).max() == 0.25)   // DeviceProfileLoader.slowestValveSeconds
        // The same seed, the same storm.
        let r = SafetyGenerators.randomRoutine(seed: 7, map: Self.map)
        #expect(SafetyGenerators.storm(seed: 3, routine: r, device: Shipped.reference, span: .seconds(60)).name
                == SafetyGenerators.storm(seed: 3, routine: r, device: Shipped.reference, span: .seconds(60)).name)
    }

    @Test("a positive control: a light, short hold on the solar plexus breaks no rule")
    func positiveControl() async {
        var routine = SafetyGenerators.step(.hold, "solar-plexus", seconds: 20)
        routine.steps[0].pressure = .light
        let s = SafetyGenerators.Session(name: "light solar plexus hold", routine: routine, device: Shipped.reference,
                                         parameters: ["intensity": "1"])
        let (ran, found) = await Self.check([s])
        #expect(ran == 1)
        #expect(found.isEmpty, "\(Self.summary(found))")
    }

    @Test("every technique over every zone at intensity 5, sensitivity 0.5 with reduced sensation",
          arguments: ["reference", "zoned"])
    func everyTechniqueOverEveryZone(profile: String) async {
        let device = profile == "reference" ? Shipped.reference : Shipped.zoned
        let sessions = SafetyGenerators.everyTechniqueOverEveryZone(map: Self.map, device: device, seconds: 12)
            .filter(\.reducedSensation)
        let (ran, found) = await Self.check(sessions)
        #expect(ran >= 20, "only \(ran) of \(sessions.count) combinations compiled")
        #expect(found.isEmpty, "\(Self.summary(found))")
    }

    @Test("walks along lines that cross sensitivity borders", arguments: ["reference", "zoned"])
    func borderCrossings(profile: String) async {
        let device = profile == "reference" ? Shipped.reference : Shipped.zoned
        let sessions = SafetyGenerators.borderCrossings(map: Self.map, device: device, seconds: 20)
        let (ran, found) = await Self.check(sessions)
        #expect(ran >= 4)
        #expect(found.isEmpty, "\(Self.summary(found))")
    }

    @Test("profiles at the loader's extremes: 357 kPa ceiling, 2000 kPa/s ramp, the slowest valve")
    func extremes() async {
        var sessions: [SafetyGenerators.Session] = []
        for device in SafetyGenerators.extremes(of: Shipped.reference) {
            for (technique, zone) in [(Technique.thumbWalk, "spine-to-brain"), (.pressHold, "web-1-2"), (.hold, "solar-plexus"), (.roll, "sole")] {
                for p in SafetyGenerators.people {
                    var s = SafetyGenerators.Session(name: "\(technique.rawValue) \(zone) on \(device.name)",
                                                     routine: SafetyGenerators.step(technique, zone, seconds: 30), device: device,
                                                     sensitivity: p.sensitivity, reducedSensation: p.reduced)
                    // An ease in the middle: the slowest valve must still give 40% relief in 300 ms.
                    s.script = [ScriptedEvent(.ease, at: .seconds(8))]
                    sessions.append(s)
                }
            }
        }
        let (ran, found) = await Self.check(sessions)
        #expect(ran == sessions.count)
        #expect(found.isEmpty, "\(Self.summary(found))")
    }

    @Test("event storms: pause, resume, stop, ease and the switch at seeded random instants")
    func storms() async {
        var sessions: [SafetyGenerators.Session] = []
        // Random routines pair techniques and zones blindly; about a third compile (a hold on a
        // line does not), so 24 seeds give the storms enough sessions.
        for seed in UInt64(1)...24 {
            let device = seed % 2 == 0 ? Shipped.zoned : Shipped.reference
            let routine = SafetyGenerators.randomRoutine(seed: seed &* 7919, map: Self.map)
            sessions.append(SafetyGenerators.storm(seed: seed, routine: routine, device: device, span: .seconds(45)))
        }
        let (ran, found) = await Self.check(sessions)
        #expect(ran >= 6)
        #expect(found.isEmpty, "\(Self.summary(found))")
    }

    @Test("issue 10, observation 3: tiny circles and repeated holds at one spot keep pressing past the dose")
    func doseObservation() async {
        let rub = Routine(name: "rub", title: "rub", feet: .right, steps: [
            RoutineStep(name: "tiny circles", technique: .circleRub, zone: "solar-plexus", pressure: .moderate,
                        duration: .seconds(180), radiusMM: 2)])
        let holds = Routine(name: "holds", title: "holds", feet: .right, steps: [
            RoutineStep(name: "held again and again", technique: .hold, zone: "solar-plexus", pressure: .moderate,
                        duration: .seconds(60), repeats: 3)])
        let (ran, found) = await Self.check([
            SafetyGenerators.Session(name: "circle-rub 2 mm for 3 min", routine: rub, device: Shipped.reference, parameters: [:]),
            SafetyGenerators.Session(name: "hold 60 s × 3", routine: holds, device: Shipped.reference, parameters: [:]),
        ])
        #expect(ran == 2)
        #expect(!found.contains { $0.1.rule == .dose }, "\(Self.summary(found.filter { $0.1.rule == .dose }))")
    }

    @Test("random command sequences straight through the governor", arguments: ["reference", "zoned"])
    func governorCases(profile: String) async {
        let device = profile == "reference" ? Shipped.reference : Shipped.zoned
        let run = await SafetyGenerators.governorCases(seed: profile == "reference" ? 11 : 12, sequences: 10,
                                                       eventsPerSequence: 300, map: Self.map, device: device)
        #expect(run.cases == 3000 && run.sequences == 10)
        let firsts = run.violations.prefix(5).map { "  \($0)" }.joined(separator: "\n")
        #expect(run.violationCount == 0, "\(run.violationCount) violations (\(run.byRuleText))\n\(firsts)")
    }
}
