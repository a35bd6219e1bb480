import Foundation
import PlantarAPI
import PlantarConfig
import PlantarCore
import PlantarSimulator
import PlantarWire

/// Every input Plantar takes from outside, one harness each. A harness runs its input the
/// whole way a real caller would (a routine through to a timeline, a device profile through
/// to a compile on it, bytes through the link state machines) and ignores the errors it is
/// meant to produce: only a trap, a sanitizer report or a broken invariant is a finding.
enum FuzzSurface: String, CaseIterable, Sendable {
    /// A routine file, checked against the shipped foot map and compiled for both shipped profiles.
    case routine
    /// A device profile, and the shipped routine compiled on it.
    case deviceProfile = "device-profile"
    /// A foot map, and the shipped routine checked and compiled against it.
    case footMap = "foot-map"
    /// `plantard.yaml`, and a session start under it.
    case daemonConfig = "daemon-config"
    /// `KIND@TIME` events of the simulator (`--event`) and of the board emulator.
    case scriptedEvent = "scripted-event"
    /// Raw bytes from a serial line: the frame decoder, in chunks, and the codec on every frame.
    case wireFrames = "wire-frames"
    /// Frames from a board, fed to the host's link state machine (see `WireRecords`).
    case wireHost = "wire-host"
    /// Frames from a host, fed to the board's link state machine (see `WireRecords`).
    case wireBoard = "wire-board"
    /// A `POST /v1/sessions` body: decoded and checked as the daemon does, without running it.
    case apiStart = "api-start"

    func run(_ input: [UInt8]) {
        switch self {
        case .routine: Harness.routine(text(input))
        case .deviceProfile: Harness.deviceProfile(text(input))
        case .footMap: Harness.footMap(text(input))
        case .daemonConfig: Harness.daemonConfig(text(input))
        case .scriptedEvent: Harness.scriptedEvent(text(input))
        case .wireFrames: Harness.wireFrames(input)
        case .wireHost: Harness.wireHost(input)
        case .wireBoard: Harness.wireBoard(input)
        case .apiStart: Harness.apiStart(input)
        }
    }

    /// Files reach the loaders as text; invalid UTF-8 is repaired rather than skipped, so
    /// every input gets as far as the parser.
    private func text(_ input: [UInt8]) -> String { String(decoding: input, as: UTF8.self) }
}

/// The shipped files the harnesses check fuzzed input against, read once per process.
struct ShippedFiles: Sendable {
    let map: FootMap
    /// `reference` (gantry) and `zoned`: the two kinds of device.
    let profiles: [DeviceProfile]
    let routineText: String
    let routine: Routine
    let library: ConfigLibrary
    /// What an emulated board announces, for the board-side harness.
    let boardIdentity: HelloReply

    /// The checkout's `Config/` (this file is Sources/plantar-fuzz/Surfaces.swift).
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config").path

    static let shared: ShippedFiles = {
        // Only the checkout's files: nothing installed on the machine changes what a run does.
        let library = ConfigLibrary(dataDirectories: [directory])
        do {
            let map = try library.loadFootMap()
            let profiles = try ["reference", "zoned"].map { name throws(LoadError) in try library.loadDevice(name) }
            let path = try library.programPath("back-pain")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let (routine, _) = try library.loadRoutine("back-pain", map: map)
            let identity = HelloReply(identity: ShortText(truncating: "plantar-fuzz"),
                                      capabilities: try Capabilities(profile: profiles[0]))
            return ShippedFiles(map: map, profiles: profiles, routineText: text, routine: routine, library: library,
                                boardIdentity: identity)
        } catch {
            fatalError("plantar-fuzz: the shipped files in \(directory) do not load: \(error)")
        }
    }()
}

enum Harness {
    static var shipped: ShippedFiles { ShippedFiles.shared }

    static func routine(_ text: String) {
        guard let (routine, _) = try? RoutineLoader.parse(text, file: "fuzz.yaml", map: shipped.map) else { return }
        for profile in shipped.profiles {
            _ = try? Compiler.compile(routine, map: shipped.map, device: profile)
        }
    }

    static func deviceProfile(_ text: String) {
        guard let profile = try? DeviceProfileLoader.parse(text, file: "fuzz.yaml") else { return }
        // What the daemon and the board emulator do with a profile once it loads.
        _ = try? Capabilities(profile: profile)
        _ = GovernorSettings.standard(for: profile, map: shipped.map)
        _ = try? Compiler.compile(shipped.routine, map: shipped.map, device: profile)
    }

    static func footMap(_ text: String) {
        guard let map = try? FootMapLoader.parse(text, file: "fuzz.yaml") else { return }
        guard let (routine, _) = try? RoutineLoader.parse(shipped.routineText, file: "back-pain.yaml", map: map) else { return }
        for profile in shipped.profiles {
            _ = GovernorSettings.standard(for: profile, map: map)
            _ = try? Compiler.compile(routine, map: map, device: profile)
        }
    }

    static func daemonConfig(_ text: String) {
        guard let config = try? DaemonConfigLoader.parse(text, file: "plantard.yaml") else { return }
        _ = config.resolvedSocketPath(environment: [:])
        // The person, caps and limits of the file in force for a session of the shipped program.
        let speed = config.backend == .simulator ? config.simulatorSpeed : 1
        _ = try? StartCheck.check(StartRequest(program: "back-pain"), who: "fuzz", map: shipped.map,
                                  profile: shipped.profiles[0], config: config, library: shipped.library, clockSpeed: speed)
    }

