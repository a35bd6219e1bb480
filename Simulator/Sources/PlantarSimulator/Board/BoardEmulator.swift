import PlantarCore
import PlantarWire
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How the emulated board and its line behave.
public struct BoardEmulatorOptions: Sendable {
    /// Fraction of frames lost in each direction (0…1), seeded.
    public var drop = 0.0
    /// Fraction of frames with one bit flipped in each direction (0…1), seeded.
    public var corrupt = 0.0
    /// Added to every frame in each direction.
    public var latency: Duration = .zero
    /// Hold bytes for their time on a UART at this rate (10 bits a byte); nil passes them as
    /// fast as the pseudo-terminal does.
    public var baud: Int?
    /// Seeds the line faults (and sensor noise).
    public var seed: UInt64 = 1
    /// Adds sensor noise to telemetry.
    public var noise = false
    /// Events at times after `start()`.
    public var script: [BoardEvent] = []
    /// What the board calls itself in `hello-reply` (default `plantar-sim PROFILE`).
    public var identity: String?
    /// The board's lease, retransmission and frame gap (the protocol's).
    public var timing: LinkTiming = .protocolDefaults
    /// Telemetry for each foot this often (the protocol's 20 ms).
    public var telemetryInterval: Duration = WireProtocol.telemetryInterval
    /// SCHED_FIFO priority of the board's thread when the system permits (a real board's
    /// firmware is never kept off its CPU; a busy host can keep a normal thread off for longer
    /// than the lease); nil for normal scheduling.
    public var realtimePriority: Int32?

    public init() {}
}

/// Something the board did, stamped with CLOCK_MONOTONIC (ns), for tests and benchmarks.
public struct BoardRecord: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A host command carried out: `arm`, `move`, `pressure`, `release`, `heat`.
        case executed(WireMessage)
        /// Every output to rest, and why.
        case released(BoardLinkStateMachine.ReleaseReason)
        /// An event that happened to the board (scripted, injected or by signal).
        case happened(BoardEvent.Kind)
        /// A host started a session with `hello`.
        case session
    }

    public var time: UInt64
    public var kind: Kind
}

/// What the board looks like now, for tests and the benchmark.
public struct BoardSnapshot: Sendable {
    public var records: [BoardRecord]
    public var model: DeviceModel
    public var isLatched: Bool
    public var isSynchronized: Bool
    public var statistics: LinkStatistics
    public var decoderStatistics: FrameDecoder.Statistics
    /// Frames the line lost or damaged, host to board and board to host.
    public var inboundFrames: Int, inboundDropped: Int, inboundCorrupted: Int
    public var outboundFrames: Int, outboundDropped: Int, outboundCorrupted: Int
    /// CLOCK_MONOTONIC (ns) when bytes from the host last reached the board.
    public var lastHeard: UInt64?

    /// The host commands the board carried out (arm excluded), in order.
    public var executed: [WireMessage] {
        records.compactMap { if case .executed(let m) = $0.kind, m != .arm { m } else { nil } }
    }

    /// Releases the board made, with their times.
    public var releases: [(time: UInt64, reason: BoardLinkStateMachine.ReleaseReason)] {
        records.compactMap { if case .released(let r) = $0.kind { ($0.time, r) } else { nil } }
    }
}

/// A microcontroller board of a device profile on a pseudo-terminal: `plantar-sim`, and the
/// far end of the serial driver's tests.
///
/// It runs `BoardLinkStateMachine` (the protocol's board rules: handshake, lease, latch, the
/// switch's reflex, emergency release) over the same `DeviceModel` physics as the in-process
/// simulator, in real time on a thread of its own: it carries out commands in the model, sends
/// telemetry for each foot every 20 ms, releases by itself when the host goes quiet for the
/// lease, and handles the discomfort switch itself (release first, then report). Faults can
/// be injected on the line (lost, damaged, late frames) and on the board (switch, pull-away,
/// sensor fault, reset, silence), at scripted times or on demand from any thread.
public final class BoardEmulator: Sendable {
    public let profile: DeviceProfile
    public let terminal: PseudoTerminal
    /// The slave side of the pseudo-terminal: the port a host opens.
    public var path: String { terminal.path }
    private let core: Core
    private let thread: Mutex<EmulatorThread?> = Mutex(nil)

