/// Lowers contact plans to one device's commands, keeping time and the state of each foot.
struct Emitter {
    let device: DeviceProfile
    let geometry: FootGeometry
    /// The governor's map of caps for this person on this device: the compiler plans with the
    /// same field, so a planned program passes the governor unclamped.
    let field: CapField
    /// Whether the device has a node to move (a gantry with both axes).
    let moves: Bool

    var entries: [TimelineEntry] = []
    var scheduled: [ScheduledStep] = []
    var problems: [Diagnostic] = []
    /// Seconds since the start of the session.
    var time = 0.0
    var position: [Foot: DevicePoint] = [:]
    var pressure: [Foot: [String: Double]] = [:]
    /// The dose rule on a zoned device, where each bladder is one spot (docs/safety.md §3):
    /// the stretches each node was pressed, so that work staying on one bladder rests it
    /// before the governor would have to.
    var nodePressed: [Foot: [String: [(start: Double, end: Double)]]] = [:]
    var holdLimit = SessionLimits.standard.holdLimit.seconds

    /// Between bites the pressure eases to this fraction of the bite's, keeping contact.
    static let touchFraction = 0.25
    /// A bite must rest on the point for at least this long to be a press at all.
    static let minimumDwell = 0.15
    /// Rounding slack when a bite's parts add up to exactly its period.
    static let timeTolerance = 1e-9

    init(device: DeviceProfile, geometry: FootGeometry) {
        self.device = device
        self.geometry = geometry
        field = CapField(map: geometry.map, size: FootSize(lengthMM: geometry.lengthMM), device: device)
        moves = device.kind == .gantry && device.uAxis != nil && device.vAxis != nil
    }

    var ramp: Double { device.pressure.maxRampKPaPerS }
    /// Time for the open valve to vent essentially all pressure (three time constants, 95%).
    var ventSeconds: Double { 3 * device.pressure.valveTimeConstant }
    /// Lowering is never slowed: before a move into a stricter place the pressure comes down
    /// at once (a valve opening), so the move need not wait for it.
    var lowerRamp: Double { max(ramp, min(device.pressure.maxKPa / 0.05, 6000)) }

    // MARK: Emitting

    /// `sensitivity` is the class the command was planned for: the tissue under the contact
    /// (the cap field), whatever zone the step names; releases and parking carry `high`.
    mutating func emit(_ command: ActuatorCommand, at t: Double, _ c: StepContext, zone: String,
                       sensitivity: Sensitivity = .high) {
        entries.append(TimelineEntry(offset: .roundedSeconds(t), foot: c.foot, command: command, step: c.reference,
                                     zone: zone, sensitivity: sensitivity))
    }

    mutating func fail(_ c: StepContext, _ message: String) {
        problems.append(Diagnostic(at: c.step.location(of: "zone"), "\(c.label): \(message)"))
    }

    func target(_ contact: Contact, _ fraction: Double, _ c: StepContext) -> Double {
        let cap = c.caps[place(contact)]
        return min(cap * fraction * c.intensityScale, cap, device.pressure.maxKPa)
    }

    /// The class of the tissue a contact presses: on a gantry the strictest zone under the
    /// node there, on a zoned device the strictest under the node's whole bladder.
    func place(_ contact: Contact) -> Sensitivity {
        guard device.kind == .zoned else { return field.sensitivity(at: contact.point) }
        return nodeCovering(contact).map { field.sensitivity(ofNode: $0.id) } ?? .high
    }

    /// Before a move with pressure held, lowers it (at once) to the cap along the path, so the
    /// governor need not: the class of the whole path counts, not only its ends. A hair below
    /// the cap, so that rounding in the governor's own product of factors cannot clamp it.
    mutating func lowerBeforeMove(_ foot: Foot, from: DevicePoint, to: DevicePoint, at t: Double, _ c: StepContext, zone: String) {
        let channel = DeviceProfile.nodeChannel
        guard let current = pressure[foot]?[channel], current > 0 else { return }
        let path = field.sensitivity(along: from, to: to)
        guard current > min(c.caps[path], device.pressure.maxKPa) else { return }
        let cap = min(c.caps[path], device.pressure.maxKPa) * 0.999
        emit(.pressure(channel: channel, kPa: cap, ramp: lowerRamp), at: t, c, zone: zone, sensitivity: path)
        pressure[foot, default: [:]][channel] = cap
    }

