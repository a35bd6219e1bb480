import Foundation
import PlantarCore
import PlantarOracle

/// The physics of a device described by a profile: what its actuators and sensors would do.
///
/// Pure and deterministic (a struct; time is passed in). Node motion follows a trapezoidal
/// velocity profile within each axis' speed and acceleration limits; pressure follows its
/// commanded ramp through a first-order lag (the pump's time constant when filling, the
/// valve's when venting); contact force depends on the foot being there; sensors report at
/// a fixed rate with optional seeded noise. The discomfort switch is handled here, where it is
/// read: pressing it opens every valve and halts motion before anything is reported (the
/// reflex arc), and while it is held the pumps have no power (the hardware interlock).
public struct DeviceModel: Sendable {
    public let profile: DeviceProfile
    /// Effective contact area of a node or bladder: converts kPa to newtons (4 cm²).
    public static let contactAreaM2 = 4e-4

    public struct Channel: Sendable, Hashable {
        /// Where the commanded ramp has got to (kPa) and where it is going.
        public var reference = 0.0
        public var target = 0.0
        public var ramp = 0.0
        /// What the bellows or bladder actually holds (kPa).
        public var pressure = 0.0
        /// Valve forced open (release): vents at the valve's time constant, ignoring the ramp.
        public var venting = false
    }

    public struct Motion: Sendable, Hashable {
        public var from: DevicePoint
        public var to: DevicePoint
        public var start: Double
        public var limits: AxisLimits
    }

    /// One foot as tests and reports see it.
    public struct FootState: Sendable, Hashable {
        public var position = DevicePoint.home
        public var motion: Motion?
        public var channels: [String: Channel] = [:]
        public var present = true
    }

    /// One foot as the physics keeps it: channels by index, in the profile's order. (Hashing
    /// channel names and feet on every step dominated a simulated session.)
    struct Physics: Sendable {
        var position = DevicePoint.home
        var motion: Motion?
        var channels: [Channel]
        var present = true
    }

    public private(set) var time = 0.0
    public private(set) var switchPressed = false
    public var sensorFault = false
    var random: SplitMix64
    let noise: Bool
    let footOrder: [Foot]
    let channelNames: [String]
    let hasForceSensor: Bool
    var physics: [Physics]

    public init(profile: DeviceProfile, seed: UInt64 = 1, noise: Bool = false) {
        self.profile = profile
        self.random = SplitMix64(seed: seed)
        self.noise = noise
        footOrder = profile.feet
        channelNames = profile.channels
        hasForceSensor = profile.inputs.contains(.forceSensor)
        physics = profile.feet.map { _ in Physics(channels: Array(repeating: Channel(), count: profile.channels.count)) }
    }

    /// Every foot's state, keyed by foot and channel name.
    public var feet: [Foot: FootState] {
        var result: [Foot: FootState] = [:]
        for (i, foot) in footOrder.enumerated() {
            let p = physics[i]
            result[foot] = FootState(position: p.position, motion: p.motion,
                                     channels: Dictionary(uniqueKeysWithValues: zip(channelNames, p.channels)), present: p.present)
        }
        return result
    }

    func slot(_ foot: Foot) -> Int? { footOrder.firstIndex(of: foot) }

    /// Where a foot's node is now (home for an unknown foot).
    public func position(of foot: Foot) -> DevicePoint { slot(foot).map { physics[$0].position } ?? .home }

    /// What the device records of one foot at a telemetry instant: the sensor readings just
    /// taken (`telemetry`, so noise is drawn once) beside each channel's target, ramp and valve.
    func logSample(_ telemetry: Telemetry, at time: Double) -> DeviceLog.Sample {
        guard let f = slot(telemetry.foot) else {
            return DeviceLog.Sample(time: time, foot: telemetry.foot, position: .home, present: false, channels: [])
        }
        var channels: [DeviceLog.ChannelSample] = []
        channels.reserveCapacity(channelNames.count)
        for (i, c) in physics[f].channels.enumerated() {
            channels.append(DeviceLog.ChannelSample(channel: channelNames[i], setpointKPa: c.target, rampKPa: c.reference,
                                                    measuredKPa: telemetry.pressureKPa?[channelNames[i]], venting: c.venting))
        }
        return DeviceLog.Sample(time: time, foot: telemetry.foot, position: telemetry.position, present: telemetry.footPresent,
                                channels: channels)
    }

