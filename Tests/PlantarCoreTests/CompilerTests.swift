import PlantarConfig
import PlantarCore
import Testing

/// The back-pain program compiled for both shipped devices: deterministic, in the routine's
/// order, kinematically honest, within every pressure cap, and at rest at both ends.
@Suite("Compiler: back-pain on both devices")
struct CompilerTests {
    let fixtures: Fixtures

    init() throws { fixtures = try Fixtures() }

    static let devices = ["reference", "zoned"]

    @Test(arguments: devices)
    func sameInputsGiveTheSameTimelineByteForByte(_ device: String) throws {
        let options = CompileOptions(parameters: ["focus": "thoracic", "intensity": "4"])
        let first = try fixtures.compile(on: device, options)
        let second = try fixtures.compile(on: device, options)
        #expect(first == second)
        #expect(first.renderText() == second.renderText())
        // The default focus is lumbar: naming it changes nothing.
        #expect(try fixtures.compile(on: device) == fixtures.compile(on: device, CompileOptions(parameters: ["focus": "lumbar"])))
    }

    @Test(arguments: devices)
    func focusPutsMoreWorkOnThatSegmentOnEachFoot(_ device: String) throws {
        let lumbar = try fixtures.compile(on: device, CompileOptions(parameters: ["focus": "lumbar"]))
        let cervical = try fixtures.compile(on: device, CompileOptions(parameters: ["focus": "cervical"]))
        for foot in Foot.allCases {
            let l = lumbar.only(foot).pressingSecondsByZone()
            let c = cervical.only(foot).pressingSecondsByZone()
            let lumbarWhenLumbar = try #require(l["spine-lumbar"]), lumbarWhenCervical = try #require(c["spine-lumbar"])
            let cervicalWhenLumbar = try #require(l["spine-cervical"]), cervicalWhenCervical = try #require(c["spine-cervical"])
            // The focus steps (3 passes of 15 s, a 30 s cross-walk) sit on the named segment.
            #expect(lumbarWhenLumbar > lumbarWhenCervical + 30, "\(foot): lumbar \(lumbarWhenLumbar) s vs \(lumbarWhenCervical) s")
            #expect(cervicalWhenCervical > cervicalWhenLumbar + 30, "\(foot): cervical \(cervicalWhenCervical) s vs \(cervicalWhenLumbar) s")
            // Counting commands tells the same story.
            let count = { (t: Timeline, zone: String) in t.only(foot).entries.filter { $0.zone == zone && $0.command.requestedKPa ?? 0 > 0 }.count }
            #expect(count(lumbar, "spine-lumbar") > count(cervical, "spine-lumbar"))
        }
    }

