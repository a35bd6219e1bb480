/// Real time, sped up: `speed` session seconds pass per wall-clock second.
/// `plantar run --simulator --speed 30` shows a 15-minute program in 30 seconds.
public struct ScaledClock: Clock {
    public typealias Instant = VirtualClock.Instant

    public let speed: Double
    private let base = ContinuousClock()
    private let origin: ContinuousClock.Instant

    public init(speed: Double) {
        self.speed = max(speed, 0.001)
        origin = base.now
    }

    public var now: Instant { Instant(offset: scale(origin.duration(to: base.now), by: speed)) }
    public var minimumResolution: Duration { scale(base.minimumResolution, by: speed) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let wall = scale(deadline.offset, by: 1 / speed)
        try await base.sleep(until: origin.advanced(by: wall), tolerance: nil)
    }

    func scale(_ d: Duration, by factor: Double) -> Duration {
        // Saturating (a speed comes from a request): ±10¹⁸ ns is 31 years, far past any session.
        let ns = d.seconds * factor * 1e9
        return .nanoseconds(Int64(ns.isNaN ? 0 : min(max(ns, -1e18), 1e18).rounded()))
    }
}