    // MARK: Commands

    /// Takes a setpoint at the current time. Pressure commands on an unknown channel or foot
    /// are errors; the model never guesses.
    public mutating func apply(_ command: ActuatorCommand, foot: Foot) throws(DriverError) {
        guard let f = slot(foot) else { throw DriverError("device '\(profile.name)' has no \(foot.rawValue) foot") }
        switch command {
        case .move(let to, let speed):
            guard profile.kind == .gantry, let limits = profile.pathLimits(from: physics[f].position, to: to, speedCap: speed) else {
                throw DriverError("device '\(profile.name)' has no moving node")
            }
            if !switchPressed {
                physics[f].motion = Motion(from: physics[f].position, to: to, start: time, limits: limits)
            }
        case .pressure(let channel, let kPa, let ramp):
            guard let i = channelNames.firstIndex(of: channel) else { throw DriverError("\(foot.rawValue) foot has no pressure channel '\(channel)'") }
            physics[f].channels[i].target = switchPressed ? 0 : kPa
            physics[f].channels[i].ramp = ramp
            physics[f].channels[i].venting = false
        case .release(let channel):
            guard let i = channelNames.firstIndex(of: channel) else { throw DriverError("\(foot.rawValue) foot has no pressure channel '\(channel)'") }
            physics[f].channels[i].target = 0
            physics[f].channels[i].reference = 0
            physics[f].channels[i].venting = true
        }
    }

    /// Every valve open, every pump off, motion halted where it is.
    public mutating func releaseAll() {
        for f in physics.indices {
            if let motion = physics[f].motion { physics[f].position = Self.position(of: motion, at: time) }
            physics[f].motion = nil
            for i in physics[f].channels.indices {
                physics[f].channels[i].target = 0
                physics[f].channels[i].reference = 0
                physics[f].channels[i].venting = true
            }
        }
    }

    // MARK: Inputs (the person)

    /// The discomfort switch: released first, then reported by the caller.
    public mutating func setSwitch(pressed: Bool) {
        switchPressed = pressed
        if pressed { releaseAll() }
    }

    public mutating func setFootPresent(_ present: Bool, foot: Foot? = nil) {
        for (f, each) in footOrder.enumerated() where foot == nil || each == foot { physics[f].present = present }
    }

    // MARK: Time

    /// Moves the physics forward to `t` seconds. Pressure is integrated exactly (a first-order
    /// lag behind a reference that ramps linearly), so time can jump from event to event.
    public mutating func advance(to t: Double) {
        guard t > time else { return }
        let dt = t - time
        for f in physics.indices { integrate(f, dt) }
        time = t
        for f in physics.indices {
            guard let motion = physics[f].motion else { continue }
            physics[f].position = Self.position(of: motion, at: time)
            // A microsecond of slack: a move due to end "now" has ended, whatever the rounding.
            if time >= motion.start + motion.limits.travelTime(motion.from.distance(to: motion.to)) - 1e-6 {
                physics[f].position = motion.to
                physics[f].motion = nil
            }
        }
    }