    @Test(arguments: devices)
    func rightFootFirstInTheRoutinesOrder(_ device: String) throws {
        let timeline = try fixtures.compile(on: device)
        #expect(timeline.entries.first?.foot == .right)
        let working = timeline.entries.filter { $0.step != .parking }
        let lastRight = try #require(working.last { $0.foot == .right }?.offset)
        let firstLeft = try #require(working.first { $0.foot == .left }?.offset)
        #expect(lastRight <= firstLeft)
        #expect(timeline.steps.map(\.foot) == Array(repeating: .right, count: 13) + Array(repeating: .left, count: 13))
        let expected: [(Int, Int)] = [(1, 1), (2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (4, 2), (4, 3), (5, 1), (6, 1), (7, 1), (8, 1), (9, 1)]
        for foot in Foot.allCases {
            let order = timeline.steps.filter { $0.foot == foot }
            #expect(order.map(\.step.index) == expected.map(\.0))
            #expect(order.map(\.step.pass) == expected.map(\.1))
            #expect(zip(order, order.dropFirst()).allSatisfy { $0.end <= $1.start })
        }
        // Offsets never go back in time.
        #expect(zip(timeline.entries, timeline.entries.dropFirst()).allSatisfy { $0.offset <= $1.offset })
    }

    @Test func alternatingOrderWorksEachStepOnBothFeetBeforeTheNext() throws {
        var routine = fixtures.backPain
        routine.order = .alternating
        let timeline = try fixtures.compile(routine, on: "reference")
        let firstThree = timeline.steps.prefix(4).map { "\($0.step.index).\($0.step.pass) \($0.foot)" }
        #expect(firstThree == ["1.1 right", "1.1 left", "2.1 right", "2.2 right"])
    }

    @Test(arguments: devices)
    func endTimeIsTheStatedDurationPlusBoundedTravel(_ device: String) throws {
        let profile = fixtures.device(device)
        let timeline = try fixtures.compile(on: device)
        #expect(timeline.statedDuration == fixtures.backPain.statedDuration())
        #expect(timeline.statedDuration == .seconds(12 * 60 + 18))
        #expect(timeline.duration >= timeline.statedDuration)

        // Every step keeps its stated time exactly; only the vent after it is added.
        let vent = 3 * profile.pressure.valveTimeConstant
        for scheduled in timeline.steps {
            let step = fixtures.backPain.steps[scheduled.step.index - 1]
            let extra = (scheduled.end - scheduled.start - step.duration).seconds
            #expect(extra >= -0.001 && extra <= vent + 0.002, "\(scheduled.step.name) pass \(scheduled.step.pass): \(extra) s over")
        }

        // Travel: at most one approach and one vent per step pass, and parking home.
        var longestMove = 0.0
        if let u = profile.uAxis, let v = profile.vAxis {
            for corner in [DevicePoint(u: u.travelMM, v: 0), DevicePoint(u: 0, v: v.travelMM), DevicePoint(u: u.travelMM, v: v.travelMM)] {
                longestMove = max(longestMove, profile.moveSeconds(from: .home, to: corner))
            }
        }
        let passes = Double(timeline.steps.count)
        let travel = (timeline.duration - timeline.statedDuration).seconds
        #expect(travel <= passes * (longestMove + vent) + longestMove + 0.01, "travel \(travel) s")
        if profile.kind == .zoned {
            // Only valve waits: one per pass that ended pressed (a bladder resting for the
            // dose rule at a pass's end has nothing to vent).
            let vents = (travel / vent).rounded()
            #expect(abs(travel - vents * vent) < 0.01 && vents <= passes, "a zoned device only waits for its valves")
        }
        // The last command has been given by the end.
        #expect(timeline.entries.allSatisfy { $0.offset <= timeline.duration })
    }

    @Test(arguments: devices, [1, 3, 5])
    func kinematicsPressureCapsAndRampsHold(_ device: String, _ intensity: Int) throws {
        let profile = fixtures.device(device)
        let timeline = try fixtures.compile(on: device, CompileOptions(parameters: ["intensity": String(intensity)]))
        let problems = TimelineReplay.problems(timeline, device: profile, caps: .standard)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
    }

    @Test(arguments: devices)
    func reducedSensationCapsAreHonoured(_ device: String) throws {
        let caps = PressureCaps.standard.scaled(by: PressureCaps.reducedSensationFactor)
        let timeline = try fixtures.compile(on: device, CompileOptions(parameters: ["intensity": "5"], caps: caps))
        let problems = TimelineReplay.problems(timeline, device: fixtures.device(device), caps: caps)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
    }

    @Test(arguments: devices)
    func intensityScalesPressureWithinTheCaps(_ device: String) throws {
        func peak(_ intensity: Int) throws -> Double {
            try fixtures.compile(on: device, CompileOptions(parameters: ["intensity": String(intensity)]))
                .entries.compactMap(\.command.requestedKPa).max() ?? 0
        }
        let gentle = try peak(1), nominal = try peak(3), firm = try peak(5)
        #expect(gentle < nominal && nominal < firm)
        #expect(firm <= PressureCaps.standard.low + 1e-9)
    }

    @Test(arguments: devices)
    func startsAndEndsAtRest(_ device: String) throws {
        let profile = fixtures.device(device)
        let timeline = try fixtures.compile(on: device)
        #expect(timeline.entries.first?.offset == .zero)
        for foot in Foot.allCases {
            let entries = timeline.entries.filter { $0.foot == foot }
            // Before its first command a foot is at rest; a gantry travels before it presses.
            if profile.kind == .gantry {
                guard case .move? = entries.first?.command else {
                    Issue.record("\(foot): the first command should move the node from home")
                    continue
                }
            }
            // At the end every channel is released and the node is parked home.
            var last: [String: Double] = [:]
            var position = DevicePoint.home
            for entry in entries {
                switch entry.command {
                case .pressure(let channel, let kPa, _): last[channel] = kPa
                case .release(let channel): last[channel] = 0
                case .move(let to, _): position = to
                }
            }
            #expect(!last.isEmpty)
            #expect(last.values.allSatisfy { $0 == 0 }, "\(foot): \(last)")
            #expect(position == .home, "\(foot): node left at \(position)")
            let tail = try #require(entries.last)
            #expect(tail.step == .parking || profile.kind == .zoned)
        }
    }

    @Test func zonedDeviceNeverMovesAndPressesOnlyItsNodes() throws {
        let timeline = try fixtures.compile(on: "zoned")
        let nodes = Set(fixtures.zoned.nodes.map(\.id))
        for entry in timeline.entries {
            switch entry.command {
            case .move: Issue.record("a zoned device has nothing to move: \(entry)")
            case .pressure(let channel, _, _), .release(let channel): #expect(nodes.contains(channel))
            }
        }
    }

    @Test func pressureCapsFollowFromThePainThreshold() {
        let caps = PressureCaps.standard
        // (357 − 165) kPa × 0.77, halved; the more sensitive classes at 0.8 and 0.6 of it.
        #expect(abs(caps.low - 73.92) < 0.01)
        #expect(abs(caps.moderate - 59.136) < 0.01)
        #expect(abs(caps.high - 44.352) < 0.01)
        #expect(caps.high < caps.moderate && caps.moderate < caps.low && caps.low < 357.0 / 2)
    }
}

/// Failures a person can act on: which step, which zone, and why.
@Suite("Compiler: what cannot be compiled")
struct CompilerFailureTests {
    let fixtures: Fixtures

