import PlantarCore

/// `plantar safe-state`: puts a GPIO device's outputs at rest without the daemon, for
/// systemd's `ExecStopPost=` after a crash and for a person who wants to be sure.
///
/// It claims every line of the pin map (so a missing chip, a missing line or a line still
/// held by a running daemon is reported by name), requests the outputs at their rest values,
/// drives them to rest again in safety order, reads them back, and releases the lines.
///
/// After the release the kernel keeps driving the last value on most GPIO controllers, but
/// not on all: the board should hold each output at rest with a pull resistor too (enable
/// pulled to "disabled", pump and valve drivers pulled off), and the actuator supply should
/// be cut in hardware by the stop circuit; software is never the only stop.
public enum GPIOSafeState {
    /// Drives every output of `profile`'s pin map to rest and releases the lines.
    ///
    /// - Parameters:
    ///   - profile: a profile with a `gpio:` pin map.
    ///   - bank: the line layer (libgpiod by default).
    ///   - consumer: the name other programs see while the lines are held.
    ///   - whileHeld: called while the lines are held at rest, before they are released
    ///     (the VM tier reads the chip's side there).
    /// - Returns: one line saying what is at rest.
    /// - Throws: `GPIOError` naming a pin-map problem, a missing chip, a missing or busy line,
    ///   or an output that does not read back at rest.
    public static func run(profile: DeviceProfile, bank: sending any GPIOLineBank = LibGPIODLineBank(),
                           consumer: String = "plantar-safe-state",
                           whileHeld: (() -> Void)? = nil) throws(GPIOError) -> String {
        let layout = try GPIOPinLayout.resolve(profile)
        try bank.claim(chip: layout.chip, layout.requests, consumer: consumer)
        defer { bank.release() }
        for index in layout.restOrder {
            try bank.write(index, layout.requests[index].restValue ?? false)
        }
        for index in layout.outputs {
            let request = layout.requests[index]
            let value = try bank.read(index)
            if value != request.restValue {
                throw GPIOError(.io, "\(GPIOError.lineName(request.role, chip: layout.chip, offset: request.line.offset)) reads \(value ? "active" : "inactive") after being driven to rest",
                                chip: layout.chip, role: request.role, offset: request.line.offset)
            }
        }
        whileHeld?()
        let feet = layout.feet.keys.sorted().map(\.rawValue).joined(separator: " and ")
        return "\(profile.name): \(layout.outputs.count) output lines on \(layout.chip) at rest (\(feet): valves open, pumps off, steppers disabled); lines released"
    }
}
