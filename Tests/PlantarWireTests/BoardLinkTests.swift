import PlantarCore
import Testing
@testable import PlantarWire

@Suite struct BoardLinkTests {
    @Test func bootAnnouncesTheResetAndAnswersEverythingButHelloWithIt() {
        var board = BoardLinkStateMachine(identity: testIdentity, resetCause: .watchdog)
        #expect(messages(board.boot(now: ms(0))) == [.boardReset(cause: .watchdog)])
        #expect(board.isLatched)
        #expect(messages(board.receive(bytes: frameBytes(7, pressure(100)), now: ms(1))) == [.boardReset(cause: .watchdog)])
        #expect(board.receive(bytes: frameBytes(0, .ack(next: 3)), now: ms(1)).isEmpty)
        let stop = board.receive(bytes: frameBytes(8, .emergencyRelease), now: ms(2))
        #expect(stop.first == .releaseAll(.emergencyRelease))
        #expect(messages(stop) == [.boardReset(cause: .watchdog)])
        #expect(board.send(.easeButton, now: ms(3)).isEmpty, "no session, no events")
        #expect(board.nextDeadline() == nil, "no lease without a session")
    }

    @Test func helloStartsALatchedSession() {
        var board = BoardLinkStateMachine(identity: testIdentity)
        _ = board.boot(now: ms(0))
        let actions = board.receive(bytes: frameBytes(42, .hello(version: 1)), now: ms(1))
        #expect(actions.first == .releaseAll(.newSession))
        #expect(sent(actions).map(\.0) == [0, 0])
        #expect(messages(actions) == [.ack(next: 43), .helloReply(testIdentity)])
        #expect(board.isSynchronized)
        #expect(board.isLatched)
        // The session numbering follows the hello.
        #expect(messages(board.receive(bytes: frameBytes(43, .heartbeat), now: ms(2))) == [.ack(next: 44)])
    }

