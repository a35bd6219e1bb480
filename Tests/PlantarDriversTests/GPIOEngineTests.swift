@testable import PlantarDrivers
import PlantarCore
import Testing

@Suite("GPIO engine against a fake line bank")
struct GPIOEngineTests {
    func engine(_ bank: InMemoryLineBank, options: GPIODriverOptions = testOptions()) throws -> GPIOEngine {
        try GPIOEngine(bank: bank, profile: referenceProfile(), options: options, now: 0, clock: { 0 })
    }

    func switchEvents(_ engine: inout GPIOEngine) -> [PersonInput] {
        engine.takeEvents().compactMap { if case .input(let input) = $0.kind { input } else { nil } }
    }

    /// An engine pressing the right foot at 60 kPa with the node moving.
    func pressing(_ bank: InMemoryLineBank) throws -> GPIOEngine {
        var e = try engine(bank)
        try e.apply(.pressure(channel: "node", kPa: 60, ramp: 150), foot: .right, now: 0)
        try e.apply(.move(to: DevicePoint(u: 200, v: 50), speed: 60), foot: .right, now: 0)
        run(&e, from: 0, to: 500 * ms)
        #expect(bank.value("right.valve") == true)
        #expect(bank.value("right.enable") == true)
        #expect(e.isMoving(.right))
        _ = e.takeEvents()
        return e
    }

