import Foundation
import PlantarCore
import PlantarDrivers
import PlantarSimulator
import PlantarWire
import Synchronization
import Testing

/// The serial driver against the board emulator on a pty: a release latches it until the next
/// session, and the board's inputs reach an observer as they are read. Checked on what the
/// board carried out.
@Suite("serial driver: latch and pushed events", .serialized, .timeLimit(.minutes(2)))
struct SerialLatchTests {
    static func pressures(_ board: BoardSnapshot, after time: UInt64) -> [Double] {
        board.records.filter { $0.time > time }.compactMap { r -> Double? in
            if case .executed(.pressure(_, _, let p, _)) = r.kind { p.value } else { nil }
        }
    }

    @Test("after releaseAll nothing presses until the next session begins")
    func releaseAllLatches() async throws {
        try await onDedicatedThread {
            let rig = try await Rig.start()
            defer { rig.stop() }
            rig.driver.beginSession()
            try await rig.driver.apply(.pressure(channel: "node", kPa: 30, ramp: 150), foot: .right, at: .zero)
            #expect(await rig.emulator.wait(timeout: .seconds(2)) { $0.pressed(above: 29) })
            rig.driver.releaseAll(.governor)
            #expect(await rig.emulator.wait(timeout: .seconds(2)) { s in s.releases.contains { $0.reason == .emergencyRelease } })
            let releasedAt = try #require(rig.emulator.snapshot.releases.first { $0.reason == .emergencyRelease }?.time)
            // Sent after the stop by a loop turn already under way: must not reach the board.
            try await rig.driver.apply(.pressure(channel: "node", kPa: 44, ramp: 150), foot: .right, at: .zero)
            rig.driver.beginSession()
            try await rig.driver.apply(.pressure(channel: "node", kPa: 22, ramp: 150), foot: .right, at: .zero)
            #expect(await rig.emulator.wait(timeout: .seconds(2)) { !Self.pressures($0, after: releasedAt).isEmpty })
            let after = Self.pressures(rig.emulator.snapshot, after: releasedAt)
            #expect(after.count == 1 && abs(after[0] - 22) < 0.5, "\(after)")
        }
    }

    @Test("the board's switch reaches the observer without a poll")
    func switchPushed() async throws {
        try await onDedicatedThread {
            let rig = try await Rig.start()
            defer { rig.stop() }
            // Awaited as it is handed over; the watchdog only ends the stream if it never comes.
            let (events, sink) = AsyncStream.makeStream(of: DeviceEvent.Kind.self)
            #expect(rig.driver.observeEvents { kind in sink.yield(kind) })
            let watchdog = Task { try? await Task.sleep(for: .seconds(2)); sink.finish() }
            defer { watchdog.cancel() }
            rig.emulator.inject(.switchPress)
            var seen: [DeviceEvent.Kind] = []
            for await kind in events {
                seen.append(kind)
                if kind == .input(.discomfortSwitch(pressed: true, released: true)) { break }
            }
            #expect(seen.contains(.input(.discomfortSwitch(pressed: true, released: true))), "\(seen)")
            #expect(rig.driver.isLatched)
        }
    }
}
