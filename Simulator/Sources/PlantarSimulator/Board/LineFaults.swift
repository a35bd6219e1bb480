import PlantarWire

/// What the emulated line does to bytes in one direction: cuts them into frames, loses or
/// damages a seeded fraction of the frames, holds them for the line time at a baud rate and
/// an added latency. Pure: time comes in as CLOCK_MONOTONIC nanoseconds.
struct LineFaults: Sendable {
    struct Settings: Sendable, Hashable {
        /// Fraction of frames lost (0…1).
        var drop = 0.0
        /// Fraction of frames with one bit flipped (0…1). A single flipped bit never passes
        /// the CRC, so a damaged frame is always rejected, never misread.
        var corrupt = 0.0
        /// Added to every frame's delivery.
        var latency: UInt64 = 0
        /// Time a byte takes on the line (10 bit times at 8N1); 0 delivers as fast as the pty.
        var byteTime: UInt64 = 0
    }

    struct Counters: Sendable, Hashable {
        var frames = 0
        var dropped = 0
        var corrupted = 0
    }

    let settings: Settings
    private(set) var counters = Counters()
    private var random: SplitMix64
    /// Bytes of a frame not complete yet, and when its first byte came.
    private var partial: [UInt8] = []
    private var partialSince: UInt64 = 0
    /// Deliveries in order of their due time.
    private var queue: [(due: UInt64, bytes: [UInt8])] = []
    private var lineFreeAt: UInt64 = 0

    init(settings: Settings, seed: UInt64) {
        self.settings = settings
        random = SplitMix64(seed: seed)
    }

    var isTransparent: Bool {
        settings.drop == 0 && settings.corrupt == 0 && settings.latency == 0 && settings.byteTime == 0
    }

    /// Bytes entering the line at `now`.
    mutating func send(_ bytes: some Collection<UInt8>, now: UInt64) {
        for byte in bytes {
            if partial.isEmpty {
                if byte == WireProtocol.sync {
                    schedule([byte], now: now)   // idle fill passes as it is
                    continue
                }
                partialSince = now
            }
            partial.append(byte)
            let length = Int(partial[0])
            if length < WireProtocol.minFrameLength || length > WireProtocol.maxFrameLength {
                // Not a frame: garbage passes unchanged, the receiver deals with it.
                schedule(partial, now: now)
                partial.removeAll()
            } else if partial.count == length {
                frame(partial, now: now)
                partial.removeAll()
            }
        }
    }

    private mutating func frame(_ bytes: [UInt8], now: UInt64) {
        counters.frames += 1
        if settings.drop > 0, random.unit() <= settings.drop {
            counters.dropped += 1
            return
        }
        var bytes = bytes
        if settings.corrupt > 0, random.unit() <= settings.corrupt {
            counters.corrupted += 1
            let index = Int(random.next() % UInt64(bytes.count))
            bytes[index] ^= 1 << UInt8(random.next() % 8)
        }
        schedule(bytes, now: now)
    }

    private mutating func schedule(_ bytes: [UInt8], now: UInt64) {
        let start = max(now, lineFreeAt)
        let end = start + UInt64(bytes.count) * settings.byteTime
        lineFreeAt = end
        let due = end + settings.latency
        if let last = queue.indices.last, queue[last].due == due {
            queue[last].bytes += bytes
        } else {
            queue.append((due, bytes))
        }
    }

    /// Bytes that have come out of the line by `now`. A frame cut short (the sender never
    /// pauses inside one, so it will not be completed) passes unchanged after 5 ms.
    mutating func receive(now: UInt64) -> [UInt8] {
        if !partial.isEmpty, now >= partialSince + 5_000_000 {
            schedule(partial, now: now)
            partial.removeAll()
        }
        var out: [UInt8] = []
        while let first = queue.first, first.due <= now {
            out += first.bytes
            queue.removeFirst()
        }
        return out
    }

    /// When `receive` next has something, at the latest.
    var nextDue: UInt64? {
        let flush = partial.isEmpty ? nil : partialSince + 5_000_000
        switch (queue.first?.due, flush) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b): return b
        }
    }
}