    // MARK: Steps

    mutating func run(_ phases: [Phase], _ c: StepContext) {
        guard let first = phases.first.flatMap(firstContact) else { return }
        guard phases.allSatisfy({ contacts(of: $0).allSatisfy { reachable($0, c) } }) else { return }
        approach(first, c)
        let stepStart = time
        for phase in phases {
            switch (phase, device.kind) {
            case (.bites(let contacts, let fraction, let budget), .gantry):
                gantryBites(contacts, fraction, budget, c)
            case (.glide(let contacts, let fraction, let budget, let knead), .gantry):
                gantryGlide(contacts, fraction, budget, knead, c)
            case (.bites(let contacts, let fraction, let budget), .zoned):
                zonedBites(contacts, fraction, budget, c)
            case (.glide(let contacts, let fraction, let budget, _), .zoned):
                zonedGlide(contacts, fraction, budget, c)
            }
        }
        releaseAll(c.foot, c)
        scheduled.append(ScheduledStep(step: c.reference, technique: c.step.technique, foot: c.foot, zone: c.zone,
                                       start: .roundedSeconds(stepStart), end: .roundedSeconds(time)))
    }

    func firstContact(_ phase: Phase) -> Contact? { contacts(of: phase).first }

    func contacts(of phase: Phase) -> [Contact] {
        switch phase {
        case .bites(let contacts, _, _), .glide(let contacts, _, _, _): contacts
        }
    }

    /// Whether the device can press this contact; records why not.
    mutating func reachable(_ contact: Contact, _ c: StepContext) -> Bool {
        let at = "u=\(fixed(contact.point.u, 1)) v=\(fixed(contact.point.v, 1)) mm"
        switch device.kind {
        case .gantry:
            guard device.reach.contains(contact.surface) else {
                fail(c, "device '\(device.name)' cannot reach zone '\(contact.zone)' on the \(contact.surface.rawValue) (it reaches \(device.reach.map(\.rawValue).sorted().joined(separator: ", ")))")
                return false
            }
            if let u = device.uAxis, !(0...u.travelMM).contains(contact.point.u) {
                fail(c, "zone '\(contact.zone)' at \(at) is beyond the u travel of \(fixed(u.travelMM, 0)) mm for a \(fixed(geometry.lengthMM, 0)) mm foot")
                return false
            }
            if let v = device.vAxis, !(0...v.travelMM).contains(contact.point.v) {
                fail(c, "zone '\(contact.zone)' at \(at) is beyond the v travel of \(fixed(v.travelMM, 0)) mm for a \(fixed(geometry.lengthMM, 0)) mm foot")
                return false
            }
            return true
        case .zoned:
            guard nodeCovering(contact) != nil else {
                fail(c, "no node of device '\(device.name)' covers zone '\(contact.zone)' on the \(contact.surface.rawValue) at \(at)")
                return false
            }
            return true
        }
    }

    func nodeCovering(_ contact: Contact) -> ZonedNode? {
        device.nodes.first { $0.covers(contact.point, on: contact.surface) }
    }

    /// Gets the node to the first contact with nothing pressing: travel time, not step time.
    mutating func approach(_ first: Contact, _ c: StepContext) {
        guard moves else { return }
        let from = position[c.foot] ?? .home
        guard from != first.point else { return }
        lowerBeforeMove(c.foot, from: from, to: first.point, at: time, c, zone: first.zone)
        emit(.move(to: first.point, speed: device.fastestSpeed), at: time, c, zone: first.zone, sensitivity: place(first))
        time += fastMoveSeconds(from: from, to: first.point)
        position[c.foot] = first.point
    }

    /// Seconds for a move sent at `device.fastestSpeed`. The command carries that speed, so
    /// it is timed with it too: on a diagonal the axes alone would allow a faster path, and a
    /// driver that honours the command would arrive after the commands that follow it.
    func fastMoveSeconds(from: DevicePoint, to: DevicePoint) -> Double {
        device.moveSeconds(from: from, to: to, speedCap: device.fastestSpeed)
    }

    mutating func releaseAll(_ foot: Foot, _ c: StepContext) {
        var any = false
        for (channel, kPa) in (pressure[foot] ?? [:]).sorted(by: { $0.key < $1.key }) where kPa > 0 {
            emit(.release(channel: channel), at: time, c, zone: c.zone)
            any = true
        }
        pressure[foot] = [:]
        if any { time += ventSeconds }
    }

