import PlantarCore
import PlantarWire

/// How loud a serial driver message is.
public enum SerialLogLevel: String, Sendable, Hashable {
    case info, warning, error
}

/// Where the serial driver's messages go (a swift-log `Logger` in the daemon, an array in tests).
public typealias SerialLog = @Sendable (SerialLogLevel, String) -> Void

/// Everything the serial driver knows, in one value behind the driver's mutex: the host link
/// state machine, the open port, bytes waiting for the port, events waiting for the session,
/// and whether the board may be armed. Every function runs with the lock held and does no
/// blocking call (writes are non-blocking; opening a port happens outside the lock).
struct SerialLinkCore {
    /// What `connect` waits for.
    enum Outcome: Sendable {
        case ready
        case failed(SerialError)
    }

    let profile: DeviceProfile
    let path: String
    let baud: Int
    let options: SerialDriverOptions
    /// CLOCK_MONOTONIC at the driver's start: the link state machine's time zero.
    let epoch: UInt64

    var link: LinkStateMachine
    var port: SerialPort?
    /// Bytes the port has not taken yet, oldest first.
    var outbox: [UInt8] = []
    /// Events for the session, stamped with CLOCK_MONOTONIC when they were read.
    var events: [(time: UInt64, kind: DeviceEvent.Kind)] = []
    /// Events for `SerialDriverOptions.eventObserver`, handed over outside the lock.
    var observed: [(time: UInt64, kind: DeviceEvent.Kind)] = []
    var logs: [(SerialLogLevel, String)] = []
    /// Input, link and fault events for the driver's `observeEvents` observer, handed over
    /// outside the lock.
    var toObserve: [DeviceEvent.Kind] = []

    /// The session layer armed its governor (`beginSession`) and nothing has stopped since.
    var sessionArmed = false
    /// `arm` has gone to the board in this link session and the board has not latched since.
    var boardArmed = false
    /// The handshake completed and the board matches the profile.
    var linkUp = false
    /// A link-down was reported and no link-up since (so a flapping port reports once).
    var downReported = false
    /// When to open the port again (port gone) or send a new `hello` (board silent or reset).
    var retryAt: UInt64?
    /// The last reason a retry failed, so the log says it once.
    var lastRetryProblem: String?

    /// While `connect` waits: when it gives up, and what it found.
    var connectDeadline: UInt64?
    var outcome: Outcome?
    var waiter: CheckedContinuation<Outcome, Never>?

    /// Setpoints the session sent while disarmed (after a stop the board heard first), not sent on.
    var heldBack = 0

    init(profile: DeviceProfile, path: String, baud: Int, options: SerialDriverOptions, epoch: UInt64) {
        self.profile = profile
        self.path = path
        self.baud = baud
        self.options = options
        self.epoch = epoch
        link = LinkStateMachine(timing: options.timing)
    }

    func linkTime(_ monotonic: UInt64) -> Duration {
        .nanoseconds(Int64(monotonic &- epoch))
    }

    // MARK: Session layer

    /// A governed setpoint. Releases always go (when there is a link); move and pressure go
    /// only while the session is armed, preceded by `arm` when the board is latched.
    mutating func apply(_ message: WireMessage, now: UInt64) throws(DriverError) {
        let isRelease = if case .release = message { true } else { false }
        guard link.isReady, linkUp else {
            // The board has released by itself (lease, reset) or was never armed.
            if isRelease { return }
            throw DriverError("serial link to \(path) is down" + (link.failure.map { ": \($0)" } ?? ""))
        }
        if !isRelease {
            guard sessionArmed else {
                // The board already stopped (switch, lease, fault) and the session has not
                // heard yet: it will, from the event; this setpoint must not press.
                heldBack += 1
                return
            }
            if !boardArmed {
                perform(link.send(.arm, now: linkTime(now)), now: now)
                boardArmed = true
            }
        }
        perform(link.send(message, now: linkTime(now)), now: now)
    }

    /// Every output to rest now: the emergency release goes out ahead of anything waiting,
    /// and nothing presses again until the session layer begins a new session.
    mutating func emergencyRelease(now: UInt64) {
        disarm()
        perform(link.emergencyRelease(now: linkTime(now)), now: now)
    }

    mutating func disarm() {
        sessionArmed = false
        boardArmed = false
    }

    // MARK: Reader thread

    mutating func receive(_ bytes: UnsafeRawBufferPointer, now: UInt64) {
        perform(link.receive(bytes: bytes, now: linkTime(now)), now: now)
    }

