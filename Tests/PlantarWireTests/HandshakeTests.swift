import PlantarCore
import Testing
@testable import PlantarWire

/// The reference gantry and the zoned device of Config/devices, as far as the handshake looks.
let referenceProfile = DeviceProfile(
    name: "reference", title: "Reference gantry", kind: .gantry, heelOffsetMM: 10, reach: [.sole],
    uAxis: AxisLimits(travelMM: 300, stepsPerMM: 80, maxSpeed: 60, maxAccel: 400),
    vAxis: AxisLimits(travelMM: 110, stepsPerMM: 80, maxSpeed: 40, maxAccel: 300),
    pressure: PressureLimits(maxKPa: 100, maxRampKPaPerS: 150, pumpTimeConstant: 0.25, valveTimeConstant: 0.06,
                             sensorRateHz: 100),
    inputs: Set(DeviceInput.allCases), serial: SerialLink(port: "/dev/ttyUSB0", baud: 250000),
    file: "Config/devices/reference.yaml")

let zonedProfile = DeviceProfile(
    name: "zoned", title: "Zoned", kind: .zoned, heelOffsetMM: 5, reach: [.sole], uAxis: nil, vAxis: nil,
    pressure: PressureLimits(maxKPa: 80, maxRampKPaPerS: 80, pumpTimeConstant: 0.5, valveTimeConstant: 0.12,
                             sensorRateHz: 50),
    nodes: ["heel", "arch", "ball"].map { ZonedNode(id: $0, surface: .sole, u: 0...70, v: 0...120) },
    inputs: [.discomfortSwitch, .easeButton, .footPresence, .pressureSensor],
    file: "Config/devices/zoned.yaml")

@Suite struct HandshakeTests {
    func reply(version: UInt8 = 1, _ capabilities: Capabilities) -> HelloReply {
        HelloReply(version: version, identity: ShortText(fitting: "test board"), capabilities: capabilities)
    }

    @Test func aBoardBuiltToTheProfileMatches() throws {
        #expect(Handshake.mismatch(reply(try Capabilities(profile: referenceProfile)), profile: referenceProfile) == nil)
        #expect(Handshake.mismatch(reply(try Capabilities(profile: zonedProfile)), profile: zonedProfile) == nil)
        // More than the profile needs is fine (heat, an unused sensor).
        var extra = try Capabilities(profile: zonedProfile, extra: [.heat, .forceSensor])
        extra.feet = [.left, .right]
        #expect(Handshake.mismatch(reply(extra), profile: zonedProfile) == nil)
    }

    @Test func versionMismatchIsNamed() throws {
        let message = try #require(Handshake.mismatch(reply(version: 2, try Capabilities(profile: referenceProfile)),
                                                      profile: referenceProfile))
        #expect(message.contains("protocol version 2, this host speaks 1"))
        #expect(message.hasPrefix("board \"test board\" does not match device profile 'reference' (Config/devices/reference.yaml)"))
    }

    @Test func gantryProfileOnABoardWithoutAxes() throws {
        let board = try Capabilities(profile: zonedProfile)
        let message = try #require(Handshake.mismatch(reply(board), profile: referenceProfile))
        #expect(message.contains("the profile is a gantry moving on axes u and v, the board has no axes"))
        #expect(message.contains("the profile has 1 pressure channel per foot (node), the board has 3"))
        #expect(message.contains("force-sensor, home-switches but the board reports them missing"))
    }

    /// The example in docs/serial-protocol.md §8, word for word.
    @Test func documentedExample() throws {
        let board = HelloReply(identity: ShortText(fitting: "plantar-sim zoned"), capabilities: try Capabilities(
            feet: [.left, .right], axes: [], channelsPerFoot: 9,
            features: [.discomfortSwitch, .easeButton, .footPresence, .pressureSensor]))
        #expect(Handshake.mismatch(board, profile: referenceProfile) == "board \"plantar-sim zoned\" does not match "
            + "device profile 'reference' (Config/devices/reference.yaml): the profile is a gantry moving on axes u "
            + "and v, the board has no axes; the profile has 1 pressure channel per foot (node), the board has 9; "
            + "the profile lists force-sensor, home-switches but the board reports them missing")
    }

    @Test func zonedProfileOnAGantryBoard() throws {
        let message = try #require(Handshake.mismatch(reply(try Capabilities(profile: referenceProfile)),
                                                      profile: zonedProfile))
        #expect(message.contains("zoned device with no moving node, the board has axes u and v"))
        #expect(message.contains("3 pressure channels per foot (heel, arch, ball), the board has 1"))
    }

    @Test func missingFootAndSingleAxis() throws {
        let board = try Capabilities(feet: [.right], axes: [.u], channelsPerFoot: 1,
                                     features: Capabilities(profile: referenceProfile).features)
        let message = try #require(Handshake.mismatch(reply(board), profile: referenceProfile))
        #expect(message.contains("the profile uses the left foot, the board drives right"))
        #expect(message.contains("the board has no v axis"))
    }

    @Test func missingSwitchIsNamed() throws {
        var board = try Capabilities(profile: referenceProfile)
        board.features.remove(.discomfortSwitch)
        let message = try #require(Handshake.mismatch(reply(board), profile: referenceProfile))
        #expect(message.hasSuffix("the profile lists discomfort-switch but the board reports it missing"))
    }
}