    // MARK: Gantry

    mutating func gantryBites(_ contacts: [Contact], _ fraction: Double, _ budget: Double, _ c: StepContext) {
        guard moves, !contacts.isEmpty else { return }
        let channel = DeviceProfile.nodeChannel
        let period = budget / Double(contacts.count)
        var reported = false
        for (i, contact) in contacts.enumerated() {
            let start = time
            var t = time
            let from = position[c.foot] ?? .home
            if from != contact.point {
                lowerBeforeMove(c.foot, from: from, to: contact.point, at: t, c, zone: contact.zone)
                emit(.move(to: contact.point, speed: device.fastestSpeed), at: t, c, zone: contact.zone, sensitivity: place(contact))
                t += fastMoveSeconds(from: from, to: contact.point)
                position[c.foot] = contact.point
            }
            let current = pressure[c.foot]?[channel] ?? 0
            let kPa = target(contact, fraction, c)
            let up = abs(kPa - current) / ramp
            // Ease off between bites as far as the time allows, at most to the touch level: a
            // big foot or a high intensity makes bites longer to ramp, not the step longer.
            let room = max(period - (t - start) - up - Self.minimumDwell, 0)
            // The touch is held through the move to the next bite: no more than that path allows.
            let nextPath = i + 1 < contacts.count ? field.sensitivity(along: contact.point, to: contacts[i + 1].point) : Sensitivity.low
            // Below the usual touch, the rest of the way down goes at once (lowering is never
            // slowed), so a stricter path ahead costs the bite no time.
            let plainTouch = max(kPa * Self.touchFraction, kPa - ramp * room)
            let touch = min(plainTouch, c.caps[nextPath] * 0.999)
            let down = (kPa - plainTouch) / ramp + max(plainTouch - touch, 0) / lowerRamp
            let touchRamp = touch < plainTouch && down > 0 ? (kPa - touch) / down : ramp
            let dwell = period - (t - start) - up - down
            if dwell + Self.timeTolerance < Self.minimumDwell && !reported {
                fail(c, "bites every \(fixed(period, 2)) s are too short for device '\(device.name)': a bite needs \(fixed(t - start + up + down + Self.minimumDwell, 2)) s (move, ramp up and down at \(fixed(ramp, 0)) kPa/s, rest); lengthen the step or use bigger bites")
                reported = true
            }
            emit(.pressure(channel: channel, kPa: kPa, ramp: ramp), at: t, c, zone: contact.zone, sensitivity: place(contact))
            t += up + max(dwell, 0)
            emit(.pressure(channel: channel, kPa: touch, ramp: touchRamp), at: t, c, zone: contact.zone, sensitivity: place(contact))
            pressure[c.foot, default: [:]][channel] = touch
            time = start + period
        }
    }

