import PlantarCore

/// Who sends a message.
public enum MessageDirection: Sendable, Hashable {
    case hostToBoard
    case boardToHost
    /// Link control (ack, nak): whichever end received sequenced frames.
    case both
}

/// The first payload byte: which message follows. Codes are grouped by direction:
/// 0x01–0x0F link control, 0x10–0x3F host to board, 0x40–0x7F board to host.
public enum MessageType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case ack = 0x01
    case nak = 0x02

    case hello = 0x10
    case identify = 0x11
    case heartbeat = 0x12
    case arm = 0x13
    case move = 0x14
    case pressure = 0x15
    case release = 0x16
    case heat = 0x17
    case emergencyRelease = 0x1F

    case helloReply = 0x40
    case telemetry = 0x41
    case switchPressed = 0x50
    case switchReleased = 0x51
    case easeButton = 0x52
    case limitSwitch = 0x53
    case fault = 0x54
    case boardReset = 0x55
    case leaseExpired = 0x56

    /// Who sends it, from the code's range.
    public var direction: MessageDirection {
        switch rawValue {
        case ..<0x10: .both
        case ..<0x40: .hostToBoard
        default: .boardToHost
        }
    }

    /// Whether frames of this type carry a sequence number, are acknowledged and are sent
    /// again until they are. Acks, naks, telemetry (a fresher sample follows in 20 ms) and
    /// board resets (repeated on every frame an unsynchronized board receives) are not.
    public var isSequenced: Bool {
        switch self {
        case .ack, .nak, .telemetry, .boardReset: false
        default: true
        }
    }

    /// The name the protocol document uses.
    public var name: String {
        switch self {
        case .ack: "ack"
        case .nak: "nak"
        case .hello: "hello"
        case .identify: "identify"
        case .heartbeat: "heartbeat"
        case .arm: "arm"
        case .move: "move"
        case .pressure: "pressure"
        case .release: "release"
        case .heat: "heat"
        case .emergencyRelease: "emergency-release"
        case .helloReply: "hello-reply"
        case .telemetry: "telemetry"
        case .switchPressed: "switch-pressed"
        case .switchReleased: "switch-released"
        case .easeButton: "ease-button"
        case .limitSwitch: "limit-switch"
        case .fault: "fault"
        case .boardReset: "board-reset"
        case .leaseExpired: "lease-expired"
        }
    }

    public var description: String { name }
}

/// A motion axis of a gantry node.
public enum Axis: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Heel to toe.
    case u = 0
    /// Medial to lateral.
    case v = 1

    public var description: String { self == .u ? "u" : "v" }
}

/// Which end of an axis a limit switch guards.
public enum AxisEnd: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Position 0, where the home switch sits.
    case home = 0
    /// The far end of travel.
    case far = 1

    public var description: String { self == .home ? "home" : "far" }
}

/// What a board can do, announced in `helloReply` and checked against the device profile.
public struct Capabilities: Sendable, Hashable {
    /// Sensors and actuators besides axes and pressure channels. Bits 7–15 are reserved (0).
    public struct Features: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let discomfortSwitch = Features(rawValue: 1 << 0)
        public static let easeButton = Features(rawValue: 1 << 1)
        public static let footPresence = Features(rawValue: 1 << 2)
        public static let pressureSensor = Features(rawValue: 1 << 3)
        public static let forceSensor = Features(rawValue: 1 << 4)
        public static let homeSwitches = Features(rawValue: 1 << 5)
        public static let heat = Features(rawValue: 1 << 6)

        /// Every bit protocol version 1 defines, with the name the document uses.
        public static let named: [(Features, String)] = [
            (.discomfortSwitch, "discomfort-switch"), (.easeButton, "ease-button"),
            (.footPresence, "foot-presence"), (.pressureSensor, "pressure-sensor"),
            (.forceSensor, "force-sensor"), (.homeSwitches, "home-switches"), (.heat, "heat"),
        ]
        static let defined: UInt16 = 0x007F

