/// How a device presses the foot.
public enum DeviceKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A node per foot moved on u/v axes under the sole (DESIGN.md's reference device).
    case gantry
    /// Fixed nodes or air bladders per foot area; nothing moves.
    case zoned
}

/// One motion axis of a gantry node.
public struct AxisLimits: Sendable, Hashable, Codable {
    public var travelMM: Double
    public var stepsPerMM: Double
    public var maxSpeed: Double   // mm/s
    public var maxAccel: Double   // mm/s²

    public init(travelMM: Double, stepsPerMM: Double, maxSpeed: Double, maxAccel: Double) {
        self.travelMM = travelMM
        self.stepsPerMM = stepsPerMM
        self.maxSpeed = maxSpeed
        self.maxAccel = maxAccel
    }

    /// Time to travel `distance` from rest to rest on a trapezoidal (or triangular) profile.
    public func travelTime(_ distance: Double) -> Double {
        let d = abs(distance)
        guard d > 0 else { return 0 }
        let accelDistance = maxSpeed * maxSpeed / maxAccel   // speeding up plus slowing down
        if d >= accelDistance { return d / maxSpeed + maxSpeed / maxAccel }
        return 2 * (d / maxAccel).squareRoot()
    }
}

/// The pressure channel(s) of a device: a bellows with pump and release valve, or bladders.
public struct PressureLimits: Sendable, Hashable, Codable {
    /// The most the hardware may ever be asked for, whatever the zone (kPa).
    public var maxKPa: Double
    /// Largest allowed rate of change (kPa/s); no command may step faster.
    public var maxRampKPaPerS: Double
    /// First-order time constant of pressure rising under the pump (s).
    public var pumpTimeConstant: Double
    /// First-order time constant of pressure falling through the open valve (s).
    public var valveTimeConstant: Double
    /// Pressure sensor update rate (Hz).
    public var sensorRateHz: Double

    public init(maxKPa: Double, maxRampKPaPerS: Double, pumpTimeConstant: Double,
                valveTimeConstant: Double, sensorRateHz: Double) {
        self.maxKPa = maxKPa
        self.maxRampKPaPerS = maxRampKPaPerS
        self.pumpTimeConstant = pumpTimeConstant
        self.valveTimeConstant = valveTimeConstant
        self.sensorRateHz = sensorRateHz
    }
}

/// A fixed pressing node of a zoned device: a rectangle of the platform (device mm).
public struct ZonedNode: Sendable, Hashable, Codable {
    public var id: String
    public var surface: Surface
    public var u: ClosedRange<Double>
    public var v: ClosedRange<Double>

    public init(id: String, surface: Surface, u: ClosedRange<Double>, v: ClosedRange<Double>) {
        self.id = id
        self.surface = surface
        self.u = u
        self.v = v
    }

    public func covers(_ p: DevicePoint, on surface: Surface) -> Bool {
        surface == self.surface && u.contains(p.u) && v.contains(p.v)
    }
}

/// A GPIO line of the pin map.
public struct GPIOLine: Sendable, Hashable, Codable {
    public var offset: Int
    public var activeLow: Bool
    public var bias: Bias

    public enum Bias: String, Sendable, Hashable, Codable, CaseIterable { case asIs = "as-is", disabled, pullUp = "pull-up", pullDown = "pull-down" }

    public init(offset: Int, activeLow: Bool = false, bias: Bias = .asIs) {
        self.offset = offset
        self.activeLow = activeLow
        self.bias = bias
    }
}

/// How the host reaches the device's lines directly (GPIO driver).
public struct GPIOPinMap: Sendable, Hashable, Codable {
    /// Chip by name (`gpiochip0`), label or path.
    public var chip: String
    /// Role (`right.u.step`, `discomfort-switch`, …) to line.
    public var lines: [String: GPIOLine]

    public init(chip: String, lines: [String: GPIOLine]) {
        self.chip = chip
        self.lines = lines
    }
}

/// How the host reaches the device's microcontroller (serial driver).
public struct SerialLink: Sendable, Hashable, Codable {
    public var port: String
    public var baud: Int

    public init(port: String, baud: Int) {
        self.port = port
        self.baud = baud
    }
}

