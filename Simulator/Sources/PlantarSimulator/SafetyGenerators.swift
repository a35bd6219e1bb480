import PlantarCore
import PlantarOracle
import PlantarSession

/// Adversarial inputs for the oracle (issue 10): whole sessions that push the caps, the
/// dose, ease, stop and pause, and random command sequences straight through the governor.
/// The tests run a fast subset; `plantar-bench safety-soak` runs many.
///
/// The generators use the compiler and the governor (they are what is under test); only
/// the verdict comes from the oracle, on what the simulated device received.
public enum SafetyGenerators {
    /// One whole simulated session to run and check.
    public struct Session: Sendable {
        public var name: String
        public var routine: Routine
        public var device: DeviceProfile
        public var parameters: [String: String]
        public var footLengthMM: Double
        public var sensitivity: Double
        public var reducedSensation: Bool
        public var script: [ScriptedEvent]
        public var stimuli: [SafetyRun.Stimulus]

        public init(name: String, routine: Routine, device: DeviceProfile, parameters: [String: String] = ["intensity": "5"],
                    footLengthMM: Double = 265, sensitivity: Double = 1, reducedSensation: Bool = false,
                    script: [ScriptedEvent] = [], stimuli: [SafetyRun.Stimulus] = []) {
            self.name = name
            self.routine = routine
            self.device = device
            self.parameters = parameters
            self.footLengthMM = footLengthMM
            self.sensitivity = sensitivity
            self.reducedSensation = reducedSensation
            self.script = script
            self.stimuli = stimuli
        }

        /// The governor's settings for this person, with the cap field of this map.
        public func settings(map: FootMap) -> GovernorSettings {
            var s = GovernorSettings.standard(for: device, map: map, footSize: FootSize(lengthMM: footLengthMM))
            s.sensitivityFactor = sensitivity
            s.reducedSensation = reducedSensation
            return s
        }
    }

    /// What one session gave: nil when the compiler refused the routine (a combination that
    /// does not exist, e.g. a walk on a point), else the oracle's violations.
    public struct Outcome: Sendable {
        public var session: Session
        public var violations: [Violation]?
        public var finalState: String
        /// Simulated seconds and the oracle's share of the wall time.
        public var simulatedSeconds = 0.0
        public var oracleSeconds = 0.0
        /// The device log, kept only when the oracle found a violation.
        public var failingLog: DeviceLog?
    }

    /// Compiles and runs `session`; the compiler's refusal is an outcome, not an error.
    public static func run(_ session: Session, map: FootMap) async -> Outcome {
        let settings = session.settings(map: map)
        let options = CompileOptions(parameters: session.parameters, footSize: FootSize(lengthMM: session.footLengthMM),
                                     caps: settings.personCaps, limits: settings.limits)
        guard let timeline = try? Compiler.compile(session.routine, map: map, device: session.device, options: options) else {
            return Outcome(session: session, violations: nil, finalState: "not compiled")
        }
        let result = await SafetyRun.run(timeline: timeline, map: map, device: session.device, footLengthMM: session.footLengthMM,
                                         settings: settings, script: session.script, stimuli: session.stimuli, sampleInterval: .zero)
        return Outcome(session: session, violations: result.violations, finalState: result.trace.finalState,
                       simulatedSeconds: result.log.records.last?.time ?? 0, oracleSeconds: result.oracleSeconds,
                       failingLog: result.violations.isEmpty ? nil : result.log)
    }

    // MARK: Routines

    /// A one-step routine of `technique` on `zone`, firm, sized so a session stays short.
    public static func step(_ technique: Technique, _ zone: String, seconds: Int = 20) -> Routine {
        let d = Duration.seconds(seconds)
        let step: RoutineStep = switch technique {
        case .thumbWalk, .walkBack, .fingerWalk:
            RoutineStep(name: "\(technique.rawValue) \(zone)", technique: technique, zone: zone, pressure: .firm, duration: d, biteMM: 10)
        case .crossWalk:
            RoutineStep(name: "\(technique.rawValue) \(zone)", technique: technique, zone: zone, pressure: .firm, duration: d, crossings: 3)
        case .pressHold:
            RoutineStep(name: "\(technique.rawValue) \(zone)", technique: technique, zone: zone, pressure: .firm,
                        duration: d, hold: .seconds(seconds * 2 / 3), rub: .seconds(seconds / 3))
        case .circleRub, .hold, .roll:
            RoutineStep(name: "\(technique.rawValue) \(zone)", technique: technique, zone: zone, pressure: .firm, duration: d)
        }
        return Routine(name: "gen", title: "generated", feet: .right, steps: [step])
    }