    /// Timers: the link's, a pending retry, and `connect`'s deadline. Returns when the reader
    /// must look again (CLOCK_MONOTONIC), at the latest.
    mutating func tick(now: UInt64) -> UInt64 {
        perform(link.tick(now: linkTime(now)), now: now)
        if let retryAt, now >= retryAt, port != nil {
            self.retryAt = nil
            startHandshake(now: now)
        }
        if let deadline = connectDeadline, now >= deadline, outcome == nil {
            let why = link.failure.map { " (\($0))" } ?? ""
            finishConnect(.failed(SerialError(.noAnswer, "no answer from the board on \(path) at \(baud) baud within "
                + "\(options.handshakeTimeout.milliseconds) ms\(why): is it powered, and is the baud rate right?", port: path)))
        }
        var next = now + 100_000_000
        if let deadline = link.nextDeadline() {
            let at = epoch &+ UInt64(max(0, deadline.nanosecondsTotal))
            next = min(next, max(at, now))
        }
        if let retryAt { next = min(next, retryAt) }
        if let connectDeadline, outcome == nil { next = min(next, connectDeadline) }
        return next
    }

    /// A freshly opened port: start a session on it.
    mutating func attach(_ port: SerialPort, now: UInt64) {
        self.port = port
        outbox.removeAll()
        lastRetryProblem = nil
        if port.lowLatency { logs.append((.info, "serial: \(path): low-latency mode on")) }
        startHandshake(now: now)
    }

    mutating func startHandshake(now: UInt64) {
        boardArmed = false
        perform(link.start(now: linkTime(now)), now: now)
    }

    /// The port went away (hang-up, read or write error): report the link down once and
    /// open the port again every `reconnectInterval`.
    mutating func portLost(_ why: String, now: UInt64) {
        _ = link.close(now: linkTime(now))   // no port to send its emergency release on
        port = nil
        outbox.removeAll()
        linkDown("serial port \(path): \(why)", now: now)
        retryAt = now + options.reconnectInterval.nanosecondsTotal.magnitude
    }

    mutating func retryFailed(_ error: SerialError, now: UInt64) {
        retryAt = now + options.reconnectInterval.nanosecondsTotal.magnitude
        if lastRetryProblem != error.description {
            lastRetryProblem = error.description
            logs.append((.warning, "serial: reconnecting to \(path): \(error); trying again every \(options.reconnectInterval.milliseconds) ms"))
        }
    }

    /// Writes what the port takes now. A write error means the port is gone.
    mutating func flush(now: UInt64) {
        guard let port, !outbox.isEmpty else { return }
        let result = outbox.withUnsafeBytes { bytes in Result { () throws(SerialError) in try port.write(bytes) } }
        switch result {
        case .success(let taken): outbox.removeFirst(taken)
        case .failure(let error): portLost(error.description, now: now)
        }
    }

    // MARK: Link actions

    mutating func perform(_ actions: [LinkStateMachine.Action], now: UInt64) {
        for action in actions {
            switch action {
            case .transmit(let bytes):
                if Self.isEmergencyRelease(bytes) {
                    // Ahead of everything waiting, in user space and in the kernel: a frame
                    // cut short there is what the emergency release's padding is for.
                    port?.discardUnsentOutput()
                    outbox.removeAll()
                }
                outbox += bytes
                flush(now: now)
            case .deliver(let message):
                deliver(message, now: now)
            case .handshakeCompleted(let reply):
                handshakeCompleted(reply, now: now)
            case .dropped(let message, let reason):
                dropped(message, reason, now: now)
            case .malformed(let error):
                logs.append((.warning, "serial: \(path): a frame from the board did not decode: \(error)"))
            case .linkDown(let failure):
                if case .boardReset = failure {
                    disarm()
                    linkUp = false
                    emit(.link(.deviceReset), now: now)
                    downReported = true
                    // The board is alive and waiting for a hello: start again at once.
                    retryAt = now
                } else {
                    linkDown("serial link to \(path): \(failure)", now: now)
                    // While `connect` waits, say hello again at once; later, every interval.
                    retryAt = outcome == nil ? now : now + options.reconnectInterval.nanosecondsTotal.magnitude
                }
            }
        }
    }

    /// The padded emergency release the link state machine sends: sync, then a frame whose
    /// type byte is emergency-release.
    static func isEmergencyRelease(_ bytes: [UInt8]) -> Bool {
        bytes.count > 4 && bytes[0] == WireProtocol.sync && bytes[3] == MessageType.emergencyRelease.rawValue
    }