    static func scriptedEvent(_ text: String) {
        if let event = try? ScriptedEvent.parse(text) { _ = event.description }
        if let event = try? BoardEvent.parse(text) { _ = event.description }
    }

    static func apiStart(_ body: [UInt8]) {
        // The route decodes the body exactly so (Routes.swift, decodeBody).
        guard let request = try? JSONDecoder().decode(StartRequest.self, from: Data(body)) else { return }
        for profile in shipped.profiles {
            _ = try? StartCheck.check(request, who: "fuzz", map: shipped.map, profile: profile, config: DaemonConfig(),
                                      library: shipped.library, clockSpeed: 1)
        }
    }

    // MARK: The wire

    static func wireFrames(_ bytes: [UInt8]) {
        // The whole input as one message payload: the codec alone, no CRC to get past.
        checkCodecRoundTrip(bytes[...])
        // Then as a stream cut every 7 bytes (so frames straddle reads), flushed at the end as
        // a quiet line does; every frame found goes through the codec too.
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + 7, bytes.count)
            frames += decoder.feed(bytes[start..<end])
            start = end
        }
        frames += decoder.flush()
        for frame in frames { checkCodecRoundTrip(frame.payload[...]) }
    }

    /// Decoding then encoding gives back the same bytes: the layout has one encoding per
    /// message, so any difference is a codec bug (a field dropped, clamped or misread).
    static func checkCodecRoundTrip(_ payload: ArraySlice<UInt8>) {
        guard let message = try? WireMessage.decode(payload) else { return }
        let encoded = message.encode()
        guard encoded.elementsEqual(payload) else {
            fatalError("codec round trip: \(hexString(payload)) decodes to \(message) and encodes to \(hexString(encoded))")
        }
    }

    static func wireHost(_ input: [UInt8]) {
        var link = LinkStateMachine()
        var clock = WireRecords.Clock()
        var actions = link.start(now: clock.now)
        for record in WireRecords.parse(input) {
            switch record {
            case .frame(let frame):
                checkCodecRoundTrip(frame.payload[...])
                actions = link.receive(bytes: frame.encode(), now: clock.advance(by: .milliseconds(2)))
            case .wait(let duration):
                actions = link.tick(now: clock.advance(by: duration))
            }
            for action in actions {
                switch action {
                case .handshakeCompleted(let reply):
                    for profile in shipped.profiles { _ = Handshake.mismatch(reply, profile: profile) }
                    // Commands in flight, so that acks, naks and retransmissions have something to act on.
                    _ = link.send(.arm, now: clock.now)
                    _ = link.send(.move(foot: .right, u: FixedLength(raw: 100), v: FixedLength(raw: 200),
                                        speed: FixedSpeed(raw: 300)), now: clock.now)
                case .deliver(.telemetry(let telemetry)):
                    for profile in shipped.profiles { _ = telemetry.telemetry(channels: profile.channels) }
                default:
                    break
                }
            }
            _ = link.tick(now: clock.now)
        }
        _ = link.tick(now: clock.advance(by: .seconds(1)))
    }

    static func wireBoard(_ input: [UInt8]) {
        var board = BoardLinkStateMachine(identity: shipped.boardIdentity)
        var clock = WireRecords.Clock()
        _ = board.boot(now: clock.now)
        for record in WireRecords.parse(input) {
            let actions: [BoardLinkStateMachine.Action]
            switch record {
            case .frame(let frame):
                checkCodecRoundTrip(frame.payload[...])
                actions = board.receive(bytes: frame.encode(), now: clock.advance(by: .milliseconds(2)))
            case .wait(let duration):
                actions = board.tick(now: clock.advance(by: duration))
            }
            for case .execute(let command) in actions {
                for profile in shipped.profiles { _ = command.actuatorCommand(channels: profile.channels) }
            }
            _ = board.tick(now: clock.now)
        }
        _ = board.tick(now: clock.advance(by: .seconds(1)))
    }
}

/// The input of the link harnesses: a CRC is a wall a mutating fuzzer rarely gets through,
/// so the harness frames what the input describes, and the link sees valid frames.
///
///     [sequence][payload length 0...59][payload …]   a frame, arriving 2 ms after the last
///     [n][0xFF]                                      the line is quiet for n × 10 ms
///
/// A length above 59 other than 0xFF, or a record cut short, ends the input.
enum WireRecords {
    enum Record {
        case frame(Frame)
        case wait(Duration)
    }

    static let waitMarker: UInt8 = 0xFF

    static func parse(_ input: [UInt8]) -> [Record] {
        var records: [Record] = []
        var i = 0
        while i + 1 < input.count {
            let first = input[i], length = input[i + 1]
            i += 2
            if length == waitMarker {
                records.append(.wait(.milliseconds(10 * Int(first))))
                continue
            }
            guard Int(length) <= WireProtocol.maxPayloadLength, i + Int(length) <= input.count,
                  let frame = try? Frame(sequence: first, payload: Array(input[i..<(i + Int(length))]))
            else { break }
            records.append(.frame(frame))
            i += Int(length)
        }
        return records
    }

    /// Time on the link's own scale, starting at zero.
    struct Clock {
        private(set) var now: Duration = .zero

        mutating func advance(by step: Duration) -> Duration {
            now += step
            return now
        }
    }
}