        public var description: String {
            let names = Self.named.filter { contains($0.0) }.map(\.1)
            return names.isEmpty ? "none" : names.joined(separator: " ")
        }
    }

    /// Feet the board drives.
    public var feet: Set<Foot>
    /// Axes each foot's node moves on; empty for a zoned device.
    public var axes: Set<Axis>
    /// Pressure channels per foot, indexed 0..<channelsPerFoot in the profile's order.
    public private(set) var channelsPerFoot: Int
    /// Sensors, switches and heat the board has.
    public var features: Features

    /// - Throws: `WireError.tooManyChannels` above `WireProtocol.maxChannelsPerFoot`.
    public init(feet: Set<Foot>, axes: Set<Axis>, channelsPerFoot: Int, features: Features) throws(WireError) {
        guard (0...WireProtocol.maxChannelsPerFoot).contains(channelsPerFoot) else {
            throw .tooManyChannels(channelsPerFoot)
        }
        self.feet = feet
        self.axes = axes
        self.channelsPerFoot = channelsPerFoot
        self.features = features
    }
}

/// The board's answer to `hello` and `identify`.
public struct HelloReply: Sendable, Hashable {
    /// The protocol version the board speaks.
    public var version: UInt8
    /// Board model and firmware, for people: "plantar-sim reference 1.0".
    public var identity: ShortText
    /// What the board drives and senses.
    public var capabilities: Capabilities

    public init(version: UInt8 = WireProtocol.version, identity: ShortText, capabilities: Capabilities) {
        self.version = version
        self.identity = identity
        self.capabilities = capabilities
    }
}

/// One foot's measurements, sent unsequenced every `WireProtocol.telemetryInterval`.
public struct BoardTelemetry: Sendable, Hashable {
    public var foot: Foot
    /// Node position (zero on a zoned device).
    public var u: FixedLength
    public var v: FixedLength
    /// Measured pressure per channel, by channel index; nil when the sensor cannot be read.
    public private(set) var pressures: [FixedPressure]?
    /// Contact force; nil when the board has no force sensor or cannot read it.
    public var force: FixedForce?
    public var footPresent: Bool
    /// The discomfort switch reads pressed (or its cable is cut: it is normally closed).
    public var switchPressed: Bool
    /// The board refuses move, pressure and heat-on until the host sends `arm`.
    public var latched: Bool
    public var heatOn: Bool

    /// - Throws: `WireError.tooManyChannels` for more than `WireProtocol.maxChannelsPerFoot`.
    public init(foot: Foot, u: FixedLength, v: FixedLength, pressures: [FixedPressure]?, force: FixedForce?,
                footPresent: Bool, switchPressed: Bool, latched: Bool, heatOn: Bool) throws(WireError) {
        if let pressures, pressures.count > WireProtocol.maxChannelsPerFoot {
            throw .tooManyChannels(pressures.count)
        }
        self.foot = foot
        self.u = u
        self.v = v
        self.pressures = pressures
        self.force = force
        self.footPresent = footPresent
        self.switchPressed = switchPressed
        self.latched = latched
        self.heatOn = heatOn
    }
}

