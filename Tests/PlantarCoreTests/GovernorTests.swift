import PlantarConfig
import PlantarCore
import Testing

// MARK: - Helpers shared with GovernorPropertyTests

/// The reference device's numbers (Config/devices/reference.yaml): 150 kPa/s, 100 kPa.
let referenceSettings = GovernorSettings(maxRampKPaPerS: 150, deviceMaxKPa: 100)

func ms(_ n: Int) -> Duration { .milliseconds(n) }

func entry(_ command: ActuatorCommand, foot: Foot = .right, sensitivity: Sensitivity = .low,
           zone: String = "heel") -> TimelineEntry {
    TimelineEntry(offset: .zero, foot: foot, command: command, step: StepReference(index: 1, name: "test", pass: 1),
                  zone: zone, sensitivity: sensitivity)
}

func press(_ kPa: Double, ramp: Double = 150, channel: String = "node", foot: Foot = .right,
           sensitivity: Sensitivity = .low) -> TimelineEntry {
    entry(.pressure(channel: channel, kPa: kPa, ramp: ramp), foot: foot, sensitivity: sensitivity)
}

func move(_ u: Double, _ v: Double = 20, foot: Foot = .right) -> TimelineEntry {
    entry(.move(to: DevicePoint(u: u, v: v), speed: 30), foot: foot)
}

func release(_ channel: String = "node", foot: Foot = .right) -> TimelineEntry {
    entry(.release(channel: channel), foot: foot)
}

func sample(_ foot: Foot, kPa: [String: Double]? = ["node": 0], force: Double? = nil, present: Bool = true) -> Telemetry {
    Telemetry(foot: foot, position: .home, pressureKPa: kPa, contactForceN: force, footPresent: present)
}

extension Array where Element == GovernorAction {
    var reports: [Intervention] {
        compactMap { if case .report(let i) = $0 { i } else { nil } }
    }
    func reports(_ kind: Intervention.Kind) -> [Intervention] { reports.filter { $0.kind == kind } }
    var applied: [(ActuatorCommand, Foot)] {
        compactMap { if case .apply(let c, let f) = $0 { (c, f) } else { nil } }
    }
    /// The pressure commands let through: channel, kPa, ramp, foot.
    var pressures: [(channel: String, kPa: Double, ramp: Double, foot: Foot)] {
        applied.compactMap { c, f in
            if case .pressure(let ch, let kPa, let ramp) = c { (ch, kPa, ramp, f) } else { nil }
        }
    }
    var releasesAll: Bool { contains(.releaseAll) }
    var abortReason: StopReason? {
        for a in self { if case .abortSession(let r) = a { return r } }
        return nil
    }
}

/// A governor with a little world around it: a session clock the test moves by hand, and a
/// device that reports telemetry every 100 ms for both feet with the measured pressure equal
/// to what the governor let through (a perfect pump).
struct Rig {
    var gov: Governor
    var now: Duration = .zero
    /// Every action returned so far, in order.
    var log: [GovernorAction] = []
    /// Contact force reported per newton of kPa let through (nil: no force sensor).
    var forcePerKPa: Double? = nil
    /// Where each foot's node is: where the last move let through sent it (the rig's device
    /// arrives at once).
    var at: [Foot: DevicePoint] = [:]

    init(_ settings: GovernorSettings = referenceSettings) {
        gov = Governor(settings: settings)
    }

    /// A rig whose session is armed at 0 with a first telemetry sample from both feet.
    static func armed(_ settings: GovernorSettings = referenceSettings) -> Rig {
        var rig = Rig(settings)
        rig.telemetryBothFeet()
        rig.send { $0.arm(at: .zero) }
        return rig
    }

    @discardableResult
    mutating func send(_ event: (inout Governor) -> [GovernorAction]) -> [GovernorAction] {
        let actions = event(&gov)
        log += actions
        return actions
    }

    @discardableResult
    mutating func filter(_ e: TimelineEntry) -> [GovernorAction] {
        let t = now
        let actions = self.send { $0.filter(e, at: t) }
        for case .apply(.move(let to, _), let foot) in actions { at[foot] = to }
        return actions
    }

    @discardableResult
    mutating func telemetryBothFeet() -> [GovernorAction] {
        var actions: [GovernorAction] = []
        for foot in Foot.allCases {
            let kPa = gov.setpointKPa(for: foot)
            let s = Telemetry(foot: foot, position: at[foot] ?? .home, pressureKPa: ["node": kPa],
                              contactForceN: forcePerKPa.map { $0 * kPa }, footPresent: true)
            let t = now
            actions += self.send { $0.telemetry(s, at: t) }
        }
        return actions
    }

    /// Moves the clock on to `end` in 100 ms steps, with telemetry and a tick at each.
    @discardableResult
    mutating func run(until end: Duration) -> [GovernorAction] {
        var actions: [GovernorAction] = []
        while now < end {
            now = min(now + ms(100), end)
            actions += telemetryBothFeet()
            let t = now
            actions += self.send { $0.tick(at: t) }
        }
        return actions
    }
}

