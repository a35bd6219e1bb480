internal import CGPIOD
#if canImport(Glibc)
import Glibc
#endif

// Every libgpiod call of the project is in this file (libgpiod v1 API, 1.6.x). Each wrapper
// reads errno right after its call, retries on EINTR where repeating the call is harmless,
// and throws a GPIOError naming the call, the chip and the line. Moving to the v2 API
// (line requests and line configs instead of per-line requests) changes this file alone:
// the rest of the driver sees only `GPIOChipHandle` and `GPIORequestedLine`.
//
// Ownership: a `GPIOChipHandle` owns the `struct gpiod_chip *` (closed in deinit); the
// `struct gpiod_line *` pointers belong to the chip in v1, so a `GPIORequestedLine` keeps
// its chip alive and releases its request in deinit. Neither type is Sendable: the driver
// keeps them inside a `Mutex` (see GPIODriver.swift) and never shares the pointers.

/// An open GPIO chip (`/dev/gpiochipN`).
final class GPIOChipHandle {
    fileprivate let pointer: OpaquePointer
    /// The chip as the profile named it, for messages.
    let spec: String
    /// The kernel's name (`gpiochip0`) and label (`gpio-sim.0-node0`, `pinctrl-bcm2711`).
    let name: String
    let label: String
    let lineCount: Int

    private init(pointer: OpaquePointer, spec: String) {
        self.pointer = pointer
        self.spec = spec
        name = gpiod_chip_name(pointer).map { String(cString: $0) } ?? spec
        label = gpiod_chip_label(pointer).map { String(cString: $0) } ?? ""
        lineCount = Int(gpiod_chip_num_lines(pointer))
    }

    deinit { gpiod_chip_close(pointer) }

    /// Opens a chip by path (`/dev/gpiochip0`, anything with a `/`), else by name
    /// (`gpiochip0`), else by label (`pinctrl-bcm2711`).
    static func open(_ spec: String) throws(GPIOError) -> GPIOChipHandle {
        if spec.contains("/") {
            let chip = spec.withCString { gpiod_chip_open($0) }
            let err = errno
            guard let chip else { throw openError(spec, call: "gpiod_chip_open", errno: err) }
            return GPIOChipHandle(pointer: chip, spec: spec)
        }
        let byName = spec.withCString { gpiod_chip_open_by_name($0) }
        let nameErr = errno
        if let byName { return GPIOChipHandle(pointer: byName, spec: spec) }
        if nameErr != ENOENT { throw openError(spec, call: "gpiod_chip_open_by_name", errno: nameErr) }
        let byLabel = spec.withCString { gpiod_chip_open_by_label($0) }
        let labelErr = errno
        if let byLabel { return GPIOChipHandle(pointer: byLabel, spec: spec) }
        throw openError(spec, call: "gpiod_chip_open_by_label", errno: labelErr)
    }

    private static func openError(_ spec: String, call: String, errno err: Int32) -> GPIOError {
        switch err {
        case EACCES, EPERM:
            GPIOError(.permissionDenied, "gpio chip '\(spec)': permission denied (run as root or add the user to the group owning /dev/gpiochip*)",
                      call: call, chip: spec, errno: err)
        case ENOENT, ENODEV, ENOTTY:
            GPIOError(.chipNotFound, "gpio chip '\(spec)' not found (looked for a path, a chip name and a chip label)",
                      call: call, chip: spec, errno: err)
        default:
            GPIOError(.io, "gpio chip '\(spec)' cannot be opened", call: call, chip: spec, errno: err)
        }
    }

    /// Whether the line at `offset` exists and who holds it (nil when free).
    func lineStatus(offset: Int, role: String) throws(GPIOError) -> (used: Bool, consumer: String?) {
        let line = try line(offset: offset, role: role)
        let used = gpiod_line_is_used(line)
        let consumer = gpiod_line_consumer(line).map { String(cString: $0) }
        return (used, consumer)
    }

    fileprivate func line(offset: Int, role: String) throws(GPIOError) -> OpaquePointer {
        guard offset >= 0, offset < lineCount else {
            throw GPIOError(.lineMissing, "\(GPIOError.lineName(role, chip: spec, offset: offset)) does not exist: \(name) has \(lineCount) lines",
                            chip: spec, role: role, offset: offset)
        }
        let line = gpiod_chip_get_line(pointer, UInt32(offset))
        let err = errno
        guard let line else {
            throw GPIOError(.lineMissing, "\(GPIOError.lineName(role, chip: spec, offset: offset)) cannot be read",
                            call: "gpiod_chip_get_line", chip: spec, role: role, offset: offset, errno: err)
        }
        return line
    }

    /// How a line is to be requested.
    enum Mode {
        /// An output driving `initial` (logical) from the moment of the request.
        case output(initial: Bool)
        case input
        /// An input with both-edge events.
        case bothEdges
    }

