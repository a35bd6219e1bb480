import PlantarCore

/// The host's end of the serial link, as a pure state machine (swift-nio style): one
/// mutating function per event, each returning the actions the caller must carry out, in
/// order. No clock, no IO: times come in as `Duration`s on one monotonic scale of the
/// caller's choosing, bytes go out as `.transmit` actions.
///
/// Life of a link: `start` sends `hello` → the board's `helloReply` completes the handshake
/// (`.handshakeCompleted`; the caller checks it with `Handshake.mismatch`) → `send` carries
/// commands, `tick` keeps the heartbeat, retransmissions and timeouts → a lost board, an
/// unacknowledged frame or a board reset ends in `.linkDown`, after which only `start`
/// revives the link. `emergencyRelease` works in every state and never waits.
///
/// Call `tick` at `nextDeadline()` at the latest (every few milliseconds is fine).
public struct LinkStateMachine: Sendable {
    /// What the caller must do, in the order given.
    public enum Action: Sendable, Hashable {
        /// Write these bytes to the port now (one frame, or an emergency release with its padding).
        case transmit([UInt8])
        /// A message from the board, in order and exactly once: events, telemetry, and
        /// `helloReply` answering `identify`.
        case deliver(WireMessage)
        /// The board answered `hello`; check `Handshake.mismatch(_:profile:)` before sending anything.
        case handshakeCompleted(HelloReply)
        /// A message that will not be sent.
        case dropped(WireMessage, DropReason)
        /// A frame passed its CRC but its payload did not decode (for the log).
        case malformed(WireError)
        /// The link is gone; the board releases by its lease, or has already reset. The
        /// governor latches; `start` again once the port is back.
        case linkDown(LinkFailure)
    }

    /// Why a message was not sent.
    public enum DropReason: Sendable, Hashable {
        /// No session: before the handshake completed or after the link went down.
        case notReady
        /// The queue behind the window is full.
        case queueFull
        /// An emergency release superseded it (sent but unacknowledged, or still queued).
        case supersededByEmergencyRelease
        /// Not a message the host sends with `send` (board messages, link control, hello).
        case notAHostCommand
    }

    private enum State: Sendable {
        case closed(LinkFailure?)
        case handshaking(Session)
        case ready(Session)
    }

    private struct Session: Sendable {
        var sender: ReliableSender
        /// Meaningful once the board's `helloReply` set it.
        var receiver = SequenceReceiver(expected: 0)
        var lastReceived: Duration
        var lastTransmitted: Duration
    }

    /// Heartbeat, retransmission, timeouts and window (the protocol's unless a test shortens them).
    public let timing: LinkTiming
    /// What the link has seen and done, for the log, the session report and the benchmark.
    public private(set) var statistics = LinkStatistics()
    private var state: State = .closed(nil)
    private var decoder = FrameDecoder()
    /// When the last byte arrived, for dropping a partial frame on a quiet line.
    private var lastByte: Duration = .zero

    /// A closed link; `start(now:)` opens it.
    public init(timing: LinkTiming = .protocolDefaults) {
        self.timing = timing
    }

    /// Framing statistics of what was received.
    public var decoderStatistics: FrameDecoder.Statistics { decoder.statistics }

    /// Whether the handshake has completed and the link is up.
    public var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    /// Why the link went down, while it is down.
    public var failure: LinkFailure? {
        if case .closed(let failure) = state { return failure }
        return nil
    }

    // MARK: events

    /// Starts (or restarts) a session: resets sequencing and sends `hello`, preceded by a
    /// sync byte that ends whatever partial frame the board's decoder may hold.
    public mutating func start(now: Duration) -> [Action] {
        decoder.reset()
        var session = Session(sender: ReliableSender(window: timing.window, capacity: timing.queueCapacity, coalesces: true),
                              lastReceived: now, lastTransmitted: now)
        let hello = session.sender.transmitNow(.hello(version: WireProtocol.version), now: now)
        statistics.framesSent += 1
        state = .handshaking(session)
        return [.transmit([WireProtocol.sync] + hello)]
    }