    /// The two people the generators press hardest against: the default person, and the
    /// most sensitive one with reduced sensation (the lowest caps).
    public static let people: [(sensitivity: Double, reduced: Bool)] = [(1.0, false), (0.5, true)]

    /// Every technique over every zone of the map, intensity 5, for each person.
    public static func everyTechniqueOverEveryZone(map: FootMap, device: DeviceProfile, seconds: Int = 20) -> [Session] {
        var result: [Session] = []
        for zone in map.zones.keys.sorted() {
            for technique in Technique.allCases {
                for p in people {
                    result.append(Session(name: "\(technique.rawValue) over \(zone) on \(device.name), sensitivity \(p.sensitivity)\(p.reduced ? " reduced" : "")",
                                          routine: step(technique, zone, seconds: seconds), device: device,
                                          sensitivity: p.sensitivity, reducedSensation: p.reduced))
                }
            }
        }
        return result
    }

    /// Line zones whose points span more than one sensitivity class (the spine's segments,
    /// the spine into the brain reflexes), read from the map.
    public static func borderCrossingLines(map: FootMap) -> [String] {
        map.zones.keys.sorted().filter { id in
            guard let line = map.line(of: id), line.count > 1 else { return false }
            return Set(line.map(\.sensitivity)).count > 1
        }
    }

    /// Every walking technique along each border-crossing line, intensity 5, each person.
    public static func borderCrossings(map: FootMap, device: DeviceProfile, seconds: Int = 30) -> [Session] {
        var result: [Session] = []
        for zone in borderCrossingLines(map: map) {
            for technique in Technique.allCases where technique.walksALine || technique == .roll {
                for p in people {
                    result.append(Session(name: "\(technique.rawValue) along \(zone) on \(device.name), sensitivity \(p.sensitivity)\(p.reduced ? " reduced" : "")",
                                          routine: step(technique, zone, seconds: seconds), device: device,
                                          sensitivity: p.sensitivity, reducedSensation: p.reduced))
                }
            }
        }
        return result
    }

    /// `profile` at each extreme the loader accepts (DeviceProfileLoader): the largest
    /// pressure ceiling (357 kPa), the largest ramp (2000 kPa/s), the slowest valve
    /// (`DeviceProfileLoader.slowestValveSeconds`, 0.25 s: slower, no ease could give its 40%).
    public static func extremes(of profile: DeviceProfile) -> [DeviceProfile] {
        var ceiling = profile, ramp = profile, valve = profile
        ceiling.name += "@max-kpa-357"
        ceiling.pressure.maxKPa = 357
        ramp.name += "@max-ramp-2000"
        ramp.pressure.maxRampKPaPerS = 2000
        valve.name += "@valve-slowest"
        valve.pressure.valveTimeConstant = 0.25
        return [ceiling, ramp, valve]
    }

    // MARK: Event storms