    @Test func latchedBoardRefusesPressingUntilArmed() {
        var board = syncedBoard(armed: false)
        let refused = board.receive(bytes: frameBytes(1, pressure(300)), now: ms(1))
        #expect(!refused.contains { if case .execute = $0 { true } else { false } })
        #expect(messages(refused) == [.ack(next: 2), .fault(code: .commandRefused, detail: ShortText(fitting: "pressure: latched"))])
        // Release and heat off are always obeyed.
        #expect(board.receive(bytes: frameBytes(2, .release(foot: .left, channel: 0)), now: ms(2)).first
                == .execute(.release(foot: .left, channel: 0)))
        let armed = board.receive(bytes: frameBytes(3, .arm), now: ms(3))
        #expect(armed.first == .execute(.arm))
        #expect(!board.isLatched)
        #expect(board.receive(bytes: frameBytes(4, pressure(300)), now: ms(4)).first == .execute(pressure(300)))
    }

    @Test func armIsRefusedWhileTheSwitchIsPressed() {
        var board = syncedBoard(armed: false)
        _ = board.switchChanged(pressed: true, now: ms(1))
        let refused = board.receive(bytes: frameBytes(1, .arm), now: ms(2))
        #expect(messages(refused).last == .fault(code: .commandRefused, detail: ShortText(fitting: "arm: switch pressed")))
        #expect(board.isLatched)
    }

    @Test func armIsRefusedAfterAHelloOfAnotherVersion() {
        var board = BoardLinkStateMachine(identity: testIdentity)
        _ = board.receive(bytes: frameBytes(0, .hello(version: 2)), now: ms(0))
        let refused = board.receive(bytes: frameBytes(1, .arm), now: ms(1))
        #expect(messages(refused).last == .fault(code: .commandRefused, detail: ShortText(fitting: "arm: protocol version")))
    }

    @Test func theSwitchReleasesFirstThenReports() {
        var board = syncedBoard()
        let pressed = board.switchChanged(pressed: true, now: ms(5))
        #expect(pressed.first == .releaseAll(.discomfortSwitch))
        #expect(messages(pressed) == [.switchPressed(alreadyReleased: true)])
        #expect(board.isLatched)
        #expect(board.switchChanged(pressed: true, now: ms(6)).isEmpty, "no change, no event")
        // A pressure setpoint that was already on the wire cannot press again.
        let late = board.receive(bytes: frameBytes(2, pressure(250)), now: ms(7))
        #expect(!late.contains(.execute(pressure(250))))
        #expect(messages(board.switchChanged(pressed: false, now: ms(9))).contains(.switchReleased))
        #expect(board.isLatched, "releasing the switch does not re-arm")
    }

    @Test func leaseExpiresOnceAfter250MillisecondsOfSilence() {
        var board = syncedBoard()
        _ = board.receive(bytes: frameBytes(2, pressure(300)), now: ms(100))
        #expect(board.nextDeadline() == ms(350))
        #expect(board.tick(now: ms(349)).filter { if case .releaseAll = $0 { true } else { false } }.isEmpty)
        let expired = board.tick(now: ms(350))
        #expect(expired.first == .releaseAll(.leaseExpired))
        #expect(messages(expired).contains(.leaseExpired))
        #expect(board.isLatched)
        #expect(!board.tick(now: ms(400)).contains(.releaseAll(.leaseExpired)), "reported once per silence")
        // The host comes back: the session goes on, latched.
        _ = board.receive(bytes: frameBytes(3, .heartbeat), now: ms(500))
        #expect(board.nextDeadline().map { $0 <= ms(750) } == true)
        #expect(!board.receive(bytes: frameBytes(4, pressure(300)), now: ms(501)).contains(.execute(pressure(300))))
    }

    @Test func corruptOrUndecodableFramesDoNotRefreshTheLease() {
        var board = syncedBoard()
        var corrupt = frameBytes(2, .heartbeat)
        corrupt[2] ^= 0x40
        #expect(board.receive(bytes: corrupt, now: ms(200)).isEmpty)
        #expect(board.decoderStatistics.badCRC == 1)
        let bad = board.receive(bytes: try! Frame(sequence: 2, payload: [0x12, 0x00]).encode(), now: ms(220))
        #expect(messages(bad).first.map { if case .fault(.badMessage, _) = $0 { true } else { false } } == true)
        #expect(board.tick(now: ms(250)).first == .releaseAll(.leaseExpired))
    }

    @Test func aCorruptedLengthByteOnAQuietLineDoesNotStarveTheLease() {
        var board = syncedBoard()   // expects 2
        // A heartbeat whose length byte became 64: the board would wait for 58 more bytes,
        // which at one heartbeat per 50 ms takes longer than the lease.
        var bad = frameBytes(2, .heartbeat)
        bad[0] = 64
        _ = board.receive(bytes: bad, now: ms(50))
        #expect(board.nextDeadline() == ms(70))
        #expect(board.tick(now: ms(70)).isEmpty)
        #expect(board.decoderStatistics.truncated == 1)
        #expect(messages(board.receive(bytes: frameBytes(2, .heartbeat), now: ms(100))) == [.ack(next: 3)])
        #expect(!board.tick(now: ms(300)).contains(.releaseAll(.leaseExpired)))
    }

    @Test func emergencyReleaseIsObeyedOutOfSequence() {
        var board = syncedBoard()   // expects 2
        // The host sent 2...5 (lost), then gave them up for an emergency release numbered 6.
        let stop = board.receive(bytes: frameBytes(6, .emergencyRelease), now: ms(10))
        #expect(stop.first == .releaseAll(.emergencyRelease))
        #expect(messages(stop) == [.ack(next: 7)])
        #expect(board.isLatched)
        #expect(messages(board.receive(bytes: frameBytes(7, .heartbeat), now: ms(11))) == [.ack(next: 8)])
        // An old retransmission of the stop is obeyed again and does not move the numbering back.
        let again = board.receive(bytes: frameBytes(6, .emergencyRelease), now: ms(12))
        #expect(again.first == .releaseAll(.emergencyRelease))
        #expect(messages(again) == [.ack(next: 8)])
    }

    @Test func outOfOrderFramesAreDroppedAndNakedOncePerGap() {
        var board = syncedBoard()   // expects 2
        let ahead = board.receive(bytes: frameBytes(3, pressure(1)) + frameBytes(4, pressure(2)), now: ms(1))
        #expect(!ahead.contains { if case .execute = $0 { true } else { false } })
        #expect(messages(ahead) == [.nak(expected: 2)])
        #expect(board.statistics.outOfOrder == 2)
        let resent = board.receive(bytes: frameBytes(2, pressure(0)) + frameBytes(3, pressure(1)) + frameBytes(4, pressure(2)),
                                   now: ms(2))
        #expect(resent.filter { if case .execute = $0 { true } else { false } }
                == [.execute(pressure(0)), .execute(pressure(1)), .execute(pressure(2))])
        let duplicate = board.receive(bytes: frameBytes(4, pressure(2)), now: ms(3))
        #expect(duplicate.map { $0 } == [.transmit(frameBytes(0, .ack(next: 5)))])
        #expect(board.statistics.duplicates == 1)
    }

    @Test func eventsAreRetransmittedUntilAcknowledged() {
        var board = syncedBoard()
        let first = board.send(.easeButton, now: ms(10))
        #expect(sent(first).map(\.0) == [1])
        #expect(messages(board.tick(now: ms(50))) == [.easeButton])
        _ = board.receive(bytes: frameBytes(0, .ack(next: 2)), now: ms(52))
        #expect(board.tick(now: ms(100)).isEmpty)
    }

    @Test func identifyAnswersWithTheHelloReply() {
        var board = syncedBoard()
        #expect(messages(board.receive(bytes: frameBytes(2, .identify), now: ms(1)))
                == [.ack(next: 3), .helloReply(testIdentity)])
    }

    @Test func commandsBeyondTheBoardsCapabilitiesAreRefused() {
        var board = syncedBoard()   // test board: both feet, u and v, one channel, no heat
        let refusals: [(WireMessage, String)] = [
            (pressure(10).withChannel(1), "pressure: no channel 1"),
            (.release(foot: .right, channel: 3), "release: no channel 3"),
            (.heat(foot: .left, on: true, target: FixedTemperature(raw: 380)), "heat: no heat pad"),
        ]
        var sequence: UInt8 = 2
        for (command, why) in refusals {
            let actions = board.receive(bytes: frameBytes(sequence, command), now: ms(1))
            #expect(!actions.contains(.execute(command)))
            #expect(messages(actions).last == .fault(code: .commandRefused, detail: ShortText(fitting: why)))
            sequence += 1
        }
        #expect(board.receive(bytes: frameBytes(sequence, .heat(foot: .left, on: false, target: FixedTemperature(raw: 0))),
                              now: ms(2)).first == .execute(.heat(foot: .left, on: false, target: FixedTemperature(raw: 0))))

        var zoned = BoardLinkStateMachine(identity: HelloReply(identity: ShortText(fitting: "z"),
            capabilities: try! Capabilities(feet: [.left], axes: [], channelsPerFoot: 9, features: [.discomfortSwitch])))
        _ = zoned.receive(bytes: frameBytes(0, .hello(version: 1)), now: ms(0))
        _ = zoned.receive(bytes: frameBytes(1, .arm), now: ms(0))
        let move = WireMessage.move(foot: .left, u: FixedLength(raw: 1), v: FixedLength(raw: 1), speed: FixedSpeed(raw: 1))
        #expect(messages(zoned.receive(bytes: frameBytes(2, move), now: ms(1))).last
                == .fault(code: .commandRefused, detail: ShortText(fitting: "move: no axes")))
        #expect(messages(zoned.receive(bytes: frameBytes(3, pressure(5, foot: .right)), now: ms(1))).last
                == .fault(code: .commandRefused, detail: ShortText(fitting: "pressure: no right foot")))
        #expect(zoned.receive(bytes: frameBytes(4, pressure(5).withChannel(8)), now: ms(1)).first
                == .execute(pressure(5).withChannel(8)))
    }

    @Test func tripReleasesThenReports() {
        var board = syncedBoard()
        let trip = board.trip(.overPressure, detail: ShortText(fitting: "105.2 kPa"), now: ms(1))
        #expect(trip.first == .releaseAll(.fault))
        #expect(messages(trip) == [.fault(code: .overPressure, detail: ShortText(fitting: "105.2 kPa"))])
        #expect(board.isLatched)
    }
}