    init() throws { fixtures = try Fixtures() }

    @Test(arguments: [
        ("reference", "step 1 'Taichong': device 'reference' cannot reach zone 'taichong' on the dorsum (it reaches lateral-edge, medial-edge, sole)"),
        ("zoned", "step 1 'Taichong': no node of device 'zoned' covers zone 'taichong' on the dorsum"),
    ])
    func aDorsumZoneIsOutOfReach(_ device: String, _ message: String) throws {
        let text = """
            routine: top-of-foot
            title: Top of the foot
            steps:
              - name: Taichong
                technique: press-hold
                zone: taichong
                hold: 30s
            """
        let (routine, _) = try RoutineLoader.parse(text, file: "top.yaml", map: fixtures.map)
        let errors = fixtures.failures(routine, on: device)
        #expect(errors.count == 1)
        let error = try #require(errors.first)
        #expect(error.message.hasPrefix(message), "\(error)")
        // Reported where the zone is written.
        #expect(error.location == PlantarCore.SourceLocation(file: "top.yaml", line: 6, column: 11))
    }

    @Test func aFootTooLongForTheTravelFails() throws {
        let options = CompileOptions(footSize: FootSize(lengthMM: 330))
        let reference = fixtures.failures(fixtures.backPain, on: "reference", options).map(\.message)
        #expect(reference.contains { $0.contains("zone 'brain'") && $0.contains("beyond the u travel of 300 mm for a 330 mm foot") },
                "\(reference)")
        #expect(reference.allSatisfy { $0.hasPrefix("step ") })
        let zoned = fixtures.failures(fixtures.backPain, on: "zoned", options).map(\.message)
        #expect(zoned.contains { $0.contains("no node of device 'zoned' covers zone 'brain'") }, "\(zoned)")
    }