    /// A seeded storm on one routine: pause/resume pairs, operator stops, eases (API and
    /// button), the switch, pull-away and return, at random instants within `span`.
    public static func storm(seed: UInt64, routine: Routine, device: DeviceProfile, span: Duration) -> Session {
        var g = SplitMix64(seed: seed)
        func at() -> Duration { .milliseconds(Int64(g.unit() * Double(span.milliseconds))) }
        var script: [ScriptedEvent] = []
        var stimuli: [SafetyRun.Stimulus] = []
        let events = 1 + Int(g.next() % 5)
        for _ in 0..<events {
            switch g.next() % 7 {
            case 0:
                let t = at()
                stimuli.append(.init(.pause, at: t))
                stimuli.append(.init(.resume, at: t + .milliseconds(Int64(200 + g.next() % 8000))))
            case 1: stimuli.append(.init(.ease, at: at()))
            case 2: script.append(ScriptedEvent(.ease, at: at()))
            case 3: stimuli.append(.init(.stop, at: at()))
            case 4:
                let t = at()
                script.append(ScriptedEvent(.switchPress, at: t))
                script.append(ScriptedEvent(.switchRelease, at: t + .milliseconds(Int64(100 + g.next() % 2000))))
            case 5:
                let t = at()
                script.append(ScriptedEvent(.pullAway, at: t))
                script.append(ScriptedEvent(.footReturn, at: t + .milliseconds(Int64(100 + g.next() % 5000))))
            default:
                // Two quick pause/resume pairs: the routine's clock must survive both.
                let t = at()
                stimuli.append(.init(.pause, at: t))
                stimuli.append(.init(.resume, at: t + .milliseconds(300)))
                stimuli.append(.init(.pause, at: t + .milliseconds(900)))
                stimuli.append(.init(.resume, at: t + .milliseconds(2000)))
            }
        }
        let p = people[Int(g.next() % UInt64(people.count))]
        let names = (script.map(\.description) + stimuli.map { "\($0.request.rawValue)@\(DurationSyntax.format($0.time))" }).sorted()
        return Session(name: "storm \(seed) on \(device.name): \(names.joined(separator: " "))", routine: routine, device: device,
                       sensitivity: p.sensitivity, reducedSensation: p.reduced, script: script, stimuli: stimuli)
    }

    /// A short random routine of one to three steps (for storms and the soak).
    public static func randomRoutine(seed: UInt64, map: FootMap) -> Routine {
        var g = SplitMix64(seed: seed)
        let zones = map.zones.keys.sorted()
        var steps: [RoutineStep] = []
        for i in 0..<(1 + Int(g.next() % 3)) {
            let technique = Technique.allCases[Int(g.next() % UInt64(Technique.allCases.count))]
            let zone = zones[Int(g.next() % UInt64(zones.count))]
            var s = step(technique, zone, seconds: 10 + Int(g.next() % 30)).steps[0]
            s.name = "s\(i)"
            s.pressure = PressureLevel.allCases[Int(g.next() % 3)]
            steps.append(s)
        }
        let feet = FeetSelection.allCases[Int(g.next() % 3)]
        return Routine(name: "random", title: "random", feet: feet, order: FootOrder.allCases[Int(g.next() % 3)], steps: steps)
    }

    // MARK: Governor cases

    /// Counts from `governorCases`.
    public struct GovernorRun: Sendable {
        public var cases = 0
        public var sequences = 0
        /// The first violations found (up to `keepViolations`), for reading.
        public var violations: [Violation] = []
        public var violationCount = 0
        public var byRule: [SafetyRule: Int] = [:]
        /// The device log of the first sequence that broke a rule, for reading it whole.
        public var firstFailingLog: DeviceLog?
        public var firstFailingViolations: [Violation] = []
        public init() {}
    }

