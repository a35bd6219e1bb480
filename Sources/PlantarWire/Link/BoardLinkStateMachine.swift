/// The board's end of the serial link and its safety rules, as a pure state machine: what
/// firmware must do, executable. `plantar-sim` runs it; a firmware author can read it next
/// to docs/serial-protocol.md.
///
/// The board answers for its outputs on its own:
/// - it boots at rest, latched and unsynchronized, and announces `boardReset`;
/// - `hello` (any sequence number) starts a session: release, latch, resynchronize, reply;
/// - `emergencyRelease` is obeyed in any state and out of sequence;
/// - the discomfort switch releases everything *before* the event goes out (the reflex arc);
/// - no valid frame for the lease time releases everything and reports `leaseExpired`;
/// - every release it makes on its own latches it: move, pressure and heat-on are refused
///   until the host sends `arm` (refused while the switch is pressed), so a setpoint that
///   was already on the wire can never press again after a stop.
///
/// Actions come in the order they must be carried out: a `.releaseAll` always comes first.
public struct BoardLinkStateMachine: Sendable {
    /// What the board's firmware must do, in the order given.
    public enum Action: Sendable, Hashable {
        /// Every output to rest now — valves open, pumps off, motion halted, heat off —
        /// before anything after this action.
        case releaseAll(ReleaseReason)
        /// Carry out a host command: `move`, `pressure`, `release`, `heat` or `arm`.
        case execute(WireMessage)
        /// Write these bytes to the port.
        case transmit([UInt8])
    }

    /// Why the board released everything by itself.
    public enum ReleaseReason: String, Sendable, Hashable {
        case emergencyRelease = "emergency release"
        case discomfortSwitch = "discomfort switch"
        case leaseExpired = "lease expired"
        /// A host started a session: it must not inherit outputs from an earlier one.
        case newSession = "new session"
        case fault
    }

    private enum State: Sendable {
        /// After boot: no host session. Answers everything but hello with `boardReset`.
        case unsynchronized
        case synchronized(Session)
    }

    private struct Session: Sendable {
        var sender: ReliableSender
        var receiver: SequenceReceiver
        var lastValid: Duration
        var leaseExpired = false
        var hostVersion: UInt8
    }

    /// What the board answers to `hello` and `identify`.
    public let identity: HelloReply
    /// Reported in `board-reset` until a host starts a session.
    public let resetCause: ResetCause
    /// Lease, retransmission and frame gap times (the protocol's unless a test shortens them).
    public let timing: LinkTiming
    /// The board refuses move, pressure and heat-on. True at boot.
    public private(set) var isLatched = true
    /// The discomfort switch as last reported to `switchChanged(pressed:now:)`.
    public private(set) var isSwitchPressed = false
    /// What the link has seen and done, for the log and the benchmark.
    public private(set) var statistics = LinkStatistics()
    private var state: State = .unsynchronized
    private var decoder = FrameDecoder()
    /// When the last byte arrived, for dropping a partial frame on a quiet line.
    private var lastByte: Duration = .zero

    /// A board that has just booted, with every output at rest.
    public init(identity: HelloReply, resetCause: ResetCause = .powerOn, timing: LinkTiming = .protocolDefaults) {
        self.identity = identity
        self.resetCause = resetCause
        self.timing = timing
    }

    /// Framing statistics of what was received: rejected frames by kind, discarded bytes.
    public var decoderStatistics: FrameDecoder.Statistics { decoder.statistics }

    /// Whether a host session is running.
    public var isSynchronized: Bool {
        if case .synchronized = state { return true }
        return false
    }

    // MARK: events

    /// Announces the boot, so that a host mid-session learns at once that the board reset.
    public mutating func boot(now: Duration) -> [Action] {
        statistics.framesSent += 1
        return [.transmit(Frame(sequence: 0, message: .boardReset(cause: resetCause)).encode())]
    }

    /// Bytes read from the port, in any chunking.
    public mutating func receive(bytes: some Collection<UInt8>, now: Duration) -> [Action] {
        if !bytes.isEmpty { lastByte = now }
        var actions: [Action] = []
        for frame in decoder.feed(bytes) { actions += receive(frame, now: now) }
        return actions
    }

