import PlantarCore
import PlantarOracle
import PlantarSession
import Synchronization

/// The in-process simulated device behind the driver protocol: the same model for
/// `plantar simulate` (virtual time), `plantar run --simulator` (real time) and the tests.
///
/// Scripted events happen at their time while the physics advances; the discomfort switch
/// releases in the model before the event is reported (the reflex arc). A person's inputs may
/// also be injected from another thread at any moment (`press(_:)`), as a real switch would.
///
/// `releaseAll` takes no lock that the physics holds for long: it raises an atomic release
/// that whoever holds the model honours at its next step, and latches the driver (pressure
/// and moves ignored) until `beginSession`. `snapshot` reads the model without waiting either.
public final class SimulatedDriver: DeviceDriver {
    public let profile: DeviceProfile
    /// How often the device reports telemetry (Hz): the rate a board would send, not its
    /// internal sensor rate.
    public let telemetryRate: Double

    /// A release the device has recorded, at the model time it took effect.
    public struct Release: Sendable, Hashable {
        public var time: Duration
        public var reason: ReleaseReason
        /// How many commands the device had accepted (`applied`) when it released: what
        /// came before the release and what after, whatever their time stamps.
        public var appliedBefore: Int
    }

    struct State {
        var model: DeviceModel
        var script: [ScriptedEvent]
        var nextTelemetry: Double = 0
        var pending: [DeviceEvent] = []
        /// Session time the device released on its own for the discomfort switch (the reflex).
        var reflexReleaseAt: Duration?
        /// Every command the device accepted, for audits.
        var applied: [SessionReport.AppliedCommand] = []
        /// The last `releaseAll` generation the model has acted on.
        var releasedGeneration: UInt64 = 0
        /// Every release, in order (`releaseAll`, the switch reflex).
        var releases: [Release] = []
        /// Pressure and move commands ignored because the driver was latched.
        var ignoredWhileLatched = 0
        /// Input events to hand to the observer once the lock is let go.
        var toObserve: [DeviceEvent.Kind] = []
        /// Model time of the copy in `lastPolled`.
        var snapshotAt = 0.0
        /// The device's own record for the oracle; nil unless asked for (it costs a sample
        /// per foot per telemetry instant).
        var log: [DeviceLog.Record]?
    }

    private let state: Mutex<State>
    /// Raised by `releaseAll` without the lock: the physics' next step (whoever holds the lock
    /// now, or the next to take it) releases first. The poll between sessions at speed 1000
    /// advances the model for seconds under the lock; a stop must not wait for that.
    private let releaseGeneration = Atomic<UInt64>(0)
    private let lastReleaseReason = Atomic<UInt8>(0)
    /// Set by every release, cleared only by `beginSession`: a loop turn already dispatching
    /// when a stop arrives cannot press again.
    private let latched = Atomic<Bool>(false)
    private let observer = Mutex<(@Sendable (DeviceEvent.Kind) -> Void)?>(nil)
    /// The model as a recent poll left it (within a second of model time, and after every
    /// long poll), and the release generation it had honoured: what `snapshot` shows while
    /// the model is busy.
    private let lastPolled: Mutex<(model: DeviceModel, generation: UInt64)>

    /// - Parameters:
    ///   - telemetryRate: 20 Hz by default: one sample per session-loop turn.
    ///   - recordsDeviceLog: keep the device's own log (`deviceLog`) for the oracle.
    public init(profile: DeviceProfile, script: [ScriptedEvent] = [], seed: UInt64 = 1, noise: Bool = false,
                telemetryRate: Double = 20, recordsDeviceLog: Bool = false) {
        self.profile = profile
        self.telemetryRate = min(telemetryRate, profile.pressure.sensorRateHz)
        let model = DeviceModel(profile: profile, seed: seed, noise: noise)
        state = Mutex(State(model: model, script: script.sorted { $0.time < $1.time }, log: recordsDeviceLog ? [] : nil))
        lastPolled = Mutex((model, 0))
    }

