import PlantarCore
@testable import PlantarWire

func ms(_ value: Int) -> Duration { .milliseconds(value) }

let testIdentity = HelloReply(
    identity: ShortText(fitting: "test board"),
    capabilities: try! Capabilities(feet: [.left, .right], axes: [.u, .v], channelsPerFoot: 1,
                                    features: [.discomfortSwitch, .easeButton, .footPresence, .pressureSensor]))

func pressure(_ kPa: UInt16, foot: Foot = .left) -> WireMessage {
    .pressure(foot: foot, channel: 0, pressure: FixedPressure(raw: kPa), ramp: FixedRamp(raw: 1500))
}

extension WireMessage {
    /// A pressure setpoint moved to another channel.
    func withChannel(_ channel: UInt8) -> WireMessage {
        guard case .pressure(let foot, _, let p, let r) = self else { return self }
        return .pressure(foot: foot, channel: channel, pressure: p, ramp: r)
    }
}

/// The frames in a batch of transmitted bytes (padding and several frames allowed).
func frames(in bytes: [UInt8]) -> [Frame] {
    var decoder = FrameDecoder()
    let frames = decoder.feed(bytes)
    precondition(decoder.statistics.rejected == 0 && decoder.isIdle, "transmitted bytes are not clean frames")
    return frames
}

extension LinkStateMachine.Action {
    var transmitted: [Frame]? { if case .transmit(let bytes) = self { frames(in: bytes) } else { nil } }
}

extension BoardLinkStateMachine.Action {
    var transmitted: [Frame]? { if case .transmit(let bytes) = self { frames(in: bytes) } else { nil } }
}

/// Every frame the actions transmit, in order.
func sentFrames(_ actions: [LinkStateMachine.Action]) -> [Frame] { actions.compactMap(\.transmitted).flatMap { $0 } }
func sentFrames(_ actions: [BoardLinkStateMachine.Action]) -> [Frame] { actions.compactMap(\.transmitted).flatMap { $0 } }

/// Every message the actions transmit, with the frame's sequence number.
func sent(_ actions: [LinkStateMachine.Action]) -> [(UInt8, WireMessage)] {
    sentFrames(actions).map { ($0.sequence, try! $0.message()) }
}
func sent(_ actions: [BoardLinkStateMachine.Action]) -> [(UInt8, WireMessage)] {
    sentFrames(actions).map { ($0.sequence, try! $0.message()) }
}

func messages(_ actions: [LinkStateMachine.Action]) -> [WireMessage] { sent(actions).map(\.1) }
func messages(_ actions: [BoardLinkStateMachine.Action]) -> [WireMessage] { sent(actions).map(\.1) }

func delivered(_ actions: [LinkStateMachine.Action]) -> [WireMessage] {
    actions.compactMap { if case .deliver(let m) = $0 { m } else { nil } }
}

func frameBytes(_ sequence: UInt8, _ message: WireMessage) -> [UInt8] {
    Frame(sequence: sequence, message: message).encode()
}

/// A host whose handshake has completed at time 0 (hello was sequence 0, so commands start at 1).
func readyHost(timing: LinkTiming = .protocolDefaults) -> LinkStateMachine {
    var host = LinkStateMachine(timing: timing)
    _ = host.start(now: ms(0))
    _ = host.receive(bytes: frameBytes(0, .helloReply(testIdentity)), now: ms(0))
    precondition(host.isReady)
    return host
}

/// A board in a session at time 0, armed by the host's frame 1 (so it expects 2 next), or
/// latched and expecting 1.
func syncedBoard(armed: Bool = true) -> BoardLinkStateMachine {
    var board = BoardLinkStateMachine(identity: testIdentity)
    _ = board.boot(now: ms(0))
    _ = board.receive(bytes: frameBytes(0, .hello(version: 1)), now: ms(0))
    _ = board.receive(bytes: frameBytes(0, .ack(next: 1)), now: ms(0))   // for the helloReply
    if armed {
        _ = board.receive(bytes: frameBytes(1, .arm), now: ms(0))
        precondition(!board.isLatched)
    }
    return board
}