/// Builds a governor in the named state.
func governor(in name: String) -> Governor {
    var rig = Rig.armed()
    switch name {
    case "idle": return Governor(settings: referenceSettings)
    case "armed": break
    case "active": rig.filter(press(40))
    case "easing":
        rig.filter(press(40))
        rig.now = ms(100)
        rig.send { $0.ease(source: "button", foot: nil, at: ms(100)) }
    case "stopped": rig.send { $0.discomfortSwitch(pressed: true, alreadyReleased: true, at: .zero) }
    case "faulted": rig.send { $0.fault("link down", at: .zero) }
    default: Issue.record("no such state \(name)")
    }
    #expect(rig.gov.state.name == name)
    return rig.gov
}

let allStateNames = ["idle", "armed", "active", "easing", "stopped", "faulted"]

// MARK: - Settings and caps

@Suite("Governor settings and caps")
struct GovernorSettingsTests {
    @Test func standardSettingsTakeTheDeviceLimitsAndTheDocumentedDefaults() {
        let profile = DeviceProfile(name: "t", title: "t", kind: .gantry, heelOffsetMM: 10, reach: [.sole],
                                    uAxis: nil, vAxis: nil,
                                    pressure: PressureLimits(maxKPa: 90, maxRampKPaPerS: 120, pumpTimeConstant: 0.25,
                                                             valveTimeConstant: 0.06, sensorRateHz: 100),
                                    inputs: [.discomfortSwitch])
        let s = GovernorSettings.standard(for: profile)
        #expect(s.maxRampKPaPerS == 120)
        #expect(s.deviceMaxKPa == 90)
        #expect(s.requiresPressureSensor == false)
        #expect(s.caps == .standard)
        #expect(s.limits == .standard)
        #expect(s.limits.holdLimit == .seconds(60))
        #expect(s.limits.autoOff == .seconds(15 * 60))
        #expect(s.easeFraction == 0.4)
        #expect(s.easeWithin == ms(300))
        #expect(s.easeCapFactor == 0.8)
        #expect(s.easeZoneCapFactor == 0.7)
        #expect(s.escalationCount == 3)
        #expect(s.escalationWindow == .seconds(60))
        #expect(s.telemetryTimeout == ms(500))
        #expect(s.pressureSensorRange == -5...400)
        #expect(s.maxLateness == ms(250))
        #expect(s.pullAwayForceDropFraction == 0.5)
    }

    @Test func capIsBaseTimesSensitivityTimesReducedSensationUnderTheDeviceMax() {
        var s = referenceSettings
        s.sensitivityFactor = 0.8
        s.reducedSensation = true
        let gov = Governor(settings: s)
        for level in Sensitivity.allCases {
            let expected = min(PressureCaps.standard[level] * 0.8 * PressureCaps.reducedSensationFactor, 100)
            #expect(abs(gov.cap(for: level) - expected) < 1e-9)
            #expect(abs(s.personCaps[level] - PressureCaps.standard[level] * 0.8 * 0.6) < 1e-9)
        }
        s.deviceMaxKPa = 30
        #expect(Governor(settings: s).cap(for: .low) == 30)
    }

    @Test func settingsThatWouldWeakenARuleAreSanitizedToTheSafeSide() {
        var s = referenceSettings
        s.sensitivityFactor = 1.7
        s.easeCapFactor = 1.5
        s.limits.autoOff = .seconds(3 * 3600)
        let gov = Governor(settings: s)
        #expect(gov.cap(for: .low) == PressureCaps.standard.low)
        #expect(gov.settings.easeCapFactor == 1)
        #expect(gov.settings.limits.autoOff == SessionLimits.autoOffCeiling)
        s.sensitivityFactor = .nan
        #expect(Governor(settings: s).settings.sensitivityFactor == 0.5)
        // SessionLimits itself never exceeds the 30-minute ceiling either.
        #expect(SessionLimits(holdLimit: .seconds(60), autoOff: .seconds(45 * 60)).autoOff == .seconds(30 * 60))
    }
}

// MARK: - Gate

