import PlantarCore

// Payload layouts. Integers of more than one byte are little-endian; a "bool" byte is 0 or 1;
// a foot byte is 0 (left) or 1 (right); text is a length byte and that many bytes of UTF-8.
// docs/serial-protocol.md has the same layouts as tables, with examples.

extension WireMessage {
    /// The payload bytes: the type byte, then the fields.
    public func encode() -> [UInt8] {
        var w = PayloadWriter(type)
        switch self {
        case .ack(let next):
            w.u8(next)
        case .nak(let expected):
            w.u8(expected)
        case .hello(let version):
            w.u8(version)
        case .identify, .heartbeat, .arm, .emergencyRelease, .switchReleased, .easeButton, .leaseExpired:
            break
        case .move(let foot, let u, let v, let speed):
            w.foot(foot)
            w.u16(u.raw)
            w.u16(v.raw)
            w.u16(speed.raw)
        case .pressure(let foot, let channel, let pressure, let ramp):
            w.foot(foot)
            w.u8(channel)
            w.u16(pressure.raw)
            w.u16(ramp.raw)
        case .release(let foot, let channel):
            w.foot(foot)
            w.u8(channel)
        case .heat(let foot, let on, let target):
            w.foot(foot)
            w.bool(on)
            w.u16(target.raw)
        case .helloReply(let reply):
            let c = reply.capabilities
            w.u8(reply.version)
            w.u8((c.feet.contains(.left) ? 1 : 0) | (c.feet.contains(.right) ? 2 : 0))
            w.u8((c.axes.contains(.u) ? 1 : 0) | (c.axes.contains(.v) ? 2 : 0))
            w.u8(UInt8(c.channelsPerFoot))
            w.u16(c.features.rawValue)
            w.text(reply.identity)
        case .telemetry(let t):
            w.foot(t.foot)
            w.u8(TelemetryFlags(t).rawValue)
            w.u16(t.u.raw)
            w.u16(t.v.raw)
            w.u16(t.force?.raw ?? 0)
            w.u8(UInt8(t.pressures?.count ?? 0))
            for p in t.pressures ?? [] { w.u16(p.raw) }
        case .switchPressed(let alreadyReleased):
            w.bool(alreadyReleased)
        case .limitSwitch(let foot, let axis, let end):
            w.foot(foot)
            w.u8(axis.rawValue)
            w.u8(end.rawValue)
        case .fault(let code, let detail):
            w.u8(code.rawValue)
            w.text(detail)
        case .boardReset(let cause):
            w.u8(cause.rawValue)
        }
        return w.bytes
    }

    /// The message in `payload` (a frame's payload: type byte first).
    /// - Throws: `WireError.emptyPayload`, `.unknownMessageType`, `.shortPayload` or
    ///   `.longPayload` when the bytes do not match the type's layout, `.valueOutOfRange`
    ///   for a field value the layout does not allow, `.textTooLong` or `.invalidText`.
    public static func decode(_ payload: ArraySlice<UInt8>) throws(WireError) -> WireMessage {
        guard let code = payload.first else { throw .emptyPayload }
        guard let type = MessageType(rawValue: code) else { throw .unknownMessageType(code) }
        var r = PayloadReader(type: type, payload: payload)
        let message: WireMessage
        switch type {
        case .ack:
            message = .ack(next: try r.u8())
        case .nak:
            message = .nak(expected: try r.u8())
        case .hello:
            message = .hello(version: try r.u8())
        case .identify:
            message = .identify
        case .heartbeat:
            message = .heartbeat
        case .arm:
            message = .arm
        case .move:
            message = .move(foot: try r.foot(), u: FixedLength(raw: try r.u16()), v: FixedLength(raw: try r.u16()),
                            speed: FixedSpeed(raw: try r.u16()))
        case .pressure:
            message = .pressure(foot: try r.foot(), channel: try r.u8(), pressure: FixedPressure(raw: try r.u16()),
                                ramp: FixedRamp(raw: try r.u16()))
        case .release:
            message = .release(foot: try r.foot(), channel: try r.u8())
        case .heat:
            message = .heat(foot: try r.foot(), on: try r.bool("heat on"), target: FixedTemperature(raw: try r.u16()))
        case .emergencyRelease:
            message = .emergencyRelease
        case .helloReply:
            let version = try r.u8()
            let feetBits = try r.u8()
            guard feetBits & ~0x03 == 0 else { throw .valueOutOfRange(field: "feet", value: Int(feetBits)) }
            let axisBits = try r.u8()
            guard axisBits & ~0x03 == 0 else { throw .valueOutOfRange(field: "axes", value: Int(axisBits)) }
            let channels = try r.u8()
            guard channels <= WireProtocol.maxChannelsPerFoot else {
                throw .valueOutOfRange(field: "channels per foot", value: Int(channels))
            }
            let featureBits = try r.u16()
            guard featureBits & ~Capabilities.Features.defined == 0 else {
                throw .valueOutOfRange(field: "features", value: Int(featureBits))
            }
            let identity = try r.text()
            var feet: Set<Foot> = []
            if feetBits & 1 != 0 { feet.insert(.left) }
            if feetBits & 2 != 0 { feet.insert(.right) }
            var axes: Set<Axis> = []
            if axisBits & 1 != 0 { axes.insert(.u) }
            if axisBits & 2 != 0 { axes.insert(.v) }
            let capabilities = try Capabilities(feet: feet, axes: axes, channelsPerFoot: Int(channels),
                                                features: .init(rawValue: featureBits))
            message = .helloReply(HelloReply(version: version, identity: identity, capabilities: capabilities))
        case .telemetry:
            let foot = try r.foot()
            let flagBits = try r.u8()
            guard flagBits & ~TelemetryFlags.defined == 0 else {
                throw .valueOutOfRange(field: "telemetry flags", value: Int(flagBits))
            }
            let flags = TelemetryFlags(rawValue: flagBits)
            let u = FixedLength(raw: try r.u16())
            let v = FixedLength(raw: try r.u16())
            let forceRaw = try r.u16()
            guard flags.contains(.forceValid) || forceRaw == 0 else {
                throw .valueOutOfRange(field: "force without its valid flag", value: Int(forceRaw))
            }
            let count = try r.u8()
            guard count <= WireProtocol.maxChannelsPerFoot, flags.contains(.pressureValid) || count == 0 else {
                throw .valueOutOfRange(field: "pressure channel count", value: Int(count))
            }
            var pressures: [FixedPressure] = []
            for _ in 0..<count { pressures.append(FixedPressure(raw: try r.u16())) }
            message = .telemetry(try BoardTelemetry(
                foot: foot, u: u, v: v,
                pressures: flags.contains(.pressureValid) ? pressures : nil,
                force: flags.contains(.forceValid) ? FixedForce(raw: forceRaw) : nil,
                footPresent: flags.contains(.footPresent), switchPressed: flags.contains(.switchPressed),
                latched: flags.contains(.latched), heatOn: flags.contains(.heatOn)))
        case .switchPressed:
            message = .switchPressed(alreadyReleased: try r.bool("already released"))
        case .switchReleased:
            message = .switchReleased
        case .easeButton:
            message = .easeButton
        case .limitSwitch:
            let foot = try r.foot()
            let axisByte = try r.u8()
            guard let axis = Axis(rawValue: axisByte) else { throw .valueOutOfRange(field: "axis", value: Int(axisByte)) }
            let endByte = try r.u8()
            guard let end = AxisEnd(rawValue: endByte) else { throw .valueOutOfRange(field: "axis end", value: Int(endByte)) }
            message = .limitSwitch(foot: foot, axis: axis, end: end)
        case .fault:
            message = .fault(code: FaultCode(rawValue: try r.u8()), detail: try r.text())
        case .boardReset:
            message = .boardReset(cause: ResetCause(rawValue: try r.u8()))
        case .leaseExpired:
            message = .leaseExpired
        }
        try r.finish()
        return message
    }