    /// One frame from the host.
    public mutating func receive(_ frame: Frame, now: Duration) -> [Action] {
        statistics.framesReceived += 1
        let message: WireMessage
        do {
            message = try frame.message()
        } catch {
            // Not a valid frame for the lease: a host stuck sending garbage must not hold outputs.
            statistics.undecodable += 1
            return event(.fault(code: .badMessage, detail: ShortText(truncating: error.description)), now: now)
        }
        guard message.type.direction != .boardToHost else {
            statistics.unexpected += 1
            return []
        }

        if case .hello(let version) = message {
            return startSession(hostVersion: version, sequence: frame.sequence, now: now)
        }

        switch state {
        case .unsynchronized:
            var actions: [Action] = []
            if message == .emergencyRelease {
                isLatched = true
                actions.append(.releaseAll(.emergencyRelease))
            }
            // Tell the host its session is gone; acks and naks need no answer.
            if message.type.isSequenced {
                statistics.framesSent += 1
                actions.append(.transmit(Frame(sequence: 0, message: .boardReset(cause: resetCause)).encode()))
            }
            return actions

        case .synchronized(var session):
            session.lastValid = now
            session.leaseExpired = false
            var actions: [Action] = []
            switch message {
            case .ack(let next):
                let (accepted, released) = session.sender.acknowledge(next: next, now: now)
                if !accepted { statistics.staleAcks += 1 }
                for bytes in released { transmit(bytes, into: &actions) }
            case .nak(let expected):
                statistics.naksReceived += 1
                if let (again, released) = session.sender.negativeAcknowledge(expected: expected, now: now) {
                    statistics.retransmissions += again.count
                    for bytes in again + released { transmit(bytes, into: &actions) }
                } else {
                    statistics.staleAcks += 1
                }
            case .emergencyRelease:
                // First the release, then the bookkeeping: out of sequence is fine, the host
                // gave up whatever came before it.
                isLatched = true
                actions.append(.releaseAll(.emergencyRelease))
                if !session.receiver.acceptOutOfOrder(frame.sequence) { statistics.duplicates += 1 }
                transmit(Frame(sequence: 0, message: .ack(next: session.receiver.expected)).encode(), into: &actions)
            default:
                switch session.receiver.classify(frame.sequence) {
                case .inOrder:
                    let (commands, events) = obey(message, hostVersion: session.hostVersion)
                    actions += commands
                    transmit(Frame(sequence: 0, message: .ack(next: session.receiver.expected)).encode(), into: &actions)
                    for event in events { submit(event, session: &session, now: now, into: &actions) }
                case .duplicate:
                    statistics.duplicates += 1
                    transmit(Frame(sequence: 0, message: .ack(next: session.receiver.expected)).encode(), into: &actions)
                case .ahead(let nak):
                    statistics.outOfOrder += 1
                    if nak {
                        statistics.naksSent += 1
                        transmit(Frame(sequence: 0, message: .nak(expected: session.receiver.expected)).encode(),
                                 into: &actions)
                    }
                }
            }
            state = .synchronized(session)
            return actions
        }
    }

    /// Timers: a partial frame on a quiet line, the lease, retransmission of unacknowledged events.
    public mutating func tick(now: Duration) -> [Action] {
        var actions: [Action] = []
        if !decoder.isIdle, now - lastByte >= timing.frameGapTimeout {
            for frame in decoder.flush() { actions += receive(frame, now: now) }
        }
        guard case .synchronized(var session) = state else { return actions }
        if !session.leaseExpired, now - session.lastValid >= timing.lease {
            session.leaseExpired = true
            isLatched = true
            actions.append(.releaseAll(.leaseExpired))
            submit(.leaseExpired, session: &session, now: now, into: &actions)
        }
        if let due = session.sender.retransmitDeadline(after: timing.retransmitTimeout), now >= due {
            let again = session.sender.retransmitAll(now: now)
            statistics.retransmissions += again.count
            for bytes in again { transmit(bytes, into: &actions) }
        }
        state = .synchronized(session)
        return actions
    }

    /// The discomfort switch changed (debounced by the caller). Pressed: release everything
    /// and latch, *then* report. A cut cable reads pressed (the switch is normally closed).
    public mutating func switchChanged(pressed: Bool, now: Duration) -> [Action] {
        guard pressed != isSwitchPressed else { return [] }
        isSwitchPressed = pressed
        guard pressed else { return event(.switchReleased, now: now) }
        isLatched = true
        return [.releaseAll(.discomfortSwitch)] + event(.switchPressed(alreadyReleased: true), now: now)
    }

    /// A fault that makes the board release and latch (over-pressure, sensor, stall, supply):
    /// released first, reported after.
    public mutating func trip(_ code: FaultCode, detail: ShortText, now: Duration) -> [Action] {
        isLatched = true
        return [.releaseAll(.fault)] + event(.fault(code: code, detail: detail), now: now)
    }

