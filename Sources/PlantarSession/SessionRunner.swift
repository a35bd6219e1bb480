import PlantarCore
import Synchronization

/// Tuning of the session loop.
public struct RunnerOptions: Sendable {
    /// The loop wakes at least this often to supervise (hold limit, auto-off, telemetry age)
    /// even when no command is due.
    public var supervisionInterval: Duration = .milliseconds(50)
    /// Trace samples per foot are taken this often (0 for no trace).
    public var sampleInterval: Duration = .milliseconds(100)
    /// After the session ends, keep sampling this long so the trace shows outputs at rest.
    public var settleAfterEnd: Duration = .seconds(1)
    /// Called with a fresh status after every loop turn (displays, the API). Keep it cheap.
    public var onStatus: (@Sendable (SessionStatus) -> Void)?
    /// Called with every intervention as it happens (logs).
    public var onIntervention: (@Sendable (Intervention) -> Void)?
    /// Called after each timeline command went through the governor to the driver, with the
    /// session time it was due and the session time the driver returned (the daemon's
    /// dispatch-lateness metric). Keep it cheap: it runs inside the loop.
    public var onDispatch: (@Sendable (_ due: Duration, _ applied: Duration) -> Void)?

    public init() {}
}

/// Runs a compiled timeline against a driver, every command through the governor.
///
/// One runner serves `plantar simulate` (on a `VirtualClock`, which jumps from wake-up to
/// wake-up), `plantar run --simulator` and the daemon (on `ContinuousClock`). The loop owns the
/// governor: events from the device, control requests and due commands all reach it in one
/// place, in time order. Requests from other tasks (`stop`, `ease`, `pause`, `resume`) are
/// queued for the loop, except that `stop` first releases the device itself: the stop path
/// never waits for the loop.
public final class SessionRunner<C: Clock>: Sendable where C.Duration == Duration {
    public let timeline: Timeline
    public let driver: any DeviceDriver
    public let clock: C
    public let settings: GovernorSettings
    let options: RunnerOptions

    enum Request: Sendable { case stop(String), ease(String), pause, resume }
    private let requests = Mutex<[Request]>([])
    private let pauseAsked = Mutex(false)
    private let latestStatus: Mutex<SessionStatus>

    public init(timeline: Timeline, driver: any DeviceDriver, clock: C, settings: GovernorSettings,
                options: RunnerOptions = RunnerOptions()) {
        self.timeline = timeline
        self.driver = driver
        self.clock = clock
        var settings = settings
        // A missing reading is a fault only where this driver can read pressure at all.
        settings.requiresPressureSensor = settings.requiresPressureSensor && driver.measuresPressure
        self.settings = settings
        self.options = options
        latestStatus = Mutex(SessionStatus(state: .idle, elapsed: .zero, total: timeline.duration, step: 0, stepName: "",
                                           foot: nil, zone: "", setpointKPa: [:], measuredKPa: [:], capKPa: 0))
    }

    // MARK: Requests (any task, any time)

    /// Stops the session: the device is released right here, then the loop latches the stop.
    public func stop(source: String) {
        driver.releaseAll(.governor)
        requests.withLock { $0.append(.stop(source)) }
    }

    /// Asks the governor to ease off (ease button, API).
    public func ease(source: String) { requests.withLock { $0.append(.ease(source)) } }

    public func pause() {
        pauseAsked.withLock { $0 = true }
        requests.withLock { $0.append(.pause) }
    }

    public func resume() {
        pauseAsked.withLock { $0 = false }
        requests.withLock { $0.append(.resume) }
    }

    /// The last of `pause` and `resume` asked for was a pause, whether or not the loop has
    /// carried it out yet (its status may still say running).
    public var pauseRequested: Bool { pauseAsked.withLock { $0 } }

    public var status: SessionStatus { latestStatus.withLock { $0 } }

    // MARK: The loop

