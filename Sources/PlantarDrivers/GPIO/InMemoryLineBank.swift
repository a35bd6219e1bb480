#if canImport(Glibc)
import Glibc
#endif
import PlantarCore
import Synchronization

/// A GPIO chip in memory: the deterministic stand-in for `LibGPIODLineBank` in unit tests
/// and timing runs. It models what matters to the driver: physical levels, active-low,
/// pull bias on an open (floating) input, busy lines, edge events with a readable
/// descriptor, and a log of every write in order.
///
/// `Sendable` (its state sits in a `Mutex`) so a test can drive the inputs while the
/// driver's threads use the bank.
public final class InMemoryLineBank: GPIOLineBank, Sendable {
    /// One write the driver made: the role and the logical value, in order.
    public struct Write: Sendable, Hashable {
        public var role: String
        public var active: Bool
    }

    private struct Line {
        var request: GPIOLineRequest
        /// What the line's pin sees from outside: a level, or nil when nothing drives it.
        var external: Bool?
        /// The physical level an output drives.
        var driven: Bool = false
    }

    private struct State {
        var chip: String
        var lineCount: Int
        var held: [Int: String]
        var claimed: [Line] = []
        /// External levels set before a claim, by offset (nil = open).
        var wiring: [Int: Bool?] = [:]
        var edges: [GPIOEdge] = []
        var writes: [Write] = []
        var unreadable: Set<String> = []
        var failingWrites: Set<String> = []
        var released = true
        var recordWrites: Bool
    }

    private let state: Mutex<State>
    private let signal: WakePipe

    /// - Parameters:
    ///   - chip: the chip name a profile must use to find it.
    ///   - lineCount: how many lines the chip has.
    ///   - held: lines another program holds, by offset, with its consumer name.
    ///   - recordWrites: keep the write log (off for long timing runs).
    /// - Throws: when the process cannot have a pipe (out of file descriptors).
    public init(chip: String = "gpiochip0", lineCount: Int = 32, held: [Int: String] = [:], recordWrites: Bool = true) throws {
        state = Mutex(State(chip: chip, lineCount: lineCount, held: held, recordWrites: recordWrites))
        // The readable descriptor the driver's event thread polls, like a kernel line's fd.
        signal = try WakePipe()
    }

    // MARK: GPIOLineBank

    public func claim(chip: String, _ requests: [GPIOLineRequest], consumer: String) throws(GPIOError) {
        try state.withLock { (s: inout State) throws(GPIOError) in
            guard chip == s.chip else {
                throw GPIOError(.chipNotFound, "gpio chip '\(chip)' not found (looked for a path, a chip name and a chip label)",
                                call: "gpiod_chip_open_by_label", chip: chip, errno: ENOENT)
            }
            for r in requests where r.line.offset >= s.lineCount {
                throw GPIOError(.lineMissing, "\(GPIOError.lineName(r.role, chip: chip, offset: r.line.offset)) does not exist: \(chip) has \(s.lineCount) lines",
                                chip: chip, role: r.role, offset: r.line.offset)
            }
            let busy = requests.filter { s.held[$0.line.offset] != nil }
            if let first = busy.first {
                let message = busy.map { GPIOError.lineName($0.role, chip: chip, offset: $0.line.offset) + " is busy, used by '\(s.held[$0.line.offset]!)'" }
                    .joined(separator: "; ")
                throw GPIOError(.lineBusy, message, chip: chip, role: first.role, offset: first.line.offset)
            }
            s.claimed = requests.map { r in
                var line = Line(request: r, external: s.wiring[r.line.offset] ?? nil)
                if let rest = r.restValue { line.driven = rest != r.line.activeLow }
                return line
            }
            s.edges = []
            s.released = false
        }
    }

    public func write(_ index: Int, _ active: Bool) throws(GPIOError) {
        try state.withLock { (s: inout State) throws(GPIOError) in
            let r = s.claimed[index].request
            guard !s.released, !s.failingWrites.contains(r.role) else {
                throw GPIOError(.io, "\(GPIOError.lineName(r.role, chip: s.chip, offset: r.line.offset)) failed",
                                call: "gpiod_line_set_value", chip: s.chip, role: r.role, offset: r.line.offset, errno: EIO)
            }
            s.claimed[index].driven = active != r.line.activeLow
            if s.recordWrites { s.writes.append(Write(role: r.role, active: active)) }
        }
    }