    final class Core: Sendable {
        let state: Mutex<BoardState>
        let stopping = Atomic<Bool>(false)
        let wake: EmulatorWakePipe
        let terminal: PseudoTerminal
        let log: @Sendable (String) -> Void

        init(state: consuming sending BoardState, terminal: PseudoTerminal, log: @escaping @Sendable (String) -> Void) throws(PseudoTerminal.Failure) {
            self.state = Mutex(state)
            wake = try EmulatorWakePipe()
            self.terminal = terminal
            self.log = log
        }

        func withState<R: Sendable>(_ body: (inout BoardState) -> R) -> R {
            let (result, logs) = state.withLock { s in
                let result = body(&s)
                defer { s.logs.removeAll() }
                return (result, s.logs)
            }
            for line in logs { log(line) }
            return result
        }

        func run(priority: Int32?) {
            if let priority, let problem = useFIFOScheduling(priority: priority) {
                log("the board thread runs without real-time scheduling (\(problem))")
            }
            withState { $0.boot(now: monotonicNanoseconds(), terminal: terminal) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stopping.load(ordering: .relaxed) {
                let now = monotonicNanoseconds()
                let (next, precise) = withState { $0.turn(now: now, terminal: terminal) }
                let remaining = next > now ? next - now : 0
                // poll counts milliseconds; bytes held for their line time are due within
                // microseconds, so the last 2 ms before one are spent polling without waiting.
                let spin = precise && remaining < 2_000_000
                let timeout = spin ? 0 : Int32(min(100, (remaining + 999_999) / 1_000_000))
                let (readable, woken) = terminal.wait(wake: wake.readFD, timeoutMS: timeout)
                if woken { wake.drain() }
                guard readable else {
                    if spin && remaining > 0 { sched_yield() }
                    continue
                }
                while let n = buffer.withUnsafeMutableBytes({ terminal.read(into: $0) }) {
                    let at = monotonicNanoseconds()
                    withState { $0.hostWrote(buffer[0..<n], now: at) }
                    if n < buffer.count { break }
                }
            }
        }
    }

    /// Opens the pseudo-terminal; `start()` boots the board on it.
    /// - Throws: `BoardEmulatorError` when the profile cannot be announced on the wire or the
    ///   pseudo-terminal cannot be opened.
    public init(profile: DeviceProfile, options: BoardEmulatorOptions = BoardEmulatorOptions(),
                log: @escaping @Sendable (String) -> Void = { _ in }) throws(BoardEmulatorError) {
        self.profile = profile
        let capabilities: Capabilities
        do {
            capabilities = try Capabilities(profile: profile)
        } catch {
            throw BoardEmulatorError("device profile '\(profile.name)' cannot be announced on the wire: \(error)")
        }
        let identity = HelloReply(identity: ShortText(truncating: options.identity ?? "plantar-sim \(profile.name)"),
                                  capabilities: capabilities)
        do {
            terminal = try PseudoTerminal()
            core = try Core(state: BoardState(profile: profile, identity: identity, options: options),
                            terminal: terminal, log: log)
        } catch {
            throw BoardEmulatorError("cannot open a pseudo-terminal: \(error)")
        }
    }

    deinit { stop() }

