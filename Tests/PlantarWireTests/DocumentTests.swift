import Foundation
import PlantarCore
import Testing
@testable import PlantarWire

/// The examples docs/serial-protocol.md shows, generated from the encoder (run with
/// PLANTAR_PRINT_DOC_EXAMPLES=1 to print them) and checked against the document.
let documentedExamples: [(sequence: UInt8, message: WireMessage)] = [
    (0, .hello(version: 1)),
    (1, .arm),
    (2, .move(foot: .right, u: try! FixedLength(120), v: try! FixedLength(35.5), speed: try! FixedSpeed(40))),
    (3, .heartbeat),
    (4, .pressure(foot: .left, channel: 0, pressure: try! FixedPressure(42.5), ramp: try! FixedRamp(150))),
    (5, .release(foot: .left, channel: 0)),
    (6, .heat(foot: .right, on: true, target: try! FixedTemperature(38))),
    (7, .identify),
    (8, .emergencyRelease),
    (0, .ack(next: 4)),
    (0, .nak(expected: 4)),
    (0, .helloReply(HelloReply(identity: ShortText(fitting: "plantar-sim reference"),
                               capabilities: try! Capabilities(profile: referenceProfile)))),
    (0, .telemetry(try! BoardTelemetry(foot: .right, u: try! FixedLength(120), v: try! FixedLength(35.5),
                                       pressures: [try! FixedPressure(41.8)], force: try! FixedForce(12.5),
                                       footPresent: true, switchPressed: false, latched: false, heatOn: false))),
    (0, .telemetry(try! BoardTelemetry(foot: .left, u: FixedLength(raw: 0), v: FixedLength(raw: 0), pressures: nil,
                                       force: nil, footPresent: true, switchPressed: true, latched: true,
                                       heatOn: false))),
    (1, .switchPressed(alreadyReleased: true)),
    (2, .switchReleased),
    (3, .easeButton),
    (4, .limitSwitch(foot: .right, axis: .u, end: .far)),
    (5, .fault(code: .overPressure, detail: ShortText(fitting: "channel 0 at 105.2 kPa"))),
    (0, .boardReset(cause: .powerOn)),
    (6, .leaseExpired),
]

@Suite struct DocumentTests {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/serial-protocol.md").path

    struct Example {
        var message: String
        var sequence: UInt8
        var frame: [UInt8]
        var line: Int
    }

