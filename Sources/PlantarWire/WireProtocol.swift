/// The numbers protocol version 1 fixes (docs/serial-protocol.md). Both ends must agree on
/// every one of them; a change to any is a new protocol version.
public enum WireProtocol {
    /// The protocol version this library speaks, sent in `hello` and `helloReply`.
    public static let version: UInt8 = 1

    /// Ends every frame. Also sent alone between frames to resynchronize a receiver.
    public static let sync: UInt8 = 0x7E

    /// Length and sequence bytes before the payload.
    public static let headerLength = 2
    /// CRC (2 bytes) and sync byte after the payload.
    public static let trailerLength = 3
    /// A frame with an empty payload.
    public static let minFrameLength = headerLength + trailerLength
    /// The longest frame, so that a receiver's buffer is fixed and small (as in Klipper).
    public static let maxFrameLength = 64
    /// The longest payload a frame can carry.
    public static let maxPayloadLength = maxFrameLength - minFrameLength

    /// Pressure channels a foot may have on the wire (the zoned reference device has 9).
    public static let maxChannelsPerFoot = 16
    /// Bytes of UTF-8 in a device identity or a fault detail.
    public static let maxTextLength = 32

    /// Sequenced frames a sender may have unacknowledged at once.
    public static let window = 8
    /// The host sends a heartbeat when it has sent no frame for this long.
    public static let heartbeatInterval: Duration = .milliseconds(50)
    /// The board releases everything when no valid frame from the host arrives for this long.
    /// Five heartbeat intervals: one lost or corrupted heartbeat never trips it.
    public static let lease: Duration = .milliseconds(250)
    /// An unacknowledged sequenced frame is sent again after this long. Several round trips
    /// at 115200 baud plus a USB serial adapter's latency timer (16 ms by default on FTDI).
    public static let retransmitTimeout: Duration = .milliseconds(40)
    /// The host gives the link up when a frame stays unacknowledged, or the board stays
    /// silent, this long: by then the board's lease has released everything anyway.
    public static let linkTimeout: Duration = .milliseconds(250)
    /// A receiver drops a partial frame when no byte has arrived for this long (see
    /// `FrameDecoder.flush()`). Longer than a USB serial adapter's default latency timer
    /// (16 ms), which can split a frame across two reads; shorter than the heartbeat
    /// interval, so that a quiet line is noticed between two heartbeats.
    public static let frameGapTimeout: Duration = .milliseconds(20)
    /// The board sends telemetry for each foot this often (50 Hz).
    public static let telemetryInterval: Duration = .milliseconds(20)
}

/// Timing and sizes of a link state machine. The defaults are the protocol's; tests and
/// benchmarks may shorten them, a real link should not change them.
public struct LinkTiming: Sendable, Hashable {
    /// See `WireProtocol.heartbeatInterval`.
    public var heartbeatInterval: Duration
    /// See `WireProtocol.retransmitTimeout`.
    public var retransmitTimeout: Duration
    /// See `WireProtocol.linkTimeout`.
    public var linkTimeout: Duration
    /// See `WireProtocol.lease`.
    public var lease: Duration
    /// See `WireProtocol.frameGapTimeout`.
    public var frameGapTimeout: Duration
    /// Sequenced frames in flight at most.
    public var window: Int
    /// Messages waiting for the window at most; more are dropped and reported.
    public var queueCapacity: Int

    public init(heartbeatInterval: Duration = WireProtocol.heartbeatInterval,
                retransmitTimeout: Duration = WireProtocol.retransmitTimeout,
                linkTimeout: Duration = WireProtocol.linkTimeout,
                lease: Duration = WireProtocol.lease,
                frameGapTimeout: Duration = WireProtocol.frameGapTimeout,
                window: Int = WireProtocol.window,
                queueCapacity: Int = 32) {
        precondition((1...127).contains(window), "the window must stay below half the sequence space")
        precondition(queueCapacity >= 1)
        self.heartbeatInterval = heartbeatInterval
        self.retransmitTimeout = retransmitTimeout
        self.linkTimeout = linkTimeout
        self.lease = lease
        self.frameGapTimeout = frameGapTimeout
        self.window = window
        self.queueCapacity = queueCapacity
    }

    /// The values protocol version 1 fixes.
    public static let protocolDefaults = LinkTiming()
}
