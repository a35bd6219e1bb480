import Foundation
import PlantarCore
import PlantarSession
import PlantarSimulator
import Testing

/// Whole sessions with random routines, parameters, profiles and people: whatever happens,
/// the device never receives more than the caps allow, nothing presses after a stop, holds
/// stay within the limit and every session ends at rest. The governor's own property tests
/// cover its rules case by case (GovernorPropertyTests); these cover the whole pipeline.
@Suite("Sessions under random routines and events")
struct SessionPropertyTests {
    static let cases = Int(ProcessInfo.processInfo.environment["PLANTAR_SESSION_CASES"] ?? "") ?? 40

    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
        mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
    }

    /// A short random routine from the techniques and zones the foot map offers.
    static func routine(_ g: inout Generator) -> Routine {
        let lines = ["spine", "spine-lumbar", "spine-thoracic", "sole-midline", "knee-hip", "diaphragm", "spine-to-brain"]
        let points = ["solar-plexus", "web-1-2", "shoulder"]
        var steps: [RoutineStep] = []
        for i in 0..<g.int(1...4) {
            let technique = g.pick(Technique.allCases)
            let pressure = g.pick(PressureLevel.allCases)
            switch technique {
            case .thumbWalk, .walkBack, .fingerWalk:
                steps.append(RoutineStep(name: "s\(i)", technique: technique, zone: g.pick(lines), pressure: pressure,
                                         duration: .seconds(g.int(40...70)), repeats: g.int(1...2), biteMM: 10))
            case .crossWalk:
                steps.append(RoutineStep(name: "s\(i)", technique: technique, zone: g.pick(["spine-lumbar", "spine-thoracic"]),
                                         pressure: pressure, duration: .seconds(g.int(20...40))))
            case .roll:
                steps.append(RoutineStep(name: "s\(i)", technique: technique, zone: "sole", pressure: pressure, duration: .seconds(g.int(30...50))))
            case .pressHold:
                let hold = Duration.seconds(g.int(5...60)), rub = Duration.seconds(g.int(0...15))
                steps.append(RoutineStep(name: "s\(i)", technique: technique, zone: g.pick(points), pressure: pressure,
                                         duration: hold + rub, hold: hold, rub: rub))
            case .circleRub, .hold:
                steps.append(RoutineStep(name: "s\(i)", technique: technique, zone: g.pick(points), pressure: pressure,
                                         duration: .seconds(g.int(10...60))))
            }
        }
        return Routine(name: "random", title: "random", feet: g.pick(FeetSelection.allCases), order: g.pick(FootOrder.allCases), steps: steps)
    }

    @Test("random sessions keep every safety invariant")
    func invariants() async throws {
        var g = Generator(state: 0x5EED)
        var ran = 0
        for _ in 0..<Self.cases {
            // Each case is CPU-bound (a session and the oracle's check): let the pool's other
            // tasks in between, the serial tests' leases among them.
            await Task.yield()
            let routine = Self.routine(&g)
            let device = g.pick([Fixtures.reference, Fixtures.zoned])
            let options = CompileOptions(parameters: ["intensity": String(g.int(1...5))], footSize: FootSize(lengthMM: Double(g.int(230...285))))
            guard let timeline = try? Compiler.compile(routine, map: Fixtures.map, device: device, options: options) else { continue }
            var events: [String] = []
            for _ in 0..<g.int(0...4) {
                let kind = g.pick(ScriptedEvent.Kind.allCases)
                let at = g.int(0...Int(timeline.duration.seconds * 1000))
                events.append("\(kind.rawValue)@\(Double(at) / 1000)s")
            }
            var settings = GovernorSettings.standard(for: device, map: Fixtures.map)
            settings.sensitivityFactor = [0.5, 0.75, 1.0][g.int(0...2)]
            settings.reducedSensation = g.int(0...3) == 0
            let (trace, driver, report) = await Fixtures.simulate(device, events: events, timeline: timeline, settings: settings)
            let context = "routine \(routine.steps.map { "\($0.technique.rawValue)/\($0.zone)" }) on \(device.name), events \(events)"
            // Intermittent: some random routines hold every rule already, most break a cap by place.
            #expect(report.violations.isEmpty, "\(context): \(report.violations)")

            // Nothing pressing after a switch stop, a fault or auto-off, until the end.
            if let stop = trace.interventions.first(where: { [.switchStop, .operatorStop, .escalatedStop, .fault, .autoOff].contains($0.kind) }) {
                let later = driver.applied.filter { $0.time > stop.time }
                #expect(later.allSatisfy { ($0.command.requestedKPa ?? 0) == 0 }, "\(context): pressed after \(stop)")
            }
            // Every applied pressure within the cap of the strictest state the person set.
            let governor = Governor(settings: settings)
            let highest = Sensitivity.allCases.map { governor.cap(for: $0) }.max()!
            #expect(driver.applied.allSatisfy { ($0.command.requestedKPa ?? 0) <= highest + 1e-9 }, "\(context)")
            // No hold longer than the limit at one point: pressure on without a move between.
            var pressingSince: [Foot: Duration] = [:]
            for a in driver.applied {
                // Checked when the next command arrives: the hold lasted until then at most.
                if let since = pressingSince[a.foot], device.kind == .gantry {
                    #expect(a.time - since <= settings.limits.holdLimit + .milliseconds(100), "\(context): hold from \(since) to \(a.time)")
                }
                switch a.command {
                case .move: if pressingSince[a.foot] != nil { pressingSince[a.foot] = a.time }   // a new point
                case .release: pressingSince[a.foot] = nil
                case .pressure(_, let kPa, _):
                    if kPa == 0 { pressingSince[a.foot] = nil }
                    else if pressingSince[a.foot] == nil { pressingSince[a.foot] = a.time }
                }
            }
            // Ends at rest.
            #expect(driver.model.feet.values.allSatisfy { $0.channels.values.allSatisfy { $0.pressure < 1 } }, "\(context)")
            ran += 1
        }
        #expect(ran >= Self.cases / 2, "too few random routines compiled: \(ran) of \(Self.cases)")
    }
}
