#if canImport(Glibc)
import Glibc
#endif

/// The one funnel for the POSIX calls the GPIO driver's threads make (clocks, sleeping,
/// polling, wake pipes, scheduling, threads). libgpiod calls live in `LibGPIOD.swift`.
/// Each wrapper reads `errno` at once and retries on EINTR where the call may be repeated.
enum Posix {
    /// A failed call and its errno.
    struct Failure: Error, Sendable, CustomStringConvertible {
        var call: String
        var errno: Int32
        var description: String { "\(call): \(Posix.errorText(errno))" }
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text) + " (errno \(code))"
    }

    // MARK: Time

    /// CLOCK_MONOTONIC in nanoseconds: the driver's only clock, and the one the kernel stamps
    /// GPIO edge events with (v1 uAPI since Linux 5.7).
    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Sleeps until the monotonic clock reads `deadline` (absolute, so a wake-up that comes
    /// late never pushes later deadlines back). Returns early only if the deadline passed.
    static func sleep(untilMonotonic deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        // clock_nanosleep returns the error number instead of setting errno.
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    /// Busy-waits until `deadline`; only for the microseconds of a step pulse's width.
    static func spin(untilMonotonic deadline: UInt64) {
        while monotonicNanoseconds() < deadline {}
    }

    // MARK: Polling

    /// `poll(2)` over `fds` for readability. Returns the `revents` of each, in order.
    /// A negative timeout waits forever. EINTR is retried with the same timeout (the callers
    /// recompute their deadlines on every loop, so a slightly longer wait does no harm).
    static func pollReadable(_ fds: [Int32], timeoutMS: Int32) throws(Failure) -> [Int16] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while true {
            let rc = entries.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMS) }
            let err = errno
            if rc >= 0 { return entries.map(\.revents) }
            if err != EINTR { throw Failure(call: "poll", errno: err) }
        }
    }

    /// Whether `revents` from `pollReadable` says the descriptor is in error or closed.
    static func reportsFailure(_ revents: Int16) -> Bool {
        revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
    }

    /// One descriptor's readiness without waiting.
    static func isReadable(_ fd: Int32) -> (ready: Bool, failed: Bool) {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var rc: Int32
        repeat { rc = poll(&entry, 1, 0) } while rc < 0 && errno == EINTR
        let failed = rc < 0 || entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
        return (rc > 0 && entry.revents & Int16(POLLIN) != 0, failed)
    }

    // MARK: Scheduling

    /// Asks for SCHED_FIFO at `priority` for the calling thread. Returns nil on success,
    /// otherwise why not (typically EPERM without root, CAP_SYS_NICE or an RTPRIO limit).
    static func useFIFOScheduling(priority: Int32) -> String? {
        var param = sched_param(sched_priority: priority)
        // pthread_setschedparam returns the error number instead of setting errno.
        let rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
        return rc == 0 ? nil : "pthread_setschedparam(SCHED_FIFO, \(priority)): " + errorText(rc)
    }

    /// Locks the process's memory so a page fault never delays a step. Nil on success.
    static func lockMemory() -> String? {
        if mlockall(MCL_CURRENT | MCL_FUTURE) == 0 { return nil }
        return "mlockall(MCL_CURRENT|MCL_FUTURE): " + errorText(errno)
    }
}

/// A self-pipe that wakes a thread blocked in `poll`. Writing never blocks: when the pipe is
/// full a wake-up is already pending, which is all a writer needs.
final class WakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    init() throws(Posix.Failure) {
        var fds: [Int32] = [-1, -1]
        let rc = fds.withUnsafeMutableBufferPointer { pipe($0.baseAddress) }
        let err = errno
        guard rc == 0 else { throw Posix.Failure(call: "pipe", errno: err) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    /// Async-signal-safe and non-blocking: callable from `releaseAll` on any thread.
    func wake() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    /// Empties the pipe after a wake-up.
    func drain() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    deinit {
        close(readFD)
        close(writeFD)
    }
}

/// A joinable POSIX thread running one closure. The driver needs `pthread_join` (to know the
/// threads have stopped before it releases the lines) and a thread it may make SCHED_FIFO.
final class PosixThread: Sendable {
    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private let handle: pthread_t

    init(_ body: @escaping @Sendable () -> Void) throws(Posix.Failure) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw Posix.Failure(call: "pthread_create", errno: rc)
        }
        handle = thread
    }

    func join() {
        _ = pthread_join(handle, nil)
    }
}