/// A fault the board reports. Unknown codes decode too (a newer board may send more), so a
/// host can show them; 0x01–0x09 are defined by protocol version 1.
public struct FaultCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Measured pressure above the board's own ceiling; the board released and latched.
    public static let overPressure = FaultCode(rawValue: 0x01)
    /// The pressure sensor cannot be read or reads implausibly; the board released and latched.
    public static let pressureSensor = FaultCode(rawValue: 0x02)
    /// An axis stalled or lost steps; the board stopped it, released and latched.
    public static let motorStall = FaultCode(rawValue: 0x03)
    /// The heat pad's over-temperature cutoff tripped; heat is off.
    public static let overTemperature = FaultCode(rawValue: 0x04)
    /// A command was refused: the board is latched, or a value exceeds the board's limits.
    public static let commandRefused = FaultCode(rawValue: 0x05)
    /// A frame passed its CRC but its payload did not decode.
    public static let badMessage = FaultCode(rawValue: 0x06)
    /// Homing did not find a home switch.
    public static let homingFailed = FaultCode(rawValue: 0x07)
    /// The actuator supply is out of range.
    public static let supply = FaultCode(rawValue: 0x08)
    /// Firmware trouble (assertion, stack, watchdog warning).
    public static let internalError = FaultCode(rawValue: 0x09)

    /// The code's name in the document, `fault-0xNN` for codes it does not define.
    public var name: String {
        switch rawValue {
        case 0x01: "over-pressure"
        case 0x02: "pressure-sensor"
        case 0x03: "motor-stall"
        case 0x04: "over-temperature"
        case 0x05: "command-refused"
        case 0x06: "bad-message"
        case 0x07: "homing-failed"
        case 0x08: "supply"
        case 0x09: "internal"
        default: "fault-0x\(hex(rawValue))"
        }
    }

    public var description: String { name }
}

/// Why the board (re)started, as its reset controller tells it. Unknown codes decode too.
public struct ResetCause: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let powerOn = ResetCause(rawValue: 0x00)
    public static let watchdog = ResetCause(rawValue: 0x01)
    public static let brownOut = ResetCause(rawValue: 0x02)
    public static let software = ResetCause(rawValue: 0x03)
    /// The reset pin (a button, or a USB adapter's DTR line on opening the port).
    public static let resetPin = ResetCause(rawValue: 0x04)
    public static let unknown = ResetCause(rawValue: 0xFF)

    /// The cause's name in the document, `cause-0xNN` for codes it does not define.
    public var name: String {
        switch rawValue {
        case 0x00: "power-on"
        case 0x01: "watchdog"
        case 0x02: "brown-out"
        case 0x03: "software"
        case 0x04: "reset-pin"
        case 0xFF: "unknown"
        default: "cause-0x\(hex(rawValue))"
        }
    }

    public var description: String { name }
}

/// Every message of protocol version 1. Values are in wire units (see the `Fixed…` types),
/// so `encode()` cannot fail and `decode(encode(m)) == m`.
public enum WireMessage: Sendable, Hashable {
    // Link control, either direction.
    /// Every sequenced frame before `next` arrived; `next` is the sequence expected now.
    case ack(next: UInt8)
    /// A frame arrived out of order; send again from `expected` on.
    case nak(expected: UInt8)

    // Host to board.
    /// Starts a session: the board releases everything, latches, resynchronizes and answers
    /// with `helloReply`.
    case hello(version: UInt8)
    /// Asks for `helloReply` again without disturbing the session.
    case identify
    /// Keeps the lease alive when the host has nothing else to send.
    case heartbeat
    /// Clears the board's latch (refused while the discomfort switch is pressed).
    case arm
    /// Move `foot`'s node to (u, v), cruising at no more than `speed`.
    case move(foot: Foot, u: FixedLength, v: FixedLength, speed: FixedSpeed)
    /// Ramp the channel's pressure to `pressure`, changing by no more than `ramp` per second.
    case pressure(foot: Foot, channel: UInt8, pressure: FixedPressure, ramp: FixedRamp)
    /// Open the channel's valve: pressure to zero as fast as the hardware can.
    case release(foot: Foot, channel: UInt8)
    /// Heat pad on (regulating to `target`) or off.
    case heat(foot: Foot, on: Bool, target: FixedTemperature)
    /// Everything to rest now, on both feet; accepted out of sequence and latching.
    case emergencyRelease