@Suite("Governor gate (filter)")
struct GovernorFilterTests {
    @Test(arguments: allStateNames)
    func releasePassesInEveryState(_ name: String) {
        var gov = governor(in: name)
        let before = gov.state
        let actions = gov.filter(release(), at: ms(200))
        #expect(actions.applied.contains { $0.0 == .release(channel: "node") && $0.1 == .right })
        #expect(actions.reports(.blocked).isEmpty)
        if before.isLatched { #expect(gov.state == before) }
    }

    @Test(arguments: ["idle", "stopped", "faulted"])
    func nothingButReleasePassesWhenNoSessionRuns(_ name: String) {
        var gov = governor(in: name)
        for e in [press(30), move(100), press(0)] {
            let actions = gov.filter(e, at: ms(200))
            #expect(actions.applied.isEmpty)
            #expect(actions.reports(.blocked).count == 1)
        }
    }

    @Test func armedBecomesActiveWithTheFirstCommandAndMovesPass() {
        var rig = Rig.armed()
        #expect(rig.gov.state == .armed)
        let actions = rig.filter(move(120))
        #expect(actions.applied.count == 1)
        #expect(rig.gov.state == .active)
    }

    @Test func pressureWithinTheCapPassesUnchanged() {
        var rig = Rig.armed()
        let actions = rig.filter(press(50, ramp: 100))
        #expect(actions == [.apply(.pressure(channel: "node", kPa: 50, ramp: 100), foot: .right)])
        #expect(rig.gov.interventions.isEmpty)
    }

    @Test(arguments: Sensitivity.allCases)
    func pressureAboveTheCapIsClampedAndReported(_ level: Sensitivity) {
        var rig = Rig.armed()
        let cap = rig.gov.cap(for: level)
        let actions = rig.filter(press(300, sensitivity: level))
        #expect(actions.pressures.map(\.kPa) == [cap])
        let clamps = actions.reports(.capClamped)
        #expect(clamps.count == 1)
        #expect(clamps.first?.foot == .right)
        #expect(rig.gov.interventions == clamps)
    }

    @Test func aRiseFasterThanTheDeviceAllowsIsSlowedAndReported() {
        var rig = Rig.armed()
        let actions = rig.filter(press(40, ramp: 1000))
        #expect(actions.pressures.map(\.ramp) == [150])
        #expect(actions.reports(.rampLimited).count == 1)
        // A rise with no usable rate gets the device's rate, also reported.
        rig.run(until: .seconds(1))
        let bad = rig.filter(press(60, ramp: .nan))
        #expect(bad.pressures.map(\.ramp) == [150])
        #expect(bad.reports(.rampLimited).count == 1)
    }

    @Test func loweringIsNeverSlowed() {
        var rig = Rig.armed()
        rig.filter(press(60))
        rig.run(until: .seconds(1))
        let actions = rig.filter(press(10, ramp: 5000))
        #expect(actions.pressures.map(\.ramp) == [5000])
        #expect(actions.reports.isEmpty)
    }

    @Test func aRiseIsJudgedFromTheGovernedLevelNotJustTheLastSetpoint() {
        var rig = Rig.armed()
        rig.filter(press(60))
        rig.run(until: .seconds(1))
        rig.filter(press(0, ramp: 10))       // a slow fall: still near 60 after 0.1 s
        rig.now = rig.now + ms(100)
        let actions = rig.filter(press(30, ramp: 1000))
        // 30 is below where the pressure is, but above where it is going: slowed.
        #expect(actions.pressures.map(\.ramp) == [150])
    }

    @Test func pressingAFootThatLeftTheDeviceIsRefused() {
        var rig = Rig.armed()
        rig.send { $0.telemetry(sample(.right, present: false), at: .zero) }
        let actions = rig.filter(press(30))
        #expect(actions.applied.isEmpty)
        #expect(actions.reports(.blocked).count == 1)
        rig.now = ms(100)
        rig.telemetryBothFeet()
        #expect(rig.filter(press(30)).pressures.count == 1)
    }

    @Test func capsAreInForceForTheZoneClassOfEachCommand() {
        var rig = Rig.armed()
        let high = rig.filter(press(70, sensitivity: .high))
        #expect(high.pressures.first!.kPa == rig.gov.cap(for: .high))
        let low = rig.filter(press(70, channel: "other", sensitivity: .low))
        #expect(low.pressures.first!.kPa == 70)
    }
}

// MARK: - Switch, stop, rearm

@Suite("Governor stops and latches")
struct GovernorLatchTests {
    @Test func theSwitchReleasesAbortsAndLatches() {
        var rig = Rig.armed()
        rig.filter(press(40))
        rig.now = ms(100)
        let actions = rig.send { $0.discomfortSwitch(pressed: true, alreadyReleased: false, at: ms(100)) }
        #expect(actions.first == .releaseAll)
        #expect(actions.abortReason == .discomfortSwitch)
        #expect(actions.reports(.switchStop).count == 1)
        #expect(rig.gov.state == .stopped(.discomfortSwitch))
        #expect(rig.gov.setpointKPa(for: .right) == 0)
    }

    @Test func theSwitchReleasesEvenWhenTheDriverAlreadyDid() {
        var rig = Rig.armed()
        let actions = rig.send { $0.discomfortSwitch(pressed: true, alreadyReleased: true, at: .zero) }
        #expect(actions.releasesAll)
    }

    @Test(arguments: allStateNames)
    func theSwitchLatchesFromAnyState(_ name: String) {
        var gov = governor(in: name)
        let wasRunning = gov.state.isRunning
        let actions = gov.discomfortSwitch(pressed: true, alreadyReleased: false, at: ms(200))
        #expect(actions.releasesAll)
        #expect(gov.state.isLatched)
        #expect((actions.abortReason != nil) == wasRunning)
    }

    @Test func nothingPressesAfterTheSwitchUntilRearmAndArm() {
        var rig = Rig.armed()
        rig.filter(press(40))
        rig.send { $0.discomfortSwitch(pressed: true, alreadyReleased: true, at: .zero) }
        rig.now = ms(100)
        #expect(rig.filter(press(20)).applied.isEmpty)
        // Letting go of the switch does not un-latch.
        #expect(rig.send { $0.discomfortSwitch(pressed: false, alreadyReleased: false, at: ms(100)) }.isEmpty)
        #expect(rig.gov.state == .stopped(.discomfortSwitch))
        #expect(rig.filter(press(20)).applied.isEmpty)
        // Arming is refused while latched.
        #expect(rig.send { $0.arm(at: ms(100)) }.reports(.blocked).count == 1)
        #expect(rig.gov.state.isLatched)
    }

