import Foundation
import PlantarCore
import PropertyBased
import Testing

// Random sessions fed to a Governor, checked against its safety invariants using only what
// the governor returned (its actions) and what the test itself did (the events):
//  - no pressure let through above the cap in force for its zone class, caps never rise;
//  - no rise asked for faster than the device's ramp limit; no NaN, negative or infinite setpoint;
//  - no pressing (nor moving) after a stop or fault until rearm and then arm; arm is never
//    accepted while latched, while the switch is held, or past auto-off;
//  - release commands always pass; the switch, a stop and a fault always release everything;
//  - the dose rule: no channel still pressing once its spot was pressed (measured above
//    2 kPa, by the samples this test sent) longer than the hold limit within the window;
//  - nothing but release after auto-off;
//  - every report is in `interventions`, in order.
//
// Case count: 10,000 in all by default, split between the two properties below; set
// PLANTAR_PROPERTY_CASES for a longer run (the total, split the same way).

/// Total generated sessions across the property tests.
let propertyCases: Int = {
    let text = ProcessInfo.processInfo.environment["PLANTAR_PROPERTY_CASES"] ?? ""
    return Int(text).map { max($0, 2) } ?? 10_000
}()

// MARK: - Events

enum TelemetryKind: Sendable, Hashable {
    /// Measured as let through, foot present, a force that follows the pressure.
    case good
    case footGone
    case forceDrop
    case unreadable
    case outOfRange(Double)
    /// One channel measures far above its cap.
    case overPressure
}

enum GovernorEvent: Sendable, Hashable {
    case pressure(Foot, channel: String, kPa: Double, ramp: Double, Sensitivity)
    case move(Foot, u: Double, v: Double)
    case release(Foot, channel: String)
    case ease(Foot?)
    case discomfortSwitch(pressed: Bool)
    case stop
    case telemetry(Foot, TelemetryKind)
    case fault
    case rearm
    case arm
    case tick
    case finish
    case applied(lateMs: Int)
    /// The operator recovers: lets go of the switch if held, re-arms, arms (three events).
    case recover
}

/// One generated step: a gap of session time, whether the device is reporting (then a good
/// telemetry sample for both feet comes first when the last is 250 ms old or more), then
/// the event.
struct SessionStep: Sendable, Hashable, CustomStringConvertible {
    var gapMs: Int
    var withTelemetry: Bool
    var event: GovernorEvent

    var description: String { "+\(gapMs)ms\(withTelemetry ? " T" : "") \(event)" }
}

let channelNames = ["node", "aux"]

/// Builds a step from raw generated numbers (kept as plain numbers so the generator stays
/// simple and shrinks well).
func makeStep(kind: Int, aux: Int, kPa: Double, ramp: Double, pick: Int, gapKind: Int, telemetry: Int) -> SessionStep {
    let foot: Foot = pick % 2 == 0 ? .left : .right
    let channel = channelNames[(aux / 7) % channelNames.count]
    let sensitivity = Sensitivity.allCases[pick % 3]
    // Mostly the sensible inputs a compiled timeline gives, sometimes garbage.
    let setpoint: Double = switch aux % 40 {
    case 0: .nan
    case 1: -kPa
    case 2: .infinity
    case 3..<20: kPa / 4          // within most caps
    default: kPa                  // mostly above them
    }
    let rate: Double = switch aux % 31 {
    case 0: 0
    case 1: -ramp
    case 2: .nan
    case 3: .infinity
    default: ramp
    }
    let telemetryKind: TelemetryKind = switch aux % 12 {
    case 0: .footGone
    case 1: .forceDrop
    case 2: .unreadable
    case 3: .outOfRange([-50, 450, .nan, .infinity][pick % 4])
    case 4: .overPressure
    default: .good
    }
    let event: GovernorEvent = switch kind {
    case 0..<30, 92..<100: .pressure(foot, channel: channel, kPa: setpoint, ramp: rate, sensitivity)
    case 30..<38: .move(foot, u: Double(aux % 5) * 40, v: Double(aux % 3) * 30)
    case 38..<44: .release(foot, channel: channel)
    case 44..<49: .ease([nil, Foot.left, Foot.right][pick % 3])
    case 49..<51: .discomfortSwitch(pressed: aux % 2 == 0)
    case 51: .stop
    case 52..<64: .telemetry(foot, telemetryKind)
    case 64: .fault
    case 65..<67: .rearm
    case 67..<70: .arm
    case 70..<78: .tick
    case 78: .finish
    case 79..<84: .applied(lateMs: aux % 300)
    default: .recover
    }
    // Gaps: mostly short (the session runs every few ms), sometimes long enough to cross
    // timeouts, holds, the escalation window and auto-off.
    let gap = switch gapKind {
    case 0..<80: aux % 150
    case 80..<95: aux % 1_000
    case 95..<99: (aux % 20) * 1_000
    default: (aux % 120) * 1_000
    }
    return SessionStep(gapMs: gap, withTelemetry: telemetry > 0, event: event)   // 11 in 12
}