    /// Boots the board: `board-reset(power-on)`, then it waits for a host. Scripted times
    /// count from here.
    /// - Throws: `BoardEmulatorError` when the thread cannot start.
    public func start() throws(BoardEmulatorError) {
        try thread.withLock { (t: inout EmulatorThread?) throws(BoardEmulatorError) in
            guard t == nil else { return }
            core.withState { $0.restart(at: monotonicNanoseconds()) }
            let core = self.core
            let priority = core.state.withLock { $0.options.realtimePriority }
            do {
                t = try EmulatorThread { core.run(priority: priority) }
            } catch {
                throw BoardEmulatorError("cannot start the board thread: \(error)")
            }
        }
    }

    /// Stops the board's thread and closes the pseudo-terminal: a host sees its port hang up,
    /// as if the emulator were killed. Idempotent.
    public func stop() {
        guard !core.stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        core.wake.wake()
        thread.withLock { t in
            t?.join()
        }
        terminal.hangUp()
        core.withState { s in s.failWaiters() }
    }

    /// Makes `kind` happen now, from any thread (a signal handler's queue, a test).
    public func inject(_ kind: BoardEvent.Kind) {
        core.withState { $0.injected.append(kind) }
        core.wake.wake()
    }

    /// The board now.
    public var snapshot: BoardSnapshot { core.withState { $0.snapshot() } }

    /// Waits until `condition` holds for the board, checked after every turn of its loop, or
    /// until `timeout` passes or the task is cancelled. Returns whether the condition held.
    public func wait(timeout: Duration, until condition: @escaping @Sendable (BoardSnapshot) -> Bool) async -> Bool {
        let id = core.withState { s in defer { s.nextWaiter += 1 }; return s.nextWaiter }
        let deadline = monotonicNanoseconds() + UInt64(max(0, timeout.seconds) * 1e9)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                core.withState { s in
                    if Task.isCancelled || core.stopping.load(ordering: .relaxed) {
                        continuation.resume(returning: condition(s.snapshot()))
                    } else if condition(s.snapshot()) {
                        continuation.resume(returning: true)
                    } else {
                        s.waiters.append(BoardState.Waiter(id: id, deadline: deadline, condition: condition, continuation: continuation))
                    }
                }
                core.wake.wake()
            }
        } onCancel: {
            core.withState { s in s.resolveWaiter(id, false) }
        }
    }
}

/// The board emulator could not start.
public struct BoardEmulatorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Everything the board's thread owns, behind the emulator's mutex.
struct BoardState {
    struct Waiter {
        var id: Int
        var deadline: UInt64
        var condition: @Sendable (BoardSnapshot) -> Bool
        var continuation: CheckedContinuation<Bool, Never>
    }

    let profile: DeviceProfile
    let identity: HelloReply
    let options: BoardEmulatorOptions
    var link: BoardLinkStateMachine
    var model: DeviceModel
    var inbound: LineFaults
    var outbound: LineFaults
    var script: [BoardEvent]
    var injected: [BoardEvent.Kind] = []
    var silent = false
    var start: UInt64 = 0
    var nextTelemetry: UInt64 = 0
    var records: [BoardRecord] = []
    var lastHeard: UInt64?
    var waiters: [Waiter] = []
    var nextWaiter = 0
    var logs: [String] = []
    /// The over-pressure trip has fired and the board has not been armed since.
    var overPressureTripped = false

    init(profile: DeviceProfile, identity: HelloReply, options: BoardEmulatorOptions) {
        self.profile = profile
        self.identity = identity
        self.options = options
        link = BoardLinkStateMachine(identity: identity, timing: options.timing)
        model = DeviceModel(profile: profile, seed: options.seed, noise: options.noise)
        var line = LineFaults.Settings(drop: options.drop, corrupt: options.corrupt,
                                       latency: UInt64(max(0, options.latency.seconds) * 1e9))
        if let baud = options.baud, baud > 0 { line.byteTime = UInt64(10e9 / Double(baud)) }
        inbound = LineFaults(settings: line, seed: options.seed &* 2 &+ 1)
        outbound = LineFaults(settings: line, seed: options.seed &* 2 &+ 2)
        script = options.script.sorted { $0.time < $1.time }
    }

