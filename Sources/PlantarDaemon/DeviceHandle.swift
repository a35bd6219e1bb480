import Logging
import PlantarConfig
import PlantarCore
import PlantarDrivers
import PlantarSession
import PlantarSimulator
import Synchronization

/// The device for the daemon's whole life: the driver, the time base it lives in, and what
/// the daemon has seen of it (the switch, the link, faults).
///
/// Sessions see the driver through `SessionDriver`, which maps their session time onto the
/// device's time (each session starts at zero; the device does not) and watches every event
/// that passes, so the switch and the link are known between sessions too.
public final class DeviceHandle: Sendable {
    public let driver: any DeviceDriver
    public let backend: DaemonConfig.Backend
    /// Device time: real time, or sped up for the simulator (`simulator-speed`).
    public let clock: ScaledClock
    let logger: Logger
    let metrics: DaemonMetrics

    struct Seen {
        var switchPressed = false
        var link: LinkState = .up
        var fault: String?
        /// The device time up to which events were collected.
        var polledUpTo: Duration = .zero
    }

    private let seen = Mutex(Seen())
    /// Called for every discomfort-switch press seen, session or not (the manager latches).
    private let onSwitchPress = Mutex<(@Sendable () -> Void)?>(nil)
    /// Called after any change of the switch, the link or a fault (the manager publishes).
    private let onChange = Mutex<(@Sendable () -> Void)?>(nil)
    /// The driver hands over inputs, link and fault events as they happen
    /// (`DeviceDriver.observeEvents`); polls then only feed the session.
    private let pushed = Atomic<Bool>(false)
    private let stops = Atomic<UInt64>(0)

    public init(driver: any DeviceDriver, backend: DaemonConfig.Backend, speed: Double, logger: Logger, metrics: DaemonMetrics) {
        self.driver = driver
        self.backend = backend
        clock = ScaledClock(speed: speed)
        self.logger = logger
        self.metrics = metrics
    }

    /// Builds the driver the configuration names and puts the device at rest.
    /// - Throws: `DaemonError` when the backend cannot be had (no chip, no port, not built).
    public static func open(config: DaemonConfig, profile: DeviceProfile, logger: Logger, metrics: DaemonMetrics) async throws(DaemonError) -> DeviceHandle {
        let driver: any DeviceDriver
        switch config.backend {
        case .simulator:
            driver = SimulatedDriver(profile: profile)
        case .gpio:
            let log = logger
            do {
                driver = try GPIODriver(profile: profile) { level, message in
                    switch level {
                    case .info: log.info("\(message)")
                    case .warning: log.warning("\(message)")
                    case .error: log.error("\(message)")
                    }
                }
            } catch {
                throw DaemonError("backend gpio: \(error)")
            }
        case .serial:
            // The board's handshake must succeed before the daemon says it is ready; a lost
            // link later is reported, retried by the driver, and never resumes pressure.
            let log = logger
            do {
                driver = try await SerialDriver.connect(profile: profile) { level, message in
                    switch level {
                    case .info: log.info("\(message)")
                    case .warning: log.warning("\(message)")
                    case .error: log.error("\(message)")
                    }
                }
            } catch {
                throw DaemonError("backend serial: \(error)")
            }
        }
        let handle = DeviceHandle(driver: driver, backend: config.backend, speed: config.backend == .simulator ? config.simulatorSpeed : 1,
                                  logger: logger, metrics: metrics)
        driver.releaseAll(.shutdown)
        await handle.startObserving()
        return handle
    }

    /// Has the driver push events from now on, after observing what it queued before (a
    /// switch read as pressed when the lines were claimed). Events in between are seen twice;
    /// `observe` ignores a repeated state.
    func startObserving() async {
        let pushes = driver.observeEvents { [weak self] kind in
            self?.observe(DeviceEvent(time: .zero, kind: kind), during: nil)
        }
        await pollIdle()
        if pushes { pushed.store(true, ordering: .sequentiallyConsistent) }
    }

    /// Device time now.
    public var now: Duration { clock.now.offset }

    public var switchPressed: Bool { seen.withLock { $0.switchPressed } }
    public var link: LinkState { seen.withLock { $0.link } }
    public var fault: String? { seen.withLock { $0.fault } }

    func whenSwitchPressed(_ handler: @escaping @Sendable () -> Void) { onSwitchPress.withLock { $0 = handler } }
    func whenChanged(_ handler: @escaping @Sendable () -> Void) { onChange.withLock { $0 = handler } }

    /// Whether the driver pushes its events (so nothing waits for a poll to hear the switch).
    var pushesEvents: Bool { pushed.load(ordering: .sequentiallyConsistent) }

    /// Collects and observes what happened while no session ran (the idle supervision tick,
    /// and just before a session starts). Telemetry is dropped; inputs and link changes count.
    func pollIdle() async {
        let now = self.now
        let events = await driver.poll(upTo: now)
        seen.withLock { $0.polledUpTo = now }
        if !pushesEvents { for event in events { observe(event, during: nil) } }
    }