/// One random integer a step: each choice is a separate group of its digits (mixed radix),
/// so the choices are independent and uniform, and generating a step costs one draw.
let stepGenerator = Gen.int(in: 0...(stepRadix.reduce(1, *) - 1)).map { n in
    var rest = n
    func next(_ radix: Int) -> Int { defer { rest /= radix }; return rest % radix }
    let kind = next(100), aux = next(10_000), pick = next(12), gapKind = next(100), telemetry = next(12)
    let kPa = Double(next(3_000)) / 10, ramp = 1 + Double(next(40_000)) / 100
    return makeStep(kind: kind, aux: aux, kPa: kPa, ramp: ramp, pick: pick, gapKind: gapKind, telemetry: telemetry)
}

/// kind, aux, pick, gap, telemetry, kPa (0.1 kPa steps to 300), ramp (0.01 kPa/s steps to 401);
/// their product stays below Int.max.
let stepRadix = [100, 10_000, 12, 100, 12, 3_000, 40_000]

let sessionGenerator = stepGenerator.array(of: 1...30)

/// Settings as a person and a device might have them, with limits compressed so that
/// generated sessions reach holds, escalation and auto-off, and telemetry timeouts up to an
/// hour so that long gaps between events do not always end in a fault.
let settingsGenerator = zip(
    Gen.double(in: 0.5...1), Gen.double(in: 40...200), Gen.double(in: 20...300), Gen.int(in: 0...999_999_999)
).map { t in
    let choices = t.3
    var s = GovernorSettings(maxRampKPaPerS: t.2, deviceMaxKPa: t.1)
    s.sensitivityFactor = t.0
    s.reducedSensation = choices % 2 == 0
    s.limits = SessionLimits(holdLimit: .seconds(1 + (choices / 2) % 30), autoOff: .seconds(5 + (choices / 200) % 120))
    s.escalationCount = 1 + (choices / 400_000) % 4
    s.telemetryTimeout = [.milliseconds(500), .seconds(5), .seconds(60), .seconds(3_600)][(choices / 2_000_000) % 4]
    return s
}

// MARK: - The checker

/// Feeds a session to a governor and checks the invariants, collecting violations as text
/// (one `#expect` per session keeps ten thousand sessions fast).
struct InvariantChecker {
    struct Key: Hashable { var foot: Foot; var channel: String }

    var gov: Governor
    let settings: GovernorSettings
    var now: Duration = .zero
    var violations: [String] = []
    var reportCount = 0

    // What the actions say the outputs are doing.
    var target: [Key: Double] = [:]
    var sensitivity: [Key: Sensitivity] = [:]
    /// Pressed stretches per channel, counted from the samples this test sent (docs/safety.md
    /// §3: the interval up to a sample that measures above 2 kPa). Every sample here is at
    /// `.home`, so each channel of a foot is one spot.
    var pressed: [Key: [(start: Duration, end: Duration)]] = [:]
    var lastSampleAt: [Foot: Duration] = [:]
    var lastMove: [Foot: DevicePoint] = [:]
    var caps: [Sensitivity: Double]
    let staticCaps: [Sensitivity: Double]

    // What the events say about the latch.
    var needsRearm = false
    var needsArm = true
    var switchHeld = false
    var lastSample: Duration?
    /// A foot whose valve sticks: its samples measure over-pressure until then.
    var stuckUntil: [Foot: Duration] = [:]

    init(settings: GovernorSettings) {
        gov = Governor(settings: settings)
        self.settings = gov.settings
        var c: [Sensitivity: Double] = [:]
        for s in Sensitivity.allCases { c[s] = gov.cap(for: s) }
        caps = c
        staticCaps = Dictionary(uniqueKeysWithValues: Sensitivity.allCases.map {
            ($0, min(settings.personCaps[$0], settings.deviceMaxKPa))
        })
    }

    mutating func fail(_ message: String, _ event: GovernorEvent) {
        if violations.count < 5 { violations.append("at \(now) after \(event): \(message)") }
    }

