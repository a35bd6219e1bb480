import PlantarCore
import Testing
@testable import PlantarWire

@Suite struct HostLinkTests {
    @Test func handshakeSendsHelloAndCompletesOnTheReply() throws {
        var host = LinkStateMachine()
        let start = host.start(now: ms(0))
        guard case .transmit(let bytes) = try #require(start.first) else { Issue.record("no transmit"); return }
        #expect(bytes.first == WireProtocol.sync, "a sync byte flushes the board's decoder first")
        #expect(sent(start).map(\.0) == [0])
        #expect(messages(start) == [.hello(version: 1)])
        #expect(!host.isReady)

        #expect(host.send(pressure(100), now: ms(1)) == [.dropped(pressure(100), .notReady)])

        let reply = host.receive(bytes: frameBytes(0, .ack(next: 1)) + frameBytes(0, .helloReply(testIdentity)), now: ms(3))
        #expect(reply.contains(.handshakeCompleted(testIdentity)))
        #expect(messages(reply) == [.ack(next: 1)])
        #expect(host.isReady)
    }

    @Test func helloIsRetransmittedThenTheHandshakeTimesOut() {
        var host = LinkStateMachine()
        _ = host.start(now: ms(0))
        #expect(host.nextDeadline() == ms(40))
        #expect(host.tick(now: ms(39)).isEmpty)
        #expect(messages(host.tick(now: ms(40))) == [.hello(version: 1)])
        let down = host.tick(now: ms(250))
        #expect(messages(down) == [.emergencyRelease])
        #expect(down.last == .linkDown(.noHelloReply(after: ms(250))))
        #expect(host.failure == .noHelloReply(after: ms(250)))
        #expect(host.tick(now: ms(300)).isEmpty)
    }

    @Test func commandsAreNumberedAndAcknowledged() {
        var host = readyHost()
        let first = host.send(pressure(100), now: ms(1))
        let second = host.send(.release(foot: .left, channel: 0), now: ms(1))
        #expect(sent(first).map(\.0) == [1])
        #expect(sent(second).map(\.0) == [2])
        #expect(host.receive(bytes: frameBytes(0, .ack(next: 3)), now: ms(3)).isEmpty)
        // Nothing in flight: nothing to retransmit.
        #expect(host.tick(now: ms(45)).isEmpty)
    }

