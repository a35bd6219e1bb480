import PlantarCore
import PropertyBased
import Testing
@testable import PlantarWire

/// One direction of a serial line: delays bytes, and corrupts, drops or splits them.
struct LossyLine {
    var inTransit: [(due: Duration, bytes: [UInt8])] = []
    let corruptRate: Double
    let dropRate: Double

    mutating func put(_ bytes: [UInt8], now: Duration, rng: inout SplitMix) {
        var bytes = bytes
        let roll = Double.random(in: 0..<1, using: &rng)
        if roll < dropRate { return }
        if roll < dropRate + corruptRate {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            case 1: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
            default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
            }
        }
        // FIFO: a later write never overtakes an earlier one.
        let due = max(inTransit.last?.due ?? .zero, now + .milliseconds(Int.random(in: 1...3, using: &rng)))
        inTransit.append((due, bytes))
    }

    /// What has arrived by `now`, cut into reads of random size.
    mutating func take(now: Duration, rng: inout SplitMix) -> [ArraySlice<UInt8>] {
        var stream: [UInt8] = []
        while let first = inTransit.first, first.due <= now {
            stream += first.bytes
            inTransit.removeFirst()
        }
        var reads: [ArraySlice<UInt8>] = []
        var index = 0
        while index < stream.count {
            let end = min(stream.count, index + Int.random(in: 1...40, using: &rng))
            reads.append(stream[index..<end])
            index = end
        }
        return reads
    }
}

/// The host and the board state machines joined by two lossy lines, on a virtual clock.
struct LinkSimulation {
    var host = LinkStateMachine()
    var board = BoardLinkStateMachine(identity: testIdentity)
    var toBoard: LossyLine
    var toHost: LossyLine
    var rng: SplitMix
    var now: Duration = .zero

    /// What the board carried out and the events the host got, in order.
    var executed: [WireMessage] = []
    /// Carried out after the board's first emergency release.
    var executedAfterStop: [WireMessage] = []
    var boardReleases: [(Duration, BoardLinkStateMachine.ReleaseReason)] = []
    var deliveredEvents: [WireMessage] = []
    var handshakes = 0
    var linkDowns: [LinkFailure] = []

    init(seed: UInt64, corruptRate: Double, dropRate: Double) {
        rng = SplitMix(seed)
        toBoard = LossyLine(corruptRate: corruptRate, dropRate: dropRate)
        toHost = LossyLine(corruptRate: corruptRate, dropRate: dropRate)
    }

    mutating func perform(_ actions: [LinkStateMachine.Action]) {
        for action in actions {
            switch action {
            case .transmit(let bytes): toBoard.put(bytes, now: now, rng: &rng)
            case .deliver(let message):
                if message.type != .telemetry { deliveredEvents.append(message) }
            case .handshakeCompleted: handshakes += 1
            case .linkDown(let failure): linkDowns.append(failure)
            case .dropped, .malformed: break
            }
        }
    }

    mutating func perform(_ actions: [BoardLinkStateMachine.Action]) {
        for action in actions {
            switch action {
            case .transmit(let bytes): toHost.put(bytes, now: now, rng: &rng)
            case .execute(let message):
                executed.append(message)
                if boardReleases.contains(where: { $0.1 == .emergencyRelease }) { executedAfterStop.append(message) }
            case .releaseAll(let reason): boardReleases.append((now, reason))
            }
        }
    }

    /// Moves the clock on by one millisecond: the lines deliver, both ends tick.
    mutating func step() {
        now += .milliseconds(1)
        for read in toBoard.take(now: now, rng: &rng) { perform(board.receive(bytes: read, now: now)) }
        for read in toHost.take(now: now, rng: &rng) { perform(host.receive(bytes: read, now: now)) }
        perform(board.tick(now: now))
        perform(host.tick(now: now))
        if now.milliseconds % 20 == 0 {
            let sample = try! BoardTelemetry(foot: .left, u: FixedLength(raw: 0), v: FixedLength(raw: 0),
                                             pressures: [FixedPressure(raw: 0)], force: nil, footPresent: true,
                                             switchPressed: board.isSwitchPressed, latched: board.isLatched, heatOn: false)
            perform(board.send(.telemetry(sample), now: now))
        }
    }

    mutating func run(until end: Duration, every period: Int = 1, _ each: (inout LinkSimulation) -> Void = { _ in }) {
        while now < end {
            step()
            if now.milliseconds % Int64(period) == 0 { each(&self) }
        }
    }

    mutating func connect() {
        perform(board.boot(now: now))
        perform(host.start(now: now))
        run(until: now + .milliseconds(300))
    }
}