    /// Queues a command for the board: it goes out at once when the window has room,
    /// otherwise waits, replacing an older queued setpoint for the same actuator.
    /// `.emergencyRelease` is passed to `emergencyRelease(now:)`.
    public mutating func send(_ message: WireMessage, now: Duration) -> [Action] {
        if message == .emergencyRelease { return emergencyRelease(now: now) }
        guard message.type.direction == .hostToBoard, message.type != .hello else {
            statistics.dropped += 1
            return [.dropped(message, .notAHostCommand)]
        }
        guard case .ready(var session) = state else {
            statistics.dropped += 1
            return [.dropped(message, .notReady)]
        }
        var actions: [Action] = []
        switch session.sender.submit(message, now: now, statistics: &statistics) {
        case .transmit(let bytes):
            transmit(bytes, session: &session, now: now, into: &actions)
        case .queued:
            break
        case .dropped:
            actions.append(.dropped(message, .queueFull))
        }
        state = .ready(session)
        return actions
    }

    /// Everything on the board to rest, now. Bypasses the window and the queue: the frame is
    /// the first action, whatever is in flight. Commands not yet acknowledged are given up
    /// (`.dropped(…, .supersededByEmergencyRelease)`): after a stop nothing queued before it
    /// may reach the board. Retransmitted like any sequenced frame until acknowledged.
    public mutating func emergencyRelease(now: Duration) -> [Action] {
        switch state {
        case .closed:
            // No session to keep in step; the board acts on it in any state.
            statistics.framesSent += 1
            return [.transmit(transmission(of: Frame(sequence: 0, message: .emergencyRelease), message: .emergencyRelease))]
        case .handshaking(var session):
            // The hello stays in flight: it is no setpoint, and the session still needs it.
            var actions: [Action] = []
            let bytes = session.sender.transmitNow(.emergencyRelease, now: now)
            transmit(bytes, session: &session, now: now, into: &actions)
            state = .handshaking(session)
            return actions
        case .ready(var session):
            let abandoned = session.sender.abandonAll()
            statistics.abandoned += abandoned.count
            var actions: [Action] = []
            let bytes = session.sender.transmitNow(.emergencyRelease, now: now)
            transmit(bytes, session: &session, now: now, into: &actions)
            actions += abandoned.map { .dropped($0, .supersededByEmergencyRelease) }
            state = .ready(session)
            return actions
        }
    }

    /// Bytes read from the port, in any chunking.
    public mutating func receive(bytes: some Collection<UInt8>, now: Duration) -> [Action] {
        if !bytes.isEmpty { lastByte = now }
        var actions: [Action] = []
        for frame in decoder.feed(bytes) { actions += receive(frame, now: now) }
        return actions
    }

