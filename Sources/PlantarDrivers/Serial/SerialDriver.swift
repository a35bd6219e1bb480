import PlantarCore
import PlantarWire
import Synchronization

/// Tuning of the serial driver. The defaults suit a real board; tests shorten nothing but may
/// point `port` at an emulator's pseudo-terminal.
public struct SerialDriverOptions: Sendable {
    /// The port to open instead of the profile's `serial.port` (`--port`, a test's pty).
    public var port: String?
    /// The rate to use instead of the profile's `serial.baud`.
    public var baud: Int?
    /// How long `connect` waits for the board's answer to `hello` (a board reset by the
    /// adapter's DTR line on opening may take a second to boot).
    public var handshakeTimeout: Duration = .seconds(2)
    /// How often the driver tries to open a vanished port again, or to greet a silent board.
    public var reconnectInterval: Duration = .milliseconds(500)
    /// The link's timing: the protocol's, unless a test needs otherwise.
    public var timing: LinkTiming = .protocolDefaults
    /// SCHED_FIFO priority of the reader thread, when the system permits (root, or
    /// CAP_SYS_NICE with an RTPRIO limit); nil for normal scheduling. On a busy machine a
    /// normally scheduled reader can be kept off the CPU for longer than the link's 250 ms
    /// timeouts; it spends nearly all its time blocked in poll, so real-time costs little.
    public var realtimePriority: Int32? = 70
    /// Called on the reader thread with every event and the CLOCK_MONOTONIC time (ns) it was
    /// read, for benchmarks. Keep it cheap.
    public var eventObserver: (@Sendable (DeviceEvent.Kind, UInt64) -> Void)?

    public init() {}
}

/// The device driver for a board on a serial link (docs/serial-protocol.md): a real UART or
/// USB adapter, or `plantar-sim`'s pseudo-terminal.
///
/// One reader thread of its own owns the timing: it waits on the port for at most the time to
/// the link's next deadline, feeds what it reads to the `LinkStateMachine`, writes what the
/// state machine transmits, and turns the board's messages into `DeviceEvent`s. The session's
/// calls (`apply`, `releaseAll`) run the same state machine under the same mutex and write
/// at once, so nothing waits for the thread; `releaseAll` never even waits for the mutex (as
/// the GPIO driver: it raises a flag that the holder honours on unlocking).
///
/// Arming follows the governor, never the link: the board boots latched, the driver sends
/// `arm` with the first setpoint after `beginSession()`, and any release, stop, board event
/// that latched the board, or link loss disarms it until the next `beginSession()`. When the
/// port vanishes the driver reports the link down and reopens the port every
/// `reconnectInterval`; on its return it shakes hands again and reports the link up, but
/// nothing presses until a new session begins.
public final class SerialDriver: DeviceDriver {
    public let profile: DeviceProfile
    /// The port as opened (the profile's or the override).
    public let path: String
    public let baud: Int
    private let core: Core
    private let thread: PosixThread

    final class Core: Sendable {
        let state: Mutex<SerialLinkCore>
        let releaseRequested = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        /// A test's frozen host: the reader does nothing until thawed.
        let frozen = Atomic<Bool>(false)
        let wake: WakePipe
        let log: SerialLog
        let observer: (@Sendable (DeviceEvent.Kind, UInt64) -> Void)?
        /// `observeEvents`: inputs, link and faults as they are read.
        let eventHandler = Mutex<(@Sendable (DeviceEvent.Kind) -> Void)?>(nil)

        init(state: consuming sending SerialLinkCore, log: @escaping SerialLog,
             observer: (@Sendable (DeviceEvent.Kind, UInt64) -> Void)?) throws(Posix.Failure) {
            self.state = Mutex(state)
            wake = try WakePipe()
            self.log = log
            self.observer = observer
        }

        /// Runs `body` with the link, honouring a release raised before or meanwhile; then
        /// hands logs and observed events over outside the lock.
        func withLink<R: Sendable, E: Error>(_ body: (inout SerialLinkCore) throws(E) -> R) throws(E) -> R {
            defer { afterUnlock() }
            return try state.withLock { (c: inout SerialLinkCore) throws(E) -> R in
                if releaseRequested.exchange(false, ordering: .sequentiallyConsistent) {
                    c.emergencyRelease(now: Posix.monotonicNanoseconds())
                }
                return try body(&c)
            }
        }

        private func afterUnlock() {
            // A `releaseAll` that found the lock taken raised the flag before trying it.
            let (logs, observed, inputs): ([(SerialLogLevel, String)], [(UInt64, DeviceEvent.Kind)], [DeviceEvent.Kind]) = state.withLock { c in
                if releaseRequested.exchange(false, ordering: .sequentiallyConsistent) {
                    c.emergencyRelease(now: Posix.monotonicNanoseconds())
                }
                defer { c.logs.removeAll(); c.observed.removeAll(); c.toObserve.removeAll() }
                return (c.logs, c.observed.map { ($0.time, $0.kind) }, c.toObserve)
            }
            for (level, text) in logs { log(level, text) }
            if let observer { for (time, kind) in observed { observer(kind, time) } }
            if !inputs.isEmpty, let handler = eventHandler.withLock({ $0 }) { for kind in inputs { handler(kind) } }
        }