    /// Random command sequences straight through the governor to a recording simulated
    /// device, checked by the oracle on what the device received: moves anywhere, pressures
    /// up to 1.5 × the ceiling with any ramp and a random (lying) zone label, releases, eases,
    /// stops, the switch, ticks and telemetry. One case is one event fed to the governor.
    public static func governorCases(seed: UInt64, sequences: Int, eventsPerSequence: Int, map: FootMap,
                                     device: DeviceProfile, footLengthMM: Double = 265,
                                     keepViolations: Int = 1000) async -> GovernorRun {
        var run = GovernorRun()
        var g = SplitMix64(seed: seed)
        for _ in 0..<sequences {
            // CPU-bound on the shared pool: let other tasks in between sequences.
            await Task.yield()
            let p = people[Int(g.next() % UInt64(people.count))]
            var settings = GovernorSettings.standard(for: device, map: map, footSize: FootSize(lengthMM: footLengthMM))
            settings.sensitivityFactor = p.sensitivity
            settings.reducedSensation = p.reduced
            let driver = SimulatedDriver(profile: device, seed: g.next(), recordsDeviceLog: true)
            var governor = Governor(settings: settings)
            var now = Duration.zero
            func perform(_ actions: [GovernorAction]) async {
                for action in actions {
                    switch action {
                    case .apply(let command, let foot): try? await driver.apply(command, foot: foot, at: now)
                    case .releaseAll: driver.releaseAll(.governor)
                    case .release(let foot):
                        for ch in device.channels { try? await driver.apply(.release(channel: ch), foot: foot, at: now) }
                    // No session loop here to pause: a foot away is refused pressure by the governor.
                    case .abortSession, .report, .awaitFoot, .footReturned: break
                    }
                }
            }
            await perform(governor.arm(at: now))
            if governor.state.isRunning { driver.beginSession() }
            var held = false
            let classes = Sensitivity.allCases
            for _ in 0..<eventsPerSequence {
                now += .milliseconds(Int64(1 + g.next() % 200))
                // The device's events first, as a session loop would feed them.
                for event in await driver.poll(upTo: now) {
                    switch event.kind {
                    case .telemetry(let t): await perform(governor.telemetry(t, at: event.time))
                    case .input(.discomfortSwitch(let pressed, let released)):
                        await perform(governor.discomfortSwitch(pressed: pressed, alreadyReleased: released, at: event.time))
                    case .input(.easeButton): await perform(governor.ease(source: "button", foot: nil, at: event.time))
                    case .link, .fault: break
                    }
                }
                let foot = device.feet[Int(g.next() % UInt64(device.feet.count))]
                let label = classes[Int(g.next() % 3)]
                func entry(_ c: ActuatorCommand) -> TimelineEntry {
                    TimelineEntry(offset: now, foot: foot, command: c, step: StepReference(index: 1, name: "random", pass: 1),
                                  zone: "random", sensitivity: label)
                }
                let channel = device.channels[Int(g.next() % UInt64(device.channels.count))]
                switch g.next() % 20 {
                case 0...5 where device.kind == .gantry:
                    let to = DevicePoint(u: g.unit() * (device.uAxis?.travelMM ?? 300), v: g.unit() * (device.vAxis?.travelMM ?? 110))
                    await perform(governor.filter(entry(.move(to: to, speed: 5 + g.unit() * 60)), at: now))
                case 0...11:
                    let kPa = g.unit() * device.pressure.maxKPa * 1.5
                    let ramp = g.unit() * device.pressure.maxRampKPaPerS * 2
                    await perform(governor.filter(entry(.pressure(channel: channel, kPa: kPa, ramp: ramp)), at: now))
                case 12, 13: await perform(governor.filter(entry(.release(channel: channel)), at: now))
                case 14:
                    driver.note(.ease, foot: foot, at: now)
                    await perform(governor.ease(source: "random", foot: foot, at: now))
                case 15 where g.next() % 40 == 0:
                    driver.note(.stop, at: now)
                    await perform(governor.stop(source: "random", at: now))
                case 16 where g.next() % 40 == 0:
                    driver.press(.switchPress)
                    held = true
                case 17 where held:
                    driver.press(.switchRelease)
                    held = false
                case 18 where governor.state.isLatched && !held:
                    // Re-arm and a new session: the latch must hold until exactly here.
                    await perform(governor.rearm(switchPressed: false, at: now))
                    await perform(governor.arm(at: now))
                    if governor.state.isRunning { driver.beginSession() }
                default: await perform(governor.tick(at: now))
                }
                run.cases += 1
            }
            now += .milliseconds(50)
            _ = await driver.poll(upTo: now)
            await perform(governor.finish(at: now))
            now += .seconds(1)
            _ = await driver.poll(upTo: now)
            let oracle = Oracle(map: map, profile: device, footLengthMM: footLengthMM, settings: SafetyRun.oracleSettings(settings),
                                measuresPressure: driver.measuresPressure)
            let found = oracle.check(driver.deviceLog)
            if !found.isEmpty && run.firstFailingLog == nil {
                run.firstFailingLog = driver.deviceLog
                run.firstFailingViolations = found
            }
            if run.violations.count < keepViolations { run.violations.append(contentsOf: found.prefix(keepViolations - run.violations.count)) }
            run.sequences += 1
            run.violationCount += found.count
            for v in found { run.byRule[v.rule, default: 0] += 1 }
        }
        return run
    }
}

extension SafetyGenerators.GovernorRun {
    /// Violations by rule over every sequence (not only the kept ones).
    public var byRuleText: String {
        byRule.keys.sorted().map { "\($0.rawValue) \(byRule[$0]!)" }.joined(separator: ", ")
    }
}
