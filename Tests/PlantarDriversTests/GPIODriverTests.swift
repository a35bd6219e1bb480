@testable import PlantarDrivers
import PlantarCore
import Synchronization
import Testing

/// The driver with its real threads, against the fake bank. Waits are bounded polls.
@Suite("GPIO driver threads")
struct GPIODriverTests {
    func eventually(_ what: String, within seconds: Double = 2, _ condition: () -> Bool) async {
        let end = ContinuousClock.now + .seconds(seconds)
        while !condition() && ContinuousClock.now < end { try? await Task.sleep(for: .milliseconds(1)) }
        #expect(condition(), "\(what) within \(seconds) s")
    }

    @Test func theSwitchThreadReleasesAndReports() async throws {
        let bank = wiredBank()
        let driver = try GPIODriver(profile: referenceProfile(), bank: bank, options: testOptions())
        try await driver.apply(.pressure(channel: "node", kPa: 50, ramp: 150), foot: .left, at: .zero)
        await eventually("valve closed") { bank.value("left.valve") == true }
        bank.setExternal(offset: 20, high: true, timestampNS: Posix.monotonicNanoseconds())
        await eventually("outputs at rest") { outputs(bank) == outputsAtRest }
        await eventually("the press seen") { driver.switchPressed }
        let events = await driver.poll(upTo: .seconds(10))
        let inputs = events.compactMap { if case .input(let i) = $0.kind { i } else { nil } }
        #expect(inputs == [.discomfortSwitch(pressed: true, released: true)])
        #expect(events.allSatisfy { $0.time <= .seconds(10) })
        #expect(driver.lastReflexNanoseconds() != nil)
        driver.shutdown()
        #expect(bank.isReleased)
    }

    @Test func releaseAllFromAnotherThreadActsAtOnce() async throws {
        let bank = wiredBank()
        let driver = try GPIODriver(profile: referenceProfile(), bank: bank, options: testOptions())
        try await driver.apply(.pressure(channel: "node", kPa: 50, ramp: 150), foot: .right, at: .zero)
        try await driver.apply(.move(to: DevicePoint(u: 100, v: 50), speed: 60), foot: .right, at: .zero)
        await eventually("pressing and moving") { bank.value("right.valve") == true && bank.value("right.enable") == true }
        let thread = try PosixThread { driver.releaseAll(.governor) }
        thread.join()
        await eventually("outputs at rest", within: 0.1) { outputs(bank) == outputsAtRest }
        #expect(!driver.isMoving(.right))
        driver.shutdown()
    }

    @Test func shutdownLeavesLinesAtRest() async throws {
        let bank = wiredBank()
        let driver = try GPIODriver(profile: referenceProfile(), bank: bank, options: testOptions())
        try await driver.apply(.pressure(channel: "node", kPa: 80, ramp: 150), foot: .right, at: .zero)
        await eventually("valve closed") { bank.value("right.valve") == true }
        driver.shutdown()
        #expect(bank.isReleased)
        #expect(outputs(bank) == outputsAtRest)
    }

    @Test func aBusyLineStopsTheDriverFromStarting() {
        #expect {
            _ = try GPIODriver(profile: referenceProfile(), bank: wiredBank(held: [16: "gpioset"]), options: testOptions())
        } throws: { error in
            (error as! GPIOError).description.contains("'left.valve'")
        }
    }

    @Test func safeStateDrivesEveryOutputToRest() throws {
        let bank = wiredBank()
        let held = Mutex<[String: Bool]>([:])
        let line = try GPIOSafeState.run(profile: referenceProfile(), bank: bank) {
            held.withLock { $0 = outputs(bank) }
        }
        #expect(line.contains("14 output lines on gpiochip0 at rest"))
        #expect(held.withLock { $0 } == outputsAtRest)
        #expect(bank.isReleased)
        #expect {
            _ = try GPIOSafeState.run(profile: referenceProfile(), bank: wiredBank(held: [4: "plantard"]))
        } throws: { error in
            (error as! GPIOError).description == "gpio line 'right.enable' (gpiochip0 offset 4) is busy, used by 'plantard'"
        }
    }
}
