import PlantarCore

/// One line the driver wants, with how to request it.
public struct GPIOLineRequest: Sendable, Hashable {
    public enum Direction: Sendable, Hashable {
        /// An output, requested driving `rest` (its safe value) from the first moment.
        case output(rest: Bool)
        /// A plain input (home switches, foot presence).
        case input
        /// An input with both-edge events (discomfort switch, ease button).
        case edges
    }

    /// The role in the pin map (`right.pump`, `discomfort-switch`).
    public var role: String
    public var line: GPIOLine
    public var direction: Direction

    public init(role: String, line: GPIOLine, direction: Direction) {
        self.role = role
        self.line = line
        self.direction = direction
    }

    /// The value the line rests at, for outputs.
    public var restValue: Bool? {
        if case .output(let rest) = direction { rest } else { nil }
    }
}

/// An edge seen on an event line: the line's index in the claim, its new logical level and
/// the kernel's monotonic timestamp.
public struct GPIOEdge: Sendable, Hashable {
    public var index: Int
    public var active: Bool
    public var timestampNS: UInt64

    public init(index: Int, active: Bool, timestampNS: UInt64) {
        self.index = index
        self.active = active
        self.timestampNS = timestampNS
    }
}

/// The line layer the GPIO driver stands on: claims a set of lines on one chip and reads and
/// writes them by index in the claim, with logical values (true = active; active-low is the
/// bank's business). `LibGPIODLineBank` talks to the kernel; `InMemoryLineBank` is the
/// deterministic stand-in for tests and timing runs.
///
/// Not `Sendable`: the driver confines a bank to a `Mutex` and calls it from one thread at
/// a time.
public protocol GPIOLineBank: AnyObject {
    /// Claims every line or none. Outputs drive their rest value from the request on.
    /// Throws naming the first missing chip, missing line or busy line.
    func claim(chip: String, _ requests: [GPIOLineRequest], consumer: String) throws(GPIOError)

    /// Drives output `index`.
    func write(_ index: Int, _ active: Bool) throws(GPIOError)

    /// Reads line `index` (an output reads what it drives).
    func read(_ index: Int) throws(GPIOError) -> Bool

    /// Descriptors that become readable when an event line may have an edge queued.
    var eventDescriptors: [Int32] { get }

    /// Edges queued on event lines, oldest first per line. Never blocks. Throws when an event
    /// line cannot be read (the caller treats the line as active: a cut cable is a press).
    func drainEdges() throws(GPIOError) -> [GPIOEdge]

    /// Drives every output to its rest value, then gives every line back. Idempotent.
    func release()
}