    @Test func windowFullQueuesAndAnAckLetsTheQueueOut() {
        var host = readyHost()
        for i in 0..<WireProtocol.window {
            #expect(sent(host.send(.move(foot: .left, u: FixedLength(raw: UInt16(i)), v: FixedLength(raw: 0),
                                          speed: FixedSpeed(raw: 100)), now: ms(1))).count == 1)
        }
        #expect(host.send(pressure(100), now: ms(2)).isEmpty, "window full: queued")
        #expect(host.send(pressure(200), now: ms(2)).isEmpty, "replaces the queued setpoint")
        #expect(host.send(.heat(foot: .left, on: false, target: FixedTemperature(raw: 0)), now: ms(2)).isEmpty)
        #expect(host.statistics.coalesced == 1)

        let released = host.receive(bytes: frameBytes(0, .ack(next: 3)), now: ms(5))
        #expect(sent(released).map(\.0) == [9, 10])
        #expect(messages(released) == [pressure(200), .heat(foot: .left, on: false, target: FixedTemperature(raw: 0))])
    }

    @Test func queueOverflowIsReported() {
        var host = readyHost(timing: LinkTiming(window: 1, queueCapacity: 2))
        _ = host.send(pressure(1), now: ms(1))
        _ = host.send(.release(foot: .right, channel: 0), now: ms(1))
        _ = host.send(.heat(foot: .right, on: false, target: FixedTemperature(raw: 0)), now: ms(1))
        let move = WireMessage.move(foot: .right, u: FixedLength(raw: 1), v: FixedLength(raw: 1), speed: FixedSpeed(raw: 1))
        #expect(host.send(move, now: ms(1)) == [.dropped(move, .queueFull)])
    }

    @Test func retransmitsEverythingInFlightAfterTheTimeout() {
        var host = readyHost()
        _ = host.send(pressure(1), now: ms(10))
        _ = host.send(pressure(2, foot: .right), now: ms(12))
        #expect(host.nextDeadline() == ms(50))
        #expect(host.tick(now: ms(49)).isEmpty)
        let again = host.tick(now: ms(50))
        #expect(sent(again).map(\.0) == [1, 2])
        #expect(host.statistics.retransmissions == 2)
        // Acked after the retransmission: no more.
        _ = host.receive(bytes: frameBytes(0, .ack(next: 3)), now: ms(55))
        #expect(sent(host.tick(now: ms(95))).allSatisfy { $0.1 == .heartbeat })
    }

    @Test func nakResendsFromTheExpectedFrame() {
        var host = readyHost()
        for i in 1...4 { _ = host.send(pressure(UInt16(i)), now: ms(1)) }
        // Frames 1 and 2 came through; 3 was lost, so 4 arrived out of order.
        let again = host.receive(bytes: frameBytes(0, .nak(expected: 3)), now: ms(4))
        #expect(sent(again).map(\.0) == [3, 4])
        #expect(host.statistics.naksReceived == 1)
        #expect(host.receive(bytes: frameBytes(0, .ack(next: 5)), now: ms(6)).isEmpty)
        #expect(host.receive(bytes: frameBytes(0, .nak(expected: 100)), now: ms(7)).isEmpty)
        #expect(host.statistics.staleAcks == 1)
    }

    @Test func boardEventsAreDeliveredInOrderOnceAndGapsNaked() {
        var host = readyHost()
        // Board frame 1 is lost; 2 and 3 arrive ahead of it.
        let ahead = host.receive(bytes: frameBytes(2, .easeButton) + frameBytes(3, .switchReleased), now: ms(5))
        #expect(delivered(ahead).isEmpty)
        #expect(messages(ahead) == [.nak(expected: 1)], "one nak per gap")
        #expect(host.statistics.outOfOrder == 2)

        let resent = host.receive(bytes: frameBytes(1, .switchPressed(alreadyReleased: true)) + frameBytes(2, .easeButton)
                                  + frameBytes(3, .switchReleased), now: ms(8))
        #expect(delivered(resent) == [.switchPressed(alreadyReleased: true), .easeButton, .switchReleased])
        #expect(messages(resent) == [.ack(next: 2), .ack(next: 3), .ack(next: 4)])

        let duplicate = host.receive(bytes: frameBytes(3, .switchReleased), now: ms(9))
        #expect(delivered(duplicate).isEmpty)
        #expect(messages(duplicate) == [.ack(next: 4)], "a duplicate is acknowledged again")
        #expect(host.statistics.duplicates == 1)
    }

    @Test func telemetryIsDeliveredWithoutAcknowledgement() {
        var host = readyHost()
        let t = WireMessage.telemetry(try! BoardTelemetry(
            foot: .left, u: FixedLength(raw: 0), v: FixedLength(raw: 0), pressures: [FixedPressure(raw: 3)],
            force: nil, footPresent: true, switchPressed: false, latched: false, heatOn: false))
        let actions = host.receive(bytes: frameBytes(0, t), now: ms(3))
        #expect(actions == [.deliver(t)])
    }

    @Test func heartbeatOnlyWhenIdle() {
        var host = readyHost()
        #expect(host.tick(now: ms(49)).isEmpty)
        let beat = host.tick(now: ms(50))
        #expect(messages(beat) == [.heartbeat])
        _ = host.receive(bytes: frameBytes(0, .ack(next: 2)), now: ms(52))
        _ = host.send(pressure(5), now: ms(80))
        _ = host.receive(bytes: frameBytes(0, .ack(next: 3)), now: ms(82))
        #expect(host.tick(now: ms(100)).isEmpty, "a command went out 20 ms ago")
        #expect(messages(host.tick(now: ms(130))) == [.heartbeat])
    }

    @Test func silentBoardTakesTheLinkDownWithAFinalEmergencyRelease() {
        var host = readyHost()
        var t = 0
        var last: [LinkStateMachine.Action] = []
        while host.isReady {
            t += 10
            last = host.tick(now: ms(t))   // heartbeats go out; nothing comes back
        }
        #expect(t == 250)
        #expect(messages(last) == [.emergencyRelease])
        #expect(last.last == .linkDown(.boardSilent(after: ms(250))))
        #expect(host.send(pressure(1), now: ms(251)) == [.dropped(pressure(1), .notReady)])
    }

    @Test func unacknowledgedFrameTakesTheLinkDown() {
        var host = readyHost()
        _ = host.send(pressure(9), now: ms(10))
        var t = 10
        var last: [LinkStateMachine.Action] = []
        while host.isReady {
            t += 5
            // Telemetry keeps arriving, so the board is alive but never acknowledges.
            _ = host.receive(bytes: frameBytes(0, .telemetry(try! BoardTelemetry(
                foot: .left, u: FixedLength(raw: 0), v: FixedLength(raw: 0), pressures: nil, force: nil,
                footPresent: false, switchPressed: false, latched: true, heatOn: false))), now: ms(t))
            last = host.tick(now: ms(t))
        }
        #expect(t == 260)
        #expect(last.last == .linkDown(.unacknowledged(after: ms(250))))
    }

    @Test func boardResetTakesTheLinkDown() {
        var host = readyHost()
        #expect(host.receive(bytes: frameBytes(0, .boardReset(cause: .watchdog)), now: ms(5))
                == [.linkDown(.boardReset(.watchdog))])
        #expect(!host.isReady)
        #expect(LinkFailure.boardReset(.watchdog).description == "the board reset (watchdog)")
    }

    @Test func emergencyReleaseGoesOutFirstWhenTheWindowIsFull() throws {
        var host = readyHost()
        for i in 1...WireProtocol.window { _ = host.send(pressure(UInt16(i)), now: ms(1)) }
        _ = host.send(.move(foot: .left, u: FixedLength(raw: 5), v: FixedLength(raw: 5), speed: FixedSpeed(raw: 5)),
                      now: ms(1))   // queued behind the full window

        let stop = host.emergencyRelease(now: ms(2))
        guard case .transmit(let bytes) = try #require(stop.first) else { Issue.record("first action is not a transmit"); return }
        #expect(bytes.first == WireProtocol.sync)
        #expect(bytes.count == 1 + 6 + WireProtocol.maxFrameLength - 1, "padded with sync bytes")
        #expect(frames(in: bytes).map { try! $0.message() } == [.emergencyRelease])
        #expect(frames(in: bytes).map(\.sequence) == [9])
        // Everything unacknowledged or queued is given up, so no older setpoint can follow the stop.
        let dropped = stop.compactMap { if case .dropped(let m, .supersededByEmergencyRelease) = $0 { m } else { nil } }
        #expect(dropped.count == WireProtocol.window + 1)
        #expect(host.statistics.abandoned == WireProtocol.window + 1)

        // Unacknowledged, only the emergency release is sent again.
        #expect(messages(host.tick(now: ms(42))) == [.emergencyRelease])
        // The board, which had seen none of frames 1...8, naks from 1: the host resends the stop.
        #expect(messages(host.receive(bytes: frameBytes(0, .nak(expected: 1)), now: ms(43))) == [.emergencyRelease])
        #expect(host.receive(bytes: frameBytes(0, .ack(next: 10)), now: ms(45)).isEmpty)
        #expect(sent(host.send(pressure(1), now: ms(46))).map(\.0) == [10])
    }

    @Test func emergencyReleaseWorksBeforeTheHandshakeAndAfterTheLinkIsDown() {
        var host = LinkStateMachine()
        #expect(messages(host.emergencyRelease(now: ms(0))) == [.emergencyRelease])
        _ = host.start(now: ms(0))
        let during = host.emergencyRelease(now: ms(1))
        #expect(sent(during).map(\.0) == [1])
        // The hello is still pending; both are retransmitted until the board answers.
        #expect(messages(host.tick(now: ms(40))) == [.hello(version: 1), .emergencyRelease])
    }

    @Test func closeTellsTheBoardToRelease() {
        var host = readyHost()
        _ = host.send(pressure(10), now: ms(1))
        let close = host.close(now: ms(2))
        #expect(messages(close) == [.emergencyRelease])
        #expect(close.count == 1)
        #expect(!host.isReady)
        #expect(host.failure == nil)
    }

    @Test func boardMessagesOnlyAreRefusedBySend() {
        var host = readyHost()
        #expect(host.send(.easeButton, now: ms(1)) == [.dropped(.easeButton, .notAHostCommand)])
        #expect(host.send(.hello(version: 1), now: ms(1)) == [.dropped(.hello(version: 1), .notAHostCommand)])
    }

    @Test func malformedPayloadsAreReportedNotDelivered() {
        var host = readyHost()
        let bytes = try! Frame(sequence: 1, payload: [0x33]).encode()
        #expect(host.receive(bytes: bytes, now: ms(1)) == [.malformed(.unknownMessageType(0x33))])
        #expect(host.statistics.undecodable == 1)
    }
}