    mutating func run(_ steps: [SessionStep]) {
        for step in steps {
            now += .milliseconds(step.gapMs)
            if step.withTelemetry, lastSample.map({ now - $0 >= .milliseconds(250) }) ?? true {
                lastSample = now
                for foot in Foot.allCases {
                    feed(.telemetry(foot, stuckUntil[foot].map { now < $0 } ?? false ? .overPressure : .good))
                }
            }
            feed(step.event)
        }
    }

    func telemetry(_ foot: Foot, _ kind: TelemetryKind) -> Telemetry {
        var readings: [String: Double] = [:]
        for ch in channelNames { readings[ch] = target[Key(foot: foot, channel: ch)] ?? 0 }
        let kPa = readings.values.max() ?? 0
        var force: Double? = kPa > 0 ? 0.5 * kPa + 10 : 0
        var present = true
        switch kind {
        case .good: break
        case .footGone: present = false
        case .forceDrop: force = 1
        case .unreadable: return Telemetry(foot: foot, position: .home, pressureKPa: nil, contactForceN: force, footPresent: true)
        case .outOfRange(let v): readings["node"] = v
        case .overPressure: readings["aux"] = gov.cap(for: .low) * 2 + 10
        }
        return Telemetry(foot: foot, position: .home, pressureKPa: readings, contactForceN: force, footPresent: present)
    }

    mutating func feed(_ event: GovernorEvent) {
        let t = now
        var filtered: TimelineEntry?
        let actions: [GovernorAction]
        switch event {
        case .pressure(let foot, let ch, let kPa, let ramp, let s):
            let e = entry(.pressure(channel: ch, kPa: kPa, ramp: ramp), foot: foot, sensitivity: s)
            filtered = e
            actions = gov.filter(e, at: t)
        case .move(let foot, let u, let v):
            let e = entry(.move(to: DevicePoint(u: u, v: v), speed: 30), foot: foot)
            filtered = e
            actions = gov.filter(e, at: t)
        case .release(let foot, let ch):
            let e = entry(.release(channel: ch), foot: foot)
            filtered = e
            actions = gov.filter(e, at: t)
        case .ease(let foot):
            actions = gov.ease(source: "property", foot: foot, at: t)
        case .discomfortSwitch(let pressed):
            switchHeld = pressed
            actions = gov.discomfortSwitch(pressed: pressed, alreadyReleased: pressed, at: t)
        case .stop:
            actions = gov.stop(source: "property", at: t)
        case .telemetry(let foot, let kind):
            if kind == .overPressure, stuckUntil[foot].map({ t >= $0 }) ?? true { stuckUntil[foot] = t + .seconds(1) }
            let sample = telemetry(foot, kind)
            let readable = sample.pressureKPa.map { $0.values.allSatisfy { (-5...400).contains($0) } } ?? false
            if gov.state.isRunning, readable, let previous = lastSampleAt[foot], t > previous {
                for (ch, kPa) in sample.pressureKPa! where kPa > 2 {
                    pressed[Key(foot: foot, channel: ch), default: []].append((max(previous, t - settings.telemetryTimeout), t))
                }
            }
            lastSampleAt[foot] = t
            actions = gov.telemetry(sample, at: t)
        case .fault:
            actions = gov.fault("property fault", at: t)
        case .rearm:
            actions = gov.rearm(switchPressed: switchHeld, at: t)
        case .arm:
            actions = gov.arm(at: t)
        case .tick:
            actions = gov.tick(at: t)
        case .finish:
            actions = gov.finish(at: t)
        case .applied(let late):
            actions = gov.commandApplied(dueAt: t - .milliseconds(late), appliedAt: t)
        case .recover:
            if switchHeld { feed(.discomfortSwitch(pressed: false)) }
            feed(.rearm)
            feed(.arm)
            return
        }

        for action in actions { check(action, event: event, filtered: filtered) }

        // Per event.
        switch event {
        case .release(let foot, let ch):
            if !actions.contains(.apply(.release(channel: ch), foot: foot)) { fail("a release was not let through", event) }
        case .discomfortSwitch(pressed: true), .stop, .fault:
            if actions.first != .releaseAll { fail("a stop did not release everything first", event) }
            needsRearm = true
            needsArm = true
        case .rearm:
            let rearmed = actions.contains { if case .report(let i) = $0 { i.kind == .rearmed } else { false } }
            if rearmed && switchHeld { fail("re-armed while the switch is held", event) }
        case .arm:
            if gov.state.isRunning && needsArm {
                if needsRearm { fail("arm accepted while latched (no re-arm since the stop)", event) }
                if switchHeld { fail("arm accepted while the switch is held", event) }
                if t >= settings.limits.autoOff { fail("arm accepted past auto-off", event) }
                needsArm = false
            }
        default:
            break
        }

        // After every event.
        if gov.state.isRunning && (needsArm || needsRearm) {
            fail("the governor runs (\(gov.state)) although the actions ended the session", event)
        }
        for (key, kPa) in target where kPa > 0 {
            let from = now - settings.doseWindow
            let dose = (pressed[key] ?? []).reduce(Duration.zero) { sum, run in
                let a = max(run.start, from), b = min(run.end, now)
                return b > a ? sum + (b - a) : sum
            }
            if dose > settings.limits.holdLimit {
                fail("\(key.foot) \(key.channel) still pressing after \(dose) pressed within \(settings.doseWindow), past the hold limit", event)
            }
        }
        for s in Sensitivity.allCases {
            let cap = gov.cap(for: s)
            if cap > caps[s]! + 1e-12 { fail("the \(s) cap rose from \(caps[s]!) to \(cap)", event) }
            if cap > staticCaps[s]! + 1e-9 { fail("the \(s) cap \(cap) is above the person's cap \(staticCaps[s]!)", event) }
            caps[s] = cap
        }
        if gov.interventions.count != reportCount {
            fail("\(reportCount) reports returned but \(gov.interventions.count) interventions recorded", event)
        }
    }