    @Test(arguments: CompilerTests.devices, 1...5)
    func everySettingAPersonCanChooseCompilesWithinTheLimits(_ device: String, _ intensity: Int) throws {
        // Every focus, shoe sizes EU 35 to 45, at this intensity: the program a person picks
        // never fails for lack of time, and never leaves the device's or the person's limits.
        for focus in ["cervical", "thoracic", "lumbar", "sacral"] {
            for shoeSize in [35.0, 38, 42, 45] {
                let options = CompileOptions(parameters: ["focus": focus, "intensity": String(intensity)],
                                             footSize: .euShoeSize(shoeSize))
                do {
                    let timeline = try fixtures.compile(on: device, options)
                    let problems = TimelineReplay.problems(timeline, device: fixtures.device(device), caps: .standard)
                    #expect(problems.isEmpty, "focus \(focus), EU \(shoeSize): \(problems.prefix(5))")
                } catch {
                    Issue.record("focus \(focus), EU \(shoeSize): \(error)")
                }
            }
        }
    }

    @Test func aFootTooWideForTheReferenceTravelFails() {
        // EU 46 is 292 mm long and 111 mm wide: the lateral edge is past the 110 mm v travel.
        let errors = fixtures.failures(fixtures.backPain, on: "reference", CompileOptions(footSize: .euShoeSize(46)))
        #expect(errors.map(\.message) == [
            "step 6 'Finger-walk the knee and hip reflex, gently': zone 'knee-hip' at u=50.8 v=110.8 mm is beyond the v travel of 110 mm for a 292 mm foot",
        ])
    }

    @Test(arguments: [
        ("reference", "step 1 'Rushed walk': bites every 0.07 s are too short for device 'reference'"),
        ("zoned", "step 1 'Rushed walk': pulses every 0.07 s are too short for device 'zoned'"),
    ])
    func tooShortWalksFail(_ device: String, _ message: String) throws {
        let routine = oneStep(RoutineStep(name: "Rushed walk", technique: .thumbWalk, zone: "spine-to-brain",
                                          duration: .seconds(2), biteMM: 10))
        let errors = fixtures.failures(routine, on: device)
        #expect(errors.count == 1)
        #expect(errors.first?.message.hasPrefix(message) == true, "\(errors)")
        #expect(errors.first?.message.hasSuffix("lengthen the step or use bigger bites") == true)
    }

    @Test(arguments: [
        ("reference", "step 1 'Rushed roll': gliding over"),
        ("zoned", "step 1 'Rushed roll': "),
    ])
    func tooShortGlidesFail(_ device: String, _ message: String) throws {
        let routine = oneStep(RoutineStep(name: "Rushed roll", technique: .roll, zone: "sole", duration: .seconds(1)))
        let errors = fixtures.failures(routine, on: device)
        #expect(errors.count == 1)
        #expect(errors.first?.message.hasPrefix(message) == true, "\(errors)")
        #expect(errors.first?.message.contains("device '\(device)'") == true)
    }

    @Test(arguments: [
        (["focus": "nowhere"], "parameter focus=nowhere: must be one of cervical, thoracic, lumbar, sacral"),
        (["intensity": "9"], "parameter intensity=9: must be a whole number from 1 to 5"),
        (["side": "left"], "unknown parameter 'side'; routine 'back-pain' takes focus, intensity"),
    ])
    func badRunParameters(_ parameters: [String: String], _ message: String) {
        let errors = fixtures.failures(fixtures.backPain, on: "reference", CompileOptions(parameters: parameters))
        #expect(errors.map(\.message) == [message])
    }

    @Test func implausibleFootLength() {
        let errors = fixtures.failures(fixtures.backPain, on: "reference", CompileOptions(footSize: FootSize(lengthMM: 2650)))
        #expect(errors.map(\.message) == ["foot length 2650 mm is outside 180–330 mm"])
    }

    @Test func oneFootOnly() throws {
        let timeline = try fixtures.compile(on: "reference", CompileOptions(feet: .left))
        #expect(timeline.entries.allSatisfy { $0.foot == .left })
        #expect(timeline.statedDuration == .seconds(6 * 60 + 9))
        #expect(timeline.parameters["feet"] == "left")
    }
}