    /// Requests one line for `consumer` with its active-low flag and bias.
    func request(offset: Int, role: String, mode: Mode, activeLow: Bool, bias: GPIOLineBias,
                 consumer: String) throws(GPIOError) -> GPIORequestedLine {
        let line = try line(offset: offset, role: role)
        var flags: Int32 = 0
        if activeLow { flags |= Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) }
        switch bias {
        case .asIs: break
        case .disabled: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
        case .pullUp: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
        case .pullDown: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
        }
        let type: Int32, initial: Int32
        switch mode {
        case .output(let value): (type, initial) = (Int32(GPIOD_LINE_REQUEST_DIRECTION_OUTPUT), value ? 1 : 0)
        case .input: (type, initial) = (Int32(GPIOD_LINE_REQUEST_DIRECTION_INPUT), 0)
        case .bothEdges: (type, initial) = (Int32(GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES), 0)
        }
        let (rc, err): (Int32, Int32) = consumer.withCString { name in
            var config = gpiod_line_request_config(consumer: name, request_type: type, flags: flags)
            let rc = gpiod_line_request(line, &config, initial)
            return (rc, errno)
        }
        if rc != 0 {
            let what = GPIOError.lineName(role, chip: spec, offset: offset)
            switch err {
            case EBUSY:
                let holder = gpiod_line_consumer(line).map { String(cString: $0) }
                throw GPIOError(.lineBusy, "\(what) is busy" + (holder.map { ": used by '\($0)'" } ?? ": another program holds it"),
                                call: "gpiod_line_request", chip: spec, role: role, offset: offset, errno: err)
            case EACCES, EPERM:
                throw GPIOError(.permissionDenied, "\(what) may not be requested", call: "gpiod_line_request",
                                chip: spec, role: role, offset: offset, errno: err)
            default:
                throw GPIOError(.io, "\(what) cannot be requested", call: "gpiod_line_request",
                                chip: spec, role: role, offset: offset, errno: err)
            }
        }
        let eventFD = mode.isEvents ? gpiod_line_event_get_fd(line) : -1
        return GPIORequestedLine(chip: self, line: line, role: role, offset: offset, eventFD: eventFD)
    }
}

extension GPIOChipHandle.Mode {
    var isEvents: Bool { if case .bothEdges = self { true } else { false } }
}

/// One requested line. Released in `deinit` if nobody released it before.
final class GPIORequestedLine {
    private let chip: GPIOChipHandle
    private let line: OpaquePointer
    let role: String
    let offset: Int
    /// The descriptor that becomes readable when an edge is queued (event lines), else -1.
    let eventFD: Int32
    private(set) var isReleased = false

    fileprivate init(chip: GPIOChipHandle, line: OpaquePointer, role: String, offset: Int, eventFD: Int32) {
        self.chip = chip
        self.line = line
        self.role = role
        self.offset = offset
        self.eventFD = eventFD
    }

    deinit { release() }

    private func failure(_ call: String, _ err: Int32) -> GPIOError {
        GPIOError(.io, "\(GPIOError.lineName(role, chip: chip.spec, offset: offset)) failed", call: call,
                  chip: chip.spec, role: role, offset: offset, errno: err)
    }

    /// Drives the line (logical value: active-low is applied by the kernel).
    func set(_ active: Bool) throws(GPIOError) {
        guard !isReleased else { throw failure("gpiod_line_set_value", EBADF) }
        while true {
            let rc = gpiod_line_set_value(line, active ? 1 : 0)
            let err = errno
            if rc == 0 { return }
            if err != EINTR { throw failure("gpiod_line_set_value", err) }
        }
    }

    /// Reads the line's logical value (an output reads what it drives).
    func get() throws(GPIOError) -> Bool {
        guard !isReleased else { throw failure("gpiod_line_get_value", EBADF) }
        while true {
            let rc = gpiod_line_get_value(line)
            let err = errno
            if rc >= 0 { return rc == 1 }
            if err != EINTR { throw failure("gpiod_line_get_value", err) }
        }
    }

    /// Reads one queued edge: whether the line became active, and the kernel's monotonic
    /// timestamp. Blocks if none is queued; callers poll `eventFD` first.
    func readEvent() throws(GPIOError) -> (active: Bool, timestampNS: UInt64) {
        guard !isReleased else { throw failure("gpiod_line_event_read", EBADF) }
        var event = gpiod_line_event()
        while true {
            let rc = gpiod_line_event_read(line, &event)
            let err = errno
            if rc == 0 { break }
            if err != EINTR { throw failure("gpiod_line_event_read", err) }
        }
        let ns = UInt64(max(0, event.ts.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, event.ts.tv_nsec))
        // In the v1 uAPI a both-edge event's type is the line's logical level when read.
        return (event.event_type == Int32(GPIOD_LINE_EVENT_RISING_EDGE), ns)
    }

    /// Gives the line back to the kernel. Idempotent.
    func release() {
        guard !isReleased else { return }
        isReleased = true
        gpiod_line_release(line)
    }
}

/// The bias a line is requested with (mirrors `GPIOLine.Bias` without depending on it here).
enum GPIOLineBias {
    case asIs, disabled, pullUp, pullDown
}

/// The libgpiod version the process runs with (`1.6.3`), for logs and the VM tier.
func libgpiodVersion() -> String {
    gpiod_version_string().map { String(cString: $0) } ?? "unknown"
}
