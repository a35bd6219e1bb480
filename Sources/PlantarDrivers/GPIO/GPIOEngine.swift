import PlantarCore

/// Tunables of the GPIO driver. The defaults suit the reference device.
public struct GPIODriverOptions: Sendable, Hashable {
    /// How the driver's threads ask for real-time scheduling.
    public enum Realtime: Sendable, Hashable {
        /// Normal scheduling (tests, tools).
        case off
        /// SCHED_FIFO at `priority` for the pulse thread (the event thread gets 5 more),
        /// and locked memory, when the system permits; a warning when it does not.
        case fifo(priority: Int32)
    }

    /// The consumer name other programs see on the claimed lines (`gpioinfo`).
    public var consumer = "plantard"
    /// Software PWM period of the pump. 100 Hz: far faster than the bellows (time constant
    /// 0.25 s on the reference device), slow enough for 1% duty steps of 100 µs.
    public var pwmPeriodNS: UInt64 = 10_000_000
    /// How long a step line stays high. Common stepper drivers want 1–2 µs (A4988: 1 µs,
    /// DRV8825: 1.9 µs); 3 µs leaves margin.
    public var stepPulseWidthNS: UInt64 = 3_000
    /// Time between setting the direction lines and the first step (drivers want ≤ 1 µs).
    public var directionSetupNS: UInt64 = 20_000
    /// A step this late means the thread stalled and the motor stood still: the move is
    /// planned afresh from where the node is (from rest) instead of replaying the missed
    /// steps in a burst the motor could not follow.
    public var stallReplanNS: UInt64 = 5_000_000
    /// Window in which later edges of a switch count as contact bounce. Never delays the
    /// first edge.
    public var debounceNS: UInt64 = 20_000_000
    /// Telemetry (node position, foot presence) per foot.
    public var telemetryPeriodNS: UInt64 = 20_000_000
    /// The pulse thread also reads the discomfort switch's level this often: an edge the
    /// event thread missed, or a line that stopped answering, still stops the device.
    public var switchCheckPeriodNS: UInt64 = 50_000_000
    public var realtime: Realtime = .fifo(priority: 80)
    /// Events kept for `poll` before telemetry is dropped (inputs and faults never are).
    public var maxQueuedEvents = 4096

    public init() {}
}

/// The GPIO driver's state and logic, with no threads and no clock of its own: every call
/// gets the monotonic time in nanoseconds. The driver keeps one in a `Mutex` and calls it from
/// its event thread (edges), its pulse thread (`service`), the session (`apply`, `takeEvents`)
/// and anyone (`release`). Tests call it directly against an `InMemoryLineBank`.
struct GPIOEngine {
    private struct ActiveMove {
        var plan: MovePlan
        var target: DevicePoint
        var speed: Double
        var start: UInt64
        var next: [Int] = [1, 1]          // next step number per axis
        var due: [UInt64?] = [nil, nil]   // when it is due
        var direction: [Int] = [0, 0]
    }

    private struct FootState {
        var foot: Foot
        var lines: GPIOPinLayout.FootLines
        var position: [Int] = [0, 0]      // steps per axis from home
        var move: ActiveMove?
        var pendingMove: (target: DevicePoint, speed: Double)?
        var enabled = false
        var ramp = PressureRamp()
        var pwm: PumpPWM
        var periodStart: UInt64 = 0
        var pumpOn = false
        var pumpOffAt: UInt64?
        var valveClosed = false
    }