    @Test func theFirstSwitchEdgeReleasesEverythingBeforeItIsReported() throws {
        let bank = wiredBank()
        var e = try pressing(bank)
        _ = bank.writes(clear: true)
        bank.setExternal(offset: 20, high: true, timestampNS: 500 * ms)   // pressed: the NC contact opens
        e.handleEdges(now: 500 * ms)
        // Valves and pumps first, then the steppers, then step/dir: all at rest.
        let writes = bank.writes()
        #expect(writes.count == 14)
        #expect(Set(writes.prefix(4).map(\.role)) == ["right.valve", "right.pump", "left.valve", "left.pump"])
        #expect(Set(writes[4...5].map(\.role)) == ["right.enable", "left.enable"])
        #expect(writes.allSatisfy { !$0.active })
        #expect(outputs(bank) == outputsAtRest)
        #expect(switchEvents(&e) == [.discomfortSwitch(pressed: true, released: true)])
        #expect(!e.isMoving(.right))
        // The stop holds: nothing presses while the switch is pressed.
        #expect(throws: DriverError.self) {
            try e.apply(.pressure(channel: "node", kPa: 20, ramp: 50), foot: .left, now: 501 * ms)
        }
        run(&e, from: 501 * ms, to: 600 * ms)
        #expect(outputs(bank) == outputsAtRest)
    }

    @Test func bounceAfterTheFirstEdgeIsDebounced() throws {
        let bank = wiredBank()
        var e = try pressing(bank)
        bank.injectEdge(role: "discomfort-switch", active: true)
        e.handleEdges(now: 500 * ms)
        #expect(switchEvents(&e) == [.discomfortSwitch(pressed: true, released: true)])
        for (i, level) in [false, true, false, true, false].enumerated() {
            bank.injectEdge(role: "discomfort-switch", active: level)
            e.handleEdges(now: 500 * ms + UInt64(i + 1) * ms)
        }
        #expect(switchEvents(&e).isEmpty)
        // The contact settles closed (the person let go): reported once the window closes.
        bank.setExternal(offset: 20, high: false)
        run(&e, from: 506 * ms, to: 519 * ms)
        #expect(switchEvents(&e).isEmpty)
        run(&e, from: 519 * ms, to: 530 * ms)
        #expect(switchEvents(&e) == [.discomfortSwitch(pressed: false, released: false)])
        // Released: the governor decides when to press again (re-arm); the driver accepts.
        try e.apply(.pressure(channel: "node", kPa: 20, ramp: 50), foot: .left, now: 530 * ms)
    }

    @Test func anOpenSwitchLineReadsPressed() throws {
        // Normally closed wiring with a pull-up: a cut cable leaves the line open, and open reads high.
        let bank = try InMemoryLineBank()
        bank.setExternal(offset: 20, high: nil)
        var e = try engine(bank)
        #expect(e.switchPressed)
        #expect(switchEvents(&e) == [.discomfortSwitch(pressed: true, released: true)])
        #expect(outputs(bank) == outputsAtRest)
        #expect(throws: DriverError.self) { try e.apply(.move(to: DevicePoint(u: 10, v: 10), speed: 20), foot: .right, now: 0) }
    }

    @Test func aSwitchThatCannotBeReadIsPressed() throws {
        let bank = wiredBank()
        var e = try pressing(bank)
        bank.setUnreadable("discomfort-switch")
        bank.injectEdge(role: "ease-button", active: false)   // wake the event thread
        e.handleEdges(now: 500 * ms)
        #expect(switchEvents(&e) == [.discomfortSwitch(pressed: true, released: true)])
        #expect(outputs(bank) == outputsAtRest)
    }

    @Test func thePulseThreadCatchesAPressTheEventsMissed() throws {
        let bank = wiredBank()
        var e = try pressing(bank)
        bank.setUnreadable("discomfort-switch")   // no edge at all; the periodic check reads it
        run(&e, from: 500 * ms, to: 560 * ms)
        #expect(switchEvents(&e) == [.discomfortSwitch(pressed: true, released: true)])
        #expect(outputs(bank) == outputsAtRest)
    }

    @Test func theEaseButtonIsReportedOnceAtItsFirstEdge() throws {
        let bank = wiredBank()
        var e = try engine(bank)
        bank.setExternal(offset: 21, high: false)   // active-low button grounds the line
        e.handleEdges(now: 10 * ms)
        bank.injectEdge(role: "ease-button", active: false)
        bank.injectEdge(role: "ease-button", active: true)
        e.handleEdges(now: 11 * ms)
        #expect(switchEvents(&e) == [.easeButton])
    }

    @Test func aMoveSendsDistanceTimesStepsPerMMPulses() throws {
        let bank = wiredBank()
        var e = try engine(bank)
        try e.apply(.move(to: DevicePoint(u: 25, v: 10), speed: 60), foot: .left, now: 0)
        #expect(bank.value("left.enable") == true)
        #expect(bank.value("left.u.dir") == true)
        run(&e, from: 0, to: 2_000 * ms)
        let writes = bank.writes()
        #expect(writes.filter { $0.role == "left.u.step" && $0.active }.count == 2000)
        #expect(writes.filter { $0.role == "left.v.step" && $0.active }.count == 800)
        #expect(writes.filter { $0.role.hasPrefix("right.") && $0.role.hasSuffix(".step") }.isEmpty)
        #expect(e.position(.left) == DevicePoint(u: 25, v: 10))
        #expect(!e.isMoving(.left))
        #expect(e.lateness.maxNS == 0)   // serviced exactly at each deadline
        // Back home: the direction lines flip.
        try e.apply(.move(to: .home, speed: 60), foot: .left, now: 2_000 * ms)
        #expect(bank.value("left.u.dir") == false)
        run(&e, from: 2_000 * ms, to: 4_000 * ms)
        #expect(e.position(.left) == .home)
    }

    @Test func aNewMoveDuringAMoveWaitsAndOnlyTheLatestCounts() throws {
        let bank = wiredBank()
        var e = try engine(bank)
        try e.apply(.move(to: DevicePoint(u: 20, v: 0), speed: 60), foot: .right, now: 0)
        try e.apply(.move(to: DevicePoint(u: 40, v: 0), speed: 60), foot: .right, now: 1 * ms)
        try e.apply(.move(to: DevicePoint(u: 5, v: 0), speed: 60), foot: .right, now: 2 * ms)
        run(&e, from: 0, to: 3_000 * ms)
        #expect(e.position(.right) == DevicePoint(u: 5, v: 0))
        #expect(bank.writes().filter { $0.role == "right.u.step" && $0.active }.count == 1600 + 1200)
    }

    @Test func aStallIsNotReplayedAsABurstOfSteps() throws {
        let bank = wiredBank()
        var e = try engine(bank)
        try e.apply(.move(to: DevicePoint(u: 50, v: 0), speed: 60), foot: .right, now: 0)
        run(&e, from: 0, to: 400 * ms)
        let before = bank.writes().filter { $0.role == "right.u.step" && $0.active }.count
        // The thread wakes 100 ms late: no step goes out now; the move starts again from rest.
        _ = e.service(now: 500 * ms)
        let after = bank.writes().filter { $0.role == "right.u.step" && $0.active }.count
        #expect(after == before)
        #expect(e.stallReplans == 1)
        run(&e, from: 500 * ms, to: 3_000 * ms)
        #expect(e.position(.right) == DevicePoint(u: 50, v: 0))
        #expect(bank.writes().filter { $0.role == "right.u.step" && $0.active }.count == 4000)
    }

    @Test func pumpDutyFollowsTheSetpoint() throws {
        let bank = wiredBank()
        var e = try engine(bank)
        try e.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .right, now: 0)
        run(&e, from: 0, to: 2_000 * ms)   // ramp done (0.2 s), model settled
        _ = bank.writes(clear: true)
        var onTime: UInt64 = 0, now: UInt64 = 2_000 * ms, onSince: UInt64?
        while now < 2_100 * ms {
            let next = e.service(now: now)
            let on = bank.value("right.pump")!
            if on, onSince == nil { onSince = now }
            if !on, let since = onSince { onTime += now - since; onSince = nil }
            now = next
        }
        // 100 ms of 10 ms periods at 30% duty.
        #expect(onTime == 30 * ms)
        #expect(bank.value("right.valve") == true)
        #expect(bank.value("left.pump") == false)
        try e.apply(.release(channel: "node"), foot: .right, now: now)
        #expect(bank.value("right.valve") == false)
        #expect(bank.value("right.pump") == false)
    }

    @Test func pressureAboveTheHardwareCeilingIsClamped() throws {
        let bank = wiredBank()
        var e = try engine(bank)
        try e.apply(.pressure(channel: "node", kPa: 300, ramp: 1000), foot: .right, now: 0)
        run(&e, from: 0, to: 3_000 * ms)
        #expect(bank.value("right.pump") == true)   // 100% duty at the ceiling, never more
        #expect(throws: DriverError.self) { try e.apply(.pressure(channel: "bladder", kPa: 10, ramp: 10), foot: .right, now: 0) }
    }

    @Test func aFailingLineFaultsTheDriverAndRestsTheOthers() throws {
        let bank = wiredBank()
        var e = try pressing(bank)
        bank.setWriteFails("right.u.step")
        run(&e, from: 500 * ms, to: 510 * ms)
        let faults = e.takeEvents().compactMap { if case .fault(let f) = $0.kind { f } else { nil } }
        #expect(faults.count == 1)
        #expect(faults.first?.detail.contains("'right.u.step'") == true)
        #expect(outputs(bank).filter { $0.key != "right.u.step" }.allSatisfy { !$0.value })
        #expect(throws: DriverError.self) { try e.apply(.pressure(channel: "node", kPa: 10, ramp: 10), foot: .left, now: 0) }
    }

    @Test func closingPutsLinesAtRestThenReleasesThem() throws {
        let bank = wiredBank()
        var e = try pressing(bank)
        e.close()
        #expect(bank.isReleased)
        #expect(outputs(bank) == outputsAtRest)
    }
}
