import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import PlantarAPI
import ServiceLifecycle
import Synchronization

/// Stop's own lane (DESIGN.md principle 5): a second Unix socket, `plantard-stop.sock` beside
/// the API's, served by one dedicated thread that does nothing else.
///
/// Through the HTTP API a stop waits its turn behind whatever else the event loops and the
/// task pool are doing (under 50 clients hammering status, milliseconds); here it is read by a
/// thread of its own, so a flood on the API cannot fill it. It speaks just enough HTTP/1.1 for
/// `plantar` and curl: `POST /v1/stop` and `POST /v1/ease`, answered with the same action
/// document, everything else 404.
///
/// The thread multiplexes every connection with poll(2), so no client waits for another: each
/// is answered as soon as its request line is complete. A connection gets 250 ms for its
/// whole request line (not per read: a client dripping a byte at a time is cut off at the
/// same deadline). At most `maxConnections` wait at once; when one more arrives the oldest
/// waiting connection is dropped instead, so a flood of idle clients never refuses a stop.
public final class StopLane: Service, Sendable {
    let path: String
    let manager: SessionManager
    let logger: Logger
    let mode: UInt32
    let group: String
    /// The write end of the pipe that wakes the thread for shutdown.
    private let wakeFD = Mutex<Int32>(-1)

    /// Connections waiting for their request line at once; beyond this the oldest is dropped.
    static let maxConnections = 64
    /// Time for a whole request line, from the connection's acceptance.
    static let requestDeadline: Duration = .milliseconds(250)
    /// The longest request line read; longer ones are answered 404.
    static let maxRequest = 4096

    init(path: String, manager: SessionManager, logger: Logger, mode: UInt32, group: String) {
        self.path = path
        self.manager = manager
        self.logger = logger
        self.mode = mode
        self.group = group
    }

