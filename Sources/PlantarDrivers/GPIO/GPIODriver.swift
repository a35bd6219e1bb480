import PlantarCore
import Synchronization

/// How loud a driver message is.
public enum GPIOLogLevel: String, Sendable, Hashable {
    case info, warning, error
}

/// Where the driver's messages go (a swift-log `Logger` in the daemon, an array in tests).
public typealias GPIOLog = @Sendable (GPIOLogLevel, String) -> Void

/// The device driver for a gantry device wired straight to a computer's GPIO lines, through
/// libgpiod (or any `GPIOLineBank`).
///
/// Two threads of its own:
/// - the event thread blocks on the discomfort switch's and ease button's edge events and
///   acts on the first edge at once (the reflex arc: valves open, pumps off, steppers
///   disabled, motion stopped, then the event is reported);
/// - the pulse thread generates step/dir pulses for moves and the pump's software PWM at the
///   times the pure planners compute, with SCHED_FIFO and locked memory when permitted.
///
/// Sharing: the line handles (C pointers) and all driver state live in one `GPIOEngine`
/// inside a `Synchronization.Mutex`; no C pointer is ever shared or marked Sendable. Every
/// lock is held for microseconds (a few ioctls). `releaseAll` never waits for the lock: it
/// raises a flag and takes the lock only if it is free; otherwise whoever holds it sees the
/// flag as it unlocks (`withEngine`) and puts the outputs at rest before anything else.
public final class GPIODriver: DeviceDriver {
    public let profile: DeviceProfile
    /// The lines carry no pressure reading: pressure is open-loop over GPIO, bounded by the
    /// governor's caps on the setpoints.
    public var measuresPressure: Bool { false }
    private let core: Core
    private let threads: [PosixThread]

    private final class Core: Sendable {
        let engine: Mutex<GPIOEngine>
        /// Set by `releaseAll`; whoever next holds the engine puts the outputs at rest.
        let releaseRequested = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        let wakePulse: WakePipe
        let wakeEvents: WakePipe
        let eventFDs: [Int32]
        let options: GPIODriverOptions
        let log: GPIOLog
        let observer = Mutex<(@Sendable (DeviceEvent.Kind) -> Void)?>(nil)

        init(engine: consuming sending GPIOEngine, eventFDs: [Int32], options: GPIODriverOptions, log: @escaping GPIOLog) throws(Posix.Failure) {
            self.engine = Mutex(engine)
            wakePulse = try WakePipe()
            wakeEvents = try WakePipe()
            self.eventFDs = eventFDs
            self.options = options
            self.log = log
        }

        /// Runs `body` with the engine, then honours a release raised meanwhile.
        func withEngine<R: Sendable, E: Error>(_ body: (inout GPIOEngine) throws(E) -> R) throws(E) -> R {
            var observed: [DeviceEvent.Kind] = []
            defer {
                honourRelease()
                // Inputs and faults reach the daemon as they happen, outside the lock.
                if !observed.isEmpty, let observer = observer.withLock({ $0 }) { for kind in observed { observer(kind) } }
            }
            return try engine.withLock { (engine: inout GPIOEngine) throws(E) -> R in
                if releaseRequested.exchange(false, ordering: .sequentiallyConsistent) { engine.goToRest() }
                defer { if !engine.toObserve.isEmpty { observed = engine.toObserve; engine.toObserve.removeAll() } }
                return try body(&engine)
            }
        }

        func honourRelease() {
            // Checked after unlocking: a `releaseAll` that found the lock taken raised the flag
            // before trying it, so the flag is visible here.
            if releaseRequested.load(ordering: .sequentiallyConsistent) {
                engine.withLock { engine in
                    if releaseRequested.exchange(false, ordering: .sequentiallyConsistent) { engine.goToRest() }
                }
            }
        }

        func runPulseThread() {
            if case .fifo(let priority) = options.realtime, let problem = Posix.useFIFOScheduling(priority: priority) {
                log(.warning, "gpio: the pulse thread runs without real-time scheduling (\(problem)); step and PWM timing will jitter under load. Run as root, or give the service CAP_SYS_NICE and LimitRTPRIO=\(priority)")
            }
            while !stopping.load(ordering: .relaxed) {
                let now = Posix.monotonicNanoseconds()
                let next = withEngine { $0.service(now: now) }
                let after = Posix.monotonicNanoseconds()
                guard next > after, !releaseRequested.load(ordering: .sequentiallyConsistent) else { continue }
                if next - after > 2_000_000 {
                    // Long waits block in poll (ms resolution) so a stop or a release wakes it.
                    _ = try? Posix.pollReadable([wakePulse.readFD], timeoutMS: Int32((next - after) / 1_000_000 - 1))
                    wakePulse.drain()
                } else {
                    Posix.sleep(untilMonotonic: next)
                }
            }
        }

        func runEventThread() {
            if case .fifo(let priority) = options.realtime, let problem = Posix.useFIFOScheduling(priority: priority + 5) {
                log(.warning, "gpio: the switch event thread runs without real-time scheduling (\(problem))")
            }
            let fds = eventFDs + [wakeEvents.readFD]
            while !stopping.load(ordering: .relaxed) {
                let revents: [Int16]
                do {
                    revents = try Posix.pollReadable(fds, timeoutMS: -1)
                } catch {
                    log(.error, "gpio: waiting for switch events failed (\(error)); the pulse thread still reads the switch every \(options.switchCheckPeriodNS / 1_000_000) ms")
                    Posix.sleep(untilMonotonic: Posix.monotonicNanoseconds() + 10_000_000)
                    continue
                }
                if stopping.load(ordering: .relaxed) { break }
                if revents.dropLast().contains(where: { $0 != 0 }) {
                    let now = Posix.monotonicNanoseconds()
                    withEngine { $0.handleEdges(now: now) }
                    // A line in error stays readable: do not spin on it.
                    if revents.dropLast().contains(where: Posix.reportsFailure) {
                        Posix.sleep(untilMonotonic: Posix.monotonicNanoseconds() + 10_000_000)
                    }
                }
                if revents.last != 0 { wakeEvents.drain() }
            }
        }
    }

