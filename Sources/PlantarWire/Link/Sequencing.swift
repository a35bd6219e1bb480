import PlantarCore

/// Counts a link state machine keeps, for logs, the session report and the benchmark.
public struct LinkStatistics: Sendable, Hashable {
    /// Frames handed out for transmission, retransmissions included.
    public var framesSent = 0
    /// Sequenced frames sent again after a timeout or a nak.
    public var retransmissions = 0
    /// Frames received that passed framing and CRC.
    public var framesReceived = 0
    /// Sequenced frames that arrived ahead of the expected one (a frame before them was lost); dropped.
    public var outOfOrder = 0
    /// Sequenced frames that arrived again (their ack was lost); acknowledged, not delivered twice.
    public var duplicates = 0
    public var naksSent = 0
    public var naksReceived = 0
    /// Acks or naks that acknowledge nothing in flight.
    public var staleAcks = 0
    /// Frames whose payload did not decode.
    public var undecodable = 0
    /// Messages of the wrong direction, or not valid in the link's current state.
    public var unexpected = 0
    /// Queued setpoints replaced by a newer one for the same actuator before they were sent.
    public var coalesced = 0
    /// Messages refused because the queue was full or there was no session.
    public var dropped = 0
    /// Messages given up, unsent or unacknowledged, because an emergency release superseded them.
    public var abandoned = 0

    public init() {}
}

/// Forward distance from `a` to `b` in the 8-bit sequence space.
func distance(from a: UInt8, to b: UInt8) -> Int { Int(b &- a) }

/// The receiving half of a sequenced direction: accepts frames in order only.
struct SequenceReceiver: Sendable, Hashable {
    enum Verdict: Sendable, Hashable {
        /// The expected frame: deliver it and acknowledge.
        case inOrder
        /// Seen before (its ack was lost): acknowledge again, do not deliver.
        case duplicate
        /// A frame before it was lost: drop it; `nak` tells whether to ask for a resend now
        /// (once per gap, so a burst of later frames does not trigger a burst of resends).
        case ahead(nak: Bool)
    }

    /// The sequence number the next in-order frame carries.
    private(set) var expected: UInt8
    /// The gap a nak has already been sent for.
    private var nakSentFor: UInt8?

    init(expected: UInt8) {
        self.expected = expected
    }

    mutating func classify(_ sequence: UInt8) -> Verdict {
        let d = distance(from: expected, to: sequence)
        if d == 0 {
            expected &+= 1
            nakSentFor = nil
            return .inOrder
        }
        // Within half the sequence space ahead counts as ahead; the window is far smaller.
        if d < 128 {
            defer { nakSentFor = expected }
            return .ahead(nak: nakSentFor != expected)
        }
        return .duplicate
    }

    /// Accepts `sequence` whatever the order (an emergency release): frames before it are
    /// given up by the sender. Never moves backwards; returns false for an old frame.
    mutating func acceptOutOfOrder(_ sequence: UInt8) -> Bool {
        guard distance(from: expected, to: sequence) < 128 else { return false }
        expected = sequence &+ 1
        nakSentFor = nil
        return true
    }
}

/// What may replace what in a sender's queue: a newer setpoint for the same actuator makes
/// an unsent older one pointless (DESIGN.md principle 5: setpoints, not backlogs).
enum SetpointKey: Hashable {
    case motion(Foot)
    case channel(Foot, UInt8)
    case heat(Foot)
    case heartbeat
    case identify
    case arm
}

extension WireMessage {
    var setpointKey: SetpointKey? {
        switch self {
        case .move(let foot, _, _, _): .motion(foot)
        case .pressure(let foot, let channel, _, _), .release(let foot, let channel): .channel(foot, channel)
        case .heat(let foot, _, _): .heat(foot)
        case .heartbeat: .heartbeat
        case .identify: .identify
        case .arm: .arm
        default: nil
        }
    }
}

/// The sending half of a sequenced direction: numbers frames, keeps up to `window` of them
/// until acknowledged, sends them all again (go-back-N) after a timeout or a nak, and holds
/// what does not fit the window in a bounded queue.
struct ReliableSender: Sendable {
    struct Outstanding: Sendable {
        let sequence: UInt8
        let message: WireMessage
        let bytes: [UInt8]
        let firstSent: Duration
        var lastSent: Duration
    }

    enum Submitted: Sendable {
        case transmit([UInt8])
        case queued
        case dropped
    }

