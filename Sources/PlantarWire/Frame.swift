/// One frame on the wire:
///
///     [length][sequence][payload …][crc16 hi][crc16 lo][sync 0x7E]
///
/// `length` counts every byte of the frame, itself and the sync byte included, so it lies in
/// `WireProtocol.minFrameLength...WireProtocol.maxFrameLength` (5...64). The CRC
/// (`CRC16.ccitt`) covers the length, sequence and payload bytes and goes out high byte first.
/// Sync bytes may also occur inside a frame; they are not escaped, the length finds the end.
public struct Frame: Sendable, Hashable {
    /// The sender's sequence number for sequenced messages; 0 for unsequenced ones.
    public let sequence: UInt8
    /// The message bytes: a type byte and its fields (see `WireMessage`).
    public let payload: [UInt8]

    /// A frame around any payload up to `WireProtocol.maxPayloadLength` bytes.
    /// - Throws: `WireError.payloadTooLong` for a longer payload.
    public init(sequence: UInt8, payload: [UInt8]) throws(WireError) {
        guard payload.count <= WireProtocol.maxPayloadLength else { throw .payloadTooLong(payload.count) }
        self.sequence = sequence
        self.payload = payload
    }

    /// A frame carrying `message`; every message fits in a frame by construction.
    public init(sequence: UInt8, message: WireMessage) {
        let payload = message.encode()
        precondition(payload.count <= WireProtocol.maxPayloadLength, "\(message) does not fit a frame")
        self.sequence = sequence
        self.payload = payload
    }

    /// Bytes checked already by the decoder.
    private init(checkedSequence: UInt8, payload: [UInt8]) {
        self.sequence = checkedSequence
        self.payload = payload
    }

    /// The whole frame's length in bytes.
    public var length: Int { payload.count + WireProtocol.minFrameLength }

    /// The frame's bytes, ready to write to the port.
    public func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        bytes.append(UInt8(length))
        bytes.append(sequence)
        bytes.append(contentsOf: payload)
        let crc = CRC16.ccitt(bytes)
        bytes.append(UInt8(crc >> 8))
        bytes.append(UInt8(crc & 0xFF))
        bytes.append(WireProtocol.sync)
        return bytes
    }

    /// The message the payload holds.
    /// - Throws: the `WireError` of `WireMessage.decode(_:)`.
    public func message() throws(WireError) -> WireMessage {
        try WireMessage.decode(payload[...])
    }

    static func decoded(sequence: UInt8, payload: ArraySlice<UInt8>) -> Frame {
        Frame(checkedSequence: sequence, payload: Array(payload))
    }
}

/// Finds frames in a stream of bytes that may be cut anywhere, hold several frames at once,
/// or carry line noise.
///
/// Feed it whatever a read returned; it returns the complete valid frames in order. It keeps
/// at most one frame's worth of bytes (`WireProtocol.maxFrameLength`), so no input makes it
/// grow. A frame is accepted only when its length byte is in range, its last byte is the sync
/// byte and its CRC matches. After a rejected frame it resynchronizes as Klipper does: it drops
/// the bytes up to and including the first sync byte it holds and parses what follows as a
/// new frame; holding none, it drops bytes until the next sync byte arrives.
public struct FrameDecoder: Sendable {
    /// What the decoder has seen so far.
    public struct Statistics: Sendable, Hashable {
        /// Frames accepted.
        public var frames = 0
        /// A length byte outside `minFrameLength...maxFrameLength` where a frame had to start.
        public var badLength = 0
        /// A frame whose last byte was not the sync byte.
        public var missingSync = 0
        /// A frame whose CRC did not match.
        public var badCRC = 0
        /// A partial frame dropped because the line went quiet (`flush()`).
        public var truncated = 0
        /// Bytes thrown away while rejecting frames or waiting for a sync byte.
        public var discardedBytes = 0

        /// Frames rejected for any reason.
        public var rejected: Int { badLength + missingSync + badCRC + truncated }

        public init() {}
    }

    /// Counts since the decoder was made.
    public private(set) var statistics = Statistics()
    /// The frame being collected; never longer than `maxFrameLength`.
    private var buffer: [UInt8] = []
    /// After an error with no sync byte at hand: drop everything up to the next sync byte.
    private var awaitingSync = false

    public init() {
        buffer.reserveCapacity(WireProtocol.maxFrameLength)
    }

    /// Whether a partial frame (or a wait for sync) is pending.
    public var isIdle: Bool { buffer.isEmpty && !awaitingSync }

    /// Takes the next chunk of the stream and returns the frames it completes, oldest first.
    public mutating func feed<C: Collection>(_ chunk: C) -> [Frame] where C.Element == UInt8 {
        var frames: [Frame] = []
        for byte in chunk { push(byte, into: &frames) }
        return frames
    }

    /// The line has been quiet for `WireProtocol.frameGapTimeout` with a frame unfinished:
    /// no sender pauses inside a frame that long, so what is pending is not a frame (its
    /// length byte was corrupted, or bytes were lost). Rejects it, parses what follows its
    /// first sync byte, and returns any frames found there. Afterwards the decoder expects
    /// a frame to start with the next byte, as at a frame boundary.
    ///
    /// Without this a corrupted length byte on a quiet line would hold up to 63 bytes of
    /// later frames: ten heartbeats, long enough to trip the board's lease.
    public mutating func flush() -> [Frame] {
        var frames: [Frame] = []
        if !buffer.isEmpty { statistics.truncated += 1 }
        while !buffer.isEmpty { resynchronize(into: &frames) }
        awaitingSync = false
        return frames
    }

    /// Forgets a partial frame, e.g. after reopening the port.
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        awaitingSync = false
    }

    private mutating func push(_ byte: UInt8, into frames: inout [Frame]) {
        if awaitingSync {
            if byte == WireProtocol.sync { awaitingSync = false } else { statistics.discardedBytes += 1 }
            return
        }
        if buffer.isEmpty {
            // A sync byte where a frame would start is idle fill, not an error.
            if byte == WireProtocol.sync { return }
            guard (WireProtocol.minFrameLength...WireProtocol.maxFrameLength).contains(Int(byte)) else {
                statistics.badLength += 1
                statistics.discardedBytes += 1
                awaitingSync = true
                return
            }
        }
        buffer.append(byte)
        let length = Int(buffer[0])
        guard buffer.count == length else { return }

        guard buffer[length - 1] == WireProtocol.sync else {
            statistics.missingSync += 1
            resynchronize(into: &frames)
            return
        }
        let received = UInt16(buffer[length - 3]) << 8 | UInt16(buffer[length - 2])
        guard CRC16.ccitt(buffer[0..<(length - WireProtocol.trailerLength)]) == received else {
            statistics.badCRC += 1
            resynchronize(into: &frames)
            return
        }
        statistics.frames += 1
        frames.append(.decoded(sequence: buffer[1],
                               payload: buffer[WireProtocol.headerLength..<(length - WireProtocol.trailerLength)]))
        buffer.removeAll(keepingCapacity: true)
    }

    /// Drops the rejected candidate through its first sync byte and parses the rest again.
    /// Each round works on a strictly shorter tail, so this ends within one frame's length.
    private mutating func resynchronize(into frames: inout [Frame]) {
        let candidate = buffer
        buffer.removeAll(keepingCapacity: true)
        guard let sync = candidate.firstIndex(of: WireProtocol.sync) else {
            statistics.discardedBytes += candidate.count
            awaitingSync = true
            return
        }
        statistics.discardedBytes += sync + 1
        for byte in candidate[(sync + 1)...] { push(byte, into: &frames) }
    }
}
