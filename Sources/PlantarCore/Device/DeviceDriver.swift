/// A sample of what one foot's hardware measures.
public struct Telemetry: Sendable, Hashable {
    public var foot: Foot
    /// Node position (gantry) in device mm; zero for a zoned device.
    public var position: DevicePoint
    /// Measured pressure per channel (kPa). Nil when the sensor cannot be read.
    public var pressureKPa: [String: Double]?
    /// Contact force on the foot (N); nil when the device has no force sensor.
    public var contactForceN: Double?
    /// Whether a foot rests on the device.
    public var footPresent: Bool

    public init(foot: Foot, position: DevicePoint, pressureKPa: [String: Double]?, contactForceN: Double?, footPresent: Bool) {
        self.foot = foot
        self.position = position
        self.pressureKPa = pressureKPa
        self.contactForceN = contactForceN
        self.footPresent = footPresent
    }

    /// The highest measured pressure of any channel, or nil when unreadable.
    public var peakKPa: Double? { pressureKPa.map { $0.values.max() ?? 0 } }
}

/// Inputs the person operates.
public enum PersonInput: Sendable, Hashable {
    /// The discomfort switch changed. `released` tells whether the driver already released
    /// every output itself (the reflex arc) before reporting.
    case discomfortSwitch(pressed: Bool, released: Bool)
    /// The ease button was pressed.
    case easeButton
}

/// State of the link between host and device.
public enum LinkState: Sendable, Hashable {
    case up
    /// The link is gone (cable pulled, emulator killed, port closed); outputs are assumed
    /// released by the device's own lease.
    case down(reason: String)
    /// The device restarted on its own; whatever it was doing is lost.
    case deviceReset
}

/// Something the device reports as wrong.
public struct DeviceFault: Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var detail: String

    public init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}

/// Everything a driver reports, in the order it happened, stamped with the session time.
public struct DeviceEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case telemetry(Telemetry)
        case input(PersonInput)
        case link(LinkState)
        case fault(DeviceFault)
    }

    public var time: Duration
    public var kind: Kind

    public init(time: Duration, kind: Kind) {
        self.time = time
        self.kind = kind
    }
}

/// Why outputs were released without a command asking for it.
public enum ReleaseReason: String, Sendable, Hashable {
    case discomfortSwitch = "discomfort switch"
    case governor
    case shutdown
    case fault
    case leaseExpired = "lease expired"
}

/// A driver could not do what it was asked.
public struct DriverError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The one protocol every device backend implements: the in-process simulator, the serial
/// link to a microcontroller, and GPIO lines through libgpiod.
///
/// Commands go out as setpoints; inputs, telemetry and link state come back as events.
/// The session (and only the session, through the governor) calls `apply`; `releaseAll`
/// may be called by anyone at any time and must act at once without waiting on anything.
/// A driver that reads the discomfort switch releases everything itself before reporting it.
public protocol DeviceDriver: AnyObject, Sendable {
    var profile: DeviceProfile { get }

    /// Sends a governed setpoint for `foot`. `time` is the session time it is due.
    func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError)

    /// Every channel of every foot to rest (valves open, pumps off, motion halted), now.
    /// Never blocks, never suspends; safe from any thread.
    func releaseAll(_ reason: ReleaseReason)

    /// Events that happened up to session time `now`, oldest first. A real driver returns
    /// what its reader has collected; the simulator advances its physics to `now` first.
    func poll(upTo now: Duration) async -> [DeviceEvent]

    /// The session layer has armed its governor for a new session. Every driver latches on
    /// `releaseAll` (and on its own reflex releases): from then until this call it ignores
    /// every pressure and move command (releases always pass), so a loop turn already
    /// dispatching when a stop arrives cannot press again. A serial board, which latches by
    /// itself, is armed again with the next setpoint. Never resumes anything by itself. The
    /// default does nothing.
    func beginSession()

    /// Asks the driver to hand every input, link and fault event to `observer` as it happens
    /// (on the driver's own thread, outside its locks), besides queuing it for `poll`, so the
    /// daemon hears the switch between sessions without polling. Returns false when the
    /// driver cannot; the caller then has to poll. Installing a second observer replaces the
    /// first. The default returns false.
    func observeEvents(_ observer: @escaping @Sendable (DeviceEvent.Kind) -> Void) -> Bool

    /// Whether this driver reports measured pressure. The profile may list a pressure sensor
    /// that this way of reaching the device cannot read (on the reference device it sits on
    /// the serial board, so over GPIO lines pressure is open-loop); the session then does not
    /// fault for missing readings. The default follows the profile.
    var measuresPressure: Bool { get }
}

extension DeviceDriver {
    public func beginSession() {}
    public func observeEvents(_ observer: @escaping @Sendable (DeviceEvent.Kind) -> Void) -> Bool { false }
    public var measuresPressure: Bool { profile.inputs.contains(.pressureSensor) }
}