    /// Runs to the end (finished, stopped, faulted) and returns the trace.
    public func run() async -> SessionTrace {
        let start = clock.now
        var loop = Loop(runner: self, start: start)
        var lastStatusAt = Duration.seconds(-1)
        await loop.begin()
        while true {
            let now = start.duration(to: clock.now)
            await loop.turn(at: now, requests: requests.withLock { r in defer { r.removeAll() }; return r })
            // Readers of `status` (the daemon's API) see it refreshed at least every 100 ms;
            // a display gets every turn. Building it every turn for no one cost a simulation.
            if options.onStatus != nil || now - lastStatusAt >= .milliseconds(100) || loop.state.isTerminal {
                let status = loop.status(at: now)
                latestStatus.withLock { $0 = status }
                options.onStatus?(status)
                lastStatusAt = now
            }
            if loop.state.isTerminal {
                if loop.endedAt == nil { loop.endedAt = now }
                if now >= loop.endedAt! + options.settleAfterEnd { break }
            }
            let wake = loop.nextWake(after: now)
            do {
                try await clock.sleep(until: start.advanced(by: wake), tolerance: nil)
            } catch {
                // Cancelled (daemon shutdown, Ctrl-C): release first, then end.
                driver.releaseAll(.shutdown)
                loop.cancel(at: start.duration(to: clock.now))
                break
            }
        }
        driver.releaseAll(.shutdown)
        return loop.trace()
    }

    /// The loop's own state: owned by `run()`, never shared.
    struct Loop {
        let runner: SessionRunner
        let start: C.Instant
        var governor: Governor
        var state: SessionState = .idle
        var next = 0
        var pausedAt: Duration?
        var pausedTotal: Duration = .zero
        var endedAt: Duration?
        var nextSample: Duration = .zero
        var samples: [TraceSample] = []
        var interventions: [Intervention] = []
        var telemetry: [Foot: Telemetry] = [:]
        var setpoints: [Foot: [String: Double]] = [:]
        /// The routine's pressure in force per foot and channel (the last pressure command
        /// above zero, until a release): what a resume restores, and nothing else.
        var inForce: [Foot: [String: TimelineEntry]] = [:]
        /// Feet that left the device while pressed: the session is paused until they are back.
        var awaitedFeet: Set<Foot> = []
        var current: TimelineEntry?
        var switchPressed = false
        let feet: [Foot]

        init(runner: SessionRunner, start: C.Instant) {
            self.runner = runner
            self.start = start
            governor = Governor(settings: runner.settings)
            feet = Array(Set(runner.timeline.entries.map(\.foot))).sorted()
        }

        var entries: [TimelineEntry] { runner.timeline.entries }

        mutating func begin() async {
            state = .running
            await perform(governor.arm(at: .zero), at: .zero)
            // Only an armed governor lets a latching device (a serial board) arm again.
            if governor.state.isRunning { runner.driver.beginSession() }
        }

        mutating func turn(at now: Duration, requests: [Request]) async {
            // Every event in order, every telemetry sample too: a missing reading, a brief
            // loss of the foot or a pressed interval in an older sample matters as much as
            // the newest (fault rules, pull-away, the dose).
            for event in await runner.driver.poll(upTo: now) { await handle(event, at: now) }
            for request in requests { await handle(request, at: now) }

            if !state.isTerminal && state != .paused {
                while next < entries.count && entries[next].offset + pausedTotal <= now {
                    let entry = entries[next]
                    next += 1
                    current = entry
                    switch entry.command {
                    case .pressure(let channel, let kPa, _) where kPa > 0: inForce[entry.foot, default: [:]][channel] = entry
                    case .pressure(let channel, _, _), .release(let channel): inForce[entry.foot]?[channel] = nil
                    case .move: break
                    }
                    await perform(governor.filter(entry, at: now), at: now)
                    // Lateness counts until the driver returned, not from when the loop woke.
                    let applied = start.duration(to: runner.clock.now)
                    await perform(governor.commandApplied(dueAt: entry.offset + pausedTotal, appliedAt: max(applied, now)), at: now)
                    runner.options.onDispatch?(entry.offset + pausedTotal, applied)
                    if state.isTerminal { break }
                }
            }
            if !state.isTerminal {
                await perform(governor.tick(at: now), at: now)
            }
            if !state.isTerminal && next >= entries.count && now >= runner.timeline.duration + pausedTotal {
                await perform(governor.finish(at: now), at: now)
                if !state.isTerminal { state = .finished }
            }
            syncEasing()
            sample(at: now)
        }