    @Test func rearmIsRefusedWhileTheSwitchIsHeld() {
        var gov = governor(in: "stopped")
        let actions = gov.rearm(switchPressed: true, at: ms(100))
        #expect(actions.reports(.blocked).count == 1)
        #expect(gov.state == .stopped(.discomfortSwitch))
        #expect(gov.arm(at: ms(150)).reports(.blocked).count == 1)
        // Once it is let go, re-arming works (and leaves the governor idle).
        #expect(gov.rearm(switchPressed: false, at: ms(200)).reports(.rearmed).count == 1)
        #expect(gov.state == .idle)
    }

    @Test func armingIsRefusedWhileTheSwitchIsHeldEvenWhenIdle() {
        var gov = Governor(settings: referenceSettings)
        _ = gov.telemetry(sample(.right), at: .zero)
        _ = gov.discomfortSwitch(pressed: true, alreadyReleased: true, at: .zero)
        _ = gov.rearm(switchPressed: true, at: ms(10))
        #expect(gov.state.isLatched)
        _ = gov.discomfortSwitch(pressed: false, alreadyReleased: false, at: ms(20))
        #expect(gov.state.isLatched)
        _ = gov.rearm(switchPressed: false, at: ms(30))
        #expect(gov.arm(at: ms(40)).isEmpty)
        #expect(gov.state == .armed)
    }

    @Test func rearmIsRefusedWhileAFaultIsPresent() {
        var gov = governor(in: "faulted")
        #expect(gov.rearm(switchPressed: false, faultPresent: true, at: ms(100)).reports(.blocked).count == 1)
        #expect(gov.state.isLatched)
        // A sensor the governor sees failing is a fault present too.
        _ = gov.telemetry(sample(.right, kPa: nil), at: ms(150))
        #expect(gov.rearm(switchPressed: false, at: ms(200)).reports(.blocked).count == 1)
        _ = gov.telemetry(sample(.right), at: ms(250))
        #expect(gov.rearm(switchPressed: false, at: ms(300)).reports(.rearmed).count == 1)
        #expect(gov.state == .idle)
    }

    @Test func rearmNeverResumesARoutine() {
        var rig = Rig.armed()
        rig.filter(press(40))
        rig.send { $0.discomfortSwitch(pressed: true, alreadyReleased: true, at: .zero) }
        rig.now = ms(100)
        let rearm = rig.send { $0.rearm(switchPressed: false, at: ms(100)) }
        #expect(rearm.reports(.rearmed).count == 1)
        #expect(rearm.applied.isEmpty)
        #expect(rig.gov.state == .idle)
        // Idle refuses pressing (and moving) until a new arm.
        #expect(rig.filter(press(20)).applied.isEmpty)
        #expect(rig.filter(move(50)).applied.isEmpty)
        rig.telemetryBothFeet()
        #expect(rig.send { $0.arm(at: ms(100)) }.isEmpty)
        #expect(rig.filter(press(20)).pressures.count == 1)
    }

    @Test func rearmOutsideALatchDoesNothing() {
        var gov = governor(in: "active")
        #expect(gov.rearm(switchPressed: false, at: ms(100)).isEmpty)
        #expect(gov.state == .active)
    }

    @Test func anOperatorStopLatchesWithItsOwnReason() {
        var rig = Rig.armed()
        rig.filter(press(40))
        let actions = rig.send { $0.stop(source: "api", at: .zero) }
        #expect(actions.first == .releaseAll)
        #expect(actions.abortReason == .operatorStop("api"))
        #expect(rig.gov.state == .stopped(.operatorStop("api")))
        #expect(rig.filter(press(20)).applied.isEmpty)
    }

    @Test(arguments: allStateNames)
    func aFaultReleasesAndLatchesFromAnyState(_ name: String) {
        var gov = governor(in: name)
        let wasRunning = gov.state.isRunning
        let wasLatched = gov.state.isLatched
        let actions = gov.fault("device reset", at: ms(200))
        #expect(actions.first == .releaseAll)
        #expect((actions.abortReason == .fault("device reset")) == wasRunning)
        #expect(actions.reports(.fault).count == 1)
        if !wasLatched { #expect(gov.state == .faulted("device reset")) }
        #expect(gov.state.isLatched)
    }

    @Test func finishReleasesAndReturnsToIdleButNeverUnlatches() {
        var rig = Rig.armed()
        rig.filter(press(40))
        let done = rig.send { $0.finish(at: .zero) }
        #expect(done == [.releaseAll])
        #expect(rig.gov.state == .idle)
        #expect(rig.filter(press(20)).applied.isEmpty)

        var stopped = governor(in: "stopped")
        #expect(stopped.finish(at: ms(100)).releasesAll)
        #expect(stopped.state.isLatched)
    }
}

// MARK: - Ease and escalation

@Suite("Governor ease-off")
struct GovernorEaseTests {
    @Test func easeRampsDownWithinTheEaseTimeAndLowersCaps() {
        var rig = Rig.armed()
        rig.filter(press(60, sensitivity: .low))
        rig.run(until: .seconds(1))
        let capsBefore = Sensitivity.allCases.map { rig.gov.cap(for: $0) }
        let actions = rig.send { $0.ease(source: "ease button", foot: nil, at: .seconds(1)) }
        let p = try! #require(actions.pressures.first)
        #expect(actions.pressures.count == 1)
        // 60 down by at least 40%, a little more for the valve's lag (τ 60 ms), keeping contact.
        #expect(p.kPa <= 36 + 1e-9 && p.kPa > 30, "\(p.kPa)")
        #expect((60 - p.kPa) / p.ramp <= 0.3 + 1e-9)                      // within 300 ms
        #expect(actions.reports(.easeOff).count == 1)
        #expect(rig.gov.state == .easing)
        // The session's caps x0.8; the class being worked (low) x0.7 more.
        #expect(abs(rig.gov.cap(for: .low) - capsBefore[0] * 0.8 * 0.7) < 1e-9)
        // The others x0.8, and never above the cap of a less sensitive class.
        let low = capsBefore[0] * 0.8 * 0.7
        let moderate = min(capsBefore[1] * 0.8, low)
        #expect(abs(rig.gov.cap(for: .moderate) - moderate) < 1e-9)
        #expect(abs(rig.gov.cap(for: .high) - min(capsBefore[2] * 0.8, moderate)) < 1e-9)
    }