    /// `decode(_:)` for a whole array.
    public static func decode(_ payload: [UInt8]) throws(WireError) -> WireMessage {
        try decode(payload[...])
    }
}

/// The telemetry flag byte. Bits 6 and 7 are reserved and must be 0.
struct TelemetryFlags: OptionSet {
    let rawValue: UInt8

    static let footPresent = TelemetryFlags(rawValue: 1 << 0)
    static let switchPressed = TelemetryFlags(rawValue: 1 << 1)
    static let latched = TelemetryFlags(rawValue: 1 << 2)
    static let heatOn = TelemetryFlags(rawValue: 1 << 3)
    static let pressureValid = TelemetryFlags(rawValue: 1 << 4)
    static let forceValid = TelemetryFlags(rawValue: 1 << 5)
    static let defined: UInt8 = 0x3F

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ t: BoardTelemetry) {
        var flags: TelemetryFlags = []
        if t.footPresent { flags.insert(.footPresent) }
        if t.switchPressed { flags.insert(.switchPressed) }
        if t.latched { flags.insert(.latched) }
        if t.heatOn { flags.insert(.heatOn) }
        if t.pressures != nil { flags.insert(.pressureValid) }
        if t.force != nil { flags.insert(.forceValid) }
        self = flags
    }
}

private struct PayloadWriter {
    var bytes: [UInt8]

    init(_ type: MessageType) {
        bytes = [type.rawValue]
        bytes.reserveCapacity(16)
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value & 0xFF))
        bytes.append(UInt8(value >> 8))
    }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func foot(_ foot: Foot) { bytes.append(foot == .left ? 0 : 1) }
    mutating func text(_ text: ShortText) {
        let utf8 = text.bytes
        bytes.append(UInt8(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

private struct PayloadReader {
    let type: MessageType
    let payload: ArraySlice<UInt8>
    /// Next byte to read; starts after the type byte.
    var index: Int

    init(type: MessageType, payload: ArraySlice<UInt8>) {
        self.type = type
        self.payload = payload
        self.index = payload.startIndex + 1
    }

    private var consumed: Int { index - payload.startIndex }

    mutating func take(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard payload.endIndex - index >= count else {
            throw .shortPayload(type: type, needed: consumed + count, actual: payload.count)
        }
        defer { index += count }
        return payload[index..<(index + count)]
    }

    mutating func u8() throws(WireError) -> UInt8 {
        try take(1).first!
    }

    mutating func u16() throws(WireError) -> UInt16 {
        let b = try take(2)
        return UInt16(b[b.startIndex]) | UInt16(b[b.startIndex + 1]) << 8
    }

    mutating func bool(_ field: String) throws(WireError) -> Bool {
        let value = try u8()
        guard value <= 1 else { throw .valueOutOfRange(field: field, value: Int(value)) }
        return value == 1
    }

    mutating func foot() throws(WireError) -> Foot {
        let value = try u8()
        switch value {
        case 0: return .left
        case 1: return .right
        default: throw .valueOutOfRange(field: "foot", value: Int(value))
        }
    }

    mutating func text() throws(WireError) -> ShortText {
        let count = try u8()
        guard count <= WireProtocol.maxTextLength else { throw .textTooLong(bytes: Int(count)) }
        return try ShortText.decode(try take(Int(count)))
    }

    func finish() throws(WireError) {
        guard index == payload.endIndex else {
            throw .longPayload(type: type, expected: consumed, actual: payload.count)
        }
    }
}