    /// Claims the profile's lines (outputs at rest), checks the inputs and starts the threads.
    ///
    /// - Parameters:
    ///   - profile: a gantry profile with a `gpio:` pin map.
    ///   - bank: the line layer; the kernel's GPIO chips through libgpiod by default.
    ///   - options: timing and scheduling; see `GPIODriverOptions`.
    ///   - log: warnings (no real-time scheduling) and errors.
    /// - Throws: `GPIOError` naming a pin-map problem, a missing chip, or a missing or busy line.
    public init(profile: DeviceProfile, bank: sending any GPIOLineBank = LibGPIODLineBank(),
                options: GPIODriverOptions = GPIODriverOptions(), log: @escaping GPIOLog = { _, _ in }) throws(GPIOError) {
        self.profile = profile
        if case .fifo = options.realtime, let problem = Posix.lockMemory() {
            log(.warning, "gpio: memory is not locked (\(problem)); a page fault may delay a step")
        }
        let engine = try GPIOEngine(bank: bank, profile: profile, options: options, now: Posix.monotonicNanoseconds())
        let fds = engine.bank.eventDescriptors
        let core: Core
        do {
            core = try Core(engine: engine, eventFDs: fds, options: options, log: log)
        } catch {
            throw GPIOError(.io, "gpio: cannot start the driver", call: error.call, errno: error.errno)
        }
        self.core = core
        do throws(Posix.Failure) {
            let events = try PosixThread { core.runEventThread() }
            do throws(Posix.Failure) {
                let pulses = try PosixThread { core.runPulseThread() }
                threads = [events, pulses]
            } catch {
                core.stopping.store(true, ordering: .sequentiallyConsistent)
                core.wakeEvents.wake()
                events.join()
                throw error
            }
        } catch {
            core.engine.withLock { $0.close() }
            throw GPIOError(.io, "gpio: cannot start the driver threads", call: error.call, errno: error.errno)
        }
    }

    deinit { shutdown() }

    public func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError) {
        let now = Posix.monotonicNanoseconds()
        try core.withEngine { (engine: inout GPIOEngine) throws(DriverError) in try engine.apply(command, foot: foot, now: now) }
        core.wakePulse.wake()   // a new move's first step may be due before the thread's next wake
    }

    public func releaseAll(_ reason: ReleaseReason) {
        core.releaseRequested.store(true, ordering: .sequentiallyConsistent)
        let done: Bool? = core.engine.withLockIfAvailable { engine in
            if core.releaseRequested.exchange(false, ordering: .sequentiallyConsistent) { engine.goToRest() }
            return true
        }
        if done == nil { core.wakePulse.wake() }
    }

    public func beginSession() { core.withEngine { $0.arm() } }

    public func observeEvents(_ observer: @escaping @Sendable (DeviceEvent.Kind) -> Void) -> Bool {
        core.observer.withLock { $0 = observer }
        return true
    }

    public func poll(upTo now: Duration) async -> [DeviceEvent] {
        let events = core.withEngine { $0.takeEvents() }
        let monotonicNow = Posix.monotonicNanoseconds()
        // Device time to session time: an event `age` ns old happened `age` before `now`.
        return events.map { event in
            let age = monotonicNow >= event.time ? monotonicNow - event.time : 0
            let time = now - .nanoseconds(Int64(age))
            return DeviceEvent(time: time < .zero ? .zero : time, kind: event.kind)
        }
    }

    /// Stops the threads, puts every output at rest and gives the lines back. Idempotent;
    /// `deinit` calls it too.
    public func shutdown() {
        guard !core.stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        core.wakePulse.wake()
        core.wakeEvents.wake()
        for thread in threads { thread.join() }
        core.engine.withLock { $0.close() }
    }

    // MARK: Diagnostics

    /// Lateness of the pulse thread's step and PWM edges since start (or the last reset).
    public func lateness() -> LatenessHistogram { core.withEngine { $0.lateness } }

    /// Moves planned afresh after the pulse thread stalled (see `GPIODriverOptions.stallReplanNS`).
    public func stallReplans() -> Int { core.withEngine { $0.stallReplans } }

    public func resetLateness() { core.withEngine { $0.resetLateness() } }

    /// From the kernel's timestamp of the last discomfort-switch press to every output at rest.
    public func lastReflexNanoseconds() -> UInt64? {
        core.withEngine { e in e.lastReflex.map { $0.restNS >= $0.edgeNS ? $0.restNS - $0.edgeNS : 0 } }
    }

    /// The node position of `foot` (device mm), counted from the steps sent.
    public func position(of foot: Foot) -> DevicePoint? { core.withEngine { $0.position(foot) } }

    /// Whether `foot` has a move under way or pending.
    public func isMoving(_ foot: Foot) -> Bool { core.withEngine { $0.isMoving(foot) } }

    /// Whether a release has latched the driver since the last `beginSession`.
    public var isLatched: Bool { core.withEngine { $0.latched } }

    /// Pressure and move commands ignored while latched.
    public var ignoredWhileLatched: Int { core.withEngine { $0.ignoredWhileLatched } }

    /// Whether the driver reads the discomfort switch as pressed.
    public var switchPressed: Bool { core.withEngine { $0.switchPressed } }
}
