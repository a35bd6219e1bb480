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
/// thread blocked in `accept()` for this alone, so a flood on the API cannot fill it. It speaks
/// just enough HTTP/1.1 for `plantar` and curl: `POST /v1/stop` and `POST /v1/ease`, answered
/// with the same action document, everything else 404. Each connection gets 250 ms to send
/// its request line, so a client that connects and says nothing holds the lane that long at most.
public final class StopLane: Service, Sendable {
    let path: String
    let manager: SessionManager
    let logger: Logger
    let mode: UInt32
    let group: String
    private let listener = Mutex<Int32>(-1)

    init(path: String, manager: SessionManager, logger: Logger, mode: UInt32, group: String) {
        self.path = path
        self.manager = manager
        self.logger = logger
        self.mode = mode
        self.group = group
    }

    public func run() async throws {
        let fd = try bind()
        listener.withLock { $0 = fd }
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [self] in
            serve(fd)
            done.signal()
        }
        logger.info("stop lane listening on \(path)")
        try? await gracefulShutdown()
        // Wakes the thread out of accept(); it then closes the socket.
        listener.withLock { fd in _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                done.wait()
                finished.resume()
            }
        }
        unlink(path)
    }

    func bind() throws(DaemonError) -> Int32 {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DaemonError("stop lane: cannot listen on \(path): \(reason)")
        }
        chmod(path, mode_t(mode))
        if let g = getgrnam(group) { chown(path, uid_t.max, g.pointee.gr_gid) }
        return fd
    }

    /// The lane's thread: one connection at a time, each answered at once.
    func serve(_ fd: Int32) {
        while true {
            let connection = accept(fd, nil, nil)   // plantard never execs: no CLOEXEC needed
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                break
            }
            let received = ContinuousClock.now
            handle(connection, received: received)
            close(connection)
        }
        close(fd)
    }

    func handle(_ fd: Int32, received: ContinuousClock.Instant) {
        var tv = timeval(tv_sec: 0, tv_usec: 250_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // Only the request line matters; read until it is complete (or 4 KiB, or the time is up).
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while request.count < 4096, !request.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 1024, 0) }
            if n <= 0 { break }
            request += chunk[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let target = parts.count >= 2 && parts[0] == "POST" ? String(parts[1]) : ""
        let status: String, body: String
        switch target {
        case apiVersionPrefix + "/stop":
            let detail = manager.stop(source: "stop lane", received: received)
            manager.logAction("stop", detail, who: Self.peer(fd))
            (status, body) = ("200 OK", SessionManager.json(ActionDocument(action: "stop", detail: detail, status: manager.statusDocument)) ?? "{}")
        case apiVersionPrefix + "/ease":
            do throws(Refusal) {
                let detail = try manager.ease(source: "stop lane")
                manager.logAction("ease", detail, who: Self.peer(fd))
                (status, body) = ("200 OK", SessionManager.json(ActionDocument(action: "ease", detail: detail, status: manager.statusDocument)) ?? "{}")
            } catch {
                (status, body) = ("409 Conflict", SessionManager.json(ErrorDocument(code: error.code, error: error.message)) ?? "{}")
            }
        default:
            (status, body) = ("404 Not Found", SessionManager.json(ErrorDocument(code: "not-found", error: "the stop lane answers only POST /v1/stop and POST /v1/ease")) ?? "{}")
        }
        let answer = Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
        _ = answer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// `uid N (pid P)` from SO_PEERCRED.
    static func peer(_ fd: Int32) -> String {
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return "stop lane (peer unknown)" }
        return "uid \(credentials.uid) (pid \(credentials.pid)) via the stop lane"
    }
}