    @Test func duringTheEaseNothingRisesAndAfterItTheLowerCapsHold() {
        var rig = Rig.armed()
        rig.filter(press(70))
        rig.run(until: .seconds(1))
        rig.send { $0.ease(source: "api", foot: nil, at: .seconds(1)) }
        rig.now = .seconds(1) + ms(100)
        let easedLevel = rig.gov.setpointKPa(for: .right)
        let during = rig.filter(press(70))
        // The same request again is scaled by the ease: it can only go lower, never rise.
        #expect(during.pressures.allSatisfy { $0.kPa <= easedLevel + 1e-9 })
        #expect(during.reports(.capClamped).isEmpty)
        let higher = rig.filter(press(200))
        #expect(higher.pressures.allSatisfy { $0.kPa <= easedLevel + 1e-9 })
        // The window's last instant still refuses a rise; a millisecond later it is over.
        rig.now = .seconds(1) + ms(300)
        #expect(rig.filter(press(70)).reports(.blocked).count == 1)
        rig.run(until: .seconds(1) + ms(301))
        #expect(rig.gov.state == .active)
        // After it: requests press less by the ease factors, and the lowered cap holds.
        let gentle = rig.filter(press(50))
        #expect(abs(gentle.pressures.first!.kPa - 50 * 0.8 * 0.7) < 1e-9)
        let after = rig.filter(press(200))
        #expect(after.pressures.first!.kPa == rig.gov.cap(for: .low))
        #expect(after.reports(.capClamped).count == 1)
    }

    @Test func easeMidRampEasesFromTheGovernedLevel() {
        var rig = Rig.armed()
        rig.filter(press(60, ramp: 150))
        rig.now = ms(200)                    // the ramp is at 30 kPa; the pump lags at 25
        rig.send { $0.telemetry(sample(.right, kPa: ["node": 25]), at: ms(200)) }
        let actions = rig.send { $0.ease(source: "button", foot: .right, at: ms(200)) }
        // From what the foot felt when the person asked: the lower of the reading (25, not the
        // governed 30) and the ramp a loop turn earlier (15 at 100 ms), 40% down: at most 9.
        let eased = actions.pressures.first!.kPa
        #expect(eased <= 9 + 1e-9 && eased > 0, "\(eased)")
    }

    @Test func easeOfOneFootLeavesTheOtherAlone() {
        var rig = Rig.armed()
        rig.filter(press(40, foot: .left))
        rig.filter(press(40, foot: .right))
        rig.run(until: .seconds(1))
        let actions = rig.send { $0.ease(source: "button", foot: .left, at: .seconds(1)) }
        #expect(actions.pressures.map(\.foot) == [.left])
    }

    @Test func easeWhenNoSessionRunsDoesNothing() {
        var gov = governor(in: "idle")
        #expect(gov.ease(source: "button", foot: nil, at: .zero).isEmpty)
        #expect(gov.cap(for: .low) == PressureCaps.standard.low)
    }

    @Test func threeSignalsWithinTheWindowEscalateToALatchedStop() {
        var rig = Rig.armed()
        rig.filter(press(40))
        rig.run(until: .seconds(10))
        rig.send { $0.ease(source: "button", foot: nil, at: .seconds(10)) }
        rig.run(until: .seconds(30))
        let second = rig.send { $0.ease(source: "button", foot: nil, at: .seconds(30)) }
        #expect(second.abortReason == nil)
        rig.run(until: .seconds(69))
        let third = rig.send { $0.ease(source: "button", foot: nil, at: .seconds(69)) }
        #expect(third.first == .releaseAll)
        #expect(third.abortReason == .escalated)
        #expect(third.reports(.escalatedStop).count == 1)
        #expect(rig.gov.state == .stopped(.escalated))
    }