    func linkTime(_ now: UInt64) -> Duration { .nanoseconds(Int64(now &- start)) }
    func modelTime(_ now: UInt64) -> Double { Double(now &- start) / 1e9 }

    mutating func restart(at now: UInt64) {
        start = now
        nextTelemetry = now
    }

    mutating func boot(now: UInt64, terminal: PseudoTerminal) {
        perform(link.boot(now: linkTime(now)), now: now)
        flushOutbound(now: now, terminal: terminal)
    }

    // MARK: The loop

    /// Bytes the host wrote, as they enter the line.
    mutating func hostWrote(_ bytes: ArraySlice<UInt8>, now: UInt64) {
        guard !silent else { return }
        inbound.send(bytes, now: now)
    }

    /// One turn: events due, bytes out of the line, physics, timers, telemetry, writes.
    /// Returns when to turn again at the latest, and whether that time is a byte leaving the
    /// line (due to the microsecond) rather than a timer (a millisecond late is fine).
    mutating func turn(now: UInt64, terminal: PseudoTerminal) -> (UInt64, precise: Bool) {
        model.advance(to: modelTime(now))
        while let event = script.first, start + UInt64(max(0, event.time.seconds) * 1e9) <= now {
            script.removeFirst()
            happen(event.kind, now: now)
        }
        for kind in injected { happen(kind, now: now) }
        injected.removeAll()

        let heard = inbound.receive(now: now)
        if !heard.isEmpty, !silent {
            lastHeard = now
            perform(link.receive(bytes: heard, now: linkTime(now)), now: now)
        }
        checkOverPressure(now: now)
        perform(link.tick(now: linkTime(now)), now: now)

        let interval = UInt64(max(0.001, options.telemetryInterval.seconds) * 1e9)
        if now >= nextTelemetry {
            for foot in profile.feet {
                let t = model.telemetry(foot)
                if let sample = try? BoardTelemetry(t, channels: profile.channels, switchPressed: link.isSwitchPressed,
                                                    latched: link.isLatched) {
                    perform(link.send(.telemetry(sample), now: linkTime(now)), now: now)
                }
            }
            nextTelemetry += interval
            if nextTelemetry <= now { nextTelemetry = now + interval }
        }
        flushOutbound(now: now, terminal: terminal)
        checkWaiters(now: now)

        var next = nextTelemetry
        if let deadline = link.nextDeadline() { next = min(next, start &+ UInt64(max(0, deadline.seconds) * 1e9)) }
        if let event = script.first { next = min(next, start + UInt64(max(0, event.time.seconds) * 1e9)) }
        for waiter in waiters { next = min(next, waiter.deadline) }
        let line = [inbound.nextDue, outbound.nextDue].compactMap { $0 }.min()
        if let line, line <= next { return (max(line, now), true) }
        return (max(next, now), false)
    }

    mutating func flushOutbound(now: UInt64, terminal: PseudoTerminal) {
        let bytes = outbound.receive(now: now)
        guard !bytes.isEmpty else { return }
        // Nobody reading (no host on the port, or a frozen one) and the terminal full: the
        // bytes are lost, as on a UART with nobody listening.
        _ = bytes.withUnsafeBytes { terminal.write($0) }
    }

    // MARK: Actions

    mutating func perform(_ actions: [BoardLinkStateMachine.Action], now: UInt64) {
        for action in actions {
            switch action {
            case .releaseAll(let reason):
                model.advance(to: modelTime(now))
                model.releaseAll()
                records.append(BoardRecord(time: now, kind: .released(reason)))
                if reason == .newSession {
                    records.append(BoardRecord(time: now, kind: .session))
                    logs.append("host said hello: session started, everything at rest, latched until armed")
                } else {
                    logs.append("released everything: \(reason.rawValue)")
                }
            case .execute(let message):
                model.advance(to: modelTime(now))
                if message == .arm {
                    overPressureTripped = false
                    logs.append("armed by the host")
                } else if let (foot, command) = message.actuatorCommand(channels: profile.channels) {
                    do {
                        try model.apply(command, foot: foot)
                    } catch {
                        perform(link.trip(.internalError, detail: ShortText(truncating: error.message), now: linkTime(now)), now: now)
                    }
                }
                records.append(BoardRecord(time: now, kind: .executed(message)))
            case .transmit(let bytes):
                guard !silent else { continue }
                outbound.send(bytes, now: now)
            }
        }
    }

