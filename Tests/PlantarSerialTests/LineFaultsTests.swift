@testable import PlantarSimulator
import PlantarWire
import Testing

/// The emulated line's damage: seeded, counted, and never able to make a frame misread.
@Suite("Board emulator line faults")
struct LineFaultsTests {
    static func frames(_ count: Int) -> [[UInt8]] {
        (0..<count).map { i in
            let message: WireMessage = i % 3 == 0 ? .heartbeat
                : .pressure(foot: i % 2 == 0 ? .left : .right, channel: 0,
                            pressure: try! FixedPressure(Double(i % 90)), ramp: try! FixedRamp(150))
            return Frame(sequence: UInt8(truncatingIfNeeded: i), message: message).encode()
        }
    }

    @Test("every frame corrupted: the decoder rejects every one and accepts nothing damaged")
    func corruptionNeverPassesTheCRC() {
        var line = LineFaults(settings: .init(corrupt: 1.0), seed: 42)
        var decoder = FrameDecoder()
        let sent = Self.frames(3000)
        var accepted: [Frame] = []
        for (i, bytes) in sent.enumerated() {
            line.send(bytes, now: UInt64(i) * 1_000_000)
            accepted += decoder.feed(line.receive(now: UInt64(i) * 1_000_000))
            // A quiet line between frames, as the frame gap timeout sees it.
            if i % 50 == 49 { accepted += decoder.flush() }
        }
        accepted += decoder.flush()
        #expect(line.counters.corrupted == 3000)
        #expect(accepted.isEmpty, "\(accepted.count) damaged frames accepted")
    }

    @Test("a seeded fraction is lost or damaged, the same for the same seed; the rest passes intact and in order")
    func seededFractions() {
        func run(seed: UInt64) -> (LineFaults.Counters, [Frame]) {
            var line = LineFaults(settings: .init(drop: 0.05, corrupt: 0.05), seed: seed)
            var decoder = FrameDecoder()
            var accepted: [Frame] = []
            for (i, bytes) in Self.frames(4000).enumerated() {
                line.send(bytes, now: UInt64(i) * 1_000_000)
                accepted += decoder.feed(line.receive(now: UInt64(i) * 1_000_000))
                accepted += decoder.flush()
            }
            return (line.counters, accepted)
        }
        let (counters, accepted) = run(seed: 9)
        #expect(counters.frames == 4000)
        #expect((120...280).contains(counters.dropped), "\(counters)")
        #expect((110...270).contains(counters.corrupted), "\(counters)")
        #expect(accepted.count == 4000 - counters.dropped - counters.corrupted)
        var clean = FrameDecoder()
        let sent = Self.frames(4000).flatMap { clean.feed($0) }
        #expect(sent.count == 4000)
        // What passed is what was sent, in order, with the lost and damaged ones missing.
        var next = sent.makeIterator()
        #expect(accepted.allSatisfy { frame in
            while let candidate = next.next() { if candidate == frame { return true } }
            return false
        })
        #expect(run(seed: 9).0 == counters)
        #expect(run(seed: 10).0 != counters)
    }

    @Test("latency and line time: bytes come out when a line at the baud would have carried them, plus the latency")
    func latencyAndPacing() {
        // 250000 baud: 40 µs a byte; 5 ms latency.
        var line = LineFaults(settings: .init(latency: 5_000_000, byteTime: 40_000), seed: 1)
        let frame = Self.frames(1)[0]
        line.send(frame, now: 0)
        line.send(frame, now: 0)
        let first = UInt64(frame.count) * 40_000 + 5_000_000
        #expect(line.nextDue == first)
        #expect(line.receive(now: first - 1).isEmpty)
        #expect(line.receive(now: first) == frame)
        #expect(line.receive(now: first + UInt64(frame.count) * 40_000) == frame)
    }
}
