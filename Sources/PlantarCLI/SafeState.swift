import ArgumentParser
import PlantarConfig
import PlantarCore
import PlantarDrivers

/// `plantar safe-state`: every output of a GPIO device to rest, without the daemon.
struct SafeState: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safe-state",
        abstract: "Put a GPIO-wired device's outputs at rest (valves open, pumps off, steppers disabled).",
        discussion: """
            Claims every line of the device's pin map, drives the outputs to rest, reads them \
            back and releases the lines. Exits 0 when the device is at rest; exits 1 with one \
            line naming the chip or line when a chip is missing or a line is busy. Meant for \
            systemd's ExecStopPost= after the daemon stops, however it stopped.
            """)

    @Option(name: .long, help: "Device profile: a name (reference) or a file.")
    var device: String = "reference"

    @Option(name: .long, help: "plantard's configuration: act for its backend and device (what systemd's ExecStopPost= passes).")
    var config: String?

    func run() async throws {
        try await reportingFailures {
            var device = self.device
            if let config {
                let daemon = try ConfigLibrary.standard().loadDaemonConfig(config)
                switch daemon.backend {
                case .simulator:
                    // Nothing outside plantard's process can touch an in-process simulated device.
                    print("backend simulator: the simulated device lived inside plantard and ended with it; nothing to put at rest")
                    return
                case .serial:
                    // The host cannot reach the board without the daemon's link; the board's lease does it.
                    print("backend serial: the board releases every output by itself once the host stops refreshing its lease (250 ms); nothing to do from here")
                    return
                case .gpio:
                    device = daemon.device
                }
            }
            let profile = try ConfigLibrary.standard().loadDevice(device)
            do {
                print(try GPIOSafeState.run(profile: profile))
            } catch {
                throw UserFacingError("safe-state: \(error)")
            }
        }
    }
}