/// Replays a timeline against the device's limits and the person's caps: where each node
/// is, when it arrives, and what each channel is asked for. Returns every violation.
enum TimelineReplay {
    static func problems(_ timeline: Timeline, device: DeviceProfile, caps: PressureCaps) -> [String] {
        var problems: [String] = []
        let tolerance = 0.0015   // offsets are rounded to the millisecond
        for foot in Foot.allCases {
            var position = DevicePoint.home
            var arrival = 0.0
            var setpoints: [String: Setpoint] = [:]
            for entry in timeline.entries where entry.foot == foot {
                let t = entry.offset.seconds
                let at = "\(foot) at \(fixed(t, 3)) s (\(entry.step.name), \(entry.zone))"
                if t + tolerance < arrival {
                    problems.append("\(at): \(entry.command.text) before the node arrives at \(fixed(arrival, 3)) s")
                }
                switch entry.command {
                case .move(let to, let speed):
                    guard let u = device.uAxis, let v = device.vAxis else {
                        problems.append("\(at): a move on a device without axes")
                        continue
                    }
                    if !(0...u.travelMM).contains(to.u) || !(0...v.travelMM).contains(to.v) {
                        problems.append("\(at): move to u=\(to.u) v=\(to.v) is outside the travel")
                    }
                    if !(speed > 0 && speed <= device.fastestSpeed) {
                        problems.append("\(at): speed \(speed) mm/s")
                    }
                    arrival = t + device.moveSeconds(from: position, to: to, speedCap: speed)
                    position = to
                case .pressure(let channel, let kPa, let ramp):
                    if !device.channels.contains(channel) { problems.append("\(at): unknown channel \(channel)") }
                    if kPa < 0 || kPa > device.pressure.maxKPa + 1e-9 {
                        problems.append("\(at): \(kPa) kPa beyond the device's \(device.pressure.maxKPa)")
                    }
                    if kPa > caps[entry.sensitivity] + 1e-9 {
                        problems.append("\(at): \(kPa) kPa over the \(entry.sensitivity) cap of \(caps[entry.sensitivity])")
                    }
                    let previous = setpoints[channel] ?? Setpoint(from: 0, to: 0, at: 0, ramp: ramp)
                    // The ramp limit is on rises (docs/safety.md §2): lowering is never slowed.
                    if !(ramp > 0 && (kPa <= previous.to || ramp <= device.pressure.maxRampKPaPerS)) {
                        problems.append("\(at): ramp \(ramp) kPa/s beyond the device's \(device.pressure.maxRampKPaPerS)")
                    }
                    problems += previous.reached(by: t, next: at)
                    setpoints[channel] = Setpoint(from: previous.to, to: kPa, at: t, ramp: ramp)
                case .release(let channel):
                    if let previous = setpoints[channel] { problems += previous.reached(by: t, next: at) }
                    // Venting is not ramp-limited; the compiler waits for the valve after a step.
                    setpoints[channel] = Setpoint(from: 0, to: 0, at: t, ramp: device.pressure.maxRampKPaPerS)
                }
            }
        }
        return problems
    }

    /// A channel's latest setpoint: ramping from `from` to `to` since `at`.
    struct Setpoint {
        var from: Double
        var to: Double
        var at: Double
        var ramp: Double

        /// A setpoint must be reachable at the ramp limit before the next command replaces
        /// it: the compiler plans every press to arrive, not to be cut short.
        func reached(by t: Double, next: String) -> [String] {
            let needed = abs(to - from) / ramp
            guard t - at + 0.0015 < needed else { return [] }
            return ["\(next): comes \(fixed(t - at, 3)) s after asking for \(fixed(to, 1)) kPa from \(fixed(from, 1)) kPa, which needs \(fixed(needed, 3)) s"]
        }
    }
}
