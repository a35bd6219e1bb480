/// A GPIO operation failed. Every error names what it was doing (the libgpiod call, or the
/// check), the chip and the line, so a person can find the wire or the profile entry.
public struct GPIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure, for code that reacts differently (a busy line vs a missing chip).
    public enum Kind: String, Sendable, Hashable {
        /// No chip matches the profile's `chip` (by path, name or label).
        case chipNotFound = "chip not found"
        /// The chip has no line at the offset the profile names.
        case lineMissing = "line missing"
        /// Another consumer holds the line.
        case lineBusy = "line busy"
        /// The process may not open the chip or request the line.
        case permissionDenied = "permission denied"
        /// The profile's pin map cannot drive this device (a role missing or unknown).
        case pinMap = "pin map"
        /// A call failed while the lines were in use.
        case io = "I/O"
    }

    public var kind: Kind
    /// The C call that failed (`gpiod_line_request`), or nil for a check of the profile.
    public var call: String?
    /// The chip as the profile names it.
    public var chip: String?
    /// The line's role in the pin map (`right.pump`).
    public var role: String?
    public var offset: Int?
    /// `errno` read right after the call.
    public var errno: Int32?
    /// One readable sentence (without the call and errno, which `description` appends).
    public var message: String

    public init(_ kind: Kind, _ message: String, call: String? = nil, chip: String? = nil, role: String? = nil,
                offset: Int? = nil, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.call = call
        self.chip = chip
        self.role = role
        self.offset = offset
        self.errno = errno
    }

    public var description: String {
        var text = message
        if let call {
            text += " (\(call)"
            if let errno { text += ": " + Posix.errorText(errno) }
            text += ")"
        }
        return text
    }

    /// How a line is named in messages: `'right.pump' (gpiochip0 offset 5)`.
    static func lineName(_ role: String?, chip: String?, offset: Int?) -> String {
        var where_: [String] = []
        if let chip { where_.append(chip) }
        if let offset { where_.append("offset \(offset)") }
        let place = where_.isEmpty ? "" : " (" + where_.joined(separator: " ") + ")"
        return "gpio line " + (role.map { "'\($0)'" } ?? "?") + place
    }
}
