import Foundation
import PlantarCore
import PlantarDrivers

/// Measures how late the driver's pulse thread acts on this machine: both feet moving back
/// and forth at full speed with the pumps under PWM, against the in-memory line bank (this
/// machine has no GPIO chip; the bank's writes cost nanoseconds where an ioctl costs a few
/// microseconds, so this is the scheduling part of the jitter).
struct TimingRun {
    var profile: DeviceProfile
    var seconds: Double
    var realtime: Bool

    func run() async {
        var options = GPIODriverOptions()
        options.realtime = realtime ? .fifo(priority: 80) : .off
        let bank: InMemoryLineBank
        do {
            bank = try InMemoryLineBank(chip: profile.gpio!.chip, recordWrites: false)
        } catch {
            print("cannot create the in-memory line bank: \(error)")
            exit(1)
        }
        bank.setExternal(offset: profile.gpio!.lines["discomfort-switch"]!.offset, high: false)
        let driver: GPIODriver
        do {
            driver = try GPIODriver(profile: profile, bank: bank, options: options) { level, message in print("driver \(level.rawValue): \(message)") }
        } catch {
            print("cannot start the driver: \(error)")
            exit(1)
        }
        let targets = [DevicePoint(u: 150, v: 100), DevicePoint(u: 5, v: 5)]
        var next: [Foot: Int] = [.left: 0, .right: 1]
        var moves = 0
        do {
            driver.beginSession()   // armed as a session would be (a switch read at start latches)
            for foot in Foot.allCases { try await driver.apply(.pressure(channel: "node", kPa: 45, ramp: 150), foot: foot, at: .zero) }
            let start = monotonicNS()
            var measuring = false
            while monotonicNS() - start < UInt64((seconds + 1) * 1e9) {
                if !measuring && monotonicNS() - start > 1_000_000_000 {
                    driver.resetLateness()   // the first second warms up
                    measuring = true
                }
                for foot in Foot.allCases where !driver.isMoving(foot) {
                    try await driver.apply(.move(to: targets[next[foot]!], speed: 60), foot: foot, at: .zero)
                    next[foot] = 1 - next[foot]!
                    moves += 1
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        } catch {
            print("timing run failed: \(error)")
            exit(1)
        }
        let lateness = driver.lateness()
        let replans = driver.stallReplans()
        driver.shutdown()
        let mode = realtime ? "SCHED_FIFO 80 + mlockall" : "normal scheduling"
        print("pulse thread lateness (\(mode), \(Int(seconds)) s, \(moves) moves, 2 feet, pump PWM 100 Hz): \(lateness.summary), \(replans) moves replanned after a stall")
    }
}