        func runReader(priority: Int32?) {
            if let priority, let problem = Posix.useFIFOScheduling(priority: priority) {
                log(.warning, "serial: the reader thread runs without real-time scheduling (\(problem)); on a busy machine the link may time out. Run as root, or give the service CAP_SYS_NICE and LimitRTPRIO=\(priority)")
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stopping.load(ordering: .relaxed) {
                if frozen.load(ordering: .relaxed) {
                    _ = try? Posix.pollReadable([wake.readFD], timeoutMS: 100)
                    wake.drain()
                    continue
                }
                let now = Posix.monotonicNanoseconds()
                let (port, wakeAt, wantsWrite, retryAt, path, baud) = withLink { c in
                    let next = c.tick(now: now)
                    return (c.port, next, !c.outbox.isEmpty, c.retryAt, c.path, c.baud)
                }
                guard let port else {
                    if let retryAt, now >= retryAt {
                        // Opening may take a moment on a real adapter: outside the lock.
                        let attempt = Result { () throws(SerialError) in try SerialPort(path: path, baud: baud) }
                        let at = Posix.monotonicNanoseconds()
                        withLink { c in
                            switch attempt {
                            case .success(let opened): c.attach(opened, now: at)
                            case .failure(let error): c.retryFailed(error, now: at)
                            }
                        }
                    } else {
                        let ms = Self.milliseconds(until: wakeAt, from: now)
                        _ = try? Posix.pollReadable([wake.readFD], timeoutMS: ms)
                        wake.drain()
                    }
                    continue
                }
                let ready: SerialPort.Readiness
                do {
                    ready = try port.wait(forWriting: wantsWrite, wake: wake.readFD,
                                          timeoutMS: Self.milliseconds(until: wakeAt, from: now))
                } catch {
                    withLink { c in if c.port === port { c.portLost(error.description, now: Posix.monotonicNanoseconds()) } }
                    continue
                }
                if ready.woken { wake.drain() }
                var hungUp = ready.failed && !ready.readable
                if ready.readable {
                    // Everything there is, then one pass through the state machine per chunk.
                    while true {
                        let result = buffer.withUnsafeMutableBytes { b in Result { () throws(SerialError) in try port.read(into: b) } }
                        let at = Posix.monotonicNanoseconds()
                        switch result {
                        case .success(.bytes(let n)):
                            buffer.withUnsafeBytes { b in
                                let chunk = UnsafeRawBufferPointer(rebasing: b[0..<n])
                                withLink { c in if c.port === port { c.receive(chunk, now: at) } }
                            }
                            if n < buffer.count { break }
                            continue
                        case .success(.empty):
                            break
                        case .success(.hangUp):
                            hungUp = true
                        case .failure:
                            hungUp = true
                        }
                        break
                    }
                }
                if hungUp {
                    withLink { c in if c.port === port { c.portLost("the other end hung up", now: Posix.monotonicNanoseconds()) } }
                } else if ready.writable {
                    withLink { c in if c.port === port { c.flush(now: Posix.monotonicNanoseconds()) } }
                }
            }
        }

        static func milliseconds(until deadline: UInt64, from now: UInt64) -> Int32 {
            guard deadline > now else { return 0 }
            return Int32(min(100, (deadline - now + 999_999) / 1_000_000))
        }
    }