    @Test func signalsSpreadWiderThanTheWindowDoNotEscalate() {
        var rig = Rig.armed()
        rig.filter(press(40))
        for t in [10, 40, 71, 102] {
            rig.run(until: .seconds(t))
            let actions = rig.send { $0.ease(source: "button", foot: nil, at: .seconds(Int64(t))) }
            #expect(actions.abortReason == nil)
        }
        #expect(rig.gov.state.isRunning)
    }
}

// MARK: - Time rules

@Suite("Governor time rules")
struct GovernorTimeTests {
    // The dose rule (docs/safety.md §3): at most 60 s pressed per spot within any 120 s.
    // The governor releases a little early (the valve's tail, 3 × 0.06 s + 0.15 s), so the
    // cut falls within the last second before 60 s.
    @Test func aHoldAtOnePointIsReleasedAtTheDoseLimitAndTheSpotRests() {
        var rig = Rig.armed()
        rig.filter(press(40))
        let before = rig.run(until: .seconds(59))
        #expect(before.reports.isEmpty)
        let after = rig.run(until: .seconds(60))
        #expect(after.contains(.release(foot: .right)))
        #expect(after.reports(.holdLimit).count == 1)
        #expect(rig.gov.setpointKPa(for: .right) == 0)
        #expect(rig.gov.state == .active)
        // ~59.7 s pressed from 0: the spot takes no pressure until the window has let go of
        // enough of it (refused with under a second left: from ~121 s it is allowed again).
        rig.run(until: .seconds(90))
        #expect(rig.filter(press(40)).applied.isEmpty)
        rig.run(until: .seconds(120))
        #expect(rig.filter(press(40)).applied.isEmpty)
        rig.run(until: .seconds(122))
        #expect(rig.filter(press(40)).pressures.count == 1)
    }

    @Test func shortReleasesAndSmallMovesDoNotResetTheDose() {
        var rig = Rig.armed()
        // 12 presses of 8 s, alternately 2 mm apart (one spot), 0.2 s releases between.
        var cut: Duration?
        for i in 0..<12 {
            rig.filter(move(Double(100 + 2 * (i % 2))))
            rig.filter(press(40))
            let pressed = rig.run(until: rig.now + .seconds(8))
            if cut == nil, let report = pressed.reports(.holdLimit).first { cut = report.time }
            rig.filter(release())
            rig.run(until: rig.now + ms(200))
        }
        // Pressed time reaches 60 s in the eighth press (7 × 8 s + 4 s), at 7 × 8.2 s + 4 s = 61.4 s.
        #expect(cut != nil)
        #expect(cut.map { $0 > .seconds(60) && $0 <= .seconds(62) } ?? false, "cut at \(String(describing: cut))")
    }

    @Test func aMoveToAnotherSpotPressesOn() {
        var rig = Rig.armed()
        rig.filter(press(40))
        rig.run(until: .seconds(50))
        rig.filter(move(150))                  // 150 mm away: another spot
        let held = rig.run(until: .seconds(100))
        #expect(held.reports.isEmpty)
    }

    @Test func autoOffReleasesAbortsAndNothingButReleasePassesAfter() {
        var s = referenceSettings
        s.limits = SessionLimits(holdLimit: .seconds(60), autoOff: .seconds(20))
        var rig = Rig.armed(s)
        rig.filter(press(40))
        for t in stride(from: 10, through: 19, by: 3) {    // moves keep the hold short
            rig.run(until: .seconds(t))
            rig.filter(move(Double(t) * 5))
        }
        let actions = rig.run(until: .seconds(20))
        #expect(actions.first == .releaseAll)
        #expect(actions.abortReason == .autoOff)
        #expect(actions.reports(.autoOff).count == 1)
        #expect(rig.gov.state == .stopped(.autoOff))
        #expect(rig.filter(press(10)).applied.isEmpty)
        #expect(rig.filter(release()).applied.count == 1)
        // Re-arming is allowed, but the session's time is up: arming is refused.
        rig.send { $0.rearm(switchPressed: false, at: .seconds(21)) }
        #expect(rig.send { $0.arm(at: .seconds(21)) }.reports(.blocked).count == 1)
        #expect(rig.gov.state == .idle)
    }

    @Test func autoOffDefaultsToFifteenMinutes() {
        var rig = Rig.armed()
        rig.run(until: .seconds(15 * 60) - ms(100))
        #expect(rig.gov.state.isRunning)
        rig.run(until: .seconds(15 * 60))
        #expect(rig.gov.state == .stopped(.autoOff))
    }

    @Test func noTelemetryForLongerThanTheTimeoutIsAFault() {
        var rig = Rig.armed()
        #expect(rig.send { $0.tick(at: ms(500)) }.isEmpty)
        let actions = rig.send { $0.tick(at: ms(501)) }
        #expect(actions.first == .releaseAll)
        guard case .fault = actions.abortReason else { Issue.record("no fault abort"); return }
        #expect(rig.gov.state.isLatched)
    }

    @Test func pressingAFootThatSendsNoTelemetryIsAFault() {
        var rig = Rig.armed()
        rig.filter(press(30, foot: .left))
        for t in stride(from: 100, through: 600, by: 100) {
            rig.send { $0.telemetry(sample(.right), at: ms(t)) }   // only the right foot reports
        }
        guard case .faulted(let reason) = rig.gov.state else { Issue.record("not faulted"); return }
        #expect(reason.contains("left"))
    }

