import PlantarCore

// Between PlantarCore's values (doubles, channel names) and the wire's (fixed point, channel
// indices). Channel `i` on the wire is `profile.channels[i]`.

extension WireMessage {
    /// The wire form of a governed setpoint for `foot`.
    /// - Parameter channels: the profile's channel names (`DeviceProfile.channels`).
    /// - Throws: `WireError.quantityOutOfRange` for a value the wire cannot carry (never
    ///   clamped: the governor decides values, not the encoder), `.unknownChannel`.
    public init(_ command: ActuatorCommand, foot: Foot, channels: [String]) throws(WireError) {
        switch command {
        case .move(let to, let speed):
            self = .move(foot: foot, u: try FixedLength(to.u), v: try FixedLength(to.v), speed: try FixedSpeed(speed))
        case .pressure(let channel, let kPa, let ramp):
            self = .pressure(foot: foot, channel: try channelIndex(channel, in: channels),
                             pressure: try FixedPressure(kPa), ramp: try FixedRamp(ramp))
        case .release(let channel):
            self = .release(foot: foot, channel: try channelIndex(channel, in: channels))
        }
    }

    /// The setpoint a host message asks for, for a board emulator: nil for messages that are
    /// not setpoints (and for heat, which `ActuatorCommand` does not model) or name a channel
    /// index beyond `channels`.
    public func actuatorCommand(channels: [String]) -> (foot: Foot, command: ActuatorCommand)? {
        switch self {
        case .move(let foot, let u, let v, let speed):
            return (foot, .move(to: DevicePoint(u: u.value, v: v.value), speed: speed.value))
        case .pressure(let foot, let channel, let pressure, let ramp):
            guard Int(channel) < channels.count else { return nil }
            return (foot, .pressure(channel: channels[Int(channel)], kPa: pressure.value, ramp: ramp.value))
        case .release(let foot, let channel):
            guard Int(channel) < channels.count else { return nil }
            return (foot, .release(channel: channels[Int(channel)]))
        default:
            return nil
        }
    }
}

private func channelIndex(_ name: String, in channels: [String]) throws(WireError) -> UInt8 {
    guard let index = channels.firstIndex(of: name) else { throw .unknownChannel(name) }
    guard index < WireProtocol.maxChannelsPerFoot else { throw .tooManyChannels(channels.count) }
    return UInt8(index)
}

extension BoardTelemetry {
    /// The sample in PlantarCore's terms; channels past the end of `channels` are dropped
    /// (the handshake has already checked that the counts agree).
    public func telemetry(channels: [String]) -> Telemetry {
        let kPa = pressures.map { values in
            Dictionary(zip(channels, values.map(\.value)), uniquingKeysWith: { first, _ in first })
        }
        return Telemetry(foot: foot, position: DevicePoint(u: u.value, v: v.value), pressureKPa: kPa,
                         contactForceN: force?.value, footPresent: footPresent)
    }

    /// A board emulator's sample of `telemetry`. Measurements are clamped into the wire's
    /// range (a position a hair below zero reads 0) rather than refused.
    /// - Throws: `WireError.tooManyChannels`.
    public init(_ telemetry: Telemetry, channels: [String], switchPressed: Bool, latched: Bool,
                heatOn: Bool = false) throws(WireError) {
        let pressures = telemetry.pressureKPa.map { kPa in
            channels.map { FixedPressure(clamping: kPa[$0] ?? 0) }
        }
        try self.init(foot: telemetry.foot, u: FixedLength(clamping: telemetry.position.u),
                      v: FixedLength(clamping: telemetry.position.v), pressures: pressures,
                      force: telemetry.contactForceN.map { FixedForce(clamping: $0) },
                      footPresent: telemetry.footPresent, switchPressed: switchPressed, latched: latched,
                      heatOn: heatOn)
    }
}

extension DeviceFault {
    /// A fault the board reported, named as the protocol document names it.
    public init(code: FaultCode, detail: ShortText) {
        self.init(code: code.name, detail: detail.text)
    }
}
