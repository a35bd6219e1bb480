/// A serial link failed. Every error names the port and, for a system call, the call and its
/// errno, so a person can tell a missing cable from a busy port from a wrong profile.
public struct SerialError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure, for code that reacts differently (retry a missing port, not a mismatch).
    public enum Kind: String, Sendable, Hashable {
        /// No device at the port's path (unplugged, emulator not running).
        case portMissing = "port missing"
        /// The process may not open the port.
        case permissionDenied = "permission denied"
        /// Another process holds the port (TIOCEXCL).
        case busy
        /// The profile's baud rate cannot be set on this port.
        case unsupportedBaud = "unsupported baud rate"
        /// The profile has no `serial:` section and no port was given.
        case notConfigured = "not configured"
        /// The board did not answer the handshake.
        case noAnswer = "no answer"
        /// The board answered, but it is not the device the profile describes.
        case mismatch
        /// A call failed while the port was in use.
        case io = "I/O"
    }

    public var kind: Kind
    /// The port's path as given (`/dev/ttyUSB0`, `/tmp/plantar-mcu`).
    public var port: String?
    /// The C call that failed (`tcsetattr`), or nil for a check.
    public var call: String?
    /// `errno` read right after the call.
    public var errno: Int32?
    /// One readable sentence (without the call and errno, which `description` appends).
    public var message: String

    public init(_ kind: Kind, _ message: String, port: String? = nil, call: String? = nil, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.port = port
        self.call = call
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
}