    @Test func nextDeadlineSaysWhenTickCanAct() {
        var rig = Rig.armed()
        #expect(rig.gov.nextDeadline == ms(501))
        rig.filter(press(30))
        rig.run(until: .seconds(59))
        #expect(rig.gov.nextDeadline == .seconds(59) + ms(501))
        #expect(Governor(settings: referenceSettings).nextDeadline == nil)
    }

    @Test func aLateCommandIsAFault() {
        var rig = Rig.armed()
        rig.filter(press(30))
        #expect(rig.send { $0.commandApplied(dueAt: ms(100), appliedAt: ms(350)) }.isEmpty)
        let actions = rig.send { $0.commandApplied(dueAt: ms(100), appliedAt: ms(351)) }
        #expect(actions.first == .releaseAll)
        #expect(actions.reports(.fault).first?.detail.contains("251 ms late") == true)
        #expect(rig.gov.state.isLatched)
    }

    @Test func timeNeverRunsBackwards() {
        var rig = Rig.armed()
        rig.run(until: .seconds(1))
        rig.filter(press(30))
        // An event stamped earlier than one already seen is taken as now.
        let actions = rig.send { $0.filter(press(30), at: .zero) }
        #expect(actions.pressures.count == 1)
        #expect(rig.gov.nextDeadline! >= .seconds(1))
    }
}

// MARK: - Telemetry rules

@Suite("Governor telemetry")
struct GovernorTelemetryTests {
    @Test(arguments: [nil, ["node": 450.0], ["node": -10.0], ["node": Double.nan]] as [[String: Double]?])
    func aMissingOrOutOfRangeReadingIsAFault(_ reading: [String: Double]?) {
        var rig = Rig.armed()
        rig.filter(press(30))
        let actions = rig.send { $0.telemetry(sample(.right, kPa: reading), at: ms(50)) }
        #expect(actions.first == .releaseAll)
        #expect(actions.reports(.fault).count == 1)
        #expect(rig.gov.state.isLatched)
    }

    @Test func aBadReadingWhileIdleBlocksArmingUntilAGoodOne() {
        var gov = Governor(settings: referenceSettings)
        let first = gov.telemetry(sample(.right, kPa: nil), at: .zero)
        #expect(first.reports(.fault).count == 1)
        #expect(gov.telemetry(sample(.right, kPa: nil), at: ms(10)).isEmpty)   // reported once
        #expect(gov.state == .idle)
        #expect(gov.arm(at: ms(20)).reports(.blocked).count == 1)
        _ = gov.telemetry(sample(.right), at: ms(30))
        #expect(gov.arm(at: ms(40)).isEmpty)
        #expect(gov.state == .armed)
    }

    @Test func aDeviceWithoutAPressureSensorNeedsNoReadings() {
        var s = referenceSettings
        s.requiresPressureSensor = false
        var gov = Governor(settings: s)
        _ = gov.arm(at: .zero)
        #expect(gov.telemetry(sample(.right, kPa: nil), at: ms(10)).isEmpty)
        #expect(gov.state == .armed)
    }

    @Test func pressureWellAboveTheCapForLongerThan200msIsAFault() {
        var rig = Rig.armed()
        rig.filter(press(40))
        let limit = rig.gov.cap(for: .low) * 1.25 + 5
        // A short spike is tolerated.
        #expect(rig.send { $0.telemetry(sample(.right, kPa: ["node": limit + 1]), at: ms(100)) }.isEmpty)
        #expect(rig.send { $0.telemetry(sample(.right, kPa: ["node": 40]), at: ms(200)) }.isEmpty)
        // A sustained one is not.
        #expect(rig.send { $0.telemetry(sample(.right, kPa: ["node": limit + 1]), at: ms(300)) }.isEmpty)
        #expect(rig.send { $0.telemetry(sample(.right, kPa: ["node": limit + 1]), at: ms(500)) }.isEmpty)
        let actions = rig.send { $0.telemetry(sample(.right, kPa: ["node": limit + 1]), at: ms(501)) }
        #expect(actions.first == .releaseAll)
        #expect(actions.reports(.fault).first?.detail.contains("over-pressure") == true)
        #expect(rig.gov.state.isLatched)
        // While it persists, re-arming is refused.
        #expect(rig.send { $0.rearm(switchPressed: false, at: ms(600)) }.reports(.blocked).count == 1)
    }

    @Test func pressureFallingAfterAnEaseIsNotOverPressure() {
        var rig = Rig.armed()
        rig.filter(press(74))
        rig.run(until: .seconds(1))
        rig.send { $0.ease(source: "button", foot: nil, at: .seconds(1)) }
        // The pump lags: the measured pressure stays high for a while after the caps dropped.
        for t in stride(from: 1050, through: 1400, by: 50) {
            let actions = rig.send { $0.telemetry(sample(.right, kPa: ["node": 74]), at: ms(t)) }
            #expect(actions.reports(.fault).isEmpty)
        }
    }