    mutating func check(_ action: GovernorAction, event: GovernorEvent, filtered: TimelineEntry?) {
        switch action {
        case .apply(let command, let foot):
            if now >= settings.limits.autoOff {
                if case .release = command {} else { fail("\(command) let through after auto-off", event) }
            }
            switch command {
            case .pressure(let ch, let kPa, let ramp):
                let key = Key(foot: foot, channel: ch)
                if !(kPa.isFinite && kPa >= 0) { fail("setpoint \(kPa) let through", event) }
                if !(ramp.isFinite && ramp > 0) { fail("ramp \(ramp) let through", event) }
                if kPa > 0 && (needsArm || needsRearm) {
                    fail("pressing \(kPa) kPa after a stop, fault or end without re-arm and arm", event)
                }
                if let e = filtered, e.foot == foot, case .pressure(ch, _, _) = e.command { sensitivity[key] = e.sensitivity }
                let cap = gov.cap(for: sensitivity[key] ?? .high)
                if kPa > cap + 1e-9 { fail("\(kPa) kPa let through above the \(sensitivity[key] ?? .high) cap \(cap)", event) }
                let previous = target[key] ?? 0
                if kPa > previous + 1e-9, ramp > settings.maxRampKPaPerS + 1e-9 {
                    fail("a rise from \(previous) to \(kPa) kPa at \(ramp) kPa/s, over \(settings.maxRampKPaPerS)", event)
                }
                target[key] = kPa
            case .move(let to, _):
                if needsArm || needsRearm { fail("moving after a stop, fault or end without re-arm and arm", event) }
                lastMove[foot] = to
            case .release(let ch):
                let key = Key(foot: foot, channel: ch)
                target[key] = 0
            }
        case .releaseAll:
            target = [:]
            needsArm = true
        case .release(let foot):
            for key in target.keys where key.foot == foot { target[key] = 0 }
        case .abortSession:
            needsRearm = true
            needsArm = true
        case .awaitFoot, .footReturned:
            break   // the session loop pauses and resumes; nothing to check here
        case .report(let i):
            reportCount += 1
            if gov.interventions.count < reportCount || gov.interventions[reportCount - 1] != i {
                fail("report \(i) is not interventions[\(reportCount - 1)]", event)
            }
            if i.kind == .rearmed { needsRearm = false }
        }
    }
}

// MARK: - Properties

@Suite("Governor properties")
struct GovernorPropertyTests {
    /// Sessions on the reference device with the standard settings.
    @Test func invariantsHoldWithStandardSettings() async {
        await propertyCheck(count: propertyCases / 2, input: sessionGenerator) { steps in
            var checker = InvariantChecker(settings: referenceSettings)
            checker.run(steps)
            #expect(checker.violations.isEmpty, "\(checker.violations.joined(separator: "\n"))")
        }
    }

    /// Sessions with random settings: sensitivity, reduced sensation, device limits and
    /// compressed session limits (holds from 1 s, auto-off from 5 s, escalation from 1 signal).
    @Test func invariantsHoldWithRandomSettings() async {
        await propertyCheck(count: propertyCases - propertyCases / 2, input: settingsGenerator, sessionGenerator) { settings, steps in
            var checker = InvariantChecker(settings: settings)
            checker.run(steps)
            #expect(checker.violations.isEmpty, "\(checker.violations.joined(separator: "\n"))")
        }
    }
}
