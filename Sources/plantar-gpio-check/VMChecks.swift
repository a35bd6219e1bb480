import Foundation
import PlantarCore
import PlantarDrivers

/// The checks of the VM tier, run inside the guest against a gpio-sim chip whose lines are
/// named after the profile's roles. Each prints `check NAME: ok|FAIL ...`; figures print as
/// `FIGURE name value`.
struct VMChecks {
    var profile: DeviceProfile
    var sim: SimChip

    private var lines: [String: GPIOLine] { profile.gpio!.lines }
    private func offset(_ role: String) -> Int { lines[role]!.offset }
    /// Physical level of an output at rest: inactive, so high only for active-low lines.
    private func restLevel(_ role: String) -> Int { lines[role]!.activeLow ? 1 : 0 }
    private func activeLevel(_ role: String) -> Int { lines[role]!.activeLow ? 0 : 1 }
    private var outputRoles: [String] {
        ["right", "left"].flatMap { f in ["u.step", "u.dir", "v.step", "v.dir", "enable", "pump", "valve"].map { "\(f).\($0)" } }
    }
    private var pressureRoles: [String] { ["right.valve", "right.pump", "right.enable", "left.valve", "left.pump", "left.enable"] }

    func run() async -> Int {
        var failures = 0
        func check(_ name: String, _ ok: Bool, _ detail: @autoclosure () -> String = "") {
            let text = detail()
            print("check \(name): \(ok ? "ok" : "FAIL")" + (text.isEmpty ? "" : " (\(text))"))
            if !ok { failures += 1 }
        }
        let log: GPIOLog = { level, message in print("driver \(level.rawValue): \(message)") }
        let chip = profile.gpio!.chip

        print("libgpiod \(LibGPIODLineBank.libraryVersion)")
        guard let info = try? LibGPIODLineBank.describeChip(chip) else {
            check("chip present", false, "cannot open \(chip)")
            return failures
        }
        print("chip \(info.name) label '\(info.label)' with \(info.lineCount) lines")

        // A missing chip and a missing line are named.
        var noChip = profile
        noChip.gpio!.chip = "gpiochip9"
        check("missing chip is named", startError(noChip, log)?.contains("'gpiochip9' not found") == true, startError(noChip, log) ?? "started")
        var noLine = profile
        noLine.gpio!.lines["ease-button"]!.offset = info.lineCount + 8
        let noLineError = startError(noLine, log)
        check("missing line is named", noLineError?.contains("'ease-button'") == true && noLineError?.contains("does not exist") == true, noLineError ?? "started")

        // A busy line is named, by the driver and by safe-state.
        do {
            let holder = LibGPIODLineBank()
            try holder.claim(chip: chip, [GPIOLineRequest(role: "left.valve", line: lines["left.valve"]!, direction: .output(rest: false))],
                             consumer: "busy-holder")
            let busy = startError(profile, log)
            check("busy line is named (driver)", busy?.contains("'left.valve'") == true && busy?.contains("busy-holder") == true, busy ?? "started")
            var safeStateError = "succeeded"
            do { _ = try GPIOSafeState.run(profile: profile) } catch { safeStateError = error.description }
            check("busy line is named (safe-state)", safeStateError.contains("'left.valve'") && safeStateError.contains("is busy"), safeStateError)
            holder.release()
        } catch {
            check("busy line setup", false, "\(error)")
        }

        // The switch line starts open: with its pull-up bias, open reads pressed.
        let switchOffset = offset("discomfort-switch")
        let started = ContinuousClock.now
        func sessionNow() -> Duration { ContinuousClock.now - started }
        let driver: GPIODriver
        do {
            driver = try GPIODriver(profile: profile, options: GPIODriverOptions(), log: log)
        } catch {
            check("driver starts", false, "\(error)")
            return failures
        }
        defer { driver.shutdown() }
        let firstEvents = await driver.poll(upTo: sessionNow()).compactMap { if case .input(let i) = $0.kind { i } else { nil } }
        check("open switch line reads pressed", driver.switchPressed && firstEvents.first == .discomfortSwitch(pressed: true, released: true),
              "events \(firstEvents)")
        check("outputs start at rest", outputRoles.allSatisfy { sim.value(offset($0)) == restLevel($0) }, levels(outputRoles))

        // The person holds the switch closed (normally closed contact to ground).
        sim.pull(switchOffset, up: false)
        check("closed switch reads released", waitUntil(2) { !driver.switchPressed })
        _ = await driver.poll(upTo: sessionNow())

        // Outputs follow a short sequence of setpoints.
        await followSetpoints(driver, check)

        // Pulling the switch line releases pressure within a bound measured here.
        var external: [UInt64] = [], internalNS: [UInt64] = []
        for round in 1...10 {
            // The last round's switch press latched the driver: a new session arms it again.
            driver.beginSession()
            do {
                try await driver.apply(.pressure(channel: "node", kPa: 50, ramp: 150), foot: .right, at: sessionNow())
                try await driver.apply(.pressure(channel: "node", kPa: 40, ramp: 150), foot: .left, at: sessionNow())
                try await driver.apply(.move(to: DevicePoint(u: Double(10 + round), v: 5), speed: 30), foot: .right, at: sessionNow())
            } catch {
                check("pressing before the switch (round \(round))", false, "\(error)")
                break
            }
            guard waitUntil(2, { sim.value(offset("right.valve")) == 1 && sim.value(offset("left.valve")) == 1 && sim.value(offset("right.enable")) == activeLevel("right.enable") }) else {
                check("pressing before the switch (round \(round))", false, levels(pressureRoles))
                break
            }
            let t0 = monotonicNS()
            sim.pull(switchOffset, up: true)
            let atRest = waitUntil(1, pollMicroseconds: 0) { pressureRoles.allSatisfy { sim.value(offset($0)) == restLevel($0) } }
            let t1 = monotonicNS()
            guard atRest else {
                check("switch releases pressure (round \(round))", false, levels(pressureRoles))
                break
            }
            external.append(t1 - t0)
            if let reflex = driver.lastReflexNanoseconds() { internalNS.append(reflex) }
            let events = await driver.poll(upTo: sessionNow()).compactMap { if case .input(let i) = $0.kind { i } else { nil } }
            if events.first != .discomfortSwitch(pressed: true, released: true) {
                check("switch press reported after release (round \(round))", false, "\(events)")
            }
            sim.pull(switchOffset, up: false)
            _ = waitUntil(2) { !driver.switchPressed }
            _ = await driver.poll(upTo: sessionNow())
        }
        // Bounds: the median under the 20 ms debounce window (a first edge that waited for
        // debouncing, or for the pulse thread, would sit above it) and every press under
        // 200 ms (an emulated CPU on a shared machine stalls for tens of ms now and then).
        let sorted = external.sorted()
        let median = sorted.isEmpty ? UInt64.max : sorted[(sorted.count - 1) / 2]
        check("switch releases pump, valve and enable lines (median < 15 ms, each < 200 ms)",
              external.count == 10 && median < 15_000_000 && (sorted.last ?? .max) < 200_000_000,
              "pull write to lines at rest: " + summary(external))
        print("FIGURE switch_pull_to_rest_observed " + summary(external))
        print("FIGURE switch_edge_to_rest_in_driver " + summary(internalNS))
        print("FIGURE pulse_thread_lateness_in_guest " + driver.lateness().summary)

        driver.shutdown()

        // safe-state: lines left active (the sim's pulls stand in for a crashed daemon's last
        // values) are driven to rest while held; with the board's rest pulls they stay there.
        for role in outputRoles { sim.pull(offset(role), up: restLevel(role) == 0) }
        check("outputs left active before safe-state", outputRoles.allSatisfy { sim.value(offset($0)) != restLevel($0) }, levels(outputRoles))
        var byLabel = profile
        byLabel.gpio!.chip = info.label
        var heldAtRest = false, whileHeld = ""
        do {
            let line = try GPIOSafeState.run(profile: byLabel) {
                heldAtRest = outputRoles.allSatisfy { sim.value(offset($0)) == restLevel($0) }
                whileHeld = levels(outputRoles)
            }
            print("safe-state: \(line)")
            check("safe-state drives every output to rest (chip by label)", heldAtRest, "while held: " + whileHeld)
        } catch {
            check("safe-state drives every output to rest (chip by label)", false, "\(error)")
        }
        for role in outputRoles { sim.pull(offset(role), up: restLevel(role) == 1) }
        var byPath = profile
        byPath.gpio!.chip = "/dev/\(info.name)"
        do {
            _ = try GPIOSafeState.run(profile: byPath)
            check("safe-state leaves every line at rest (chip by path)", outputRoles.allSatisfy { sim.value(offset($0)) == restLevel($0) }, levels(outputRoles))
        } catch {
            check("safe-state leaves every line at rest (chip by path)", false, "\(error)")
        }
        return failures
    }