    @Test func theFootLeavingWhilePressedReleasesItAndEases() {
        var rig = Rig.armed()
        rig.filter(press(40, foot: .right))
        rig.filter(press(40, foot: .left))
        rig.run(until: .seconds(1))
        let capBefore = rig.gov.cap(for: .moderate)
        let actions = rig.send { $0.telemetry(sample(.right, kPa: ["node": 40], present: false), at: .seconds(1)) }
        // The ease first (it lowers the caps of what was being worked), then the release.
        let release = try! #require(actions.firstIndex(of: .release(foot: .right)))
        #expect(!actions[release...].contains { if case .apply(.pressure(_, let kPa, _), .right) = $0 { kPa > 0 } else { false } })
        #expect(actions.reports(.easeOff).count == 1)
        #expect(rig.gov.setpointKPa(for: .right) == 0)
        #expect(rig.gov.setpointKPa(for: .left) == 40)           // the other foot goes on
        #expect(rig.gov.cap(for: .moderate) < capBefore)
    }

    @Test func contactForceCollapsingWhilePressingIsAPullAway() {
        var rig = Rig.armed()
        rig.forcePerKPa = 1
        rig.filter(press(40))
        rig.run(until: .seconds(1))                 // 40 N contact, steady
        let actions = rig.send { $0.telemetry(sample(.right, kPa: ["node": 40], force: 12), at: .seconds(1) + ms(10)) }
        #expect(actions.reports(.easeOff).first?.detail.contains("pull-away") == true)
        #expect(actions.pressures.first!.kPa <= 24 + 1e-9 && actions.pressures.first!.kPa > 20)
    }

    @Test func forceFallingBecauseTheRoutineLoweredPressureIsNotAPullAway() {
        var rig = Rig.armed()
        rig.forcePerKPa = 1
        rig.filter(press(60))
        rig.run(until: .seconds(1))
        rig.filter(press(10))
        let actions = rig.run(until: .seconds(2))   // force follows the pressure down to 10 N
        #expect(actions.reports.isEmpty)
    }
}

// MARK: - Bookkeeping and a real program

@Suite("Governor bookkeeping")
struct GovernorBookkeepingTests {
    @Test func everyReportIsAlsoInInterventionsInOrder() {
        var rig = Rig.armed()
        rig.filter(press(300, ramp: 900))
        rig.run(until: .seconds(2))
        rig.send { $0.ease(source: "button", foot: nil, at: .seconds(2)) }
        rig.send { $0.discomfortSwitch(pressed: true, alreadyReleased: false, at: .seconds(2)) }
        rig.filter(press(10))
        #expect(rig.log.reports == rig.gov.interventions)
        #expect(rig.gov.interventions.map(\.kind) == [.capClamped, .rampLimited, .easeOff, .switchStop, .blocked])
    }

    /// The shipped back-pain program, compiled with the person's caps, passes the governor
    /// untouched on both shipped devices: the compiler and the governor agree on caps, ramps
    /// and holds, so an intervention in a real session means something happened.
    /// (The zoned device at intensity 4 or 5 does not compile back-pain at all yet.)
    @Test(arguments: [("reference", 5), ("reference", 1), ("zoned", 3)])
    func aCompiledProgramPassesUntouched(_ deviceName: String, _ intensity: Int) throws {
        let library = ConfigLibrary.standard(environment: [:])
        let map = try library.loadFootMap()
        let (routine, _) = try library.loadRoutine("back-pain", map: map)
        let device = try library.loadDevice(deviceName)
        // With the cap field: the compiler and the governor must agree on every place.
        var settings = GovernorSettings.standard(for: device, map: map)
        settings.sensitivityFactor = 0.9
        let timeline = try Compiler.compile(routine, map: map, device: device,
                                            options: CompileOptions(parameters: ["intensity": String(intensity)], caps: settings.personCaps))
        var gov = Governor(settings: settings)
        var log: [GovernorAction] = []
        // The node is where the last move sent it once any later sample is taken (moves are
        // timed to end before the next command).
        var at: [Foot: DevicePoint] = [:]
        func telemetry(_ now: Duration) {
            for foot in Foot.allCases {
                var readings: [String: Double] = [:]
                for channel in device.channels { readings[channel] = gov.setpointKPa(for: foot, channel: channel) }
                log += gov.telemetry(Telemetry(foot: foot, position: at[foot] ?? .home, pressureKPa: readings,
                                               contactForceN: gov.setpointKPa(for: foot), footPresent: true), at: now)
            }
        }
        telemetry(.zero)
        log += gov.arm(at: .zero)
        var now = Duration.zero
        func run(until end: Duration) {
            while now + ms(100) <= end {
                now += ms(100)
                telemetry(now)
                log += gov.tick(at: now)
            }
        }
        for e in timeline.entries {
            run(until: e.offset)
            if e.offset > now { telemetry(e.offset) }
            let actions = gov.filter(e, at: e.offset)
            if case .move(let to, _) = e.command { at[e.foot] = to }
            #expect(actions == [.apply(e.command, foot: e.foot)], "\(e.command.text) at \(e.offset)")
            log += actions
        }
        run(until: timeline.duration)
        log += gov.finish(at: timeline.duration)
        #expect(gov.interventions.isEmpty, "\(gov.interventions.prefix(3))")
        #expect(gov.state == .idle)
        #expect(timeline.entries.count > 500)
    }
}
