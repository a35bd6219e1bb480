import ArgumentParser
import PlantarCore
import PlantarDrivers
import PlantarSimulator

/// Where a session's commands go: the in-process simulated device, a microcontroller board on
/// a serial port, or GPIO lines.
public enum Backend: String, Sendable, CaseIterable, ExpressibleByArgument {
    case simulator
    case serial
    case gpio

    /// The backend a run uses when none is named: the simulator for `--simulator`, serial for
    /// `--port` or a profile that only has a serial link, none (the daemon's business) otherwise.
    public static func infer(named: Backend?, simulatorFlag: Bool, port: String?, profile: DeviceProfile) -> Backend? {
        if let named { return named }
        if simulatorFlag { return .simulator }
        if port != nil { return .serial }
        if profile.serial != nil && profile.gpio == nil { return .serial }
        return nil
    }
}

/// A device driver ready for a session, and how to let go of it afterwards.
public struct ConnectedDevice: Sendable {
    public let driver: any DeviceDriver
    /// "the simulated reference device", "the board on /tmp/plantar-mcu".
    public let description: String
    /// Whether the session runs in real time on real (or emulated) hardware.
    public let isHardware: Bool
    /// Puts the outputs at rest and lets the port or lines go (a last emergency release on serial).
    public let close: @Sendable () -> Void
}

/// Builds drivers for `plantar run` (and the daemon): one place that knows each backend's
/// construction and turns its errors into one readable line.
public enum Backends {
    /// Connects to `profile`'s device through `backend`.
    /// - Parameters:
    ///   - port: a serial port instead of the profile's `serial.port`.
    ///   - log: driver messages (connection, loss, recovery, warnings).
    /// - Throws: `BackendError` with one line for a person: a missing port (and how to start
    ///   the emulator), a board that does not answer or does not match the profile, a GPIO line
    ///   that is busy.
    public static func connect(_ backend: Backend, profile: DeviceProfile, port: String? = nil,
                               log: @escaping @Sendable (String) -> Void = { _ in }) async throws(BackendError) -> ConnectedDevice {
        switch backend {
        case .simulator:
            return ConnectedDevice(driver: SimulatedDriver(profile: profile), description: "the simulated \(profile.name) device",
                                   isHardware: false, close: {})
        case .serial:
            var options = SerialDriverOptions()
            options.port = port
            let driver: SerialDriver
            do {
                driver = try await SerialDriver.connect(profile: profile, options: options) { level, text in
                    if level != .info { log(text) }
                }
            } catch {
                var text = error.description
                if error.kind == .portMissing || error.kind == .noAnswer {
                    let path = port ?? profile.serial?.port ?? "/tmp/plantar-mcu"
                    text += "; to try it without hardware start the board emulator first: plantar-sim --device \(profile.name) --link \(path)"
                }
                throw BackendError(text)
            }
            return ConnectedDevice(driver: driver, description: "the board on \(driver.path) (\(driver.baud) baud)",
                                   isHardware: true, close: { driver.shutdown() })
        case .gpio:
            let driver: GPIODriver
            do {
                driver = try GPIODriver(profile: profile) { _, text in log(text) }
            } catch {
                throw BackendError("gpio: \(error)")
            }
            return ConnectedDevice(driver: driver, description: "the \(profile.name) device on GPIO lines",
                                   isHardware: true, close: { driver.shutdown() })
        }
    }
}

/// A backend could not be reached; one line for a person.
public struct BackendError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
