import PropertyBased
import Testing
@testable import PlantarWire

@Suite struct FrameTests {
    @Test func layoutIsLengthSequencePayloadCRCSync() throws {
        let frame = Frame(sequence: 3, message: .heartbeat)
        let bytes = frame.encode()
        #expect(bytes.count == 6)
        #expect(bytes[0] == 6)
        #expect(bytes[1] == 3)
        #expect(bytes[2] == 0x12)
        let crc = referenceCRC([6, 3, 0x12])
        #expect(bytes[3] == UInt8(crc >> 8))
        #expect(bytes[4] == UInt8(crc & 0xFF))
        #expect(bytes[5] == 0x7E)
        #expect(isWellFormedFrame(bytes))
    }

    @Test func lengthLimits() throws {
        #expect(WireProtocol.minFrameLength == 5)
        #expect(WireProtocol.maxFrameLength == 64)
        #expect(try Frame(sequence: 0, payload: []).encode().count == 5)
        #expect(try Frame(sequence: 0, payload: Array(repeating: 0xAA, count: 59)).encode().count == 64)
        #expect(throws: WireError.payloadTooLong(60)) { try Frame(sequence: 0, payload: Array(repeating: 0, count: 60)) }
    }
}

@Suite struct FrameDecoderTests {
    let frames: [Frame] = sampleMessages.enumerated().map { Frame(sequence: UInt8($0.offset), message: $0.element) }
    var stream: [UInt8] { frames.flatMap { $0.encode() } }

    @Test func byteByByte() {
        var decoder = FrameDecoder()
        var out: [Frame] = []
        for byte in stream { out += decoder.feed([byte]) }
        #expect(out == frames)
        #expect(decoder.statistics.rejected == 0)
        #expect(decoder.statistics.frames == frames.count)
        #expect(decoder.isIdle)
    }

    @Test func allFramesInOneRead() {
        var decoder = FrameDecoder()
        #expect(decoder.feed(stream) == frames)
    }

    @Test func framesSplitAtEveryPoint() {
        let two = frames[7].encode() + frames[8].encode()
        for cut in 0...two.count {
            var decoder = FrameDecoder()
            let out = decoder.feed(two[..<cut]) + decoder.feed(two[cut...])
            #expect(out == [frames[7], frames[8]], "cut at \(cut)")
        }
    }

    @Test func syncBytesBetweenFramesAreIdleFill() {
        var decoder = FrameDecoder()
        let out = decoder.feed([0x7E, 0x7E] + frames[0].encode() + [0x7E] + frames[1].encode())
        #expect(out == [frames[0], frames[1]])
        #expect(decoder.statistics.rejected == 0)
        #expect(decoder.statistics.discardedBytes == 0)
    }

    @Test func syncByteInsideAPayloadIsData() throws {
        let frame = try Frame(sequence: 0x7E, payload: [0x7E, 0x7E, 0x01])
        var decoder = FrameDecoder()
        #expect(decoder.feed(frame.encode()) == [frame])
    }

    @Test func badCRCIsRejectedAndTheNextFrameRecovered() {
        var bad = frames[7].encode()
        bad[3] ^= 0x01
        var decoder = FrameDecoder()
        let out = decoder.feed(bad + frames[8].encode())
        #expect(out == [frames[8]])
        #expect(decoder.statistics.badCRC == 1)
        #expect(decoder.statistics.rejected == 1)
    }

    @Test func missingSyncIsRejected() {
        var bad = frames[7].encode()
        bad[bad.count - 1] = 0x00
        var decoder = FrameDecoder()
        // The next frame's bytes up to its own sync are spent resynchronizing; the one after survives.
        let out = decoder.feed(bad + frames[8].encode() + frames[9].encode())
        #expect(decoder.statistics.missingSync == 1)
        #expect(out.last == frames[9])
        #expect(!out.contains(where: { !frames.contains($0) }))
    }

    @Test func badLengthWaitsForSync() {
        var decoder = FrameDecoder()
        let out = decoder.feed([0x02, 0x41, 0x42, 0x7E] + frames[0].encode())
        #expect(out == [frames[0]])
        #expect(decoder.statistics.badLength == 1)
        #expect(decoder.statistics.discardedBytes == 3)
    }

    @Test func garbageBeforeAFrameThatEndsInSyncRecovers() {
        var decoder = FrameDecoder()
        let out = decoder.feed([0xFF, 0x00, 0x13, 0x7E] + frames[5].encode())
        #expect(out == [frames[5]])
    }

    @Test func lengthByteMimickingTheNextFrameIsResolvedByResync() {
        // A stray valid-looking length swallows part of the next frame; the decoder backs up
        // to the first sync it holds and still finds the frame after.
        var decoder = FrameDecoder()
        let next = frames[1].encode()
        let out = decoder.feed([0x09] + frames[0].encode() + next)
        #expect(out.allSatisfy { frames.contains($0) })
        #expect(out.last == frames[1])
        #expect(decoder.statistics.rejected >= 1)
    }

    @Test func flushDropsAFrameStuckOnACorruptedLength() {
        var decoder = FrameDecoder()
        // A sync byte corrupted into 0x3E (62) makes the next frames look like its body.
        #expect(decoder.feed([0x3E] + frames[0].encode() + frames[1].encode()).isEmpty)
        #expect(!decoder.isIdle)
        #expect(decoder.flush() == [frames[1]], "found again behind the first sync byte")
        #expect(decoder.statistics.truncated == 1)
        #expect(decoder.isIdle)
        #expect(decoder.feed(frames[2].encode()) == [frames[2]])
        // After garbage with no sync at all, a quiet line is a frame boundary too.
        _ = decoder.feed([0x02, 0x41])
        _ = decoder.flush()
        #expect(decoder.feed(frames[3].encode()) == [frames[3]])
    }