    /// Every event passes here, in a session (`session` is its id) or not.
    func observe(_ event: DeviceEvent, during session: Int?) {
        let context: Logger.Metadata = session.map { ["session": "\($0)"] } ?? [:]
        switch event.kind {
        case .telemetry:
            return
        case .input(.discomfortSwitch(let pressed, let released)):
            let changed = seen.withLock { s in defer { s.switchPressed = pressed }; return s.switchPressed != pressed }
            guard changed else { return }
            defer { onChange.withLock { $0 }?() }
            if pressed {
                logger.warning("discomfort switch pressed: everything released\(released ? " by the device first" : "")", metadata: context.merging(["who": "the person on the device"]) { $1 })
                onSwitchPress.withLock { $0 }?()
            } else {
                logger.notice("discomfort switch let go (the stop stays latched until re-armed)", metadata: context)
            }
        case .input(.easeButton):
            logger.notice("ease button pressed", metadata: context.merging(["who": "the person on the device"]) { $1 })
        case .link(let state):
            let previous = seen.withLock { s in defer { s.link = state; if state == .up { s.fault = nil } }; return s.link }
            guard previous != state else { return }
            defer { onChange.withLock { $0 }?() }
            switch state {
            case .up:
                logger.notice("device link up", metadata: context)
            case .down(let reason):
                metrics.linkError()
                logger.error("device link down: \(reason)", metadata: context)
            case .deviceReset:
                metrics.linkError()
                logger.error("the device reset itself", metadata: context)
            }
        case .fault(let fault):
            metrics.linkError()
            seen.withLock { $0.fault = fault.description }
            logger.error("device fault: \(fault)", metadata: context)
            onChange.withLock { $0 }?()
        }
    }

    /// Forgets a fault the operator has acknowledged by re-arming, once the link is up.
    func clearFault() { seen.withLock { if $0.link == .up { $0.fault = nil } } }

    /// The driver as one session sees it: time from the session's start.
    /// - Parameter stopsAtStart: `stopCount` when the session was asked for; a stop after
    ///   that keeps the driver latched for this session.
    func sessionDriver(session: Int, stopsAtStart: UInt64) -> SessionDriver {
        SessionDriver(handle: self, origin: now, session: session, stopsAtStart: stopsAtStart)
    }

    /// Every output to rest, now (stop path, switch, shutdown). Never waits. Counted first,
    /// so that a session started before it cannot arm the driver again (`SessionDriver`).
    public func releaseAll(_ reason: ReleaseReason) {
        stops.add(1, ordering: .sequentiallyConsistent)
        driver.releaseAll(reason)
    }

    /// How many stops `releaseAll` has carried out since the daemon started.
    var stopCount: UInt64 { stops.load(ordering: .sequentiallyConsistent) }

    /// Stops the driver's own threads and gives its lines or port back (shutdown only).
    func close() {
        driver.releaseAll(.shutdown)
        (driver as? GPIODriver)?.shutdown()
    }

    /// The simulated device's outputs and measured pressure now (nil for hardware): what
    /// the tests and `plantar status` use to show that the device is at rest.
    public var simulatedState: (atRest: Bool, kPa: [Foot: Double])? {
        guard let simulated = driver as? SimulatedDriver else { return nil }
        // Never waits for the model (an idle poll at speed 1000 holds it for a long time): the
        // stop lane builds its answer from this, and serves its next client only after.
        var model = simulated.snapshot
        model.advance(to: now.seconds)
        var kPa: [Foot: Double] = [:]
        var atRest = true
        for foot in simulated.profile.feet {
            kPa[foot] = model.telemetry(foot).peakKPa ?? 0
            if model.feet[foot]?.channels.values.contains(where: { $0.target > 0 }) == true { atRest = false }
        }
        return (atRest, kPa)
    }
}

/// One session's view of the device: session time in, device time out, and every event
/// observed on its way to the session.
final class SessionDriver: DeviceDriver {
    let handle: DeviceHandle
    let origin: Duration
    let session: Int
    let stopsAtStart: UInt64

    init(handle: DeviceHandle, origin: Duration, session: Int, stopsAtStart: UInt64) {
        self.handle = handle
        self.origin = origin
        self.session = session
        self.stopsAtStart = stopsAtStart
    }

    var profile: DeviceProfile { handle.driver.profile }

    func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError) {
        try await handle.driver.apply(command, foot: foot, at: origin + time)
    }

    func releaseAll(_ reason: ReleaseReason) { handle.driver.releaseAll(reason) }

    // Forwarded, not defaulted: a serial board stays latched until its driver hears that a
    // session armed, and only the real driver knows whether it can read pressure.
    // A stop that came after this session was asked for (it may have found no runner yet to
    // stop) keeps the driver latched: the session's own stop request ends it.
    func beginSession() {
        guard handle.stopCount == stopsAtStart else { return }
        handle.driver.beginSession()
        // A stop between the check and arming: latch again before this task applies anything.
        if handle.stopCount != stopsAtStart { handle.driver.releaseAll(.governor) }
    }
    var measuresPressure: Bool { handle.driver.measuresPressure }

    func poll(upTo now: Duration) async -> [DeviceEvent] {
        let events = await handle.driver.poll(upTo: origin + now)
        let observe = !handle.pushesEvents
        return events.map { event in
            if observe { handle.observe(event, during: session) }
            let time = event.time - origin
            return DeviceEvent(time: time < .zero ? .zero : time, kind: event.kind)
        }
    }
}

/// The daemon cannot start or cannot do what was asked; one line that says why.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