    mutating func linkDown(_ reason: String, now: UInt64) {
        disarm()
        let wasUp = linkUp
        linkUp = false
        if case .ready = outcome, !downReported {
            emit(.link(.down(reason: reason)), now: now)
            downReported = true
        }
        if wasUp { logs.append((.error, "serial: \(reason)")) }
    }

    mutating func handshakeCompleted(_ reply: HelloReply, now: UInt64) {
        if let problem = Handshake.mismatch(reply, profile: profile) {
            perform(link.close(now: linkTime(now)), now: now)
            let error = SerialError(.mismatch, problem, port: path)
            if outcome == nil {
                finishConnect(.failed(error))
            } else {
                retryAt = now + options.reconnectInterval.nanosecondsTotal.magnitude
                if lastRetryProblem != problem {
                    lastRetryProblem = problem
                    logs.append((.error, "serial: \(problem)"))
                }
            }
            return
        }
        linkUp = true
        downReported = false
        lastRetryProblem = nil
        logs.append((.info, "serial: \(path): connected to \"\(reply.identity)\" (protocol \(reply.version))"))
        if outcome == nil {
            finishConnect(.ready)
        } else {
            // Back after a loss. The board booted or was told hello: it is latched, and this
            // driver stays disarmed until a new session begins. Nothing resumes.
            emit(.link(.up), now: now)
        }
    }

    mutating func finishConnect(_ result: Outcome) {
        outcome = result
        connectDeadline = nil
        waiter?.resume(returning: result)
        waiter = nil
    }

    mutating func dropped(_ message: WireMessage, _ reason: LinkStateMachine.DropReason, now: UInt64) {
        switch reason {
        case .supersededByEmergencyRelease, .notReady, .notAHostCommand:
            break
        case .queueFull:
            // A setpoint that never goes out leaves the board holding an older one: not safe.
            logs.append((.error, "serial: \(path): the command queue is full; \(message) not sent: releasing everything"))
            emergencyRelease(now: now)
            emit(.fault(DeviceFault(code: "link-overload", detail: "serial command queue full: \(message) was not sent")), now: now)
        }
    }

    /// A board message, in order and once, as the session's event.
    mutating func deliver(_ message: WireMessage, now: UInt64) {
        switch message {
        case .telemetry(let t):
            emit(.telemetry(t.telemetry(channels: profile.channels)), now: now)
        case .switchPressed(let alreadyReleased):
            if !alreadyReleased { emergencyRelease(now: now) } else { disarm() }
            emit(.input(.discomfortSwitch(pressed: true, released: true)), now: now)
        case .switchReleased:
            emit(.input(.discomfortSwitch(pressed: false, released: true)), now: now)
        case .easeButton:
            emit(.input(.easeButton), now: now)
        case .limitSwitch(let foot, let axis, let end):
            emit(.fault(DeviceFault(code: "limit-switch", detail: "\(foot.rawValue) \(axis) axis hit its \(end) switch; the board stopped it")), now: now)
        case .fault(let code, let detail):
            if code == .commandRefused, !sessionArmed, detail.text.hasSuffix(": latched") {
                // A setpoint already on the wire when the board latched (switch, lease):
                // refused as the protocol says; the stop itself has been reported.
                logs.append((.info, "serial: \(path): the latched board refused \(detail.text.prefix { $0 != ":" }) (expected after a stop)"))
                return
            }
            if code != .commandRefused && code != .badMessage { disarm() }
            emit(.fault(DeviceFault(code: code, detail: detail)), now: now)
        case .leaseExpired:
            disarm()
            emit(.fault(DeviceFault(code: "lease-expired", detail: "the board heard nothing valid from the host for "
                + "\(options.timing.lease.milliseconds) ms and released everything")), now: now)
        case .helloReply:
            break   // the answer to an identify: nothing new
        default:
            logs.append((.warning, "serial: \(path): unexpected \(message) from the board"))
        }
    }

    mutating func emit(_ kind: DeviceEvent.Kind, now: UInt64) {
        events.append((now, kind))
        if options.eventObserver != nil { observed.append((now, kind)) }
        if case .telemetry = kind {} else { toObserve.append(kind) }
        // Nobody polling (no session yet): keep the inputs, thin out old telemetry.
        if events.count > 2000 {
            var telemetrySeen = 0
            events.removeAll { e in
                guard case .telemetry = e.kind else { return false }
                telemetrySeen += 1
                return telemetrySeen <= 1000
            }
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating far beyond any link timing).
    var nanosecondsTotal: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
