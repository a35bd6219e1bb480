import PlantarCore
@testable import PlantarWire

/// Bit by bit, straight from the definition (poly 0x1021, init 0xFFFF, MSB first): an
/// implementation independent of the library's table, to check it and the decoder against.
func referenceCRC(_ bytes: some Sequence<UInt8>) -> UInt16 {
    var crc: UInt16 = 0xFFFF
    for byte in bytes {
        crc ^= UInt16(byte) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
    }
    return crc
}

/// Whether `bytes` is a well-formed frame by the document's rules, checked independently.
func isWellFormedFrame(_ bytes: [UInt8]) -> Bool {
    guard let length = bytes.first, Int(length) == bytes.count,
          (5...64).contains(bytes.count), bytes.last == 0x7E else { return false }
    let crc = referenceCRC(bytes[0..<(bytes.count - 3)])
    return bytes[bytes.count - 3] == UInt8(crc >> 8) && bytes[bytes.count - 2] == UInt8(crc & 0xFF)
}

/// Whether `needle` occurs contiguously in `haystack`.
func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
    }
    return false
}

/// `"0D 05 14"` → bytes; nil when the text is not hex pairs.
func bytes(hex text: some StringProtocol) -> [UInt8]? {
    var result: [UInt8] = []
    for token in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        guard token.count == 2, let byte = UInt8(token, radix: 16) else { return nil }
        result.append(byte)
    }
    return result
}

/// A small deterministic generator for building structured inputs from one seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ShortText {
    /// For tests: literal text known to fit.
    init(fitting text: String) { try! self.init(text) }
}

/// At least one message of every type, including the largest layouts.
let sampleMessages: [WireMessage] = {
    let reference = try! Capabilities(feet: [.left, .right], axes: [.u, .v], channelsPerFoot: 1,
                                      features: [.discomfortSwitch, .easeButton, .footPresence, .pressureSensor,
                                                 .forceSensor, .homeSwitches])
    let zoned = try! Capabilities(feet: [.left], axes: [], channelsPerFoot: 16, features: [])
    return [
        .ack(next: 0), .ack(next: 255), .nak(expected: 17),
        .hello(version: 1), .identify, .heartbeat, .arm,
        .move(foot: .right, u: FixedLength(raw: 12000), v: FixedLength(raw: 3550), speed: FixedSpeed(raw: 400)),
        .move(foot: .left, u: FixedLength(raw: .max), v: FixedLength(raw: 0), speed: FixedSpeed(raw: 0)),
        .pressure(foot: .left, channel: 0, pressure: FixedPressure(raw: 425), ramp: FixedRamp(raw: 1500)),
        .pressure(foot: .right, channel: 255, pressure: FixedPressure(raw: .max), ramp: FixedRamp(raw: .max)),
        .release(foot: .left, channel: 0), .release(foot: .right, channel: 8),
        .heat(foot: .left, on: true, target: FixedTemperature(raw: 380)),
        .heat(foot: .right, on: false, target: FixedTemperature(raw: 0)),
        .emergencyRelease,
        .helloReply(HelloReply(identity: ShortText(fitting: "plantar-sim reference"), capabilities: reference)),
        .helloReply(HelloReply(version: 7, identity: ShortText(fitting: String(repeating: "é", count: 16)),
                               capabilities: zoned)),
        .telemetry(try! BoardTelemetry(foot: .right, u: FixedLength(raw: 12000), v: FixedLength(raw: 3550),
                                       pressures: [FixedPressure(raw: 418)], force: FixedForce(raw: 125),
                                       footPresent: true, switchPressed: false, latched: false, heatOn: false)),
        .telemetry(try! BoardTelemetry(foot: .left, u: FixedLength(raw: 0), v: FixedLength(raw: 0),
                                       pressures: nil, force: nil, footPresent: false, switchPressed: true,
                                       latched: true, heatOn: true)),
        .telemetry(try! BoardTelemetry(foot: .left, u: FixedLength(raw: .max), v: FixedLength(raw: .max),
                                       pressures: Array(repeating: FixedPressure(raw: .max), count: 16),
                                       force: FixedForce(raw: .max), footPresent: true, switchPressed: true,
                                       latched: true, heatOn: true)),
        .switchPressed(alreadyReleased: true), .switchPressed(alreadyReleased: false),
        .switchReleased, .easeButton,
        .limitSwitch(foot: .left, axis: .v, end: .far), .limitSwitch(foot: .right, axis: .u, end: .home),
        .fault(code: .overPressure, detail: ShortText(fitting: "channel 0 at 105.2 kPa")),
        .fault(code: FaultCode(rawValue: 0xC3), detail: ShortText(fitting: String(repeating: "x", count: 32))),
        .fault(code: .internalError, detail: ShortText(fitting: "")),
        .boardReset(cause: .powerOn), .boardReset(cause: ResetCause(rawValue: 0x42)),
        .leaseExpired,
    ]
}()