    let bank: any GPIOLineBank
    let layout: GPIOPinLayout
    let options: GPIODriverOptions
    private let axes: [AxisLimits]
    private let pressure: PressureLimits
    private let clock: @Sendable () -> UInt64
    private var feet: [FootState]
    private var switchInput: EdgeDebouncer
    private var easeInput: EdgeDebouncer?
    private var faulted: DeviceFault?
    private var nextTelemetry: UInt64
    private var nextSwitchCheck: UInt64
    private var events: [(time: UInt64, kind: DeviceEvent.Kind)] = []
    private(set) var lateness = LatenessHistogram()
    /// Moves planned afresh after a stall of the pulse thread.
    private(set) var stallReplans = 0
    /// The last reflex: the kernel's timestamp of the edge, and when every output was at rest.
    private(set) var lastReflex: (edgeNS: UInt64, restNS: UInt64)?
    private var closed = false
    /// Set by every release to rest (stop, switch reflex, fault); cleared only by `arm()`:
    /// pressure and moves are ignored in between, so a loop turn already dispatching when a
    /// stop arrives cannot press again.
    private(set) var latched = false
    /// Pressure and move commands ignored while latched.
    private(set) var ignoredWhileLatched = 0
    /// Input and fault events not yet handed to the driver's observer.
    var toObserve: [DeviceEvent.Kind] = []

    /// Claims the lines and reads the inputs. Outputs are requested at rest.
    /// - Throws: the bank's `GPIOError` naming a missing chip or a missing or busy line.
    init(bank: any GPIOLineBank, profile: DeviceProfile, options: GPIODriverOptions, now: UInt64,
         clock: @escaping @Sendable () -> UInt64 = Posix.monotonicNanoseconds) throws(GPIOError) {
        let layout = try GPIOPinLayout.resolve(profile)
        try bank.claim(chip: layout.chip, layout.requests, consumer: options.consumer)
        self.bank = bank
        self.layout = layout
        self.options = options
        axes = [profile.uAxis!, profile.vAxis!]
        pressure = profile.pressure
        self.clock = clock
        feet = layout.feet.keys.sorted().map { FootState(foot: $0, lines: layout.feet[$0]!, pwm: PumpPWM(limits: profile.pressure)) }
        for i in feet.indices { feet[i].periodStart = now }
        nextTelemetry = now
        nextSwitchCheck = now &+ options.switchCheckPeriodNS
        // Normally closed wiring: an open or unreadable switch line is a press.
        let pressed = (try? bank.read(layout.discomfortSwitch)) ?? true
        switchInput = EdgeDebouncer(initial: false, windowNS: options.debounceNS)
        if let ease = layout.easeButton {
            easeInput = EdgeDebouncer(initial: (try? bank.read(ease)) ?? false, windowNS: options.debounceNS)
        }
        if pressed { observeSwitch(true, edgeNS: now, now: now) }
    }

    // MARK: Setpoints (the session, through the governor)

    var switchPressed: Bool { switchInput.reported }

    mutating func apply(_ command: ActuatorCommand, foot: Foot, now: UInt64) throws(DriverError) {
        guard let i = feet.firstIndex(where: { $0.foot == foot }) else {
            throw DriverError("gpio: device '\(layout.chip)' has no \(foot.rawValue) foot in its pin map")
        }
        if case .release(let channel) = command {
            try checkChannel(channel)
            ventNow(i)
            return
        }
        if let faulted { throw DriverError("gpio: faulted (\(faulted)); outputs held at rest until restart") }
        if switchPressed { throw DriverError("gpio: the discomfort switch is pressed; outputs stay at rest") }
        if latched {
            try checkCommand(command)
            ignoredWhileLatched += 1
            return
        }
        switch command {
        case .pressure(let channel, let kPa, let ramp):
            try checkChannel(channel)
            // The governor has capped the setpoint; the hardware ceiling is a last guard.
            let rate = ramp > 0 ? min(ramp, pressure.maxRampKPaPerS) : pressure.maxRampKPaPerS
            feet[i].ramp.set(targetKPa: min(kPa, pressure.maxKPa), rate: rate)
        case .move(let target, let speed):
            guard feet[i].move == nil else {
                // Latest value wins: one pending target, never a backlog.
                feet[i].pendingMove = (target, speed)
                return
            }
            do {
                try startMove(i, to: target, speed: speed, now: now)
            } catch {
                fault(error, now: now)
                throw DriverError("gpio: \(error)")
            }
        case .release:
            break
        }
    }