    public func run() async throws {
        let fd = try bind()
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            close(fd)
            throw DaemonError("stop lane: pipe(): \(String(cString: strerror(errno)))")
        }
        for end in pipeFDs { Self.setNonBlocking(end) }
        wakeFD.withLock { $0 = pipeFDs[1] }
        let done = DispatchSemaphore(value: 0)
        let wakeRead = pipeFDs[0]
        Thread.detachNewThread { [self] in
            serve(fd, wake: wakeRead)
            done.signal()
        }
        logger.info("stop lane listening on \(path)")
        try? await gracefulShutdown()
        // Wakes the thread out of poll(); it then closes every socket.
        wakeFD.withLock { fd in var byte: UInt8 = 1; _ = write(fd, &byte, 1) }
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                done.wait()
                finished.resume()
            }
        }
        wakeFD.withLock { fd in close(fd); fd = -1 }
        unlink(path)
    }

    func bind() throws(DaemonError) -> Int32 {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("stop lane: socket(): \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw DaemonError("stop lane: the path \(path) is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // The kernel's largest backlog: the thread drains it as fast as clients connect.
        guard bound == 0, listen(fd, SOMAXCONN) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DaemonError("stop lane: cannot listen on \(path): \(reason)")
        }
        chmod(path, mode_t(mode))
        if let g = getgrnam(group) { chown(path, uid_t.max, g.pointee.gr_gid) }
        return fd
    }

    /// A connection whose request line has not come in full yet.
    struct Waiting {
        var fd: Int32
        var deadline: ContinuousClock.Instant
        var request: [UInt8] = []
    }

    /// The lane's thread: every connection at once, each answered as soon as its request line is in.
    func serve(_ listener: Int32, wake: Int32) {
        // Not real-time on purpose: under a flood of connections this thread runs flat out,
        // and at a real-time priority it would starve the session loop and the drivers. A
        // higher share of the CPU instead (nice -10, CAP_SYS_NICE as the unit grants): the
        // backlog is first come first served, so a stop queued behind a local flood is
        // answered only as fast as this thread gets through the flood.
        // (On Linux the nice value is per thread; 0 names the calling one.)
        if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -10) != 0 {
            logger.info("stop lane: cannot raise its thread's priority (\(String(cString: strerror(errno)))); a local flood of connections can delay a stop there")
        }
        var waiting: [Waiting] = []
        var fds: [pollfd] = []
        serving: while true {
            let now = ContinuousClock.now
            // Past their deadline: answered 408 (best effort) and closed.
            waiting.removeAll { w in
                guard w.deadline <= now else { return false }
                Self.answer(w.fd, "408 Request Timeout", ErrorDocument(code: "timeout", error: "the request line did not arrive within 250 ms"))
                close(w.fd)
                return true
            }
            let timeout: Int32 = waiting.map(\.deadline).min().map { next in
                let left = now.duration(to: next).components
                return Int32(clamping: left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000 + 1)
            } ?? -1
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            for w in waiting { fds.append(pollfd(fd: w.fd, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("stop lane: poll(): \(String(cString: strerror(errno))); the lane is closed, stops go through the API")
                break
            }
            if fds[0].revents != 0 { break serving }
            // Reads first (connections already here), then new ones.
            var served = IndexSet()
            for i in waiting.indices where fds[i + 2].revents != 0 {
                if serveIfComplete(&waiting[i]) { served.insert(i) }
            }
            for i in served.reversed() { waiting.remove(at: i) }
            guard fds[1].revents != 0 else { continue }
            while true {
                let connection = accept(listener, nil, nil)   // plantard never execs: no CLOEXEC needed
                if connection < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { break }
                    // Out of descriptors (EMFILE): the oldest waiting client makes room.
                    guard !waiting.isEmpty else { break }
                    evictOldest(&waiting)
                    continue
                }
                Self.setNonBlocking(connection)
                var new = Waiting(fd: connection, deadline: ContinuousClock.now.advanced(by: Self.requestDeadline))
                // Most clients (plantar, curl) send the request with the connection: served now.
                if serveIfComplete(&new) { continue }
                // Full: the connection that has waited longest gives way, never the new one.
                if waiting.count >= Self.maxConnections { evictOldest(&waiting) }
                waiting.append(new)
            }
        }
        for w in waiting { close(w.fd) }
        close(listener)
        close(wake)
    }

    /// Drops the connection that has waited longest, after a last read: a stop it has sent
    /// meanwhile is carried out, not dropped.
    func evictOldest(_ waiting: inout [Waiting]) {
        var oldest = waiting.removeFirst()
        if !serveIfComplete(&oldest) { close(oldest.fd) }
    }

    /// Reads what has come (never waits); when the request line is complete, or the client has
    /// hung up, acts on it, answers, closes and returns true.
    func serveIfComplete(_ w: inout Waiting) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 1024)
        var hungUp = false
        while w.request.count < Self.maxRequest, !w.request.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { recv(w.fd, $0.baseAddress, min(1024, Self.maxRequest - w.request.count), 0) }
            if n > 0 { w.request += chunk[0..<n]; continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { hungUp = true }
            break
        }
        guard hungUp || w.request.count >= Self.maxRequest || w.request.contains(UInt8(ascii: "\n")) else { return false }
        // A client that hung up after "POST /v1/stop" still gets its stop: acting is safe,
        // ignoring it is not.
        handle(w.fd, request: w.request, received: ContinuousClock.now)
        close(w.fd)
        return true
    }

    static func setNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Acts on a request line and answers it. The stop goes first; the answer after.
    func handle(_ fd: Int32, request: [UInt8], received: ContinuousClock.Instant) {
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let target = parts.count >= 2 && parts[0] == "POST" ? String(parts[1]) : ""
        switch target {
        case apiVersionPrefix + "/stop":
            let detail = manager.stop(source: "stop lane", received: received)
            // Logged before answering, so the log has it once the client has its answer.
            manager.logAction("stop", detail, who: Self.peer(fd))
            Self.answer(fd, "200 OK", ActionDocument(action: "stop", detail: detail, status: manager.statusDocument))
        case apiVersionPrefix + "/ease":
            do throws(Refusal) {
                let detail = try manager.ease(source: "stop lane")
                manager.logAction("ease", detail, who: Self.peer(fd))
                Self.answer(fd, "200 OK", ActionDocument(action: "ease", detail: detail, status: manager.statusDocument))
            } catch {
                Self.answer(fd, "409 Conflict", ErrorDocument(code: error.code, error: error.message))
            }
        default:
            Self.answer(fd, "404 Not Found", ErrorDocument(code: "not-found", error: "the stop lane answers only POST /v1/stop and POST /v1/ease"))
        }
    }

    /// One response, sent without waiting: a client too slow to take a few hundred bytes
    /// loses its answer (the action was carried out already).
    static func answer<T: Encodable>(_ fd: Int32, _ status: String, _ document: T) {
        let body = SessionManager.json(document) ?? "{}"
        let answer = Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
        _ = answer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
    }

    /// `uid N (pid P)` from SO_PEERCRED.
    static func peer(_ fd: Int32) -> String {
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return "stop lane (peer unknown)" }
        return "uid \(credentials.uid) (pid \(credentials.pid)) via the stop lane"
    }
}