    public func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError) {
        try withState { (s: inout State) throws(DriverError) in
            advance(&s, to: time.seconds, telemetryInterval: 1 / telemetryRate)
            // Checked after the pending release was honoured (`withState`), and a release
            // raises the latch before its generation: a command that passes here was sent
            // before the stop, and the stop's release is recorded after it.
            if case .release = command {} else if latched.load(ordering: .sequentiallyConsistent) {
                // Validate it all the same: a bad command is an error, latched or not.
                var scratch = s.model
                try scratch.apply(command, foot: foot)
                s.ignoredWhileLatched += 1
                return
            }
            let from = s.log != nil ? s.model.position(of: foot) : nil
            try s.model.apply(command, foot: foot)
            s.applied.append(SessionReport.AppliedCommand(time: time, foot: foot, command: command))
            if s.log != nil {
                s.log!.append(.command(DeviceLog.Command(time: time.seconds, foot: foot, command: command, from: from)))
            }
        }
    }

    /// Never waits: raises the latch and the release, then acts on the model only if nobody
    /// holds it (otherwise the holder does, at its next step).
    public func releaseAll(_ reason: ReleaseReason) {
        requestRelease(reason)
        _ = state.withLockIfAvailable { s in honourRelease(&s) }
    }

    public func beginSession() {
        withState { s in
            latched.store(false, ordering: .sequentiallyConsistent)
            s.log?.append(.arm(time: s.model.time))
        }
    }

    /// Notes a request made to the session from outside the device (pause, resume, ease,
    /// stop) at session time `time`, so the oracle knows when it was asked for. Only the
    /// caller that makes the request calls this; the device cannot see such requests.
    public func note(_ request: DeviceLog.Request, foot: Foot? = nil, at time: Duration) {
        withState { s in s.log?.append(.request(time: time.seconds, request, foot: foot)) }
    }

    /// The device's own log so far (empty unless `recordsDeviceLog`).
    public var deviceLog: DeviceLog { withState { DeviceLog(records: $0.log ?? []) } }

    public func observeEvents(_ observer: @escaping @Sendable (DeviceEvent.Kind) -> Void) -> Bool {
        self.observer.withLock { $0 = observer }
        return true
    }

    public func poll(upTo now: Duration) async -> [DeviceEvent] {
        withState { s in
            let from = s.model.time
            advance(&s, to: now.seconds, telemetryInterval: 1 / telemetryRate)
            // Kept after long polls only (the idle poll, the ones `snapshot` would wait for):
            // a copy on every loop turn costs the simulation a copy of the physics each time.
            if s.model.time - from > 1 || s.model.time - s.snapshotAt > 1 {
                honourRelease(&s)
                lastPolled.withLock { $0 = (s.model, s.releasedGeneration) }
                s.snapshotAt = s.model.time
            }
            defer { s.pending.removeAll(keepingCapacity: true) }
            return s.pending
        }
    }

    /// A copy of the model now, without waiting: the current one when nobody holds it, else
    /// the one a recent poll left (with any release raised since applied to the copy). For
    /// status displays beside a stop; `model` is exact but may wait for a long poll.
    public var snapshot: DeviceModel {
        // The lock is usually held for microseconds: a few tries before settling for the copy.
        for _ in 0..<50 {
            if let current = state.withLockIfAvailable({ s -> DeviceModel in
                honourRelease(&s)
                return s.model
            }) { return current }
        }
        var (model, generation) = lastPolled.withLock { $0 }
        if releaseGeneration.load(ordering: .sequentiallyConsistent) != generation { model.releaseAll() }
        return model
    }

    /// For tests: runs `body` while holding the model's lock, as a long poll would.
    package func holdingModelForTesting<R>(_ body: () -> R) -> R {
        state.withLock { _ in body() }
    }

    /// Whether a release has latched the driver since the last `beginSession`.
    public var isLatched: Bool { latched.load(ordering: .sequentiallyConsistent) }

    // MARK: Release

    private static let reasons: [ReleaseReason] = [.discomfortSwitch, .governor, .shutdown, .fault, .leaseExpired]

    private func requestRelease(_ reason: ReleaseReason) {
        latched.store(true, ordering: .sequentiallyConsistent)
        lastReleaseReason.store(UInt8(Self.reasons.firstIndex(of: reason) ?? 1), ordering: .relaxed)
        releaseGeneration.add(1, ordering: .sequentiallyConsistent)
    }

    /// Acts on a release raised since the last one the model saw. Runs with the lock held.
    private func honourRelease(_ s: inout State) {
        let generation = releaseGeneration.load(ordering: .sequentiallyConsistent)
        guard generation != s.releasedGeneration else { return }
        s.releasedGeneration = generation
        s.model.releaseAll()
        let reason = Self.reasons[Int(lastReleaseReason.load(ordering: .relaxed)) % Self.reasons.count]
        s.log?.append(.releaseAll(time: s.model.time, reason: reason.rawValue))
        s.releases.append(Release(time: .roundedSeconds(s.model.time), reason: reason, appliedBefore: s.applied.count))
    }

    /// Every use of the model: a release raised before or meanwhile is honoured first and
    /// last; input events go to the observer after unlocking.
    private func withState<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        var observed: [DeviceEvent.Kind] = []
        defer {
            if !observed.isEmpty, let observer = observer.withLock({ $0 }) { for kind in observed { observer(kind) } }
        }
        return try state.withLock { (s: inout State) throws(E) -> R in
            honourRelease(&s)
            defer {
                honourRelease(&s)
                if !s.toObserve.isEmpty { observed = s.toObserve; s.toObserve.removeAll() }
            }
            return try body(&s)
        }
    }

    /// A person's input right now, from any thread (the real-time run and the benchmarks).
    /// The switch releases inside the same critical section that records it.
    public func press(_ kind: ScriptedEvent.Kind) {
        // The reflex does not wait for the lock either.
        if kind == .switchPress { requestRelease(.discomfortSwitch) }
        withState { s in happen(kind, &s, at: s.model.time) }
    }

    /// A copy of the model, for tests and reports.
    public var model: DeviceModel { withState { $0.model } }

    // MARK: Time

    func advance(_ s: inout State, to t: Double, telemetryInterval: Double) {
        while true {
            // A long catch-up (the idle poll at speed 1000) honours a release at its next step.
            honourRelease(&s)
            let nextEvent = s.script.first.map { $0.time.seconds } ?? .infinity
            let next = min(nextEvent, s.nextTelemetry)
            guard next <= t else { break }
            s.model.advance(to: next)
            if nextEvent <= s.nextTelemetry {
                let event = s.script.removeFirst()
                happen(event.kind, &s, at: next)
            } else {
                for foot in s.model.profile.feet {
                    let telemetry = s.model.telemetry(foot)
                    s.pending.append(DeviceEvent(time: .roundedSeconds(next), kind: .telemetry(telemetry)))
                    if s.log != nil { s.log!.append(.sample(s.model.logSample(telemetry, at: Duration.roundedSeconds(next).seconds))) }
                }
                s.nextTelemetry += telemetryInterval
            }
        }
        s.model.advance(to: t)
    }

    func happen(_ kind: ScriptedEvent.Kind, _ s: inout State, at t: Double) {
        let time = Duration.roundedSeconds(t)
        if s.log != nil, let input = DeviceLog.Input(rawValue: kind.rawValue) { s.log!.append(.input(time: time.seconds, input)) }
        switch kind {
        case .switchPress:
            latched.store(true, ordering: .sequentiallyConsistent)
            s.model.setSwitch(pressed: true)           // release first ...
            s.releases.append(Release(time: time, reason: .discomfortSwitch, appliedBefore: s.applied.count))
            s.reflexReleaseAt = time
            s.pending.append(DeviceEvent(time: time, kind: .input(.discomfortSwitch(pressed: true, released: true))))  // ... then report
            s.toObserve.append(.input(.discomfortSwitch(pressed: true, released: true)))
        case .switchRelease:
            s.model.setSwitch(pressed: false)
            s.pending.append(DeviceEvent(time: time, kind: .input(.discomfortSwitch(pressed: false, released: true))))
            s.toObserve.append(.input(.discomfortSwitch(pressed: false, released: true)))
        case .ease:
            s.pending.append(DeviceEvent(time: time, kind: .input(.easeButton)))
            s.toObserve.append(.input(.easeButton))
        case .pullAway:
            s.model.setFootPresent(false)
        case .footReturn:
            s.model.setFootPresent(true)
        case .sensorFault:
            s.model.sensorFault = true
        }
    }

    /// Every command the device accepted, in order.
    public var applied: [SessionReport.AppliedCommand] { withState { $0.applied } }

    /// Every release the device recorded (stops, the switch reflex, the runner's end), in order.
    public var releases: [Release] { withState { $0.releases } }

    /// Pressure and move commands the driver ignored while latched (after a release, before
    /// the next `beginSession`).
    public var ignoredWhileLatched: Int { withState { $0.ignoredWhileLatched } }

    /// Session time the device released on its own for the discomfort switch.
    public var reflexReleaseAt: Duration? { withState { $0.reflexReleaseAt } }
}
