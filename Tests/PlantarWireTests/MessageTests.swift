import PlantarCore
import PropertyBased
import Testing
@testable import PlantarWire

@Suite struct MessageTests {
    @Test func samplesCoverEveryMessageType() {
        let covered = Set(sampleMessages.map(\.type))
        #expect(covered == Set(MessageType.allCases))
    }

    @Test(arguments: sampleMessages)
    func roundTrips(_ message: WireMessage) throws {
        let payload = message.encode()
        #expect(payload.first == message.type.rawValue)
        #expect(payload.count <= WireProtocol.maxPayloadLength)
        #expect(try WireMessage.decode(payload) == message)
        // Through a frame as well.
        let frame = Frame(sequence: 9, message: message)
        var decoder = FrameDecoder()
        let frames = decoder.feed(frame.encode())
        #expect(frames == [frame])
        #expect(try frames.first?.message() == message)
    }

    @Test func typeCodesAreGroupedByDirectionAndAvoidTheSyncByte() {
        for type in MessageType.allCases {
            #expect(type.rawValue != WireProtocol.sync)
            switch type {
            case .ack, .nak: #expect(type.direction == .both)
            case .hello, .identify, .heartbeat, .arm, .move, .pressure, .release, .heat, .emergencyRelease:
                #expect(type.direction == .hostToBoard)
            default: #expect(type.direction == .boardToHost)
            }
        }
    }

    @Test func layoutsAreLittleEndian() {
        let move = WireMessage.move(foot: .right, u: FixedLength(raw: 0x2EE0), v: FixedLength(raw: 0x0DDE),
                                    speed: FixedSpeed(raw: 0x0190))
        #expect(move.encode() == [0x14, 0x01, 0xE0, 0x2E, 0xDE, 0x0D, 0x90, 0x01])
        let pressure = WireMessage.pressure(foot: .left, channel: 2, pressure: FixedPressure(raw: 0x01A9),
                                            ramp: FixedRamp(raw: 0x05DC))
        #expect(pressure.encode() == [0x15, 0x00, 0x02, 0xA9, 0x01, 0xDC, 0x05])
    }

    @Test func decodeErrorsArePrecise() {
        #expect(throws: WireError.emptyPayload) { try WireMessage.decode([]) }
        #expect(throws: WireError.unknownMessageType(0x33)) { try WireMessage.decode([0x33]) }
        #expect(throws: WireError.shortPayload(type: .move, needed: 6, actual: 5)) {
            try WireMessage.decode([0x14, 0x01, 0xE0, 0x2E, 0xDE])
        }
        #expect(throws: WireError.longPayload(type: .heartbeat, expected: 1, actual: 2)) {
            try WireMessage.decode([0x12, 0x00])
        }
        #expect(throws: WireError.valueOutOfRange(field: "foot", value: 2)) {
            try WireMessage.decode([0x16, 0x02, 0x00])
        }
        #expect(throws: WireError.valueOutOfRange(field: "already released", value: 7)) {
            try WireMessage.decode([0x50, 0x07])
        }
        #expect(throws: WireError.valueOutOfRange(field: "telemetry flags", value: 0x40)) {
            try WireMessage.decode([0x41, 0x00, 0x40, 0, 0, 0, 0, 0, 0, 0])
        }
        // Pressures present without the valid flag.
        #expect(throws: WireError.valueOutOfRange(field: "pressure channel count", value: 1)) {
            try WireMessage.decode([0x41, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 1, 0, 0])
        }
        #expect(throws: WireError.valueOutOfRange(field: "axis", value: 2)) {
            try WireMessage.decode([0x53, 0x00, 0x02, 0x00])
        }
        #expect(throws: WireError.valueOutOfRange(field: "features", value: 0x80)) {
            try WireMessage.decode([0x40, 1, 3, 3, 1, 0x80, 0x00, 0])
        }
        #expect(throws: WireError.invalidText) { try WireMessage.decode([0x54, 0x01, 0x02, 0xC3, 0x28]) }
        #expect(throws: WireError.textTooLong(bytes: 33)) {
            try WireMessage.decode([0x54, 0x01, 33] + Array(repeating: 0x41, count: 33))
        }
        #expect(throws: WireError.shortPayload(type: .fault, needed: 8, actual: 5)) {
            try WireMessage.decode([0x54, 0x01, 0x05, 0x41, 0x42])
        }
    }

    /// Every payload that decodes re-encodes to the same bytes: one encoding per message, so
    /// a corrupted byte can never produce a different-but-equal message.
    @Test func encodingIsCanonical() async {
        let encodings = sampleMessages.map { $0.encode() }
        await propertyCheck(count: 3000, input: Gen<Int>.int(in: 0...(encodings.count - 1)),
                            Gen<Int>.int(in: 0...63), Gen<UInt8>.value(in: 0...255)) { which, position, value in
            var payload = encodings[which]
            payload[position % payload.count] = value
            if let message = try? WireMessage.decode(payload) {
                #expect(message.encode() == payload)
            }
        }
    }

    @Test func quantitiesRoundToTheirStepAndRefuseWhatTheWireCannotCarry() throws {
        #expect(try FixedLength(120.004).raw == 12000)
        #expect(try FixedLength(120.006).raw == 12001)
        #expect(try FixedPressure(42.5).raw == 425)
        #expect(try FixedRamp(0.1).value == 0.1)
        #expect(try FixedPressure(42.5).description == "42.5 kPa")
        #expect(throws: WireError.quantityOutOfRange(quantity: "position", value: -1, maximum: 655.35)) {
            try FixedLength(-1)
        }
        #expect(throws: WireError.self) { try FixedPressure(.nan) }
        #expect(throws: WireError.self) { try FixedSpeed(.infinity) }
        #expect(throws: WireError.self) { try FixedPressure(6553.6) }
        #expect(try FixedPressure(6553.5).raw == .max)
        #expect(FixedLength(clamping: -0.003).raw == 0)
        #expect(FixedForce(clamping: 1e9).raw == .max)
        #expect(FixedForce(clamping: .nan).raw == 0)
    }

    @Test func textIsLimitedAndTruncatesAtCharacterBoundaries() throws {
        #expect(throws: WireError.textTooLong(bytes: 33)) { try ShortText(String(repeating: "a", count: 33)) }
        let cut = ShortText(truncating: String(repeating: "é", count: 20))   // 2 bytes each
        #expect(cut.bytes.count == 32)
        #expect(cut.text == String(repeating: "é", count: 16))
    }

    @Test func telemetryRefusesMoreChannelsThanTheWireCarries() {
        #expect(throws: WireError.tooManyChannels(17)) {
            try BoardTelemetry(foot: .left, u: FixedLength(raw: 0), v: FixedLength(raw: 0),
                               pressures: Array(repeating: FixedPressure(raw: 0), count: 17), force: nil,
                               footPresent: false, switchPressed: false, latched: false, heatOn: false)
        }
    }

    @Test func descriptionsAreStable() {
        #expect(WireMessage.move(foot: .right, u: FixedLength(raw: 12000), v: FixedLength(raw: 3550),
                                 speed: FixedSpeed(raw: 400)).description
                == "move(foot: right, u: 120.00 mm, v: 35.50 mm, speed: 40.0 mm/s)")
        #expect(WireMessage.emergencyRelease.description == "emergency-release")
        #expect(WireMessage.fault(code: FaultCode(rawValue: 0xC3), detail: ShortText(fitting: "x")).description
                == "fault(code: fault-0xC3, detail: \"x\")")
    }
}