    /// A new session armed: pressure and moves may go out again (never resumes anything).
    mutating func arm() { latched = false }

    /// The errors `apply` would throw for `command`, without doing it.
    private func checkCommand(_ command: ActuatorCommand) throws(DriverError) {
        switch command {
        case .pressure(let channel, _, _), .release(let channel): try checkChannel(channel)
        case .move: break
        }
    }

    private func checkChannel(_ channel: String) throws(DriverError) {
        guard channel == DeviceProfile.nodeChannel else {
            throw DriverError("gpio: no pressure channel '\(channel)' (a gantry node has '\(DeviceProfile.nodeChannel)')")
        }
    }

    private mutating func startMove(_ i: Int, to target: DevicePoint, speed: Double, now: UInt64) throws(GPIOError) {
        let plan = StepPulsePlanner.plan(from: (feet[i].position[0], feet[i].position[1]), to: target, speed: speed,
                                         u: axes[0], v: axes[1])
        guard plan.uSteps != 0 || plan.vSteps != 0 else { return }
        let lines = feet[i].lines
        var move = ActiveMove(plan: plan, target: target, speed: speed, start: now &+ options.directionSetupNS)
        for axis in Axis.allCases where plan.steps(axis) != 0 {
            move.direction[axis.rawValue] = plan.steps(axis) > 0 ? 1 : -1
            try bank.write(axis == .u ? lines.uDir : lines.vDir, plan.steps(axis) > 0)
            move.due[axis.rawValue] = move.start &+ nanoseconds(plan.stepTime(axis, 1))
        }
        if !feet[i].enabled {
            try bank.write(lines.enable, true)
            feet[i].enabled = true
        }
        feet[i].move = move
    }

    // MARK: The pulse thread

    /// Does everything due at `now` (steps, PWM edges, telemetry, the switch check) and
    /// returns when it next has something to do.
    mutating func service(now: UInt64) -> UInt64 {
        guard !closed else { return now &+ 1_000_000_000 }
        do {
            for i in feet.indices { try serviceFoot(i, now: now) }
        } catch {
            fault(error, now: now)
        }
        if now >= nextTelemetry {
            nextTelemetry = max(nextTelemetry &+ options.telemetryPeriodNS, now)
            for foot in feet { post(now, .telemetry(telemetry(foot))) }
        }
        if now >= nextSwitchCheck {
            nextSwitchCheck = now &+ options.switchCheckPeriodNS
            observeSwitch((try? bank.read(layout.discomfortSwitch)) ?? true, edgeNS: now, now: now)
        }
        settleInputs(now: now)
        var next = min(nextTelemetry, nextSwitchCheck)
        for foot in feet {
            next = min(next, foot.periodStart &+ options.pwmPeriodNS)
            if let off = foot.pumpOffAt { next = min(next, off) }
            for due in foot.move?.due ?? [] { if let due { next = min(next, due) } }
        }
        if let end = switchInput.windowEnd { next = min(next, end) }
        if let end = easeInput?.windowEnd { next = min(next, end) }
        return next
    }