    mutating func gantryGlide(_ contacts: [Contact], _ fraction: Double, _ budget: Double, _ knead: Bool, _ c: StepContext) {
        guard moves, let first = contacts.first else { return }
        let channel = DeviceProfile.nodeChannel
        let start = time
        let current = pressure[c.foot]?[channel] ?? 0
        let firstKPa = target(first, fraction, c)
        emit(.pressure(channel: channel, kPa: firstKPa, ramp: ramp), at: time, c, zone: first.zone, sensitivity: place(first))
        pressure[c.foot, default: [:]][channel] = firstKPa
        var lastKPa = firstKPa
        let up = abs(firstKPa - current) / ramp
        let moving = budget - up

        var legs: [(from: DevicePoint, to: DevicePoint)] = []
        var from = position[c.foot] ?? .home
        for contact in contacts {
            legs.append((from, contact.point))
            from = contact.point
        }
        func seconds(at speed: Double) -> Double {
            legs.reduce(0) { $0 + device.moveSeconds(from: $1.from, to: $1.to, speedCap: speed) }
        }
        let fastest = seconds(at: device.fastestSpeed)
        guard fastest <= moving else {
            fail(c, "gliding over \(contacts.count) points takes at least \(fixed(fastest + up, 2)) s on device '\(device.name)' but the step allows \(fixed(budget, 2)) s")
            return
        }
        // The cruise speed that fills the time exactly: travel time falls as speed rises.
        var slow = 0.01, fast = device.fastestSpeed
        for _ in 0..<60 {
            let mid = (slow + fast) / 2
            if seconds(at: mid) > moving { slow = mid } else { fast = mid }
        }
        let speed = fast
        var t = time + up
        for (i, contact) in contacts.enumerated() where legs[i].from != legs[i].to {
            // Glides change pressure on arrival; a leg into a stricter place lowers it first.
            lowerBeforeMove(c.foot, from: legs[i].from, to: legs[i].to, at: t, c, zone: contact.zone)
            lastKPa = pressure[c.foot]?[channel] ?? lastKPa
            emit(.move(to: contact.point, speed: speed), at: t, c, zone: contact.zone, sensitivity: place(contact))
            t += device.moveSeconds(from: legs[i].from, to: legs[i].to, speedCap: speed)
            position[c.foot] = contact.point
            let kPa = target(contact, fraction, c) * (knead && i % 2 == 1 ? 0.6 : 1)
            if kPa != lastKPa && i < contacts.count - 1 {
                // Lighter at once (the next leg starts now), firmer at the ramp limit.
                emit(.pressure(channel: channel, kPa: kPa, ramp: kPa < lastKPa ? lowerRamp : ramp), at: t, c, zone: contact.zone,
                     sensitivity: place(contact))
                lastKPa = kPa
                pressure[c.foot, default: [:]][channel] = kPa
            }
        }
        pressure[c.foot, default: [:]][channel] = lastKPa
        time = start + budget
    }

    // MARK: Zoned

    /// Whether pressing `node` from `start` for `seconds` (plus its valve's tail) keeps it
    /// clear of the dose rule, with a margin for the governor's own early release.
    func nodeMayPress(_ foot: Foot, _ node: String, from start: Double, for seconds: Double) -> Bool {
        let window = SessionLimits.doseWindow.seconds
        let end = start + seconds + ventSeconds
        let from = end - window
        var spent = end - start
        for run in nodePressed[foot]?[node] ?? [] {
            spent += max(0, min(run.end, end) - max(run.start, from))
        }
        return spent <= holdLimit - ventSeconds - 2
    }

    mutating func notePressed(_ foot: Foot, _ node: String, from start: Double, to end: Double) {
        var runs = nodePressed[foot, default: [:]][node, default: []]
        if let last = runs.last, last.end >= start { runs[runs.count - 1].end = max(last.end, end) } else { runs.append((start, end)) }
        nodePressed[foot, default: [:]][node] = runs
    }

    /// A bladder at its dose rests: released, nothing pressed for this bite's time.
    mutating func restNode(_ foot: Foot, _ node: String, at t: Double, _ c: StepContext, zone: String) {
        if (pressure[foot]?[node] ?? 0) > 0 {
            emit(.release(channel: node), at: t, c, zone: zone)
            pressure[foot]?[node] = 0
        }
    }

