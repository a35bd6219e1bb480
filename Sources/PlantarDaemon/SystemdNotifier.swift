import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// systemd's notify protocol without libsystemd: one datagram per message to the socket in
/// `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace). Outside systemd (no
/// variable) every call does nothing.
///
/// `READY=1` once the device is at rest and the API listens; `STATUS=` lines that say what
/// runs; `WATCHDOG=1` from the session manager's control loop, so a loop that stalls stops
/// kicking and systemd kills and restarts the daemon; `STOPPING=1` when shutdown begins.
public final class SystemdNotifier: Sendable {
    /// The socket address, nil outside systemd.
    let address: String?
    /// How often systemd wants `WATCHDOG=1` (`$WATCHDOG_USEC`), nil when no watchdog is set
    /// or it is meant for another process (`$WATCHDOG_PID`).
    public let watchdogInterval: Duration?
    private let lastKick = Mutex<ContinuousClock.Instant?>(nil)

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        address = socket
        var interval: Duration?
        if socket != nil, let usec = environment["WATCHDOG_USEC"].flatMap({ Int64($0) }), usec > 0 {
            let forUs = environment["WATCHDOG_PID"].flatMap { Int32($0) }.map { $0 == getpid() } ?? true
            if forUs { interval = .microseconds(usec) }
        }
        watchdogInterval = interval
    }

    /// Whether a service manager listens.
    public var isActive: Bool { address != nil }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }

    /// `WATCHDOG=1`, at most every quarter of the interval however often it is called (the
    /// session loop calls it on every turn; between sessions the idle tick, every half interval).
    public func kickWatchdog() {
        guard let interval = watchdogInterval else { return }
        let now = ContinuousClock.now
        let due = lastKick.withLock { last -> Bool in
            // A little under a quarter: the idle tick's kicks, half an interval apart, always pass.
            if let last, last.duration(to: now) < interval / 5 { return false }
            last = now
            return true
        }
        if due { send("WATCHDOG=1") }
    }

    /// Sends one datagram without waiting; failures are ignored (the service manager may be
    /// gone while we stop, or its queue full).
    func send(_ message: String) {
        guard let address else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        // "@name" is the abstract namespace: a leading zero byte and no terminator.
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: sa.sun_path)
        guard bytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in
            raw.copyBytes(from: bytes)
            if !abstract { raw[bytes.count] = 0 }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let payload = Array(message.utf8)
        _ = withUnsafePointer(to: &sa) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                // Never block: the caller is the control loop. A service manager that does not read
                // its queue (it holds only max_dgram_qlen, 10 by default) loses a message, not the loop.
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), address, length) }
            }
        }
    }
}