    private mutating func serviceFoot(_ i: Int, now: UInt64) throws(GPIOError) {
        // Steps, oldest due first across both axes.
        while var move = feet[i].move {
            var pick: Int?
            for axis in 0..<2 { if let due = move.due[axis], due <= now, pick.map({ due < move.due[$0]! }) ?? true { pick = axis } }
            guard let axis = pick else { break }
            let late = now - move.due[axis]!
            lateness.record(late)
            if late > options.stallReplanNS {
                stallReplans += 1
                feet[i].move = nil
                try startMove(i, to: move.target, speed: move.speed, now: now)
                continue
            }
            try pulse(axis == 0 ? feet[i].lines.uStep : feet[i].lines.vStep)
            feet[i].position[axis] += move.direction[axis]
            let k = move.next[axis]
            move.next[axis] = k + 1
            move.due[axis] = k < abs(move.plan.steps(Axis(rawValue: axis)!))
                ? move.start &+ nanoseconds(move.plan.stepTime(Axis(rawValue: axis)!, k + 1)) : nil
            feet[i].move = move
            if move.due[0] == nil && move.due[1] == nil {
                feet[i].move = nil
                if let pending = feet[i].pendingMove {
                    feet[i].pendingMove = nil
                    try startMove(i, to: pending.target, speed: pending.speed, now: now)
                }
            }
        }
        // Pump PWM: a new period, then the pump's off edge within it.
        let period = options.pwmPeriodNS
        if now >= feet[i].periodStart &+ period {
            let boundary = feet[i].periodStart &+ period
            lateness.record(now - boundary)
            // Far behind (a stall): start afresh rather than replay missed periods.
            feet[i].periodStart = now - boundary > period ? now : boundary
            let dt = Double(period) / 1e9
            let command = feet[i].ramp.advance(dt: dt)
            let output = feet[i].pwm.step(commandKPa: command.kPa, commandRate: command.rate, dt: dt)
            if output.valveClosed != feet[i].valveClosed {
                try bank.write(feet[i].lines.valve, output.valveClosed)
                feet[i].valveClosed = output.valveClosed
            }
            let on = output.duty > 0
            if on != feet[i].pumpOn {
                try bank.write(feet[i].lines.pump, on)
                feet[i].pumpOn = on
            }
            feet[i].pumpOffAt = on && output.duty < 1 ? feet[i].periodStart &+ UInt64(output.duty * Double(period)) : nil
        }
        if let off = feet[i].pumpOffAt, now >= off {
            lateness.record(now - off)
            try bank.write(feet[i].lines.pump, false)
            feet[i].pumpOn = false
            feet[i].pumpOffAt = nil
        }
    }

    private func pulse(_ line: Int) throws(GPIOError) {
        try bank.write(line, true)
        if options.stepPulseWidthNS > 0 { Posix.spin(untilMonotonic: clock() &+ options.stepPulseWidthNS) }
        try bank.write(line, false)
    }

    private func telemetry(_ foot: FootState) -> Telemetry {
        let present = foot.lines.presence.map { (try? bank.read($0)) ?? false } ?? true
        return Telemetry(foot: foot.foot,
                         position: DevicePoint(u: Double(foot.position[0]) / axes[0].stepsPerMM,
                                               v: Double(foot.position[1]) / axes[1].stepsPerMM),
                         // No pressure sensor on the GPIO lines: the reference device's sensor
                         // is on its serial board, so over GPIO pressure is open loop.
                         pressureKPa: nil, contactForceN: nil, footPresent: present)
    }

    // MARK: The event thread

    /// Reads the queued edges and acts on them: a press of the discomfort switch puts every
    /// output at rest before it is reported.
    mutating func handleEdges(now: UInt64) {
        let edges: [GPIOEdge]
        do {
            edges = try bank.drainEdges()
        } catch {
            // An event line that cannot be read: for the switch that is a press.
            if error.role != "ease-button" { observeSwitch(true, edgeNS: now, now: now) }
            return
        }
        for edge in edges {
            if edge.index == layout.discomfortSwitch {
                observeSwitch(edge.active, edgeNS: edge.timestampNS, now: now)
            } else if edge.index == layout.easeButton {
                observeEase(edge.active, edgeNS: edge.timestampNS, now: now)
            }
        }
    }

    private mutating func observeSwitch(_ level: Bool, edgeNS: UInt64, now: UInt64) {
        guard let change = switchInput.observe(level, at: now) else { return }
        report(switch: change, edgeNS: edgeNS, now: now)
    }

    private mutating func report(switch pressed: Bool, edgeNS: UInt64, now: UInt64) {
        if pressed {
            // The reflex arc: valves open, pumps off, steppers disabled, motion stopped, then report.
            let atRest = goToRest()
            lastReflex = (edgeNS, clock())
            post(now, .input(.discomfortSwitch(pressed: true, released: atRest)))
        } else {
            post(now, .input(.discomfortSwitch(pressed: false, released: false)))
        }
    }

