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
public final class SimulatedDriver: DeviceDriver {
    public let profile: DeviceProfile
    /// How often the device reports telemetry (Hz): the rate a board would send, not its
    /// internal sensor rate.
    public let telemetryRate: Double

    struct State {
        var model: DeviceModel
        var script: [ScriptedEvent]
        var nextTelemetry: Double = 0
        var pending: [DeviceEvent] = []
        /// Session time the device released on its own for the discomfort switch (the reflex).
        var reflexReleaseAt: Duration?
        /// Every command the device accepted, for audits.
        var applied: [SessionReport.AppliedCommand] = []
        /// The device's own record for the oracle; nil unless asked for (it costs a sample
        /// per foot per telemetry instant).
        var log: [DeviceLog.Record]?
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - telemetryRate: 20 Hz by default: one sample per session-loop turn.
    ///   - recordsDeviceLog: keep the device's own log (`deviceLog`) for the oracle.
    public init(profile: DeviceProfile, script: [ScriptedEvent] = [], seed: UInt64 = 1, noise: Bool = false,
                telemetryRate: Double = 20, recordsDeviceLog: Bool = false) {
        self.profile = profile
        self.telemetryRate = min(telemetryRate, profile.pressure.sensorRateHz)
        state = Mutex(State(model: DeviceModel(profile: profile, seed: seed, noise: noise),
                            script: script.sorted { $0.time < $1.time }, log: recordsDeviceLog ? [] : nil))
    }

    public func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError) {
        try state.withLock { (s: inout State) throws(DriverError) in
            Self.advance(&s, to: time.seconds, telemetryInterval: 1 / telemetryRate)
            let from = s.log != nil ? s.model.position(of: foot) : nil
            try s.model.apply(command, foot: foot)
            s.applied.append(SessionReport.AppliedCommand(time: time, foot: foot, command: command))
            if s.log != nil {
                s.log!.append(.command(DeviceLog.Command(time: time.seconds, foot: foot, command: command, from: from)))
            }
        }
    }

    public func releaseAll(_ reason: ReleaseReason) {
        state.withLock { s in
            s.model.releaseAll()
            s.log?.append(.releaseAll(time: s.model.time, reason: reason.rawValue))
        }
    }

    public func beginSession() {
        state.withLock { s in s.log?.append(.arm(time: s.model.time)) }
    }

    /// Notes a request made to the session from outside the device (pause, resume, ease,
    /// stop) at session time `time`, so the oracle knows when it was asked for. Only the
    /// caller that makes the request calls this; the device cannot see such requests.
    public func note(_ request: DeviceLog.Request, foot: Foot? = nil, at time: Duration) {
        state.withLock { s in s.log?.append(.request(time: time.seconds, request, foot: foot)) }
    }

    /// The device's own log so far (empty unless `recordsDeviceLog`).
    public var deviceLog: DeviceLog { state.withLock { DeviceLog(records: $0.log ?? []) } }

    public func poll(upTo now: Duration) async -> [DeviceEvent] {
        state.withLock { s in
            Self.advance(&s, to: now.seconds, telemetryInterval: 1 / telemetryRate)
            defer { s.pending.removeAll(keepingCapacity: true) }
            return s.pending
        }
    }

    /// A person's input right now, from any thread (the real-time run and the benchmarks).
    /// The switch releases inside the same critical section that records it.
    public func press(_ kind: ScriptedEvent.Kind) {
        state.withLock { s in Self.happen(kind, &s, at: s.model.time) }
    }

    /// A copy of the model, for tests and reports.
    public var model: DeviceModel { state.withLock { $0.model } }

    // MARK: Time

    static func advance(_ s: inout State, to t: Double, telemetryInterval: Double) {
        while true {
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

    static func happen(_ kind: ScriptedEvent.Kind, _ s: inout State, at t: Double) {
        let time = Duration.roundedSeconds(t)
        if s.log != nil, let input = DeviceLog.Input(rawValue: kind.rawValue) { s.log!.append(.input(time: time.seconds, input)) }
        switch kind {
        case .switchPress:
            s.model.setSwitch(pressed: true)           // release first ...
            s.reflexReleaseAt = time
            s.pending.append(DeviceEvent(time: time, kind: .input(.discomfortSwitch(pressed: true, released: true))))  // ... then report
        case .switchRelease:
            s.model.setSwitch(pressed: false)
            s.pending.append(DeviceEvent(time: time, kind: .input(.discomfortSwitch(pressed: false, released: true))))
        case .ease:
            s.pending.append(DeviceEvent(time: time, kind: .input(.easeButton)))
        case .pullAway:
            s.model.setFootPresent(false)
        case .footReturn:
            s.model.setFootPresent(true)
        case .sensorFault:
            s.model.sensorFault = true
        }
    }

    /// Every command the device accepted, in order.
    public var applied: [SessionReport.AppliedCommand] { state.withLock { $0.applied } }

    /// Session time the device released on its own for the discomfort switch.
    public var reflexReleaseAt: Duration? { state.withLock { $0.reflexReleaseAt } }
}