    @Test func resetDropsAPartialFrame() {
        var decoder = FrameDecoder()
        let bytes = frames[2].encode()
        _ = decoder.feed(bytes.prefix(4))
        #expect(!decoder.isIdle)
        decoder.reset()
        #expect(decoder.feed(bytes) == [frames[2]])
    }

    // MARK: fuzz

    /// Feeds `bytes` in random chunks and checks what the decoder yields: every frame's bytes
    /// occur in the input and pass an independent CRC check, so nothing is invented or
    /// accepted corrupt. Returns the frames.
    static func decodeInChunks(_ bytes: [UInt8], using rng: inout SplitMix) -> [Frame] {
        var decoder = FrameDecoder()
        var out: [Frame] = []
        var index = 0
        while index < bytes.count {
            let size = Int.random(in: 1...70, using: &rng)
            let end = min(bytes.count, index + size)
            out += decoder.feed(bytes[index..<end])
            index = end
        }
        for frame in out {
            let encoded = frame.encode()
            #expect(isWellFormedFrame(encoded))
            #expect(contains(bytes, encoded), "decoder produced a frame that is not in its input")
        }
        #expect(decoder.statistics.frames == out.count)
        return out
    }

    @Test func randomGarbageNeverYieldsAnInvalidFrame() async {
        await propertyCheck(count: 2000, input: Gen<UInt8>.value(in: 0...255).array(of: 0...600),
                            Gen<UInt64>.value(in: 0...UInt64.max)) { garbage, seed in
            var rng = SplitMix(seed)
            _ = Self.decodeInChunks(garbage, using: &rng)
        }
    }

    /// Garbage biased towards what confuses a decoder: plausible lengths and sync bytes.
    @Test func adversarialGarbageNeverYieldsAnInvalidFrame() async {
        let biased = Gen<UInt8>.frequency((3, Gen<UInt8>.value(in: 0...255)), (1, Gen<UInt8>.value(in: 5...64)),
                                          (1, Gen<UInt8>.always(0x7E)))
        await propertyCheck(count: 2000, input: biased.array(of: 0...400), Gen<UInt64>.value(in: 0...UInt64.max)) {
            garbage, seed in
            var rng = SplitMix(seed)
            _ = Self.decodeInChunks(garbage, using: &rng)
        }
    }

    /// Valid frames, then random bit flips, dropped bytes, inserted noise and a truncated
    /// end. Only original frames come out, in order; frames the damage did not touch come
    /// out unless they directly follow damage (a corrupt frame whose sync byte is hit makes
    /// resynchronization spend the frame after it).
    /// Fixed seeds, not fresh random ones each run: a dropped or inserted byte makes the decoder
    /// try candidate frames out of shifted bytes, and CRC-16 lets a random candidate through
    /// once in 65,536 (seed 13711420407296713163 finds one: put it first to see this fail).
    /// That is the protocol's own limit (the sequence numbers and the board's replies catch
    /// it), not the decoder's; a random seed set made this test fail about once in tens of runs.
    @Test func corruptedStreamsYieldOnlyOriginalFramesInOrder() {
        for index in UInt64(0)..<3000 {
            let seed = index &* 0x9E37_79B9_7F4A_7C15 &+ 0xD1B5_4A32_D192_ED03
            var rng = SplitMix(seed)
            let count = Int.random(in: 1...12, using: &rng)
            var originals: [Frame] = []
            for i in 0..<count {
                let payload = (0..<Int.random(in: 0...59, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                originals.append(try! Frame(sequence: UInt8(truncatingIfNeeded: i), payload: payload))
            }
            var stream: [UInt8] = []
            var ends: [Int] = []          // where each frame's bytes end in the stream
            var damaged = Set<Int>()
            for (i, frame) in originals.enumerated() {
                var bytes = frame.encode()
                switch Int.random(in: 0..<10, using: &rng) {
                case 0:   // one to three bit flips: always caught by the CRC
                    for _ in 0..<Int.random(in: 1...3, using: &rng) {
                        bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                    }
                    damaged.insert(i)
                case 1:   // a dropped byte
                    bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
                    damaged.insert(i)
                case 2:   // noise inserted inside the frame
                    bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 1..<bytes.count, using: &rng))
                    damaged.insert(i)
                default:
                    break
                }
                stream += bytes
                ends.append(stream.count)
            }
            var complete = originals.count   // frames wholly before a truncation
            if Int.random(in: 0..<4, using: &rng) == 0, !stream.isEmpty {
                let cut = Int.random(in: 0..<stream.count, using: &rng)
                stream.removeLast(stream.count - cut)
                complete = ends.firstIndex { $0 > cut } ?? originals.count
            }

            // A live line keeps carrying bytes; idle sync bytes stand in for them, so that a
            // frame whose corrupted length byte reaches past the end is completed and rejected.
            stream += Array(repeating: WireProtocol.sync, count: WireProtocol.maxFrameLength - 1)
            let out = Self.decodeInChunks(stream, using: &rng)
            // Only originals, in their order.
            var next = 0
            for frame in out {
                guard let index = originals[next...].firstIndex(of: frame) else {
                    Issue.record("seed \(seed): yielded a frame that was never sent, or out of order: \(frame)")
                    return
                }
                next = index + 1
            }
            // Intact frames survive unless they follow damage or are cut off.
            for i in 0..<complete where !damaged.contains(i) && (i == 0 || !damaged.contains(i - 1)) {
                #expect(out.contains(originals[i]), "seed \(seed): intact frame \(i) lost")
            }
        }
    }
}