        /// The governor's easing shows as the session's easing.
        mutating func syncEasing() {
            guard state == .running || state == .easing else { return }
            state = governor.state == .easing ? .easing : .running
        }

        mutating func handle(_ event: DeviceEvent, at now: Duration) async {
            switch event.kind {
            case .telemetry(let t):
                telemetry[t.foot] = t
                await perform(governor.telemetry(t, at: event.time), at: now)
            case .input(.discomfortSwitch(let pressed, let released)):
                switchPressed = pressed
                await perform(governor.discomfortSwitch(pressed: pressed, alreadyReleased: released, at: event.time), at: now)
            case .input(.easeButton):
                // The button and `plantar ease` name no foot: they ease every foot (docs/safety.md §4).
                await perform(governor.ease(source: "ease button", foot: nil, at: event.time), at: now)
            case .link(.up):
                break
            case .link(.down(let reason)):
                await perform(governor.fault("link down: \(reason)", at: event.time), at: now)
            case .link(.deviceReset):
                await perform(governor.fault("the device reset itself", at: event.time), at: now)
            case .fault(let fault):
                await perform(governor.fault("device fault \(fault)", at: event.time), at: now)
            }
        }

        mutating func handle(_ request: Request, at now: Duration) async {
            switch request {
            case .stop(let source):
                await perform(governor.stop(source: source, at: now), at: now)
            case .ease(let source):
                await perform(governor.ease(source: source, foot: nil, at: now), at: now)
            case .pause:
                await pause(at: now)
            case .resume:
                // The person's resume does not override a foot that is still away.
                guard awaitedFeet.isEmpty else { return }
                await resume(at: now)
            }
        }

        mutating func pause(at now: Duration) async {
            guard !state.isTerminal, state != .paused else { return }
            pausedAt = now
            state = .paused
            // A pause releases pressure (safe at any instant, mid-hold or mid-move).
            for foot in feet {
                for channel in runner.driver.profile.channels {
                    await perform(governor.filter(releaseEntry(foot, channel, at: now), at: now), at: now)
                }
            }
        }

        mutating func resume(at now: Duration) async {
            guard state == .paused, let pausedAt else { return }
            pausedTotal += now - pausedAt
            self.pausedAt = nil
            state = .running
            // Restore only what the routine has in force now (a channel it released stays
            // released), from rest: the governor ramps it at the device's limit and caps it
            // for where the node is.
            let ramp = runner.driver.profile.pressure.maxRampKPaPerS
            for foot in feet {
                for (channel, entry) in (inForce[foot] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    guard case .pressure(_, let kPa, _) = entry.command else { continue }
                    var restore = entry
                    restore.command = .pressure(channel: channel, kPa: kPa, ramp: ramp)
                    await perform(governor.filter(restore, at: now), at: now)
                    if state.isTerminal { return }
                }
            }
        }

        func releaseEntry(_ foot: Foot, _ channel: String, at now: Duration) -> TimelineEntry {
            TimelineEntry(offset: now, foot: foot, command: .release(channel: channel),
                          step: current?.step ?? .parking, zone: current?.zone ?? "", sensitivity: .high)
        }

