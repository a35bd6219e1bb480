import PlantarCore
import PlantarSession
import PlantarSimulator
import Foundation
import Synchronization
import Testing

@Suite("Session runner on the simulated device")
struct SessionRunnerTests {
    @Test("back-pain runs to completion on both profiles with every invariant held", arguments: ["reference", "zoned"])
    func completes(profile: String) async {
        let device = profile == "reference" ? Fixtures.reference : Fixtures.zoned
        let (trace, driver, report) = await Fixtures.simulate(device)
        #expect(trace.finalState == "finished")
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(trace.interventions.filter { $0.kind != .rampLimited }.isEmpty, "\(trace.interventions)")
        // Ends at rest: every channel vented, gantry nodes home.
        let model = driver.model
        for foot in device.feet {
            #expect(model.feet[foot]!.channels.values.allSatisfy { $0.pressure < 0.5 })
            if device.kind == .gantry { #expect(model.feet[foot]!.position == .home) }
        }
        // The trace covers the whole program.
        #expect(trace.samples.last!.time >= Fixtures.timeline(device).duration)
    }

    @Test("the same inputs give the same trace, sample for sample")
    func deterministic() async {
        let a = await Fixtures.simulate(events: ["pullaway@3m", "return@3m5s"]).0
        let b = await Fixtures.simulate(events: ["pullaway@3m", "return@3m5s"]).0
        #expect(a == b)
    }

    @Test("switch@2m: pressure released at 2:00, session stopped and latched")
    func switchStops() async {
        let (trace, driver, report) = await Fixtures.simulate(events: ["switch@2m"])
        #expect(trace.finalState.hasPrefix("stopped"))
        #expect(report.violations.isEmpty, "\(report.violations)")
        let stop = trace.interventions.first { $0.kind == .switchStop }
        #expect(stop != nil)
        #expect(stop!.time >= .seconds(120) && stop!.time <= .milliseconds(120_050))
        // The device released at 2:00 itself (reflex), before the session heard about it.
        #expect(driver.reflexReleaseAt == .seconds(120))
        // Nothing pressed after the stop: setpoints zero and the measured pressure decays.
        let after = trace.samples.filter { $0.time > .milliseconds(120_100) }
        #expect(!after.isEmpty)
        #expect(after.allSatisfy { $0.setpointKPa == 0 })
        #expect(after.filter { $0.time > .milliseconds(120_500) }.allSatisfy { ($0.measuredKPa ?? 0) < 1 })
        #expect(driver.applied.filter { $0.time > .seconds(120) }.allSatisfy { $0.command.requestedKPa ?? 0 == 0 })
    }

    @Test("pullaway@3m: the governor eases off and the routine goes on gentler")
    func pullAwayEases() async {
        let (trace, _, report) = await Fixtures.simulate(events: ["pullaway@3m", "return@3m2s"])
        #expect(report.violations.isEmpty, "\(report.violations)")
        let ease = trace.interventions.first { $0.kind == .easeOff }
        #expect(ease != nil, "\(trace.interventions)")
        #expect(ease!.time >= .seconds(180) && ease!.time < .milliseconds(180_500))
        // The cap stays lower for the rest of the session: the lumbar passes on the left foot
        // press less than the same passes on the right foot did before the pull-away.
        func lumbarPeak(_ range: Range<Duration>) -> Double {
            trace.samples.filter { range.contains($0.time) && $0.zone == "spine-lumbar" }.map(\.setpointKPa).max() ?? 0
        }
        let before = lumbarPeak(.zero..<Duration.seconds(180))
        let after = lumbarPeak(Duration.seconds(185)..<trace.samples.last!.time)
        #expect(before > 0 && after > 0)
        // The pull-away lowered the session by at least the ease factor.
        #expect(after <= before * GovernorSettings.standard(for: Fixtures.reference).easeCapFactor + 1e-9)
    }

    @Test("a sensor fault faults the session and releases")
    func sensorFault() async {
        let (trace, _, report) = await Fixtures.simulate(events: ["sensor-fault@1m"])
        #expect(trace.finalState.hasPrefix("faulted"))
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(trace.samples.last.map { ($0.measuredKPa ?? 0) < 1 } ?? false)
    }

    @Test("the discomfort switch releases in the driver even when no one runs the session loop")
    func reflexWithoutScheduler() async throws {
        // A device under pressure, and a session loop that is not turning at all (the
        // busiest scheduler there is): the switch must still release at once.
        let driver = SimulatedDriver(profile: Fixtures.reference)
        try await driver.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .right, at: .zero)
        _ = await driver.poll(upTo: .seconds(1))
        #expect(driver.model.feet[.right]!.channels["node"]!.pressure > 25)
        driver.press(.switchPress)
        let channel = driver.model.feet[.right]!.channels["node"]!
        #expect(channel.target == 0 && channel.venting)
        // The pump has no power while the switch is held: a command cannot press.
        try await driver.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .right, at: .seconds(1))
        _ = await driver.poll(upTo: .seconds(2))
        #expect(driver.model.feet[.right]!.channels["node"]!.pressure < 0.5)
    }

    @Test("stop in the middle of the press-and-hold releases and latches")
    func stopMidHold() async {
        let timeline = Fixtures.timeline()
        let hold = timeline.steps.first { $0.technique == .pressHold }!
        let at = hold.start + .seconds(20)
        let box = RunnerBox()
        var options = RunnerOptions()
        // A request from outside the loop, as the daemon's API or Ctrl-C makes it.
        options.onStatus = { status in if status.elapsed >= at { box.runner.withLock { $0?.stop(source: "test") } } }
        let driver = SimulatedDriver(profile: Fixtures.reference)
        let runner = SessionRunner(timeline: timeline, driver: driver, clock: VirtualClock(),
                                   settings: GovernorSettings.standard(for: Fixtures.reference), options: options)
        box.runner.withLock { $0 = runner }
        let trace = await runner.run()
        #expect(trace.finalState.hasPrefix("stopped"))
        let after = trace.samples.filter { $0.time > at + .milliseconds(600) }
        #expect(!after.isEmpty)
        #expect(after.allSatisfy { ($0.measuredKPa ?? 0) < 1 && $0.setpointKPa == 0 })
    }

    @Test("pause mid-hold releases pressure; resume restores it and the routine still finishes", arguments: ["reference", "zoned"])
    func pauseResume(profile: String) async {
        let device = profile == "reference" ? Fixtures.reference : Fixtures.zoned
        let timeline = Fixtures.timeline(device)
        let hold = timeline.steps.first { $0.technique == .pressHold }!
        let pauseAt = hold.start + .seconds(10)
        let box = RunnerBox()
        let phase = Mutex(0)
        var options = RunnerOptions()
        options.onStatus = { status in
            phase.withLock { p in
                if p == 0 && status.elapsed >= pauseAt { p = 1; box.runner.withLock { $0?.pause() } }
                else if p == 1 && status.state == .paused { p = 2 }
                else if p == 2 { p = 3 }
                else if p >= 3 && p < 40 { p += 1; if p == 40 { box.runner.withLock { $0?.resume() } } }
            }
        }
        let driver = SimulatedDriver(profile: device)
        let runner = SessionRunner(timeline: timeline, driver: driver, clock: VirtualClock(),
                                   settings: GovernorSettings.standard(for: device), options: options)
        box.runner.withLock { $0 = runner }
        let trace = await runner.run()
        #expect(trace.finalState == "finished")
        let paused = trace.samples.filter { $0.state == "paused" }
        #expect(!paused.isEmpty)
        // Vented within half a second of the pause, and nothing asked for while paused.
        let settled = paused.filter { $0.time > paused[0].time + .milliseconds(500) }
        #expect(!settled.isEmpty)
        #expect(settled.allSatisfy { ($0.measuredKPa ?? 0) < 1 && $0.setpointKPa == 0 })
        // The pause is added to the session, not taken from the routine.
        #expect(trace.samples.last!.time > timeline.duration + .seconds(1))
    }
}