    private mutating func observeEase(_ level: Bool, edgeNS: UInt64, now: UInt64) {
        // The ease button asks the governor to ease off (lower pressure, not a stop): reported
        // at once; the press of a bouncing contact is reported once.
        guard easeInput?.observe(level, at: now) == true else { return }
        post(now, .input(.easeButton))
    }

    /// Closes debounce windows that have run out by reading the settled level.
    private mutating func settleInputs(now: UInt64) {
        if let end = switchInput.windowEnd, now >= end {
            let level = (try? bank.read(layout.discomfortSwitch)) ?? true
            if let change = switchInput.settle(level, at: now) { report(switch: change, edgeNS: now, now: now) }
        }
        if let ease = layout.easeButton, let end = easeInput?.windowEnd, now >= end {
            let level = (try? bank.read(ease)) ?? false
            if easeInput?.settle(level, at: now) == true { post(now, .input(.easeButton)) }
        }
    }

    // MARK: Rest

    /// Every output to rest in safety order (valves, pumps, enables, step/dir); motion and
    /// pressure setpoints dropped. Keeps going past a failing line. True when every write
    /// succeeded.
    @discardableResult
    mutating func goToRest() -> Bool {
        latched = true
        var ok = true
        for index in layout.restOrder {
            do { try bank.write(index, layout.requests[index].restValue ?? false) } catch { ok = false }
        }
        for i in feet.indices {
            feet[i].move = nil
            feet[i].pendingMove = nil
            feet[i].enabled = false
            feet[i].ramp.reset()
            feet[i].pumpOn = false
            feet[i].pumpOffAt = nil
            feet[i].valveClosed = false
        }
        return ok
    }

    /// Opens one foot's valve and stops its pump now; the ramp starts from zero next time.
    private mutating func ventNow(_ i: Int) {
        do {
            try bank.write(feet[i].lines.valve, false)
            try bank.write(feet[i].lines.pump, false)
        } catch {
            fault(error, now: clock())
        }
        feet[i].ramp.reset()
        feet[i].valveClosed = false
        feet[i].pumpOn = false
        feet[i].pumpOffAt = nil
    }

    private mutating func fault(_ error: GPIOError, now: UInt64) {
        goToRest()
        guard faulted == nil else { return }
        let fault = DeviceFault(code: "gpio", detail: error.description)
        faulted = fault
        post(now, .fault(fault))
    }

    /// Puts the lines at rest and gives them back. The engine does nothing after this.
    mutating func close() {
        guard !closed else { return }
        goToRest()
        bank.release()
        closed = true
    }

    // MARK: Events

    private mutating func post(_ time: UInt64, _ kind: DeviceEvent.Kind) {
        if case .telemetry = kind {
            if events.count >= options.maxQueuedEvents { return }
        } else {
            toObserve.append(kind)
        }
        events.append((time, kind))
    }

    /// The events collected so far, oldest first, stamped with the monotonic time.
    mutating func takeEvents() -> [(time: UInt64, kind: DeviceEvent.Kind)] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    /// The node position of `foot` in device mm, as counted from the steps sent.
    func position(_ foot: Foot) -> DevicePoint? {
        feet.first { $0.foot == foot }.map {
            DevicePoint(u: Double($0.position[0]) / axes[0].stepsPerMM, v: Double($0.position[1]) / axes[1].stepsPerMM)
        }
    }

    /// Whether `foot` has a move under way or pending.
    func isMoving(_ foot: Foot) -> Bool {
        feet.first { $0.foot == foot }.map { $0.move != nil || $0.pendingMove != nil } ?? false
    }

    mutating func resetLateness() {
        lateness.reset()
        stallReplans = 0
    }
}

private func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(seconds, 0) * 1e9) }
