import PlantarCore
import PlantarSession
import PlantarSimulator
import Synchronization
import Testing

// Pause, resume and pull-away, judged by what the simulated device received (its own record
// of every command), not by the governor's or the runner's state.
@Suite("Pause, resume and pull-away on the simulated device")
struct PauseAndPullAwayTests {
    /// Pressure commands above zero the device received for `foot` in `range`.
    func presses(_ driver: SimulatedDriver, _ foot: Foot, _ range: ClosedRange<Duration>) -> [SessionReport.AppliedCommand] {
        driver.applied.filter { range.contains($0.time) && $0.foot == foot && ($0.command.requestedKPa ?? 0) > 0 }
    }

    @Test("resume restores only what the routine has in force: a finished foot stays released", arguments: ["reference", "zoned"])
    func resumeRestoresOnlyWhatIsInForce(profile: String) async {
        let device = profile == "reference" ? Fixtures.reference : Fixtures.zoned
        let timeline = Fixtures.timeline(device)
        // back-pain works the right foot first, then the left: pause 5 s into the left's first step.
        let left = timeline.steps.first { $0.foot == .left }!
        let pauseAt = left.start + .seconds(5)
        let box = RunnerBox()
        let phase = Mutex(0)
        var options = RunnerOptions()
        options.onStatus = { status in
            phase.withLock { p in
                if p == 0 && status.elapsed >= pauseAt { p = 1; box.runner.withLock { $0?.pause() } }
                else if p >= 1 && p < 30 { p += 1; if p == 30 { box.runner.withLock { $0?.resume() } } }
            }
        }
        let driver = SimulatedDriver(profile: device)
        let runner = SessionRunner(timeline: timeline, driver: driver, clock: VirtualClock(),
                                   settings: GovernorSettings.standard(for: device, map: Fixtures.map), options: options)
        box.runner.withLock { $0 = runner }
        let trace = await runner.run()
        #expect(trace.finalState == "finished")
        // The right foot was finished (released, parked) long before the pause: nothing
        // presses it after, resume or not.
        let rightDone = timeline.steps.filter { $0.foot == .right }.map(\.end).max()!
        #expect(presses(driver, .right, rightDone...trace.samples.last!.time).isEmpty,
                "\(presses(driver, .right, rightDone...trace.samples.last!.time).prefix(3))")
        // The resume pressed the left foot again, rising within the ramp limit from rest.
        let paused = trace.samples.filter { $0.state == "paused" }.map(\.time)
        let resumedAt = try! #require(paused.max())
        let after = presses(driver, .left, resumedAt...resumedAt + .seconds(2))
        #expect(!after.isEmpty)
        // Every rise the device received (a setpoint above the one before on its channel)
        // within the ramp limit: the resume ramps from rest.
        var last: [String: Double] = [:]
        for command in driver.applied where command.foot == .left {
            switch command.command {
            case .pressure(let channel, let kPa, let ramp):
                if command.time >= resumedAt && kPa > (last[channel] ?? 0) { #expect(ramp <= device.pressure.maxRampKPaPerS + 1e-9) }
                last[channel] = kPa
            case .release(let channel): last[channel] = 0
            case .move: break
            }
        }
    }

    @Test("a foot that leaves while pressed pauses the session until it is back")
    func pullAwayPausesUntilReturn() async {
        let (trace, driver, _) = await Fixtures.simulate(events: ["pullaway@3m", "return@3m30s"])
        #expect(trace.finalState == "finished", "\(trace.interventions)")
        // Nothing pressed either foot while the foot was away (after the ease's release).
        let away = Duration.seconds(180) + .milliseconds(100)...Duration.seconds(210)
        #expect(presses(driver, .right, away).isEmpty && presses(driver, .left, away).isEmpty)
        #expect(trace.samples.contains { $0.state == "paused" && away.contains($0.time) })
        // Then the routine goes on: the left foot is worked after the return.
        #expect(!presses(driver, .left, Duration.seconds(211)...trace.samples.last!.time).isEmpty)
        // The pause is added to the session, not taken from the routine.
        #expect(trace.samples.last!.time > Fixtures.timeline().duration + .seconds(25))
    }

    @Test("a foot that does not come back within two minutes ends the session")
    func pullAwayWithoutReturnEnds() async {
        let (trace, driver, _) = await Fixtures.simulate(events: ["pullaway@3m"])
        #expect(trace.finalState.hasPrefix("stopped"), "\(trace.finalState)")
        let end = trace.interventions.first { $0.kind == .pullAway && $0.detail.contains("has not come back") }
        let endTime = try! #require(end?.time)
        #expect(endTime > .seconds(300) && endTime <= .seconds(301))
        #expect(presses(driver, .right, Duration.seconds(181)...trace.samples.last!.time).isEmpty)
        #expect(presses(driver, .left, Duration.seconds(181)...trace.samples.last!.time).isEmpty)
    }
}