/// Lets a status callback reach the runner it belongs to.
final class RunnerBox: Sendable {
    let runner = Mutex<SessionRunner<VirtualClock>?>(nil)
}

@Suite("The reflex arc under a busy scheduler")
struct ReflexUnderLoadTests {
    @Test("the switch releases while every thread of the cooperative pool is busy")
    func switchWhilePoolIsBusy() async throws {
        let driver = SimulatedDriver(profile: Fixtures.reference)
        let runner = SessionRunner(timeline: Fixtures.timeline(), driver: driver, clock: ContinuousClock(),
                                   settings: GovernorSettings.standard(for: Fixtures.reference))
        let session = Task { await runner.run() }
        let hogs = ProcessInfo.processInfo.activeProcessorCount
        let flags = HogFlags()
        // Hog every thread of the pool: the session loop (and any actor) cannot run now.
        let hogTasks = (0..<hogs).map { _ in
            Task.detached {
                flags.spinning.add(1, ordering: .relaxed)
                while !flags.done.load(ordering: .relaxed) {}
            }
        }
        // The switch is read on its own thread, as the GPIO driver's event thread reads it.
        let (releasedAtOnce, sessionTurnsDuringPress, hogged) = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                // Wait for every hog, but not forever: a pool thread that another suite blocks
                // (a synchronous socket read in the daemon's tests) never frees, and waiting for
                // it deadlocked the whole run (the one hog spinning starved that suite too).
                let deadline = ContinuousClock.now + .seconds(10)
                while flags.spinning.load(ordering: .relaxed) < hogs && ContinuousClock.now < deadline {}
                let hogged = flags.spinning.load(ordering: .relaxed) >= hogs
                let before = runner.status.elapsed
                driver.press(.switchPress)
                // Checked immediately: no await, no waiting for the loop.
                let model = driver.model
                let released = model.feet.values.allSatisfy { $0.channels.values.allSatisfy { $0.target == 0 } }
                    && model.switchPressed
                let after = runner.status.elapsed
                flags.done.store(true, ordering: .relaxed)
                continuation.resume(returning: (released, after != before, hogged))
            }
        }
        for hog in hogTasks { await hog.value }
        #expect(releasedAtOnce)
        // Only a fully hogged pool proves the loop could not run; the release holds either way.
        if hogged {
            #expect(!sessionTurnsDuringPress, "the session loop ran while the pool was hogged; the test proves less than it says")
        }
        let trace = await session.value
        #expect(trace.finalState.hasPrefix("stopped"))
        #expect(trace.interventions.contains { $0.kind == .switchStop })
    }
}

final class HogFlags: Sendable {
    let spinning = Atomic<Int>(0)
    let done = Atomic<Bool>(false)
}
