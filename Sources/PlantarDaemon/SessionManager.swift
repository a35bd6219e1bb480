import Foundation
import Logging
import PlantarAPI
import PlantarConfig
import PlantarCore
import PlantarSession
import PlantarSimulator
import ServiceLifecycle
import Synchronization

/// Runs one session at a time on the device, and keeps the stop latched between sessions.
///
/// The latch (ISO 13850's latching reset, DESIGN.md principle 1): a session that ends
/// stopped or faulted, an operator stop with or without a session, or the discomfort switch
/// at any time latches the daemon. While latched every new session is refused; `rearm`
/// clears the latch, and only when the switch is not held and no fault is present. Re-arming
/// never resumes or starts anything by itself.
///
/// The stop path never waits: `stop` releases the device before it takes any lock, then
/// hands the stop to the runner (which releases again and latches its governor). A stop that
/// finds the session taken by the loop but its runner not yet registered marks it, and the
/// loop never starts it; the device handle's stop count keeps a session asked for before a
/// stop from arming the driver again. Ease, pause and resume take one short lock to find the
/// runner and queue the request for its loop.
///
/// As a service its `run()` is the control loop: it runs the sessions, and between them wakes
/// only for the supervision tick (watchdog, keep-alives) every few seconds. The switch, link
/// and fault events do not wait for it: drivers push them to the device handle as they
/// happen (`DeviceDriver.observeEvents`), which latches and publishes at once.
public final class SessionManager: Service, Sendable {
    let device: DeviceHandle
    let profile: DeviceProfile
    let config: DaemonConfig
    let library: ConfigLibrary
    let map: FootMap
    let logger: Logger
    let metrics: DaemonMetrics
    let hub: EventHub
    let notifier: SystemdNotifier
    /// Between sessions the loop wakes this often (watchdog, link supervision).
    let idleTick: Duration
    /// Where the latch outlives the process (`$STATE_DIRECTORY/latch`), when there is a state folder.
    let latchFile: String?

    /// A compiled session, waiting for the loop.
    struct Prepared: Sendable {
        var id: Int
        var program: String
        var title: String
        var timeline: Timeline
        var settings: GovernorSettings
        var startedBy: String
        /// The device's stop count when the start was accepted.
        var stopsAtStart: UInt64 = 0
    }

    /// The running session, or the last one.
    struct Current: Sendable {
        var prepared: Prepared
        var runner: SessionRunner<ScaledClock>?
        var status: SessionStatus
        var interventions = 0
        var active = true
        var lastPublished: ContinuousClock.Instant?
        var lastPublishedState = ""
        /// A stop came for this session: the operator's at any time, the switch's before the
        /// runner existed. A session without a runner yet never runs; one winding down shows
        /// stopped and takes no ease, pause or resume.
        var stopRequested: String?
    }

    struct State: Sendable {
        var nextID = 1
        var pending: Prepared?
        var current: Current?
        var latch: String?
        var stopping = false
    }

    enum Wake: Sendable { case request, tick, shutdown }

    private let state = Mutex(State())
    private let wakes: AsyncStream<Wake>
    private let wake: AsyncStream<Wake>.Continuation

    public init(device: DeviceHandle, profile: DeviceProfile, config: DaemonConfig, library: ConfigLibrary, map: FootMap,
                logger: Logger, metrics: DaemonMetrics, hub: EventHub, notifier: SystemdNotifier, stateDirectory: String? = nil) {
        self.device = device
        self.profile = profile
        self.config = config
        self.library = library
        self.map = map
        self.logger = logger
        self.metrics = metrics
        self.hub = hub
        self.notifier = notifier
        // Between sessions the loop wakes only for this tick: half of systemd's watchdog interval
        // (as sd_notify(3) advises), and at most 5 s apart on hardware to notice a link change,
        // 15 s on the simulator (no link; it also keeps event followers' reads alive).
        let ceiling: Duration = device.backend == .simulator ? .seconds(15) : .seconds(5)
        idleTick = notifier.watchdogInterval.map { min($0 / 2, ceiling) } ?? ceiling
        (wakes, wake) = AsyncStream<Wake>.makeStream(bufferingPolicy: .bufferingNewest(1))
        latchFile = stateDirectory.map { $0 + "/latch" }
        // A latch, or a session cut short by the daemon's own end (a crash, a kill, the
        // watchdog), survives a restart: a restart is not a re-arm.
        if let latchFile, let data = FileManager.default.contents(atPath: latchFile), !data.isEmpty {
            let reason = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            state.withLock { $0.latch = "before plantard restarted: \(reason)" }
            metrics.setLatched(true)
            logger.warning("latched from before the restart: \(reason); re-arm required")
        }
        device.whenSwitchPressed { [weak self] in self?.latch("discomfort switch pressed", who: "the person on the device") }
        // Switch, link and fault changes reach the status and event followers as they happen.
        device.whenChanged { [weak self] in
            guard let self else { return }
            metrics.setLatched(isLatched)
            publishStatus(force: true)
        }
        // Seen when the device was opened, before anyone listened.
        if device.switchPressed { latch("discomfort switch held when plantard started", who: "the person on the device") }
    }