    mutating func zonedBites(_ contacts: [Contact], _ fraction: Double, _ budget: Double, _ c: StepContext) {
        guard !contacts.isEmpty else { return }
        let period = budget / Double(contacts.count)
        let nodes = contacts.map { nodeCovering($0)?.id ?? "" }
        var reported = false
        for (i, contact) in contacts.enumerated() {
            let start = time
            let channel = nodes[i]
            for (other, kPa) in (pressure[c.foot] ?? [:]).sorted(by: { $0.key < $1.key }) where other != channel && kPa > 0 {
                emit(.release(channel: other), at: time, c, zone: contact.zone)
                pressure[c.foot]?[other] = 0
            }
            guard nodeMayPress(c.foot, channel, from: time, for: period) else {
                restNode(c.foot, channel, at: time, c, zone: contact.zone)
                time = start + period
                continue
            }
            notePressed(c.foot, channel, from: time, to: time + period + ventSeconds)
            let current = pressure[c.foot]?[channel] ?? 0
            let kPa = target(contact, fraction, c)
            let staysOnNode = i + 1 < contacts.count && nodes[i + 1] == channel
            let up = abs(kPa - current) / ramp
            // Bites are spaced for a moving node; several land on one bladder, which cannot
            // pulse as fast. Within a node the pulse eases off as deep as the time allows (at
            // most to the touch level); leaving a node, it vents while the next one fills (a
            // wave), so no time is set aside for the valve.
            let room = max(period - up - Self.minimumDwell, 0)
            let touch = staysOnNode ? max(kPa * Self.touchFraction, kPa - ramp * room) : 0
            let down = staysOnNode ? (kPa - touch) / ramp : 0
            let dwell = period - up - down
            if dwell + Self.timeTolerance < Self.minimumDwell && !reported {
                fail(c, "pulses every \(fixed(period, 2)) s are too short for device '\(device.name)': one needs \(fixed(up + down + Self.minimumDwell, 2)) s; lengthen the step or use bigger bites")
                reported = true
            }
            emit(.pressure(channel: channel, kPa: kPa, ramp: ramp), at: time, c, zone: contact.zone, sensitivity: place(contact))
            let easeAt = time + up + max(dwell, 0)
            if staysOnNode {
                emit(.pressure(channel: channel, kPa: touch, ramp: ramp), at: easeAt, c, zone: contact.zone, sensitivity: place(contact))
                pressure[c.foot, default: [:]][channel] = touch
            } else if i + 1 < contacts.count {
                emit(.release(channel: channel), at: easeAt, c, zone: contact.zone)
                pressure[c.foot, default: [:]][channel] = 0
            } else {
                pressure[c.foot, default: [:]][channel] = kPa
            }
            time = start + period
        }
    }

    /// A zoned device cannot glide: it presses the node under each waypoint in turn and,
    /// while the waypoints stay on one node, pulses it firmer and lighter instead.
    mutating func zonedGlide(_ contacts: [Contact], _ fraction: Double, _ budget: Double, _ c: StepContext) {
        guard !contacts.isEmpty else { return }
        let slot = budget / Double(contacts.count)
        if slot < Self.minimumDwell {
            fail(c, "\(contacts.count) waypoints in \(fixed(budget, 2)) s are too many for device '\(device.name)'")
            return
        }
        var activeNode: String? = nil
        var firm = true
        let start = time
        for (i, contact) in contacts.enumerated() {
            let t = start + slot * Double(i)
            let channel = nodeCovering(contact)?.id ?? ""
            if channel != activeNode {
                if let activeNode {
                    emit(.release(channel: activeNode), at: t, c, zone: contact.zone)
                    pressure[c.foot]?[activeNode] = 0
                }
                activeNode = channel
                firm = true
            } else {
                firm.toggle()
            }
            guard nodeMayPress(c.foot, channel, from: t, for: slot) else {
                restNode(c.foot, channel, at: t, c, zone: contact.zone)
                continue
            }
            notePressed(c.foot, channel, from: t, to: t + slot + ventSeconds)
            // A bladder gets only so far in one slot (a rub that crosses between two nodes
            // refills each from empty): ask for what it can reach, not more.
            let reachable = (pressure[c.foot]?[channel] ?? 0) + ramp * slot
            let kPa = min(target(contact, fraction, c) * (firm ? 1 : 0.6), reachable)
            emit(.pressure(channel: channel, kPa: kPa, ramp: ramp), at: t, c, zone: contact.zone, sensitivity: place(contact))
            pressure[c.foot, default: [:]][channel] = kPa
        }
        time = start + budget
    }

    // MARK: End

    /// Releases everything and brings each gantry node home: outputs end at rest.
    mutating func park(_ feet: [Foot]) {
        var latest = time
        for foot in feet {
            let c = StepContext(step: RoutineStep(name: "park", technique: .hold, zone: "", duration: .zero), label: "park",
                                zone: "home", foot: foot, reference: .parking, intensityScale: 1, caps: .standard)
            for (channel, kPa) in (pressure[foot] ?? [:]).sorted(by: { $0.key < $1.key }) where kPa > 0 {
                emit(.release(channel: channel), at: time, c, zone: "home")
            }
            pressure[foot] = [:]
            if moves, let from = position[foot], from != .home {
                emit(.move(to: .home, speed: device.fastestSpeed), at: time, c, zone: "home")
                // From the start as emitted (rounded to the millisecond), so the timeline's
                // end is never before the node is home.
                let start = Duration.roundedSeconds(time).seconds
                latest = max(latest, start + fastMoveSeconds(from: from, to: .home))
                position[foot] = .home
            }
        }
        time = latest
    }
}