/// What a device can do and where its limits are; routines compile against one.
public struct DeviceProfile: Sendable, Hashable {
    public var name: String
    public var title: String
    public var kind: DeviceKind
    public var feet: [Foot]
    /// Where the heel sits on the u axis when the foot rests against the heel stop (mm).
    public var heelOffsetMM: Double
    /// Surfaces the node can press (gantry). A zoned device reaches what its nodes cover.
    public var reach: Set<Surface>
    /// How far from the node's centre its contact presses (mm): the cap field grows every
    /// zone by this (docs/safety.md §1). Default 10 mm for a gantry's node, 0 for bladders
    /// (a bladder's own rectangle is its contact).
    public var contactRadiusMM: Double
    public var uAxis: AxisLimits?
    public var vAxis: AxisLimits?
    public var pressure: PressureLimits
    /// Fixed nodes per foot (zoned devices), in the order they are listed.
    public var nodes: [ZonedNode]
    public var inputs: Set<DeviceInput>
    public var gpio: GPIOPinMap?
    public var serial: SerialLink?
    public var file: String

    public init(name: String, title: String, kind: DeviceKind, feet: [Foot] = [.left, .right],
                heelOffsetMM: Double, reach: Set<Surface>, contactRadiusMM: Double? = nil, uAxis: AxisLimits?, vAxis: AxisLimits?,
                pressure: PressureLimits, nodes: [ZonedNode] = [], inputs: Set<DeviceInput>,
                gpio: GPIOPinMap? = nil, serial: SerialLink? = nil, file: String = "<memory>") {
        self.name = name
        self.title = title
        self.kind = kind
        self.feet = feet
        self.heelOffsetMM = heelOffsetMM
        self.reach = reach
        self.contactRadiusMM = contactRadiusMM ?? (kind == .gantry ? 10 : 0)
        self.uAxis = uAxis
        self.vAxis = vAxis
        self.pressure = pressure
        self.nodes = nodes
        self.inputs = inputs
        self.gpio = gpio
        self.serial = serial
        self.file = file
    }

    /// The pressure channel of a gantry node (one per foot).
    public static let nodeChannel = "node"

    /// Every pressure channel a foot has.
    public var channels: [String] { kind == .gantry ? [Self.nodeChannel] : nodes.map(\.id) }
}

/// Inputs a device may have.
public enum DeviceInput: String, Sendable, Hashable, CaseIterable, Codable {
    case discomfortSwitch = "discomfort-switch"
    case easeButton = "ease-button"
    case footPresence = "foot-presence"
    case pressureSensor = "pressure-sensor"
    case forceSensor = "force-sensor"
    case homeSwitches = "home-switches"
}

extension DeviceProfile {
    /// Limits along the straight line from `a` to `b` for a gantry whose axes move together
    /// (linear interpolation): each axis keeps within its own speed and acceleration, so the
    /// path may go faster along u than along v. `speedCap` lowers the cruise speed further.
    public func pathLimits(from a: DevicePoint, to b: DevicePoint, speedCap: Double = .infinity) -> AxisLimits? {
        guard let u = uAxis, let v = vAxis else { return nil }
        let d = a.distance(to: b)
        guard d > 0 else { return AxisLimits(travelMM: 0, stepsPerMM: 0, maxSpeed: min(u.maxSpeed, v.maxSpeed), maxAccel: min(u.maxAccel, v.maxAccel)) }
        let cu = abs(b.u - a.u) / d, cv = abs(b.v - a.v) / d
        let speed = min(cu > 0 ? u.maxSpeed / cu : .infinity, cv > 0 ? v.maxSpeed / cv : .infinity, speedCap)
        let accel = min(cu > 0 ? u.maxAccel / cu : .infinity, cv > 0 ? v.maxAccel / cv : .infinity)
        return AxisLimits(travelMM: 0, stepsPerMM: 0, maxSpeed: speed, maxAccel: accel)
    }

    /// Seconds for a move from `a` to `b`, rest to rest, cruising at no more than `speedCap`.
    public func moveSeconds(from a: DevicePoint, to b: DevicePoint, speedCap: Double = .infinity) -> Double {
        pathLimits(from: a, to: b, speedCap: speedCap)?.travelTime(a.distance(to: b)) ?? 0
    }

    /// The fastest cruise speed any move may ask for.
    public var fastestSpeed: Double { max(uAxis?.maxSpeed ?? 0, vAxis?.maxSpeed ?? 0) }
}