        mutating func perform(_ actions: [GovernorAction], at now: Duration) async {
            for action in actions {
                switch action {
                case .apply(let command, let foot):
                    do {
                        try await runner.driver.apply(command, foot: foot, at: now)
                        if let kPa = command.requestedKPa, case .pressure(let channel, _, _) = command {
                            setpoints[foot, default: [:]][channel] = kPa
                        } else if case .release(let channel) = command {
                            setpoints[foot, default: [:]][channel] = 0
                        }
                    } catch {
                        await perform(governor.fault("driver: \(error)", at: now), at: now)
                    }
                case .releaseAll:
                    runner.driver.releaseAll(.governor)
                    setpoints = [:]
                case .release(let foot):
                    setpoints[foot] = [:]
                    for channel in runner.driver.profile.channels {
                        do {
                            try await runner.driver.apply(.release(channel: channel), foot: foot, at: now)
                        } catch {
                            // A release that did not go out is a fault: everything to rest, latched.
                            await perform(governor.fault("driver: releasing \(foot.rawValue) \(channel) failed: \(error)", at: now), at: now)
                            return
                        }
                    }
                case .abortSession(let reason):
                    state = Self.terminalState(for: reason, governor: governor)
                case .awaitFoot(let foot):
                    awaitedFeet.insert(foot)
                    await pause(at: now)
                case .footReturned(let foot):
                    guard awaitedFeet.remove(foot) != nil, awaitedFeet.isEmpty else { break }
                    await resume(at: now)
                case .report(let intervention):
                    interventions.append(intervention)
                    runner.options.onIntervention?(intervention)
                }
            }
        }

        static func terminalState(for reason: StopReason, governor: Governor) -> SessionState {
            switch reason {
            case .fault(let why): .faulted(reason: why)
            case .autoOff: .stopped(reason: "auto-off after \(DurationSyntax.format(governor.settings.limits.autoOff))")
            default: .stopped(reason: reason.description)
            }
        }

        mutating func cancel(at now: Duration) {
            if !state.isTerminal { state = .stopped(reason: "cancelled") }
            sample(at: now)
        }

        func nextWake(after now: Duration) -> Duration {
            var wake = now + runner.options.supervisionInterval
            if next < entries.count && !state.isTerminal && state != .paused {
                wake = min(wake, max(now, entries[next].offset + pausedTotal))
            }
            if runner.options.sampleInterval > .zero { wake = min(wake, max(now, nextSample)) }
            if next >= entries.count && !state.isTerminal {
                wake = min(wake, max(now, runner.timeline.duration + pausedTotal))
            }
            return wake > now ? wake : now + .milliseconds(1)
        }

        mutating func sample(at now: Duration) {
            guard runner.options.sampleInterval > .zero, now >= nextSample else { return }
            for foot in feet {
                let t = telemetry[foot]
                let working = current?.foot == foot
                samples.append(TraceSample(time: now, foot: foot, position: t?.position ?? .home,
                                           setpointKPa: setpoints[foot]?.values.max() ?? 0, measuredKPa: t?.peakKPa,
                                           state: state.name, step: working ? current?.step.index ?? 0 : 0,
                                           zone: working ? current?.zone ?? "" : ""))
            }
            while nextSample <= now { nextSample += runner.options.sampleInterval }
        }

        func status(at now: Duration) -> SessionStatus {
            var measured: [Foot: Double] = [:]
            for (foot, t) in telemetry { measured[foot] = t.peakKPa ?? 0 }
            return SessionStatus(state: state, elapsed: now - pausedTotal - (pausedAt.map { now - $0 } ?? .zero),
                                 total: runner.timeline.duration, step: current?.step.index ?? 0,
                                 stepName: current?.step.name ?? "", foot: current?.foot, zone: current?.zone ?? "",
                                 setpointKPa: setpoints.mapValues { $0.values.max() ?? 0 }, measuredKPa: measured,
                                 capKPa: governor.cap(for: current?.sensitivity ?? .high))
        }

        func trace() -> SessionTrace {
            SessionTrace(timeline: runner.timeline, samples: samples, interventions: interventions, finalState: state.text)
        }
    }
}