    /// One frame from the board (when the caller runs its own `FrameDecoder`).
    public mutating func receive(_ frame: Frame, now: Duration) -> [Action] {
        statistics.framesReceived += 1
        let message: WireMessage
        do {
            message = try frame.message()
        } catch {
            statistics.undecodable += 1
            return [.malformed(error)]
        }

        // Only the board's own messages show that the board is alive.
        guard message.type.direction != .hostToBoard else {
            statistics.unexpected += 1
            return []
        }

        switch state {
        case .closed:
            statistics.unexpected += 1
            return []

        case .handshaking(var session):
            session.lastReceived = now
            var actions: [Action] = []
            switch message {
            case .ack(let next):
                acknowledge(next, session: &session, now: now, into: &actions)
            case .nak(let expected):
                negativeAcknowledge(expected, session: &session, now: now, into: &actions)
            case .helloReply(let reply) where frame.sequence == 0:
                // The answer to hello always carries the board's first sequence number. It
                // proves the hello arrived, whether or not the hello's ack did.
                _ = session.sender.acknowledge(next: 1, now: now)
                session.receiver = SequenceReceiver(expected: 1)
                transmit(Frame(sequence: 0, message: .ack(next: 1)).encode(), session: &session, now: now, into: &actions)
                actions.append(.handshakeCompleted(reply))
                state = .ready(session)
                return actions
            default:
                // A board still talking to an earlier session, or announcing its boot.
                statistics.unexpected += 1
            }
            state = .handshaking(session)
            return actions

        case .ready(var session):
            session.lastReceived = now
            var actions: [Action] = []
            switch message {
            case .ack(let next):
                acknowledge(next, session: &session, now: now, into: &actions)
            case .nak(let expected):
                negativeAcknowledge(expected, session: &session, now: now, into: &actions)
            case .boardReset(let cause):
                // Whatever the board was doing is gone; it is at rest and latched.
                state = .closed(.boardReset(cause))
                return [.linkDown(.boardReset(cause))]
            case .telemetry:
                actions.append(.deliver(message))
            default:
                switch session.receiver.classify(frame.sequence) {
                case .inOrder:
                    actions.append(.deliver(message))
                    sendAck(session: &session, now: now, into: &actions)
                case .duplicate:
                    statistics.duplicates += 1
                    sendAck(session: &session, now: now, into: &actions)
                case .ahead(let nak):
                    statistics.outOfOrder += 1
                    if nak {
                        statistics.naksSent += 1
                        transmit(Frame(sequence: 0, message: .nak(expected: session.receiver.expected)).encode(),
                                 session: &session, now: now, into: &actions)
                    }
                }
            }
            state = .ready(session)
            return actions
        }
    }

    /// Timers: a partial frame on a quiet line, link timeouts, retransmission, the heartbeat.
    public mutating func tick(now: Duration) -> [Action] {
        var flushed: [Action] = []
        if !decoder.isIdle, now - lastByte >= timing.frameGapTimeout {
            for frame in decoder.flush() { flushed += receive(frame, now: now) }
        }
        return flushed + timers(now: now)
    }

    private mutating func timers(now: Duration) -> [Action] {
        switch state {
        case .closed:
            return []

        case .handshaking(var session):
            let unanswered = session.sender.oldestFirstSent.map { now - $0 >= timing.linkTimeout } ?? false
            if unanswered || now - session.lastReceived >= timing.linkTimeout {
                return fail(.noHelloReply(after: timing.linkTimeout), session: session)
            }
            var actions: [Action] = []
            retransmitIfDue(session: &session, now: now, into: &actions)
            state = .handshaking(session)
            return actions

        case .ready(var session):
            let silence = now - session.lastReceived
            if silence >= timing.linkTimeout {
                return fail(.boardSilent(after: silence), session: session)
            }
            if let first = session.sender.oldestFirstSent, now - first >= timing.linkTimeout {
                return fail(.unacknowledged(after: now - first), session: session)
            }
            var actions: [Action] = []
            retransmitIfDue(session: &session, now: now, into: &actions)
            if now - session.lastTransmitted >= timing.heartbeatInterval, session.sender.queue.isEmpty {
                if case .transmit(let bytes) = session.sender.submit(.heartbeat, now: now, statistics: &statistics) {
                    transmit(bytes, session: &session, now: now, into: &actions)
                }
            }
            state = .ready(session)
            return actions
        }
    }

    /// Ends the session on the host's initiative, telling the board to release at once
    /// rather than when its lease runs out.
    public mutating func close(now: Duration) -> [Action] {
        if case .closed = state { return [] }
        let actions = emergencyRelease(now: now)
        state = .closed(nil)
        return actions.filter { if case .transmit = $0 { true } else { false } }
    }