    /// A short routine: press, move out and back, press the other foot, release.
    private func followSetpoints(_ driver: GPIODriver, _ check: (String, Bool, @autoclosure () -> String) -> Void) async {
        func apply(_ command: ActuatorCommand, _ foot: Foot) async -> Bool {
            do { try await driver.apply(command, foot: foot, at: .zero); return true } catch {
                check("apply \(command.text) (\(foot.rawValue))", false, "\(error)")
                return false
            }
        }
        // The open switch line at start latched the driver; arm it as a session would.
        driver.beginSession()
        guard await apply(.pressure(channel: "node", kPa: 40, ramp: 150), .right) else { return }
        check("pressure closes the valve", waitUntil(1) { sim.value(offset("right.valve")) == 1 }, levels(["right.valve"]))
        var pumpLevels = Set<Int>()
        let end = monotonicNS() + 300_000_000
        while monotonicNS() < end { if let v = sim.value(offset("right.pump")) { pumpLevels.insert(v) }; usleep(200) }
        check("pump runs with PWM at 40% duty", pumpLevels == [0, 1], "pump levels seen \(pumpLevels.sorted())")

        guard await apply(.move(to: DevicePoint(u: 2, v: 1), speed: 20), .right) else { return }
        check("move enables the steppers and sets direction", waitUntil(1) {
            sim.value(offset("right.enable")) == activeLevel("right.enable") && sim.value(offset("right.u.dir")) == 1 && sim.value(offset("right.v.dir")) == 1
        }, levels(["right.enable", "right.u.dir", "right.v.dir"]))
        check("move arrives (160 u steps, 80 v steps)", waitUntil(5) { !driver.isMoving(.right) } && driver.position(of: .right) == DevicePoint(u: 2, v: 1),
              "position \(String(describing: driver.position(of: .right)))")
        guard await apply(.move(to: DevicePoint(u: 0.5, v: 0), speed: 20), .right) else { return }
        check("move back reverses direction", waitUntil(1) { sim.value(offset("right.u.dir")) == 0 && sim.value(offset("right.v.dir")) == 0 },
              levels(["right.u.dir", "right.v.dir"]))
        check("move back arrives", waitUntil(5) { !driver.isMoving(.right) } && driver.position(of: .right) == DevicePoint(u: 0.5, v: 0),
              "position \(String(describing: driver.position(of: .right)))")

        guard await apply(.pressure(channel: "node", kPa: 30, ramp: 100), .left) else { return }
        check("left pressure closes the left valve", waitUntil(1) { sim.value(offset("left.valve")) == 1 }, levels(["left.valve"]))
        guard await apply(.release(channel: "node"), .right) else { return }
        let released = waitUntil(1) { sim.value(offset("right.valve")) == 0 && sim.value(offset("right.pump")) == 0 }
        var stayed = true
        let until = monotonicNS() + 50_000_000
        while monotonicNS() < until { if sim.value(offset("right.pump")) != 0 { stayed = false }; usleep(500) }
        check("release opens the valve and stops the pump", released && stayed, levels(["right.valve", "right.pump"]))
        check("the other foot keeps its pressure", sim.value(offset("left.valve")) == 1, levels(["left.valve"]))
        guard await apply(.release(channel: "node"), .left) else { return }
        _ = waitUntil(1) { sim.value(offset("left.valve")) == 0 }
    }

    private func startError(_ profile: DeviceProfile, _ log: @escaping GPIOLog) -> String? {
        do {
            let driver = try GPIODriver(profile: profile, options: GPIODriverOptions(), log: log)
            driver.shutdown()
            return nil
        } catch {
            return error.description
        }
    }

    private func levels(_ roles: [String]) -> String {
        roles.map { "\($0)=\(sim.value(offset($0)).map(String.init) ?? "?")" }.joined(separator: " ")
    }
}

/// Polls `condition` for up to `seconds`, pausing `pollMicroseconds` between tries (0: spin,
/// for measuring latency).
func waitUntil(_ seconds: Double, pollMicroseconds: UInt32 = 100, _ condition: () -> Bool) -> Bool {
    let end = monotonicNS() + UInt64(seconds * 1e9)
    while true {
        if condition() { return true }
        if monotonicNS() > end { return false }
        if pollMicroseconds > 0 { usleep(pollMicroseconds) }
    }
}