    mutating func integrate(_ f: Int, _ dt: Double) {
        let pump = profile.pressure.pumpTimeConstant, valve = profile.pressure.valveTimeConstant
        let blocked = switchPressed || !physics[f].present
        for i in physics[f].channels.indices {
            var c = physics[f].channels[i]
            if c.pressure == 0 && c.reference == 0 && c.target == 0 { continue }
            var remaining = dt
            while remaining > 0 {
                // The reference ramps toward the target at the commanded rate, then holds.
                let gap = c.target - c.reference
                let ramping = gap != 0 && c.ramp > 0
                let slope = ramping ? (gap > 0 ? c.ramp : -c.ramp) : 0
                let span = ramping ? min(remaining, abs(gap) / c.ramp) : remaining
                // Without a foot to press against (or with the pump's power cut by the
                // switch) the bellows cannot hold pressure: the goal is zero.
                let goal0 = blocked ? 0 : c.reference
                let k = blocked ? 0 : slope
                let tau = goal0 > c.pressure && !c.venting ? pump : valve
                // Exact response of dp/dt = (g(s) - p)/tau to g(s) = goal0 + k s.
                let decay = exp(-span / tau)
                c.pressure = goal0 + k * span - k * tau + (c.pressure - goal0 + k * tau) * decay
                if ramping { c.reference = span < abs(gap) / c.ramp ? c.reference + slope * span : c.target }
                remaining -= span
                if !ramping { break }
            }
            let goal = blocked ? 0 : c.reference
            if goal == 0 && c.pressure < 0.01 {
                c.pressure = 0
                if c.target == 0 { c.venting = false }
            }
            physics[f].channels[i] = c
        }
    }

    static func position(of m: Motion, at t: Double) -> DevicePoint {
        let d = m.from.distance(to: m.to)
        guard d > 0 else { return m.to }
        let s = TrapezoidProfile.distance(after: t - m.start, total: d, limits: m.limits)
        let k = s / d
        return DevicePoint(u: m.from.u + (m.to.u - m.from.u) * k, v: m.from.v + (m.to.v - m.from.v) * k)
    }

    // MARK: Sensors

    /// What the sensors read now.
    public mutating func telemetry(_ foot: Foot) -> Telemetry {
        guard let f = slot(foot) else {
            return Telemetry(foot: foot, position: .home, pressureKPa: nil, contactForceN: nil, footPresent: false)
        }
        let p = physics[f]
        var readings: [String: Double] = Dictionary(minimumCapacity: channelNames.count)
        var peak = 0.0
        for (i, c) in p.channels.enumerated() {
            let value = max(0, c.pressure + (noise ? random.gaussian() * 0.3 : 0))
            readings[channelNames[i]] = value
            peak = max(peak, value)
        }
        let force = p.present ? peak * 1000 * Self.contactAreaM2 + (noise ? abs(random.gaussian() * 0.05) : 0) : 0
        return Telemetry(foot: foot, position: p.position, pressureKPa: sensorFault ? nil : readings,
                         contactForceN: hasForceSensor ? force : nil, footPresent: p.present)
    }
}

/// Rest-to-rest motion along a straight line: accelerate, cruise, decelerate.
enum TrapezoidProfile {
    /// Distance covered `t` seconds after starting a move of `total` mm.
    static func distance(after t: Double, total: Double, limits: AxisLimits) -> Double {
        guard t > 0 else { return 0 }
        let a = limits.maxAccel
        var v = limits.maxSpeed
        var accelTime = v / a
        if v * accelTime > total {   // never reaches cruise: triangular profile
            accelTime = (total / a).squareRoot()
            v = a * accelTime
        }
        let accelDistance = 0.5 * a * accelTime * accelTime
        let cruiseTime = (total - 2 * accelDistance) / v
        if t < accelTime { return 0.5 * a * t * t }
        if t < accelTime + cruiseTime { return accelDistance + v * (t - accelTime) }
        let d = t - accelTime - cruiseTime
        if d < accelTime { return total - 0.5 * a * (accelTime - d) * (accelTime - d) }
        return total
    }
}

/// A small, fast, seedable generator (SplitMix64) so noisy runs are reproducible anywhere.
struct SplitMix64: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    mutating func unit() -> Double { (Double(next() >> 11) + 1) / Double(1 << 53) }

    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        (-2 * log(unit())).squareRoot() * cos(2 * .pi * unit())
    }
}