    /// Sends telemetry (unsequenced) or an event (sequenced: ease button, limit switch, a
    /// fault that needs no release). Nothing is sent without a session.
    public mutating func send(_ message: WireMessage, now: Duration) -> [Action] {
        switch message.type {
        case .telemetry:
            guard isSynchronized else { return [] }
            var actions: [Action] = []
            transmit(Frame(sequence: 0, message: message).encode(), into: &actions)
            return actions
        case .switchPressed, .switchReleased, .easeButton, .limitSwitch, .fault, .leaseExpired:
            return event(message, now: now)
        default:
            statistics.unexpected += 1
            return []
        }
    }

    /// When `tick` has work next at the latest; nil when there is none.
    public func nextDeadline() -> Duration? {
        var times: [Duration] = decoder.isIdle ? [] : [lastByte + timing.frameGapTimeout]
        guard case .synchronized(let session) = state else { return times.min() }
        if !session.leaseExpired { times.append(session.lastValid + timing.lease) }
        if let retransmit = session.sender.retransmitDeadline(after: timing.retransmitTimeout) { times.append(retransmit) }
        return times.min()
    }

    // MARK: helpers

    private mutating func startSession(hostVersion: UInt8, sequence: UInt8, now: Duration) -> [Action] {
        isLatched = true
        var session = Session(sender: ReliableSender(window: timing.window, capacity: timing.queueCapacity, coalesces: false),
                              receiver: SequenceReceiver(expected: sequence &+ 1), lastValid: now, hostVersion: hostVersion)
        var actions: [Action] = [.releaseAll(.newSession)]
        transmit(Frame(sequence: 0, message: .ack(next: session.receiver.expected)).encode(), into: &actions)
        // The reply is the board's first sequenced frame: sequence 0, which the host relies on.
        submit(.helloReply(identity), session: &session, now: now, into: &actions)
        state = .synchronized(session)
        return actions
    }

    /// What an in-order command makes the board do, and the events it raises.
    private mutating func obey(_ message: WireMessage, hostVersion: UInt8) -> (actions: [Action], events: [WireMessage]) {
        func refuse(_ why: String) -> (actions: [Action], events: [WireMessage]) {
            ([], [.fault(code: .commandRefused, detail: ShortText(truncating: "\(message.type.name): \(why)"))])
        }
        if let why = unsupported(message) { return refuse(why) }
        switch message {
        case .heartbeat:
            return ([], [])
        case .identify:
            return ([], [.helloReply(identity)])
        case .arm:
            if isSwitchPressed { return refuse("switch pressed") }
            if hostVersion != identity.version { return refuse("protocol version") }
            isLatched = false
            return ([.execute(.arm)], [])
        case .move, .pressure, .heat(_, true, _):
            if isLatched { return refuse("latched") }
            return ([.execute(message)], [])
        case .release, .heat:
            return ([.execute(message)], [])
        default:
            return ([], [])
        }
    }

    /// Why the board's own capabilities cannot serve `message`, if they cannot. Travel and
    /// pressure limits are the firmware's to check; this is what the announcement promises.
    private func unsupported(_ message: WireMessage) -> String? {
        let c = identity.capabilities
        switch message {
        case .move(let foot, _, _, _):
            if !c.feet.contains(foot) { return "no \(foot.rawValue) foot" }
            if c.axes.count < Axis.allCases.count { return "no axes" }
        case .pressure(let foot, let channel, _, _), .release(let foot, let channel):
            if !c.feet.contains(foot) { return "no \(foot.rawValue) foot" }
            if Int(channel) >= c.channelsPerFoot { return "no channel \(channel)" }
        case .heat(let foot, let on, _):
            if !c.feet.contains(foot) { return "no \(foot.rawValue) foot" }
            if on && !c.features.contains(.heat) { return "no heat pad" }
        default:
            break
        }
        return nil
    }

    private mutating func event(_ message: WireMessage, now: Duration) -> [Action] {
        guard case .synchronized(var session) = state else {
            statistics.dropped += 1
            return []
        }
        var actions: [Action] = []
        submit(message, session: &session, now: now, into: &actions)
        state = .synchronized(session)
        return actions
    }

    private mutating func submit(_ message: WireMessage, session: inout Session, now: Duration, into actions: inout [Action]) {
        if case .transmit(let bytes) = session.sender.submit(message, now: now, statistics: &statistics) {
            transmit(bytes, into: &actions)
        }
    }

    private mutating func transmit(_ bytes: [UInt8], into actions: inout [Action]) {
        statistics.framesSent += 1
        actions.append(.transmit(bytes))
    }
}