@Suite struct CoreMappingTests {
    let channels = ["node"]

    @Test func setpointsMapToTheWireAndBack() throws {
        let commands: [ActuatorCommand] = [
            .move(to: DevicePoint(u: 120, v: 35.5), speed: 40),
            .pressure(channel: "node", kPa: 42.5, ramp: 150),
            .release(channel: "node"),
        ]
        for command in commands {
            let message = try WireMessage(command, foot: .left, channels: channels)
            let back = try #require(message.actuatorCommand(channels: channels))
            #expect(back.foot == .left)
            #expect(back.command == command)
        }
    }

    @Test func unknownChannelsAndUnsendableValuesAreErrors() {
        #expect(throws: WireError.unknownChannel("heel")) {
            try WireMessage(.release(channel: "heel"), foot: .left, channels: channels)
        }
        #expect(throws: WireError.self) {
            try WireMessage(.pressure(channel: "node", kPa: -3, ramp: 10), foot: .left, channels: channels)
        }
    }

    @Test func telemetryMapsToCoreTelemetry() throws {
        let core = Telemetry(foot: .right, position: DevicePoint(u: 120, v: 35.5), pressureKPa: ["node": 41.8],
                             contactForceN: 12.5, footPresent: true)
        let wire = try BoardTelemetry(core, channels: channels, switchPressed: false, latched: true)
        #expect(wire.latched)
        #expect(wire.telemetry(channels: channels) == core)
        let unreadable = Telemetry(foot: .left, position: DevicePoint(u: -0.001, v: 0), pressureKPa: nil,
                                   contactForceN: nil, footPresent: false)
        let back = try BoardTelemetry(unreadable, channels: channels, switchPressed: true, latched: true)
            .telemetry(channels: channels)
        #expect(back.pressureKPa == nil)
        #expect(back.contactForceN == nil)
        #expect(back.position == DevicePoint(u: 0, v: 0))
    }

    @Test func faultsBecomeDeviceFaults() {
        #expect(DeviceFault(code: .overPressure, detail: ShortText(fitting: "105 kPa"))
                == DeviceFault(code: "over-pressure", detail: "105 kPa"))
    }
}