    // MARK: The control loop

    public func run() async throws {
        let ticker = wake, tick = idleTick
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: tick)
                        ticker.yield(.tick)
                    }
                }
                for await reason in wakes {
                    notifier.kickWatchdog()
                    // Followers of the event stream hear from an idle daemon at least this often.
                    if reason == .tick { hub.keepAlive() }
                    if reason == .shutdown || state.withLock({ $0.stopping }) { break }
                    if let next = state.withLock({ s -> Prepared? in defer { s.pending = nil }; return s.pending }) {
                        await runSession(next)
                    } else {
                        await device.pollIdle()
                    }
                }
                group.cancelAll()
            }
            // A terminating signal ends the loop at once (`releaseOnSignals`), maybe before the
            // service group has begun its graceful shutdown; returning then would read to the
            // group as this service failing (plantard would exit 1, the device service cancelled
            // out of its turn). Wait for the group's turn: it comes once the server has closed.
            try? await gracefulShutdown()
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    /// Shutdown (SIGTERM, SIGINT): refuse new sessions, stop the running one at once, end the
    /// event streams so the HTTP server can close.
    ///
    /// Called at once by a terminating signal (`releaseOnSignals`) and again as the service
    /// group shuts this service down; the second call only releases again.
    public func shutdown() {
        // Released before anything else, session or not.
        device.releaseAll(.shutdown)
        let (runner, first) = state.withLock { s in
            defer { s.stopping = true; s.pending = nil }
            return (s.current?.active == true ? s.current?.runner : nil, !s.stopping)
        }
        if let runner {
            runner.stop(source: "daemon shutting down")
            logger.notice("shutting down: session stopped, device released", metadata: ["who": "service manager (signal)"])
        }
        guard first else { return }
        notifier.stopping(status: "stopping: device released")
        wake.yield(.shutdown)
        hub.close()
    }

    func runSession(_ prepared: Prepared) async {
        await device.pollIdle()
        if device.switchPressed {
            finishWithoutRunning(prepared, reason: "the discomfort switch is held")
            return
        }
        let speed = device.clock.speed
        let metrics = self.metrics, id = prepared.id
        var options = RunnerOptions()
        options.sampleInterval = .zero
        // The runner keeps its loop a little after the end so the state shows the outputs at rest.
        options.settleAfterEnd = .milliseconds(200)
        options.onStatus = { [weak self] status in self?.loopTurn(id, status) }
        options.onIntervention = { [weak self] intervention in self?.intervened(id, intervention) }
        // Session time runs `speed` times faster than the wall clock; lateness is reported in wall time.
        options.onDispatch = { due, applied in metrics.dispatchLateness((applied - due).seconds / speed) }
        let runner = SessionRunner(timeline: prepared.timeline, driver: device.sessionDriver(session: id, stopsAtStart: prepared.stopsAtStart),
                                   clock: device.clock, settings: prepared.settings, options: options)
        // Under the lock `stop` takes: either it finds this runner and stops it, or it came
        // first and left `stopRequested` (it found no runner), and the session never runs.
        let refusal = state.withLock { s -> String? in
            guard s.current?.prepared.id == id, s.current?.active == true else { return "" }
            if s.stopping { return "plantard is shutting down" }
            if let stop = s.current?.stopRequested { return stop }
            s.current?.runner = runner
            return nil
        }
        if let refusal {
            if !refusal.isEmpty { finishWithoutRunning(prepared, reason: refusal) }
            return
        }
        persistLatch()
        metrics.setSessionActive(true)
        notifier.status("running \(prepared.program) (session \(id), \(prepared.startedBy))")
        let trace = await runner.run()
        let final = runner.status
        let latchReason: String? = switch final.state {
        case .stopped(let reason): reason
        case .faulted(let reason): "fault: \(reason)"
        default: nil
        }
        state.withLock { s in
            if s.current?.prepared.id == id {
                s.current?.active = false
                s.current?.status = final
                s.current?.runner = nil
            }
            if let latchReason, s.latch == nil { s.latch = latchReason }
        }
        persistLatch()
        metrics.setSessionActive(false)
        metrics.setLatched(isLatched)
        metrics.sessionEnded(outcome: final.state.name == "finished" ? "finished" : final.state.name)
        let meta: Logger.Metadata = ["session": "\(id)", "program": "\(prepared.program)"]
        if latchReason != nil {
            logger.warning("session ended \(trace.finalState); re-arm required before the next", metadata: meta)
        } else {
            logger.notice("session ended \(trace.finalState)", metadata: meta)
        }
        notifier.status(latchReason.map { "latched: \($0); re-arm required" } ?? "idle; last session \(final.state.name)")
        publishStatus(force: true)
    }

    func finishWithoutRunning(_ prepared: Prepared, reason: String) {
        state.withLock { s in
            if s.current?.prepared.id == prepared.id {
                s.current?.active = false
                s.current?.status.state = .stopped(reason: reason)
            }
            if s.latch == nil { s.latch = reason }
        }
        persistLatch()
        metrics.setLatched(true)
        metrics.sessionEnded(outcome: "stopped")
        logger.warning("session \(prepared.id) not started: \(reason)", metadata: ["session": "\(prepared.id)"])
        publishStatus(force: true)
    }

    /// Every turn of the session loop: the watchdog, the status, the latch as soon as the
    /// session stops (the runner settles a little longer before returning).
    func loopTurn(_ id: Int, _ status: SessionStatus) {
        notifier.kickWatchdog()
        let publish = state.withLock { s -> Bool in
            guard s.current?.prepared.id == id else { return false }
            s.current?.status = status
            // Stopped as far as anyone asking is concerned from the stop on, though the runner
            // reports its last turn before it handled the stop request.
            if let stop = s.current?.stopRequested, !status.state.isTerminal { s.current?.status.state = .stopped(reason: stop) }
            switch status.state {
            case .stopped(let reason): if s.latch == nil { s.latch = reason }
            case .faulted(let reason): if s.latch == nil { s.latch = "fault: \(reason)" }
            default: break
            }
            let now = ContinuousClock.now
            // A few times a second, and at once when the state changes.
            let due = s.current?.lastPublishedState != status.state.name
                || (s.current?.lastPublished.map { $0.duration(to: now) >= .milliseconds(200) } ?? true)
            if due {
                s.current?.lastPublished = now
                s.current?.lastPublishedState = status.state.name
            }
            return due
        }
        if status.state.isTerminal { metrics.setLatched(isLatched) }
        if publish { publishStatus(force: true) }
    }

    func intervened(_ id: Int, _ intervention: Intervention) {
        metrics.intervention(intervention.kind)
        state.withLock { s in if s.current?.prepared.id == id { s.current?.interventions += 1 } }
        let meta: Logger.Metadata = ["session": "\(id)", "kind": "\(intervention.kind.rawValue)"]
        switch intervention.kind {
        case .capClamped, .rampLimited, .blocked:
            logger.info("governor: \(intervention.description)", metadata: meta)
        case .easeOff, .holdLimit, .pullAway, .rearmed, .autoOff:
            logger.notice("governor: \(intervention.description)", metadata: meta)
        case .switchStop, .operatorStop, .escalatedStop:
            logger.warning("governor: \(intervention.description)", metadata: meta)
        case .fault:
            logger.error("governor: \(intervention.description)", metadata: meta)
        }
        if hub.subscriberCount > 0, let json = Self.json(InterventionDocument(session: id, intervention)) {
            hub.publish("intervention", json: json)
        }
    }

    // MARK: Requests

    /// Stops whatever runs and latches. Releases the device before anything else, and takes
    /// no lock until it has. Returns what happened, for people; `logAction` logs it with who
    /// asked (looked up after the release).
    /// - Parameter received: when the request reached the daemon (for the latency metric).
    @discardableResult
    public func stop(source: String, received: ContinuousClock.Instant = .now) -> String {
        device.releaseAll(.governor)
        metrics.stopLatency(received.duration(to: .now).seconds)
        let (runner, cancelled) = state.withLock { s -> (SessionRunner<ScaledClock>?, Bool) in
            let cancelled = s.pending != nil
            s.pending = nil
            if cancelled { s.current?.active = false; s.current?.status.state = .stopped(reason: "operator stop (\(source))") }
            if s.latch == nil { s.latch = "operator stop (\(source))" }
            // Shown at once; the runner's next turn reports its own stopped state.
            if s.current?.active == true, s.current?.status.state.isTerminal == false {
                s.current?.status.state = .stopped(reason: "operator stop (\(source))")
            }
            // No runner yet, though the loop has taken the session: it must not start now.
            if s.current?.active == true, s.current?.stopRequested == nil { s.current?.stopRequested = "operator stop (\(source))" }
            return (s.current?.active == true ? s.current?.runner : nil, cancelled || s.current?.active == true)
        }
        runner?.stop(source: source)
        persistLatch()
        metrics.setLatched(true)
        notifier.status("latched: operator stop; re-arm required")
        publishStatus(force: true)
        return runner != nil ? "session stopped: everything released; re-arm before the next session"
            : cancelled ? "the session was stopped before it began; everything released; re-arm before the next session"
            : "no session was running; everything released and the stop is latched: re-arm before the next session"
    }

    /// Logs a stop or ease with who asked (after the fact: the action went first).
    public func logAction(_ action: String, _ detail: String, who: String) {
        logger.warning("\(action): \(detail)", metadata: ["who": "\(who)"])
    }

    /// Latches without a request (the discomfort switch seen while idle, a device fault).
    func latch(_ reason: String, who: String, release: ReleaseReason = .discomfortSwitch) {
        device.releaseAll(release)
        let changed = state.withLock { s -> Bool in
            // A session taken by the loop but without a runner yet must not start.
            if s.current?.active == true, s.current?.runner == nil, s.current?.stopRequested == nil { s.current?.stopRequested = reason }
            guard s.latch == nil else { return false }
            s.latch = reason
            return true
        }
        metrics.setLatched(true)
        if changed {
            persistLatch()
            logger.warning("latched: \(reason)", metadata: ["who": "\(who)"])
            notifier.status("latched: \(reason); re-arm required")
            publishStatus(force: true)
        }
    }

    /// Asks the runner's governor to ease off; logged by the caller with `logAction`.
    public func ease(source: String) throws(Refusal) -> String {
        guard let runner = activeRunner() else { throw Refusal.noSession("ease") }
        runner.ease(source: source)
        return "easing off: pressure lowers by \(Int(runner.settings.easeFraction * 100))% now and the caps stay lower for this session"
    }

    public func pause(who: String) throws(Refusal) -> String {
        guard let runner = activeRunner() else { throw Refusal.noSession("pause") }
        runner.pause()
        logger.notice("pause requested", metadata: ["who": "\(who)"])
        return "paused: pressure released; resume to go on"
    }

    /// Resumes a paused session; one that is not paused is refused (`not-paused`), so a client
    /// learns that its resume did nothing instead of reading 200.
    public func resume(who: String) throws(Refusal) -> String {
        guard let runner = activeRunner() else { throw Refusal.noSession("resume") }
        // A pause still queued for the runner's loop counts as paused: pause then resume at
        // once is a pause and a resume, not a refusal.
        guard runner.status.state == .paused || runner.pauseRequested else {
            throw Refusal(409, "not-paused", "the session is \(runner.status.state.name), not paused: nothing to resume")
        }
        runner.resume()
        logger.notice("resume requested", metadata: ["who": "\(who)"])
        return "resumed"
    }

    /// Clears the latch: refused while a session runs, while the switch is held or while a
    /// fault is present. Never starts or resumes anything.
    ///
    /// A session running with nothing latched is refused at once (`busy`): there is nothing to
    /// re-arm. Only a stopped session still winding down is waited for.
    public func rearm(who: String) async throws(Refusal) -> String {
        // A stopped session takes a few hundred milliseconds to wind down (the runner lets the
        // outputs settle); `plantar stop && plantar rearm` should not trip over that. The wait
        // ends as soon as it has; the bound is generous for a loaded machine.
        let deadline = ContinuousClock.now.advanced(by: Self.windDownWait)
        while ContinuousClock.now < deadline, state.withLock({ $0.current?.active == true && $0.latch != nil }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if device.switchPressed { throw Refusal(409, "switch-held", "the discomfort switch is held: let go of it first, then re-arm") }
        if case .down(let reason) = device.link { throw Refusal(409, "fault", "the device link is down (\(reason)): fix the connection first, then re-arm") }
        if let fault = device.fault { throw Refusal(409, "fault", "the device reports a fault (\(fault)): fix it first, then re-arm") }
        let previous = try state.withLock { s throws(Refusal) -> String? in
            if s.current?.active == true {
                throw Refusal(409, "busy", "a session is still running or ending; stop it first ('plantar stop')")
            }
            defer { s.latch = nil }
            return s.latch
        }
        metrics.setLatched(false)
        persistLatch()
        guard let previous else { return "nothing to re-arm: not latched" }
        logger.notice("re-armed (was: \(previous)); nothing resumes by itself", metadata: ["who": "\(who)"])
        notifier.status("idle (re-armed)")
        publishStatus(force: true)
        return "re-armed: a new session may start; nothing resumes by itself"
    }

    /// The simulated person's inputs (simulator backend only): `switch`, `switch-release`,
    /// `ease`, `pullaway`, `return`, `sensor-fault`.
    public func simulatorInput(_ name: String, who: String) throws(Refusal) -> String {
        guard let simulated = device.driver as? SimulatedDriver else {
            throw Refusal(404, "not-found", "simulator inputs exist only with backend: simulator (this daemon runs \(device.backend.rawValue))")
        }
        guard let kind = ScriptedEvent.Kind(rawValue: name) else {
            throw Refusal(404, "not-found", "unknown simulator input '\(name)'; expected one of \(ScriptedEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        simulated.press(kind)
        logger.notice("simulator input: \(kind.rawValue)", metadata: ["who": "\(who)"])
        // The simulated sensor stops reporting pressure; a board would say so as a fault. Seen
        // here at once, between sessions too, so re-arm is refused while it lasts (it lasts
        // until plantard restarts: the simulator has no repair input).
        if kind == .sensorFault {
            let fault = DeviceFault(code: Self.simulatedSensorFault, detail: "the simulated pressure sensor reports nothing")
            device.observe(DeviceEvent(time: device.now, kind: .fault(fault)), during: nil)
            latch("fault: the simulated pressure sensor reports nothing", who: "\(who)", release: .fault)
        }
        // The switch counts at once, session or not (the event also reaches a running session);
        // a driver that pushes its events has told the device handle already.
        if !device.pushesEvents {
            switch kind {
            case .switchPress: device.observe(DeviceEvent(time: .zero, kind: .input(.discomfortSwitch(pressed: true, released: true))), during: nil)
            case .switchRelease: device.observe(DeviceEvent(time: .zero, kind: .input(.discomfortSwitch(pressed: false, released: true))), during: nil)
            default: break
            }
        }
        return "simulated \(kind.rawValue)"
    }

    /// The runner of a session that runs and has not been stopped (one winding down after a
    /// stop takes no ease, pause or resume).
    func activeRunner() -> SessionRunner<ScaledClock>? {
        state.withLock { s in s.current?.active == true && s.current?.stopRequested == nil ? s.current?.runner : nil }
    }

    public var isLatched: Bool { state.withLock { $0.latch != nil } }

    /// The device fault code of the simulator's `sensor-fault` (a fault's code, not a refusal's).
    static let simulatedSensorFault = "sensor"

    /// How long re-arm waits for a stopped session to wind down before it answers `busy`.
    static let windDownWait: Duration = .seconds(10)

    /// Writes what must survive the process: the latch, or, while a session runs, that a
    /// restart now would cut it short. Removes the file when neither holds.
    func persistLatch() {
        guard let latchFile else { return }
        let content = state.withLock { s -> String? in
            if let latch = s.latch { return latch }
            if let current = s.current, current.active {
                return "plantard ended during session \(current.prepared.id) (\(current.prepared.program))"
            }
            return nil
        }
        if let content {
            do { try content.write(toFile: latchFile, atomically: true, encoding: .utf8) } catch {
                logger.error("cannot write \(latchFile): \(error.localizedDescription); a restart would forget the latch")
            }
        } else {
            unlink(latchFile)
        }
    }

    // MARK: Starting a session

    /// Checks, compiles and queues a session.
    /// - Throws: `Refusal` with the reason: busy, latched, stopping, switch held, unknown
    ///   program, invalid parameters or routine.
    public func start(_ request: StartRequest, who: String) throws(Refusal) -> SessionDocument {
        try refuseIfUnavailable()
        let prepared = try prepare(request, who: who)
        let document = try state.withLock { s throws(Refusal) -> SessionDocument in
            try Self.availability(s)
            var p = prepared
            p.id = s.nextID
            s.nextID += 1
            // Read under the lock, after any stop that latched (a stop released first, so one
            // counted later than this is a stop after the start).
            p.stopsAtStart = device.stopCount
            s.pending = p
            let status = SessionStatus(state: .running, elapsed: .zero, total: p.timeline.duration, step: 0, stepName: "",
                                       foot: nil, zone: "", setpointKPa: [:], measuredKPa: [:], capKPa: 0)
            s.current = Current(prepared: p, runner: nil, status: status)
            return Self.document(s.current!)
        }
        wake.yield(.request)
        logger.notice("session \(document.id) started: \(prepared.program) \(Self.parameterText(document.parameters))",
                      metadata: ["who": "\(who)", "session": "\(document.id)"])
        return document
    }

    func refuseIfUnavailable() throws(Refusal) {
        try state.withLock { s throws(Refusal) in try Self.availability(s) }
        if device.switchPressed { throw Refusal(409, "switch-held", "the discomfort switch is held: let go of it, re-arm ('plantar rearm'), then start again") }
    }

    static func availability(_ s: State) throws(Refusal) {
        if s.stopping { throw Refusal(503, "stopping", "plantard is shutting down") }
        if let latch = s.latch {
            throw Refusal(409, "latched", "stopped and latched (\(latch)): re-arm first with 'plantar rearm' (POST /v1/rearm)")
        }
        if let current = s.current, current.active {
            throw Refusal(409, "busy", "session \(current.prepared.id) (\(current.prepared.program), started by \(current.prepared.startedBy)) is running; one session at a time: stop it first ('plantar stop') or wait for it to end")
        }
    }

    func prepare(_ request: StartRequest, who: String) throws(Refusal) -> Prepared {
        let checked = try StartCheck.check(request, who: who, map: map, profile: profile, config: config,
                                           library: library, clockSpeed: device.clock.speed)
        return Prepared(id: 0, program: checked.program, title: checked.title, timeline: checked.timeline,
                        settings: checked.settings, startedBy: who)
    }

    // MARK: Status

    public var statusDocument: StatusDocument {
        let s = state.withLock { $0 }
        let session = s.current.map(Self.document)
        let stateName: String
        if let current = s.current, current.active { stateName = current.status.state.name }
        else if let latch = s.latch { stateName = latch.hasPrefix("fault") ? "faulted" : "stopped" }
        else { stateName = "idle" }
        let link: String = switch device.link {
        case .up: "up"
        case .down(let reason): "down: \(reason)"
        case .deviceReset: "down: the device reset itself"
        }
        let simulated = device.simulatedState
        return StatusDocument(state: stateName, latched: s.latch != nil, latchReason: s.latch, session: session,
                              device: DeviceDocument(backend: device.backend.rawValue, profile: profile.name, link: link,
                                                     switchPressed: device.switchPressed, fault: device.fault,
                                                     atRest: simulated?.atRest,
                                                     measuredKPa: simulated.map { Dictionary(uniqueKeysWithValues: $0.kPa.map { ($0.key.rawValue, $0.value) }) }),
                              stopping: s.stopping)
    }

    static func document(_ c: Current) -> SessionDocument {
        SessionDocument(id: c.prepared.id, program: c.prepared.program, title: c.prepared.title, device: c.prepared.timeline.device,
                        parameters: c.prepared.timeline.parameters, startedBy: c.prepared.startedBy, active: c.active,
                        status: c.status, interventions: c.interventions)
    }

    /// The `status` event for every follower of `GET /v1/events`.
    func publishStatus(force: Bool) {
        guard hub.subscriberCount > 0, let json = Self.json(statusDocument) else { return }
        hub.publish("status", json: json)
    }

    /// The event a new follower gets first.
    func currentStatusEvent() -> EventHub.Event? {
        Self.json(statusDocument).map { EventHub.Event(name: "status", text: "event: status\ndata: \($0)\n\n") }
    }

    static func json<T: Encodable>(_ value: T) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func parameterText(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// `Refusal` (PlantarAPI) is the one type for every request the daemon will not carry out;
/// the session start's own checks throw it too (`StartCheck`).
extension Refusal {
    static func noSession(_ action: String) -> Refusal {
        Refusal(409, "no-session", "no session is running to \(action)")
    }
}