    /// When `tick` has work next at the latest; nil while closed.
    public func nextDeadline() -> Duration? {
        let flush = decoder.isIdle ? [] : [lastByte + timing.frameGapTimeout]
        switch state {
        case .closed:
            return flush.min()
        case .handshaking(let session):
            return (flush + deadlines(session)).min()
        case .ready(let session):
            return (flush + deadlines(session) + [session.lastTransmitted + timing.heartbeatInterval]).min()
        }
    }

    // MARK: helpers

    private func deadlines(_ session: Session) -> [Duration] {
        var times = [session.lastReceived + timing.linkTimeout]
        if let first = session.sender.oldestFirstSent { times.append(first + timing.linkTimeout) }
        if let retransmit = session.sender.retransmitDeadline(after: timing.retransmitTimeout) { times.append(retransmit) }
        return times
    }

    private mutating func transmit(_ bytes: [UInt8], session: inout Session, now: Duration, into actions: inout [Action]) {
        session.lastTransmitted = now
        statistics.framesSent += 1
        actions.append(.transmit(bytes))
    }

    private mutating func sendAck(session: inout Session, now: Duration, into actions: inout [Action]) {
        transmit(Frame(sequence: 0, message: .ack(next: session.receiver.expected)).encode(),
                 session: &session, now: now, into: &actions)
    }

    private mutating func acknowledge(_ next: UInt8, session: inout Session, now: Duration, into actions: inout [Action]) {
        let (accepted, released) = session.sender.acknowledge(next: next, now: now)
        if !accepted { statistics.staleAcks += 1 }
        for bytes in released { transmit(bytes, session: &session, now: now, into: &actions) }
    }

    private mutating func negativeAcknowledge(_ expected: UInt8, session: inout Session, now: Duration,
                                              into actions: inout [Action]) {
        statistics.naksReceived += 1
        guard let (again, released) = session.sender.negativeAcknowledge(expected: expected, now: now) else {
            statistics.staleAcks += 1
            return
        }
        statistics.retransmissions += again.count
        for bytes in again + released { transmit(bytes, session: &session, now: now, into: &actions) }
    }

    private mutating func retransmitIfDue(session: inout Session, now: Duration, into actions: inout [Action]) {
        guard let due = session.sender.retransmitDeadline(after: timing.retransmitTimeout), now >= due else { return }
        let again = session.sender.retransmitAll(now: now)
        statistics.retransmissions += again.count
        for bytes in again { transmit(bytes, session: &session, now: now, into: &actions) }
    }

    /// Gives the link up. A last emergency release goes out first, best effort: if the board
    /// can still hear, it releases now instead of when its lease runs out.
    private mutating func fail(_ failure: LinkFailure, session: Session) -> [Action] {
        state = .closed(failure)
        statistics.framesSent += 1
        let frame = Frame(sequence: session.sender.nextSequence, message: .emergencyRelease)
        return [.transmit(transmission(of: frame, message: .emergencyRelease)), .linkDown(failure)]
    }
}

/// Why the host gave the link up.
public enum LinkFailure: Sendable, Hashable, CustomStringConvertible {
    /// `hello` went unanswered (no board on the port, wrong baud, board not running).
    case noHelloReply(after: Duration)
    /// A frame stayed unacknowledged this long (the board stopped hearing the host).
    case unacknowledged(after: Duration)
    /// No valid frame from the board this long (cable pulled, board hung, emulator killed).
    case boardSilent(after: Duration)
    /// The board restarted; it is at rest and latched.
    case boardReset(ResetCause)

    public var description: String {
        switch self {
        case .noHelloReply(let after):
            "the board did not answer hello within \(after.milliseconds) ms"
        case .unacknowledged(let after):
            "a frame to the board stayed unacknowledged for \(after.milliseconds) ms"
        case .boardSilent(let after):
            "no valid frame from the board for \(after.milliseconds) ms"
        case .boardReset(let cause):
            "the board reset (\(cause))"
        }
    }
}