    /// Opens the port, shakes hands with the board and checks it against the profile.
    ///
    /// - Parameters:
    ///   - profile: a profile with a `serial:` section (or `options.port` and `options.baud`).
    ///   - options: port override, timeouts; see `SerialDriverOptions`.
    ///   - log: connection, loss and recovery messages.
    /// - Throws: `SerialError`: `.notConfigured`; the port's own errors (`.portMissing`,
    ///   `.busy`, `.permissionDenied`, `.unsupportedBaud`); `.noAnswer` when the board does not
    ///   answer within `handshakeTimeout`; `.mismatch` naming every difference between the
    ///   board's announcement and the profile.
    public static func connect(profile: DeviceProfile, options: SerialDriverOptions = SerialDriverOptions(),
                               log: @escaping SerialLog = { _, _ in }) async throws(SerialError) -> SerialDriver {
        guard let path = options.port ?? profile.serial?.port, let baud = options.baud ?? profile.serial?.baud else {
            throw SerialError(.notConfigured, "device profile '\(profile.name)' (\(profile.file)) has no serial port: "
                + "add a 'serial:' section with port and baud, or give the port")
        }
        let port = try SerialPort(path: path, baud: baud)
        let driver: SerialDriver
        do {
            driver = try SerialDriver(profile: profile, port: port, baud: baud, options: options, log: log)
        } catch {
            throw SerialError(.io, "cannot start the serial driver", port: path, call: error.call, errno: error.errno)
        }
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<SerialLinkCore.Outcome, Never>) in
            driver.core.withLink { c in
                if let outcome = c.outcome { continuation.resume(returning: outcome) } else { c.waiter = continuation }
            }
        }
        if case .failed(let error) = outcome {
            driver.shutdown()
            throw error
        }
        return driver
    }

    private init(profile: DeviceProfile, port: SerialPort, baud: Int, options: SerialDriverOptions,
                 log: @escaping SerialLog) throws(Posix.Failure) {
        self.profile = profile
        path = port.path
        self.baud = baud
        let now = Posix.monotonicNanoseconds()
        var state = SerialLinkCore(profile: profile, path: port.path, baud: baud, options: options, epoch: now)
        state.connectDeadline = now + options.handshakeTimeout.nanosecondsTotal.magnitude
        state.attach(port, now: now)
        let core = try Core(state: state, log: log, observer: options.eventObserver)
        self.core = core
        let priority = options.realtimePriority
        thread = try PosixThread { core.runReader(priority: priority) }
    }

    deinit { shutdown() }

    // MARK: DeviceDriver

    public func beginSession() {
        core.withLink { c in
            c.sessionArmed = true
            c.heldBack = 0
        }
    }

    public func observeEvents(_ observer: @escaping @Sendable (DeviceEvent.Kind) -> Void) -> Bool {
        core.eventHandler.withLock { $0 = observer }
        return true
    }

    /// Whether the driver is latched: released since the last `beginSession` (nothing but
    /// releases goes to the board until the next).
    public var isLatched: Bool { core.withLink { !$0.sessionArmed } }

    public func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError) {
        let message: WireMessage
        do {
            message = try WireMessage(command, foot: foot, channels: profile.channels)
        } catch {
            throw DriverError("serial: cannot send \(command) to the \(foot.rawValue) foot: \(error)")
        }
        let now = Posix.monotonicNanoseconds()
        try core.withLink { (c: inout SerialLinkCore) throws(DriverError) in try c.apply(message, now: now) }
    }

    public func releaseAll(_ reason: ReleaseReason) {
        core.releaseRequested.store(true, ordering: .sequentiallyConsistent)
        let done: Bool? = core.state.withLockIfAvailable { c in
            if core.releaseRequested.exchange(false, ordering: .sequentiallyConsistent) {
                c.emergencyRelease(now: Posix.monotonicNanoseconds())
            }
            return true
        }
        // Taken: the holder honours the flag as it unlocks; wake the reader in case it is idle.
        if done == nil { core.wake.wake() }
    }

    public func poll(upTo now: Duration) async -> [DeviceEvent] {
        let events = core.withLink { c in
            defer { c.events.removeAll(keepingCapacity: true) }
            return c.events.map { ($0.time, $0.kind) }
        }
        let monotonicNow = Posix.monotonicNanoseconds()
        // Device time to session time: an event `age` ns old happened `age` before `now`.
        return events.map { time, kind in
            let age = monotonicNow >= time ? monotonicNow - time : 0
            let at = now - .nanoseconds(Int64(age))
            return DeviceEvent(time: at < .zero ? .zero : at, kind: kind)
        }
    }

    // MARK: Lifecycle and diagnostics

    /// Sends a last emergency release, stops the reader thread and closes the port.
    /// Idempotent; `deinit` calls it too.
    public func shutdown() {
        guard !core.stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        core.wake.wake()
        thread.join()
        core.withLink { c in
            c.disarm()
            c.perform(c.link.close(now: c.linkTime(Posix.monotonicNanoseconds())), now: Posix.monotonicNanoseconds())
            c.port = nil
        }
    }

    /// Whether the handshake has completed and the link is up now.
    public var isLinkUp: Bool { core.withLink { $0.linkUp } }

    /// What the link has seen and done (frames, retransmissions, rejected frames).
    public var statistics: LinkStatistics { core.withLink { $0.link.statistics } }

    /// Framing statistics of what the board sent.
    public var decoderStatistics: FrameDecoder.Statistics { core.withLink { $0.link.decoderStatistics } }

    /// Setpoints the session sent after the board had stopped by itself and before the session
    /// heard of it; they were not sent (the board would have refused them).
    public var heldBackSetpoints: Int { core.withLink { $0.heldBack } }

    /// For tests: stop (true) or restart (false) the reader thread's work, as if the host froze.
    /// While frozen nothing is read, no heartbeat goes out and no timer runs.
    public func freezeForTesting(_ frozen: Bool) {
        core.frozen.store(frozen, ordering: .sequentiallyConsistent)
        core.wake.wake()
    }
}
