import Synchronization

/// A clock that jumps: sleeping until a deadline moves its time there at once.
///
/// `plantar simulate` and the tests run sessions on it, so a 15-minute program is checked in
/// milliseconds and every run is exactly reproducible. It suits a single sleeper (the session
/// runner), which is how it is used: whoever sleeps decides what happens next.
public final class VirtualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, Sendable {
        public var offset: Duration

        public init(offset: Duration) { self.offset = offset }

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private let current = Mutex(Instant(offset: .zero))

    public init() {}

    public var now: Instant { current.withLock { $0 } }
    public var minimumResolution: Duration { .nanoseconds(1) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        current.withLock { now in if now < deadline { now = deadline } }
    }

    /// Moves time forward by `duration` without anyone sleeping (tests).
    public func advance(by duration: Duration) {
        current.withLock { $0 = $0.advanced(by: duration) }
    }
}
