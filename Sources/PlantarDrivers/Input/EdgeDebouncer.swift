/// Debouncing for a switch whose first edge must act at once.
///
/// A change toward the `urgent` level (pressed) is reported the moment it is seen unless that
/// level is already reported: the reflex is never delayed by a debounce window. Any reported
/// change opens a window; edges inside it are contact bounce and are not reported. When the
/// window closes the caller reads the line and `settle` reports the level it has settled at,
/// if that differs. Pure: times are passed in (monotonic nanoseconds).
public struct EdgeDebouncer: Sendable, Hashable {
    /// The level whose first edge acts at once (true: active, pressed).
    public var urgent: Bool
    public var windowNS: UInt64
    /// The level last reported.
    public private(set) var reported: Bool
    /// When the open window closes, if one is open.
    public private(set) var windowEnd: UInt64?

    public init(initial: Bool, urgent: Bool = true, windowNS: UInt64) {
        reported = initial
        self.urgent = urgent
        self.windowNS = windowNS
    }

    /// An edge (or a fresh reading) at `now` says the line is at `level`. Returns the level to
    /// report, or nil when nothing changes for the outside.
    public mutating func observe(_ level: Bool, at now: UInt64) -> Bool? {
        if let end = windowEnd, now >= end { windowEnd = nil }
        guard level != reported else { return nil }
        if level == urgent || windowEnd == nil {
            reported = level
            windowEnd = now &+ windowNS
            return level
        }
        return nil   // inside the window: bounce, until `settle` reads the line
    }

    /// The window has closed (`now >= windowEnd`) and the line reads `level`. Returns the
    /// level to report if it differs from the one reported.
    public mutating func settle(_ level: Bool, at now: UInt64) -> Bool? {
        guard let end = windowEnd, now >= end else { return nil }
        windowEnd = nil
        guard level != reported else { return nil }
        reported = level
        windowEnd = now &+ windowNS
        return level
    }
}