    mutating func happen(_ kind: BoardEvent.Kind, now: UInt64) {
        records.append(BoardRecord(time: now, kind: .happened(kind)))
        logs.append("event: \(kind.rawValue)")
        model.advance(to: modelTime(now))
        switch kind {
        case .switchPress:
            model.setSwitch(pressed: true)   // the reflex: released in the model first ...
            perform(link.switchChanged(pressed: true, now: linkTime(now)), now: now)   // ... then reported
        case .switchRelease:
            model.setSwitch(pressed: false)
            perform(link.switchChanged(pressed: false, now: linkTime(now)), now: now)
        case .ease:
            perform(link.send(.easeButton, now: linkTime(now)), now: now)
        case .pullAway:
            model.setFootPresent(false)
        case .footReturn:
            model.setFootPresent(true)
        case .sensorFault:
            model.sensorFault = true
            perform(link.trip(.pressureSensor, detail: ShortText(truncating: "pressure sensor unreadable"), now: linkTime(now)), now: now)
        case .reset:
            model.releaseAll()
            records.append(BoardRecord(time: now, kind: .released(.fault)))
            link = BoardLinkStateMachine(identity: identity, resetCause: .watchdog, timing: options.timing)
            if model.switchPressed { _ = link.switchChanged(pressed: true, now: linkTime(now)) }
            perform(link.boot(now: linkTime(now)), now: now)
        case .silence:
            silent = true
        case .answer:
            silent = false
        }
    }

    /// The board's own ceiling: measured pressure well above the profile's maximum releases
    /// and latches whatever the host asked for.
    mutating func checkOverPressure(now: UInt64) {
        guard !overPressureTripped, !model.sensorFault else { return }
        let ceiling = profile.pressure.maxKPa * 1.1
        for (foot, state) in model.feet {
            for (name, channel) in state.channels where channel.pressure > ceiling {
                overPressureTripped = true
                let detail = "\(foot.rawValue) \(name) at \(fixed(channel.pressure, 1)) kPa"
                perform(link.trip(.overPressure, detail: ShortText(truncating: detail), now: linkTime(now)), now: now)
                return
            }
        }
    }

    // MARK: Observers

    func snapshot() -> BoardSnapshot {
        BoardSnapshot(records: records, model: model, isLatched: link.isLatched, isSynchronized: link.isSynchronized,
                      statistics: link.statistics, decoderStatistics: link.decoderStatistics,
                      inboundFrames: inbound.counters.frames, inboundDropped: inbound.counters.dropped,
                      inboundCorrupted: inbound.counters.corrupted, outboundFrames: outbound.counters.frames,
                      outboundDropped: outbound.counters.dropped, outboundCorrupted: outbound.counters.corrupted,
                      lastHeard: lastHeard)
    }

    mutating func checkWaiters(now: UInt64) {
        guard !waiters.isEmpty else { return }
        let view = snapshot()
        for waiter in waiters {
            if waiter.condition(view) {
                resolveWaiter(waiter.id, true)
            } else if now >= waiter.deadline {
                resolveWaiter(waiter.id, false)
            }
        }
    }

    mutating func resolveWaiter(_ id: Int, _ result: Bool) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: result)
    }

    mutating func failWaiters() {
        let view = snapshot()
        for waiter in waiters { waiter.continuation.resume(returning: waiter.condition(view)) }
        waiters.removeAll()
    }
}
