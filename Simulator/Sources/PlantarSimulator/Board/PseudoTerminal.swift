#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The master side of a pseudo-terminal, and the one funnel for the C calls the board
/// emulator makes (openpty, read, write, poll, symlink, the monotonic clock). The host opens
/// the slave side (`path`) as it would open `/dev/ttyUSB0`.
///
/// The slave starts in raw mode (no echo, no line editing), so bytes the board writes before
/// a host has configured the port are not echoed back to it. The emulator keeps its own slave
/// descriptor open, so the master does not see a hang-up each time a host closes the port.
public final class PseudoTerminal: Sendable {
    /// The slave's path, e.g. `/dev/pts/3`.
    public let path: String
    /// -1 once hung up.
    private let masterFD: Atomic<Int32>
    private let slaveFD: Atomic<Int32>
    var master: Int32 { masterFD.load(ordering: .acquiring) }

    /// A failed call and its errno.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var call: String
        public var errno: Int32
        public var description: String {
            let text = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
            return "\(call): \(text) (errno \(errno))"
        }
    }

    /// Opens a new pseudo-terminal pair.
    /// - Throws: `Failure` naming `openpty`, `ttyname_r` or `fcntl`.
    public init() throws(Failure) {
        var master: Int32 = -1, slave: Int32 = -1
        var raw = termios()
        cfmakeraw(&raw)
        guard openpty(&master, &slave, nil, &raw, nil) == 0 else { throw Failure(call: "openpty", errno: errno) }
        var name = [CChar](repeating: 0, count: 256)
        let rc = ttyname_r(slave, &name, name.count)
        guard rc == 0 else {
            close(master)
            close(slave)
            throw Failure(call: "ttyname_r", errno: rc)
        }
        for fd in [master, slave] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        guard fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) == 0 else {
            let err = errno
            close(master)
            close(slave)
            throw Failure(call: "fcntl(O_NONBLOCK)", errno: err)
        }
        masterFD = Atomic(master)
        slaveFD = Atomic(slave)
        path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { hangUp() }

    /// Closes the terminal: a host on the slave side sees its port hang up, as when the
    /// emulator is killed or the cable pulled. Idempotent.
    public func hangUp() {
        for fd in [masterFD.exchange(-1, ordering: .acquiringAndReleasing), slaveFD.exchange(-1, ordering: .acquiringAndReleasing)]
        where fd >= 0 {
            close(fd)
        }
    }

    /// Reads what the host has written, without waiting; nil when there is nothing.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        while true {
            let n = Glibc.read(master, buffer.baseAddress, buffer.count)
            if n > 0 { return n }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// Writes as much as the terminal takes now; returns how many bytes it took.
    func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        while true {
            let n = Glibc.write(master, bytes.baseAddress, bytes.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            return 0
        }
    }

    /// Waits until the host has written, `wake` is readable, or `timeoutMS` passes.
    func wait(wake: Int32, timeoutMS: Int32) -> (readable: Bool, woken: Bool) {
        var entries = [pollfd(fd: master, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        let rc = entries.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMS) }
        guard rc > 0 else { return (false, false) }
        return (entries[0].revents & Int16(POLLIN) != 0, entries[1].revents != 0)
    }

    /// Points `link` at the slave (replacing an older link there), so hosts can use a fixed
    /// path such as `/tmp/plantar-mcu`.
    /// - Throws: `Failure` naming `symlink`.
    public func link(at link: String) throws(Failure) {
        _ = Glibc.unlink(link)
        guard symlink(path, link) == 0 else { throw Failure(call: "symlink(\(link))", errno: errno) }
    }

    /// Removes `link` if it still points at this terminal (a newer emulator may own it now).
    public func unlink(link: String) {
        var target = [CChar](repeating: 0, count: 256)
        let n = readlink(link, &target, target.count - 1)
        guard n > 0, String(decoding: target.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) == path else { return }
        _ = Glibc.unlink(link)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the emulator's clock, the same one the serial driver uses,
/// so latencies can be measured across the two in one process.
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Asks for SCHED_FIFO at `priority` for the calling thread. Nil on success, otherwise why not.
func useFIFOScheduling(priority: Int32) -> String? {
    var param = sched_param(sched_priority: priority)
    // pthread_setschedparam returns the error number instead of setting errno.
    let rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
    guard rc != 0 else { return nil }
    let text = strerror(rc).map { String(cString: $0) } ?? "errno \(rc)"
    return "pthread_setschedparam(SCHED_FIFO, \(priority)): \(text) (errno \(rc))"
}

/// A self-pipe that wakes the emulator's thread from `poll`.
final class EmulatorWakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    init() throws(PseudoTerminal.Failure) {
        var fds: [Int32] = [-1, -1]
        guard fds.withUnsafeMutableBufferPointer({ pipe($0.baseAddress) }) == 0 else {
            throw PseudoTerminal.Failure(call: "pipe", errno: errno)
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    func wake() {
        var byte: UInt8 = 1
        _ = Glibc.write(writeFD, &byte, 1)
    }

    func drain() {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buffer, { Glibc.read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    deinit {
        close(readFD)
        close(writeFD)
    }
}

/// A joinable thread for the emulator's loop.
final class EmulatorThread: Sendable {
    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private let handle: pthread_t

    init(_ body: @escaping @Sendable () -> Void) throws(PseudoTerminal.Failure) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw PseudoTerminal.Failure(call: "pthread_create", errno: rc)
        }
        handle = thread
    }

    func join() { _ = pthread_join(handle, nil) }
}