    let window: Int
    let capacity: Int
    /// Whether a queued setpoint is replaced by a newer one for the same actuator (host side;
    /// the board's events are each news and are never merged).
    let coalesces: Bool
    private(set) var nextSequence: UInt8 = 0
    /// Oldest first; their sequence numbers are consecutive, ending at `nextSequence - 1`.
    private(set) var inFlight: [Outstanding] = []
    private(set) var queue: [WireMessage] = []

    init(window: Int, capacity: Int, coalesces: Bool) {
        self.window = window
        self.capacity = capacity
        self.coalesces = coalesces
    }

    /// The oldest unacknowledged sequence number (or the next one, with nothing in flight).
    var base: UInt8 { inFlight.first?.sequence ?? nextSequence }

    var oldestFirstSent: Duration? { inFlight.first?.firstSent }

    func retransmitDeadline(after timeout: Duration) -> Duration? { inFlight.first.map { $0.lastSent + timeout } }

    mutating func submit(_ message: WireMessage, now: Duration, statistics: inout LinkStatistics) -> Submitted {
        if inFlight.count < window && queue.isEmpty { return .transmit(transmitNew(message, now: now)) }
        if coalesces, let key = message.setpointKey, let index = queue.firstIndex(where: { $0.setpointKey == key }) {
            queue.remove(at: index)
            statistics.coalesced += 1
        }
        guard queue.count < capacity else {
            statistics.dropped += 1
            return .dropped
        }
        queue.append(message)
        return .queued
    }

    /// Sends `message` now, past the window and the queue (hello, emergency release).
    mutating func transmitNow(_ message: WireMessage, now: Duration) -> [UInt8] {
        transmitNew(message, now: now)
    }

    private mutating func transmitNew(_ message: WireMessage, now: Duration) -> [UInt8] {
        let frame = Frame(sequence: nextSequence, message: message)
        nextSequence &+= 1
        let bytes = transmission(of: frame, message: message)
        inFlight.append(Outstanding(sequence: frame.sequence, message: message, bytes: bytes, firstSent: now, lastSent: now))
        return bytes
    }

    /// A cumulative ack: every frame before `next` arrived. Returns false when `next` lies
    /// outside what is in flight (a stale or stray ack), and the queued frames the freed
    /// window lets out.
    mutating func acknowledge(next: UInt8, now: Duration) -> (accepted: Bool, transmit: [[UInt8]]) {
        let acked = distance(from: base, to: next)
        guard acked <= inFlight.count else { return (false, []) }
        inFlight.removeFirst(acked)
        return (true, fillWindow(now: now))
    }

    /// A nak: the receiver expects `expected`. Acknowledges what lies before it and sends
    /// everything still in flight again. A nak from behind the window (the receiver missed
    /// frames an emergency release gave up) also resends what is in flight. Nil for a stray nak.
    mutating func negativeAcknowledge(expected: UInt8, now: Duration) -> (retransmit: [[UInt8]], transmit: [[UInt8]])? {
        let acked = distance(from: base, to: expected)
        if acked <= inFlight.count {
            inFlight.removeFirst(acked)
        } else if distance(from: expected, to: base) >= 128 {
            return nil
        }
        return (retransmitAll(now: now), fillWindow(now: now))
    }

    /// Go-back-N: every frame in flight, oldest first.
    mutating func retransmitAll(now: Duration) -> [[UInt8]] {
        for index in inFlight.indices { inFlight[index].lastSent = now }
        return inFlight.map(\.bytes)
    }

    /// Gives up everything unsent and unacknowledged; returns it, oldest first.
    mutating func abandonAll() -> [WireMessage] {
        let abandoned = inFlight.map(\.message) + queue
        inFlight.removeAll()
        queue.removeAll()
        return abandoned
    }

    private mutating func fillWindow(now: Duration) -> [[UInt8]] {
        var sent: [[UInt8]] = []
        while inFlight.count < window, !queue.isEmpty {
            sent.append(transmitNew(queue.removeFirst(), now: now))
        }
        return sent
    }
}

/// The bytes that carry `frame`. An emergency release goes out between sync bytes: one
/// before, so a receiver that holds garbage starts the frame fresh, and `maxFrameLength - 1`
/// after, so a receiver stuck inside a frame whose length byte was corrupted completes and
/// rejects it and finds the emergency release at once instead of at the next transmission.
func transmission(of frame: Frame, message: WireMessage) -> [UInt8] {
    guard message == .emergencyRelease else { return frame.encode() }
    return [WireProtocol.sync] + frame.encode()
        + Array(repeating: WireProtocol.sync, count: WireProtocol.maxFrameLength - 1)
}