    /// Blocks of three lines: `message …`, `sequence …`, `frame …` (hex).
    static func examples(in text: String) -> [Example] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var found: [Example] = []
        for (i, line) in lines.enumerated() where line.hasPrefix("message  ") && i + 2 < lines.count {
            guard lines[i + 1].hasPrefix("sequence "), lines[i + 2].hasPrefix("frame    "),
                  let sequence = UInt8(lines[i + 1].dropFirst(9).trimmingCharacters(in: .whitespaces)),
                  let frame = bytes(hex: lines[i + 2].dropFirst(9)) else { continue }
            found.append(Example(message: String(line.dropFirst(9)), sequence: sequence, frame: frame, line: i + 1))
        }
        return found
    }

    @Test func printExamplesWhenAsked() {
        guard ProcessInfo.processInfo.environment["PLANTAR_PRINT_DOC_EXAMPLES"] != nil else { return }
        for (sequence, message) in documentedExamples {
            let frame = Frame(sequence: sequence, message: message)
            print("message  \(message)\nsequence \(sequence)\nframe    \(hexString(frame.encode()))\n")
        }
    }

    /// A session as the document's transcript shows it, produced by the two state machines.
    static func transcript() -> [(fromHost: Bool, bytes: [UInt8])] {
        var host = LinkStateMachine()
        var board = BoardLinkStateMachine(identity: HelloReply(
            identity: ShortText(fitting: "plantar-sim reference"), capabilities: try! Capabilities(profile: referenceProfile)))
        var lines: [(Bool, [UInt8])] = []
        var toBoard: [[UInt8]] = []
        var toHost: [[UInt8]] = []
        func hostDid(_ actions: [LinkStateMachine.Action]) {
            for case .transmit(let bytes) in actions { lines.append((true, bytes)); toBoard.append(bytes) }
        }
        func boardDid(_ actions: [BoardLinkStateMachine.Action]) {
            for case .transmit(let bytes) in actions { lines.append((false, bytes)); toHost.append(bytes) }
        }
        func deliver(_ t: Int) {
            while !toBoard.isEmpty || !toHost.isEmpty {
                let b = toBoard; toBoard = []
                for bytes in b { boardDid(board.receive(bytes: bytes, now: ms(t))) }
                let h = toHost; toHost = []
                for bytes in h { hostDid(host.receive(bytes: bytes, now: ms(t))) }
            }
        }
        boardDid(board.boot(now: ms(0)))
        toHost = []   // the host was not listening yet
        hostDid(host.start(now: ms(1)))
        deliver(2)
        hostDid(host.send(.arm, now: ms(3)))
        deliver(4)
        hostDid(host.send(.move(foot: .right, u: try! FixedLength(120), v: try! FixedLength(35.5), speed: try! FixedSpeed(40)), now: ms(5)))
        hostDid(host.send(.pressure(foot: .right, channel: 0, pressure: try! FixedPressure(42.5), ramp: try! FixedRamp(150)), now: ms(5)))
        deliver(6)
        boardDid(board.send(.telemetry(try! BoardTelemetry(
            foot: .right, u: try! FixedLength(120), v: try! FixedLength(35.5), pressures: [try! FixedPressure(41.8)],
            force: try! FixedForce(12.5), footPresent: true, switchPressed: false, latched: false, heatOn: false)), now: ms(20)))
        deliver(20)
        boardDid(board.switchChanged(pressed: true, now: ms(30)))
        deliver(31)
        hostDid(host.send(.release(foot: .right, channel: 0), now: ms(32)))
        deliver(33)
        hostDid(host.tick(now: ms(83)))
        deliver(84)
        return lines
    }

    /// Transcript lines: `host  → board  <hex>  <message>`.
    static func transcriptLines(in text: String) -> [(fromHost: Bool, bytes: [UInt8], stated: String, line: Int)] {
        var found: [(Bool, [UInt8], String, Int)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fromHost = line.hasPrefix("host  → board  ")
            guard fromHost || line.hasPrefix("board → host   ") else { continue }
            var tokens = line.dropFirst(15).split(separator: " ", omittingEmptySubsequences: true)[...]
            var bytes: [UInt8] = []
            while let token = tokens.first, token.count == 2, let byte = UInt8(token, radix: 16) {
                bytes.append(byte)
                tokens = tokens.dropFirst()
            }
            found.append((fromHost, bytes, tokens.joined(separator: " "), i + 1))
        }
        return found
    }

    @Test func printTranscriptWhenAsked() {
        guard ProcessInfo.processInfo.environment["PLANTAR_PRINT_DOC_EXAMPLES"] != nil else { return }
        for (fromHost, bytes) in Self.transcript() {
            var decoder = FrameDecoder()
            let text = decoder.feed(bytes).map { "\(try! $0.message())" }.joined(separator: ", ")
            print((fromHost ? "host  → board  " : "board → host   ") + hexString(bytes) + "  " + text)
        }
    }

    @Test func transcriptIsWhatTheStateMachinesSay() throws {
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        let documented = Self.transcriptLines(in: text)
        let actual = Self.transcript()
        #expect(documented.count == actual.count)
        for (doc, real) in zip(documented, actual) {
            #expect(doc.fromHost == real.fromHost && doc.bytes == real.bytes, "transcript line \(doc.line)")
            var decoder = FrameDecoder()
            let stated = decoder.feed(doc.bytes).map { "\(try! $0.message())" }.joined(separator: ", ")
            #expect(stated == doc.stated, "transcript line \(doc.line)")
        }
    }

    @Test func everyHexExampleDecodesToTheMessageItStates() throws {
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        let examples = Self.examples(in: text)
        #expect(examples.count >= documentedExamples.count)
        var types = Set<MessageType>()
        for example in examples {
            var decoder = FrameDecoder()
            let frames = decoder.feed(example.frame)
            #expect(frames.count == 1 && decoder.statistics.rejected == 0 && decoder.isIdle,
                    "line \(example.line): not exactly one valid frame")
            guard let frame = frames.first else { continue }
            let message = try frame.message()
            #expect(message.description == example.message, "line \(example.line)")
            #expect(frame.sequence == example.sequence, "line \(example.line)")
            #expect(frame.encode() == example.frame, "line \(example.line): not the canonical encoding")
            types.insert(message.type)
        }
        #expect(types == Set(MessageType.allCases), "every message type has an example")
        // And the document shows what the encoder makes today.
        for (sequence, message) in documentedExamples {
            #expect(examples.contains { $0.frame == Frame(sequence: sequence, message: message).encode() },
                    "no example for \(message)")
        }
    }

    @Test func typeCodeTableMatchesTheCode() throws {
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        for type in MessageType.allCases {
            let row = "| `0x\(hex(type.rawValue))` | `\(type.name)` |"
            let found = text.contains(row)
            #expect(found, "no row \(row) in the message type table")
        }
    }

    @Test func constantsInTheDocumentMatchTheCode() throws {
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        let versionStated = text.contains("Protocol version: **\(WireProtocol.version)**")
        #expect(versionStated)
        for (name, value) in [("heartbeat interval", WireProtocol.heartbeatInterval), ("lease", WireProtocol.lease),
                              ("retransmit timeout", WireProtocol.retransmitTimeout),
                              ("link timeout", WireProtocol.linkTimeout),
                              ("frame gap timeout", WireProtocol.frameGapTimeout),
                              ("telemetry interval", WireProtocol.telemetryInterval)] {
            let row = "| \(name) | \(value.milliseconds) ms |"
            let found = text.contains(row)
            #expect(found, "no row \(row) in the timing table")
        }
        let window = text.contains("| window | \(WireProtocol.window) frames |")
        #expect(window)
    }
}
