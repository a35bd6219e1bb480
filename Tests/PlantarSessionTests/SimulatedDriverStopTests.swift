import Dispatch
import Foundation
import PlantarCore
import PlantarSimulator
import Synchronization
import Testing

/// The simulated device's stop path: the release never waits for the model's lock, and it
/// latches the driver until the next session begins. Checked on what the model holds and
/// what the device recorded, not on the driver's own bookkeeping.
@Suite("simulated driver: release and latch")
struct SimulatedDriverStopTests {
    static let pressure = ActuatorCommand.pressure(channel: "node", kPa: 40, ramp: 150)

    static func targets(_ driver: SimulatedDriver) -> [Double] {
        driver.model.feet.values.flatMap { $0.channels.values.map(\.target) }
    }

    @Test func releaseAllLatchesUntilTheNextSession() async throws {
        let driver = SimulatedDriver(profile: Fixtures.reference)
        driver.beginSession()
        try await driver.apply(Self.pressure, foot: .right, at: .seconds(1))
        #expect(Self.targets(driver).contains(40))
        driver.releaseAll(.governor)
        #expect(Self.targets(driver).allSatisfy { $0 == 0 })
        // A loop turn that was already dispatching: nothing it sends presses or moves.
        try await driver.apply(Self.pressure, foot: .right, at: .seconds(2))
        try await driver.apply(.move(to: DevicePoint(u: 100, v: 50), speed: 60), foot: .right, at: .seconds(2))
        try await driver.apply(.release(channel: "node"), foot: .left, at: .seconds(2))
        let model = driver.model
        #expect(model.feet.values.allSatisfy { $0.motion == nil && $0.channels.values.allSatisfy { $0.target == 0 } })
        let release = try #require(driver.releases.last)
        #expect(driver.applied[release.appliedBefore...].allSatisfy { if case .release = $0.command { true } else { false } },
                "\(driver.applied)")
        // Bad input is still an error while latched.
        await #expect(throws: DriverError.self) { try await driver.apply(.pressure(channel: "nope", kPa: 1, ramp: 1), foot: .right, at: .seconds(2)) }
        // The next armed session presses again.
        driver.beginSession()
        try await driver.apply(Self.pressure, foot: .right, at: .seconds(3))
        #expect(Self.targets(driver).contains(40))
    }

    @Test func theSwitchReflexLatchesToo() async throws {
        let driver = SimulatedDriver(profile: Fixtures.reference)
        driver.beginSession()
        try await driver.apply(Self.pressure, foot: .right, at: .seconds(1))
        driver.press(.switchPress)
        driver.press(.switchRelease)
        try await driver.apply(Self.pressure, foot: .right, at: .seconds(2))
        #expect(Self.targets(driver).allSatisfy { $0 == 0 })
        #expect(driver.releases.map(\.reason).contains(.discomfortSwitch))
    }

    /// The model's lock held (as the daemon's idle poll holds it for seconds at speed 1000):
    /// `releaseAll` still returns at once, and the holder releases before it lets go.
    @Test func releaseAllDoesNotWaitForTheModelsLock() async throws {
        let driver = SimulatedDriver(profile: Fixtures.reference)
        driver.beginSession()
        try await driver.apply(Self.pressure, foot: .right, at: .seconds(1))
        let returned = DispatchSemaphore(value: 0)
        let took = Mutex<Duration?>(nil)
        let waited = driver.holdingModelForTesting { () -> DispatchTimeoutResult in
            Thread.detachNewThread {
                let start = ContinuousClock.now
                driver.releaseAll(.governor)
                took.withLock { $0 = start.duration(to: .now) }
                returned.signal()
            }
            // Bounded: a releaseAll that waited for this lock would never return in here.
            return returned.wait(timeout: .now() + 5)
        }
        #expect(waited == .success, "releaseAll waited for the lock")
        #expect((took.withLock { $0 } ?? .seconds(9)) < .milliseconds(50))
        // Honoured by the lock's holder on its way out: the model is at rest, and latched.
        #expect(Self.targets(driver).allSatisfy { $0 == 0 })
        #expect(driver.releases.count == 1)
        try await driver.apply(Self.pressure, foot: .right, at: .seconds(2))
        #expect(Self.targets(driver).allSatisfy { $0 == 0 })
    }

    /// A long catch-up of the physics honours a release raised meanwhile at its next step.
    @Test func aLongPollReleasesAtItsNextStep() async throws {
        let driver = SimulatedDriver(profile: Fixtures.reference)
        driver.beginSession()
        try await driver.apply(Self.pressure, foot: .right, at: .zero)
        let poll = Task.detached { _ = await driver.poll(upTo: .seconds(20_000)) }
        let start = ContinuousClock.now
        driver.releaseAll(.governor)
        let releaseTook = start.duration(to: .now)
        await poll.value
        #expect(releaseTook < .milliseconds(50), "\(releaseTook)")
        #expect(Self.targets(driver).allSatisfy { $0 == 0 })
        #expect(driver.model.feet.values.allSatisfy { $0.channels.values.allSatisfy { $0.pressure < 1 } })
    }

    @Test func inputsAreHandedOverAsTheyHappen() {
        let driver = SimulatedDriver(profile: Fixtures.reference)
        let seen = Mutex<[DeviceEvent.Kind]>([])
        #expect(driver.observeEvents { kind in seen.withLock { $0.append(kind) } })
        driver.press(.switchPress)
        driver.press(.ease)
        driver.press(.switchRelease)
        // No poll: the observer heard each input before `press` returned.
        #expect(seen.withLock { $0 } == [.input(.discomfortSwitch(pressed: true, released: true)), .input(.easeButton),
                                         .input(.discomfortSwitch(pressed: false, released: true))])
    }
}
