@testable import PlantarDrivers
import PlantarCore
import Synchronization
import Testing

/// Every stop latches the GPIO driver until a new session begins; inputs reach an observer as
/// they happen. Checked on the lines the fake chip saw written. Waits are bounded polls.
@Suite("GPIO driver: latch and pushed events")
struct GPIOLatchTests {
    func eventually(_ what: String, within seconds: Double = 2, _ condition: () -> Bool) async {
        let end = ContinuousClock.now + .seconds(seconds)
        while !condition() && ContinuousClock.now < end { try? await Task.sleep(for: .milliseconds(1)) }
        #expect(condition(), "\(what) within \(seconds) s")
    }

    @Test func releaseAllLatchesUntilTheNextSession() async throws {
        let bank = wiredBank()
        let driver = try GPIODriver(profile: referenceProfile(), bank: bank, options: testOptions())
        defer { driver.shutdown() }
        driver.beginSession()
        try await driver.apply(.pressure(channel: "node", kPa: 50, ramp: 150), foot: .right, at: .zero)
        await eventually("right valve closed") { bank.value("right.valve") == true }
        driver.releaseAll(.governor)
        #expect(outputs(bank) == outputsAtRest)
        _ = bank.writes(clear: true)
        // A loop turn already dispatching when the stop came: none of it may press or move.
        try await driver.apply(.pressure(channel: "node", kPa: 50, ramp: 150), foot: .right, at: .zero)
        try await driver.apply(.move(to: DevicePoint(u: 100, v: 50), speed: 60), foot: .right, at: .zero)
        try await driver.apply(.release(channel: "node"), foot: .right, at: .zero)   // releases always pass
        // Then a new session presses the left foot; once its valve has closed, the pulse
        // thread has serviced everything sent before it.
        driver.beginSession()
        try await driver.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .left, at: .zero)
        await eventually("left valve closed") { bank.value("left.valve") == true }
        let writes = bank.writes()
        #expect(!writes.contains { $0.active && $0.role.hasPrefix("right.") }, "the latched right foot was driven: \(writes)")
        #expect(!driver.isMoving(.right))
    }

    @Test func theSwitchReflexLatchesUntilTheNextSession() async throws {
        let bank = wiredBank()
        let driver = try GPIODriver(profile: referenceProfile(), bank: bank, options: testOptions())
        defer { driver.shutdown() }
        driver.beginSession()
        bank.setExternal(offset: 20, high: true, timestampNS: Posix.monotonicNanoseconds())
        await eventually("the press seen") { driver.switchPressed }
        bank.setExternal(offset: 20, high: false, timestampNS: Posix.monotonicNanoseconds())
        await eventually("the switch let go") { !driver.switchPressed }
        _ = bank.writes(clear: true)
        try await driver.apply(.pressure(channel: "node", kPa: 50, ramp: 150), foot: .right, at: .zero)
        driver.beginSession()
        try await driver.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .left, at: .zero)
        await eventually("left valve closed") { bank.value("left.valve") == true }
        #expect(!bank.writes().contains { $0.active && $0.role.hasPrefix("right.") })
    }

    @Test func inputsReachTheObserverWithoutAPoll() async throws {
        let bank = wiredBank()
        let driver = try GPIODriver(profile: referenceProfile(), bank: bank, options: testOptions())
        defer { driver.shutdown() }
        // Awaited as they are handed over; the watchdog only ends the stream if they never come.
        let (events, sink) = AsyncStream.makeStream(of: DeviceEvent.Kind.self)
        #expect(driver.observeEvents { kind in sink.yield(kind) })
        let watchdog = Task { try? await Task.sleep(for: .seconds(2)); sink.finish() }
        defer { watchdog.cancel() }
        var handed = events.makeAsyncIterator()
        var seen: [DeviceEvent.Kind] = []
        func awaitEvent(_ wanted: DeviceEvent.Kind) async -> Bool {
            while let kind = await handed.next() {
                seen.append(kind)
                if kind == wanted { return true }
            }
            return false
        }
        bank.setExternal(offset: 20, high: true, timestampNS: Posix.monotonicNanoseconds())
        #expect(await awaitEvent(.input(.discomfortSwitch(pressed: true, released: true))), "the press handed over within 2 s: \(seen)")
        bank.setExternal(offset: 20, high: false, timestampNS: Posix.monotonicNanoseconds() + 30 * ms)
        #expect(await awaitEvent(.input(.discomfortSwitch(pressed: false, released: false))), "the release handed over within 2 s: \(seen)")
        #expect(seen.allSatisfy { if case .telemetry = $0 { false } else { true } })
    }
}