    // Board to host.
    case helloReply(HelloReply)
    case telemetry(BoardTelemetry)
    /// The discomfort switch was pressed; `alreadyReleased` is true when the board released
    /// every output before sending this (always, for a board of this protocol).
    case switchPressed(alreadyReleased: Bool)
    case switchReleased
    case easeButton
    /// A limit or home switch triggered outside homing; the board stopped that axis.
    case limitSwitch(foot: Foot, axis: Axis, end: AxisEnd)
    case fault(code: FaultCode, detail: ShortText)
    /// The board has just started and has no session: everything is at rest and latched.
    case boardReset(cause: ResetCause)
    /// No valid frame for the lease time: the board released everything and latched.
    case leaseExpired

    /// The message's type byte.
    public var type: MessageType {
        switch self {
        case .ack: .ack
        case .nak: .nak
        case .hello: .hello
        case .identify: .identify
        case .heartbeat: .heartbeat
        case .arm: .arm
        case .move: .move
        case .pressure: .pressure
        case .release: .release
        case .heat: .heat
        case .emergencyRelease: .emergencyRelease
        case .helloReply: .helloReply
        case .telemetry: .telemetry
        case .switchPressed: .switchPressed
        case .switchReleased: .switchReleased
        case .easeButton: .easeButton
        case .limitSwitch: .limitSwitch
        case .fault: .fault
        case .boardReset: .boardReset
        case .leaseExpired: .leaseExpired
        }
    }
}

extension WireMessage: CustomStringConvertible {
    /// Stable text, used in logs and in the protocol document's examples.
    public var description: String {
        let name = type.name
        switch self {
        case .ack(let next):
            return "\(name)(next: \(next))"
        case .nak(let expected):
            return "\(name)(expected: \(expected))"
        case .hello(let version):
            return "\(name)(version: \(version))"
        case .identify, .heartbeat, .arm, .emergencyRelease, .switchReleased, .easeButton, .leaseExpired:
            return name
        case .move(let foot, let u, let v, let speed):
            return "\(name)(foot: \(foot.rawValue), u: \(u), v: \(v), speed: \(speed))"
        case .pressure(let foot, let channel, let pressure, let ramp):
            return "\(name)(foot: \(foot.rawValue), channel: \(channel), pressure: \(pressure), ramp: \(ramp))"
        case .release(let foot, let channel):
            return "\(name)(foot: \(foot.rawValue), channel: \(channel))"
        case .heat(let foot, let on, let target):
            return "\(name)(foot: \(foot.rawValue), on: \(on), target: \(target))"
        case .helloReply(let reply):
            let c = reply.capabilities
            return "\(name)(version: \(reply.version), identity: \"\(reply.identity)\", "
                + "feet: \(footList(c.feet)), axes: \(axisList(c.axes)), channels: \(c.channelsPerFoot), "
                + "features: \(c.features))"
        case .telemetry(let t):
            let pressures = t.pressures.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "unreadable"
            var flags: [String] = []
            if t.footPresent { flags.append("foot-present") }
            if t.switchPressed { flags.append("switch-pressed") }
            if t.latched { flags.append("latched") }
            if t.heatOn { flags.append("heat-on") }
            return "\(name)(foot: \(t.foot.rawValue), u: \(t.u), v: \(t.v), pressures: \(pressures), "
                + "force: \(t.force.map(\.description) ?? "none"), flags: \(flags.isEmpty ? "none" : flags.joined(separator: " ")))"
        case .switchPressed(let alreadyReleased):
            return "\(name)(already-released: \(alreadyReleased))"
        case .limitSwitch(let foot, let axis, let end):
            return "\(name)(foot: \(foot.rawValue), axis: \(axis), end: \(end))"
        case .fault(let code, let detail):
            return "\(name)(code: \(code), detail: \"\(detail)\")"
        case .boardReset(let cause):
            return "\(name)(cause: \(cause))"
        }
    }
}

private func footList(_ feet: Set<Foot>) -> String {
    feet.isEmpty ? "none" : feet.sorted().map(\.rawValue).joined(separator: " ")
}

private func axisList(_ axes: Set<Axis>) -> String {
    axes.isEmpty ? "none" : axes.sorted { $0.rawValue < $1.rawValue }.map(\.description).joined(separator: " ")
}