    public func read(_ index: Int) throws(GPIOError) -> Bool {
        try state.withLock { (s: inout State) throws(GPIOError) in
            let line = s.claimed[index]
            let r = line.request
            guard !s.released, !s.unreadable.contains(r.role) else {
                throw GPIOError(.io, "\(GPIOError.lineName(r.role, chip: s.chip, offset: r.line.offset)) cannot be read",
                                call: "gpiod_line_get_value", chip: s.chip, role: r.role, offset: r.line.offset, errno: EIO)
            }
            return Self.physical(line) != r.line.activeLow
        }
    }

    public var eventDescriptors: [Int32] { [signal.readFD] }

    public func drainEdges() throws(GPIOError) -> [GPIOEdge] {
        signal.drain()
        return try state.withLock { (s: inout State) throws(GPIOError) in
            for line in s.claimed where line.request.direction == .edges && s.unreadable.contains(line.request.role) {
                throw GPIOError(.io, "\(GPIOError.lineName(line.request.role, chip: s.chip, offset: line.request.line.offset)) cannot be read",
                                call: "gpiod_line_event_read", chip: s.chip, role: line.request.role, offset: line.request.line.offset, errno: EIO)
            }
            defer { s.edges = [] }
            return s.edges
        }
    }

    public func release() {
        state.withLock { s in
            for i in s.claimed.indices {
                if let rest = s.claimed[i].request.restValue { s.claimed[i].driven = rest != s.claimed[i].request.line.activeLow }
            }
            s.released = true
        }
    }

    // MARK: The outside of the chip, for tests

    /// What the pin sees when nothing drives it: the requested bias, else low.
    private static func physical(_ line: Line) -> Bool {
        if case .output = line.request.direction { return line.driven }
        if let external = line.external { return external }
        return line.request.line.bias == .pullUp
    }

    /// Sets what drives an input pin from outside: `true`/`false` for a high/low level, nil
    /// for an open pin (then the bias decides, as on a real board). Queues an edge event on
    /// an event line whose logical level changes, stamped `timestampNS`.
    public func setExternal(offset: Int, high: Bool?, timestampNS: UInt64 = 0) {
        let queued = state.withLock { s -> Bool in
            s.wiring[offset] = high
            guard let i = s.claimed.firstIndex(where: { $0.request.line.offset == offset }) else { return false }
            let before = Self.physical(s.claimed[i])
            s.claimed[i].external = high
            let after = Self.physical(s.claimed[i])
            guard before != after, s.claimed[i].request.direction == .edges, !s.released else { return false }
            s.edges.append(GPIOEdge(index: i, active: after != s.claimed[i].request.line.activeLow, timestampNS: timestampNS))
            return true
        }
        if queued { signal.wake() }
    }

    /// Queues an edge as the kernel would report it, whatever the level (contact bounce).
    public func injectEdge(role: String, active: Bool, timestampNS: UInt64 = 0) {
        state.withLock { s in
            guard let i = s.claimed.firstIndex(where: { $0.request.role == role }) else { return }
            s.edges.append(GPIOEdge(index: i, active: active, timestampNS: timestampNS))
        }
        signal.wake()
    }

    /// Makes reads of `role` fail (a line that cannot be read), or work again.
    public func setUnreadable(_ role: String, _ unreadable: Bool = true) {
        state.withLock { s in if unreadable { s.unreadable.insert(role) } else { s.unreadable.remove(role) } }
    }

    /// Makes writes to `role` fail (a dead line), or work again.
    public func setWriteFails(_ role: String, _ fails: Bool = true) {
        state.withLock { s in if fails { s.failingWrites.insert(role) } else { s.failingWrites.remove(role) } }
    }

    /// The physical level of the line at `offset` (what a meter on the pin would show).
    public func level(offset: Int) -> Bool? {
        state.withLock { s in s.claimed.first { $0.request.line.offset == offset }.map(Self.physical) }
    }

    /// The logical value of the line with `role` (true = active).
    public func value(_ role: String) -> Bool? {
        state.withLock { s in
            s.claimed.first { $0.request.role == role }.map { Self.physical($0) != $0.request.line.activeLow }
        }
    }

    /// Every write so far, in order; `clear` empties the log.
    public func writes(clear: Bool = false) -> [Write] {
        state.withLock { s in
            defer { if clear { s.writes = [] } }
            return s.writes
        }
    }

    /// Whether the lines were given back.
    public var isReleased: Bool { state.withLock { $0.released } }
}