@Suite struct LinkEndToEndTests {
    /// 5% of writes corrupted (a flipped bit, a lost byte or a stray byte) and 2% lost, in each
    /// direction: every command arrives at most once, in order, none corrupted, and only a
    /// setpoint superseded while queued goes missing; every board event reaches the host
    /// exactly once and in order; the link never drops and the lease never trips.
    @Test func commandsAndEventsSurviveALossyLine() async {
        await propertyCheck(count: 40, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            var sim = LinkSimulation(seed: seed, corruptRate: 0.05, dropRate: 0.02)
            sim.connect()
            #expect(sim.handshakes == 1)
            armBoard(&sim)

            var commands: [WireMessage] = []
            var events: [WireMessage] = []
            var n: UInt16 = 0
            sim.run(until: sim.now + .milliseconds(2000), every: 10) { sim in
                n += 1
                let command = n % 3 == 0
                    ? WireMessage.move(foot: .right, u: FixedLength(raw: n), v: FixedLength(raw: 0), speed: FixedSpeed(raw: 400))
                    : pressure(n, foot: n % 2 == 0 ? .left : .right)
                commands.append(command)
                sim.perform(sim.host.send(command, now: sim.now))
                if n % 7 == 0 {
                    let event = WireMessage.limitSwitch(foot: .left, axis: .u, end: n % 2 == 0 ? .home : .far)
                    events.append(event)
                    sim.perform(sim.board.send(event, now: sim.now))
                }
            }
            sim.run(until: sim.now + .milliseconds(300))   // drain

            #expect(sim.linkDowns.isEmpty)
            #expect(!sim.boardReleases.contains { $0.1 == .leaseExpired })
            // Every command once, in order; a queued setpoint may be replaced by a newer one for
            // the same actuator when a stall fills the window, and the newest always arrives.
            let sent = [WireMessage.arm] + commands
            #expect(isOrderedSubsequence(sim.executed, of: sent), "executed out of order, twice, or never sent")
            #expect(sim.executed.count == sent.count - sim.host.statistics.coalesced)
            #expect(sim.executed.last == sent.last)
            #expect(sim.deliveredEvents.filter { $0.type == .limitSwitch } == events)
        }
    }

    /// With the host's window full of pressure setpoints on a lossy line, an emergency
    /// release still reaches the board, and no setpoint sent before it is carried out after it.
    @Test func emergencyReleaseOvertakesAFullWindow() async {
        await propertyCheck(count: 60, input: Gen<UInt64>.value(in: 0...UInt64.max)) { seed in
            var sim = LinkSimulation(seed: seed, corruptRate: 0.05, dropRate: 0.02)
            sim.connect()
            armBoard(&sim)
            for i in 0..<40 { sim.perform(sim.host.send(pressure(UInt16(100 + i)), now: sim.now)) }
            let sentAt = sim.now
            let executedBefore = sim.executed.count
            sim.perform(sim.host.emergencyRelease(now: sim.now))
            sim.run(until: sim.now + .milliseconds(200))

            guard let release = sim.boardReleases.first(where: { $0.1 == .emergencyRelease }) else {
                Issue.record("the board never released")
                return
            }
            #expect(release.0 - sentAt <= .milliseconds(130), "three retransmissions at most")
            #expect(sim.executedAfterStop.isEmpty, "a setpoint sent before the stop was carried out after it")
            #expect(sim.executed.count - executedBefore <= WireProtocol.window)
            #expect(sim.board.isLatched)
            #expect(sim.linkDowns.isEmpty)
            // The host, if buggy, sends more: the latched board refuses it.
            let count = sim.executed.count
            sim.perform(sim.host.send(pressure(999), now: sim.now))
            sim.run(until: sim.now + .milliseconds(200))
            #expect(sim.executed.count == count)
            #expect(sim.deliveredEvents.contains(.fault(code: .commandRefused, detail: ShortText(fitting: "pressure: latched"))))
        }
    }

    /// The host goes quiet (frozen): the board releases within the lease and says so.
    @Test func silentHostTripsTheLease() {
        var sim = LinkSimulation(seed: 7, corruptRate: 0, dropRate: 0)
        sim.connect()
        armBoard(&sim)
        sim.perform(sim.host.send(pressure(500), now: sim.now))
        sim.run(until: sim.now + .milliseconds(20))
        let frozenAt = sim.now
        // Only the board runs now.
        while sim.now < frozenAt + .milliseconds(400) {
            sim.now += .milliseconds(1)
            for read in sim.toBoard.take(now: sim.now, rng: &sim.rng) { sim.perform(sim.board.receive(bytes: read, now: sim.now)) }
            sim.perform(sim.board.tick(now: sim.now))
        }
        let lease = sim.boardReleases.first { $0.1 == .leaseExpired }
        #expect(lease != nil)
        if let lease {
            // The last host frame left at most one heartbeat interval before the freeze.
            #expect(lease.0 - frozenAt <= WireProtocol.lease)
            #expect(lease.0 - frozenAt >= WireProtocol.lease - WireProtocol.heartbeatInterval)
        }
    }

    /// The board resets mid-session: the host learns it at once and the link goes down.
    @Test func boardResetMidSessionIsDetected() {
        var sim = LinkSimulation(seed: 3, corruptRate: 0, dropRate: 0)
        sim.connect()
        armBoard(&sim)
        sim.board = BoardLinkStateMachine(identity: testIdentity, resetCause: .brownOut)
        sim.perform(sim.board.boot(now: sim.now))
        sim.run(until: sim.now + .milliseconds(10))
        #expect(sim.linkDowns == [.boardReset(.brownOut)])
        // Starting again works.
        sim.perform(sim.host.start(now: sim.now))
        sim.run(until: sim.now + .milliseconds(20))
        #expect(sim.handshakes == 2)
        #expect(sim.host.isReady)
    }
}

/// Whether `part` is `whole` with some elements left out (all elements distinct).
func isOrderedSubsequence(_ part: [WireMessage], of whole: [WireMessage]) -> Bool {
    var index = whole.startIndex
    for element in part {
        guard let found = whole[index...].firstIndex(of: element) else { return false }
        index = found + 1
    }
    return true
}

private func armBoard(_ sim: inout LinkSimulation) {
    sim.perform(sim.host.send(.arm, now: sim.now))
    sim.run(until: sim.now + .milliseconds(100))
}
