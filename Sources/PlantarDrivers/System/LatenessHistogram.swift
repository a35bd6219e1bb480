/// How late the pulse thread acted compared with when an action was due, in microsecond
/// buckets allocated once (recording never allocates: it runs on the real-time thread).
public struct LatenessHistogram: Sendable, Hashable {
    /// Count per whole microsecond of lateness; the last bucket holds everything beyond.
    private var buckets: [UInt32]
    public private(set) var count: Int = 0
    public private(set) var maxNS: UInt64 = 0

    public init(rangeMicroseconds: Int = 20_000) {
        buckets = Array(repeating: 0, count: rangeMicroseconds + 1)
    }

    public mutating func record(_ latenessNS: UInt64) {
        let us = Int(min(latenessNS / 1000, UInt64(buckets.count - 1)))
        buckets[us] &+= 1
        count += 1
        if latenessNS > maxNS { maxNS = latenessNS }
    }

    /// The lateness (µs, bucket floor) under which `fraction` of the samples fall.
    public func percentileMicroseconds(_ fraction: Double) -> Int {
        guard count > 0 else { return 0 }
        let rank = max(1, Int((Double(count) * fraction).rounded(.up)))
        var seen = 0
        for (us, n) in buckets.enumerated() {
            seen += Int(n)
            if seen >= rank { return us }
        }
        return buckets.count - 1
    }

    /// p50/p99/max in microseconds with the sample count, as one line.
    public var summary: String {
        "n=\(count) p50=\(percentileMicroseconds(0.5))us p99=\(percentileMicroseconds(0.99))us max=\(maxNS / 1000)us"
    }

    public mutating func reset() {
        for i in buckets.indices { buckets[i] = 0 }
        count = 0
        maxNS = 0
    }
}
