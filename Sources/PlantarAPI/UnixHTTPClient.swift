#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A small HTTP/1.1 client over a Unix socket, for `plantar` and the tests.
///
/// Hand-written on purpose: the CLI then links no networking stack (no NIO, no TLS), so it
/// builds and starts fast, and every failure maps to one sentence a person can act on.
/// One request per connection (`Connection: close`); bodies by Content-Length, chunked
/// transfer or end of stream; server-sent events are read as they arrive.
public struct UnixHTTPClient: Sendable {
    public let socketPath: String
    /// Limit on waiting for a plain (non-streaming) answer.
    public var timeout: Duration

    public init(socketPath: String, timeout: Duration = .seconds(15)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// A complete response.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data

        /// The body decoded as `T`.
        public func decode<T: Decodable>(_ type: T.Type) throws(ClientError) -> T {
            do { return try JSONDecoder().decode(T.self, from: body) } catch {
                throw .protocolError("the daemon's answer was not the expected \(T.self) (\(status)): \(String(decoding: body.prefix(200), as: UTF8.self))")
            }
        }

        /// The daemon's refusal, when the status is not 2xx.
        public var refusal: ErrorDocument? {
            guard !(200..<300).contains(status) else { return nil }
            return (try? JSONDecoder().decode(ErrorDocument.self, from: body))
                ?? ErrorDocument(code: "http-\(status)", error: "HTTP \(status): \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
    }

    /// Sends one request and reads the whole answer.
    public func send(_ method: String, _ target: String, json body: Data? = nil) throws(ClientError) -> Response {
        let connection = try Connection(path: socketPath)
        try connection.setReceiveTimeout(timeout)
        try connection.write(Self.requestHead(method, target, bodyLength: body?.count) + (body ?? Data()))
        var reader = ResponseReader(connection: connection)
        let (status, headers) = try reader.head()
        let body = try reader.wholeBody(headers: headers)
        return Response(status: status, headers: headers, body: body)
    }

    /// Sends a JSON-encoded request body.
    public func send<T: Encodable>(_ method: String, _ target: String, body: T) throws(ClientError) -> Response {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch { throw .protocolError("cannot encode the request: \(error)") }
        return try send(method, target, json: data)
    }

    /// One server-sent event.
    public struct Event: Sendable, Hashable {
        public var name: String
        public var data: String
    }

    /// Follows a server-sent event stream, calling `handle` for each event until it returns
    /// false or the daemon ends the stream. Blocks the calling thread; `stop` (from any
    /// thread) ends it early.
    public func follow(_ target: String, stop: StopToken? = nil, _ handle: (Event) -> Bool) throws(ClientError) {
        let connection = try Connection(path: socketPath)
        stop?.attach(connection)
        defer { stop?.detach() }
        try connection.setReceiveTimeout(timeout)
        try connection.write(Self.requestHead("GET", target, bodyLength: nil, accept: "text/event-stream"))
        var reader = ResponseReader(connection: connection)
        let (status, headers) = try reader.head()
        guard status == 200 else {
            let body = (try? reader.wholeBody(headers: headers)) ?? Data()
            let response = Response(status: status, headers: headers, body: body)
            throw .refused(response.refusal ?? ErrorDocument(code: "http-\(status)", error: "HTTP \(status)"))
        }
        // The stream stays open; an idle daemon sends a comment line at least every 15 s, so a
        // receive timeout well above that only fires when the daemon is gone or stalled.
        try connection.setReceiveTimeout(max(timeout, .seconds(60)))
        var parser = EventParser()
        do {
            try reader.streamBody(headers: headers) { bytes in
                for event in parser.feed(bytes) where !handle(event) { return false }
                return true
            }
        } catch {
            if stop?.isStopped == true { return }
            throw error
        }
    }

    static func requestHead(_ method: String, _ target: String, bodyLength: Int?, accept: String = "application/json") -> Data {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: plantard\r\nUser-Agent: plantar\r\nAccept: \(accept)\r\nConnection: close\r\n"
        if let bodyLength {
            head += "Content-Type: application/json\r\nContent-Length: \(bodyLength)\r\n"
        } else if method == "POST" {
            head += "Content-Length: 0\r\n"
        }
        return Data((head + "\r\n").utf8)
    }
}

/// Why a request did not get an answer, or got a refusal. `description` is one line that
/// says what to do.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// No socket file, or nobody listening on it.
    case noDaemon(path: String, detail: String)
    /// The socket exists but this user may not use it.
    case permission(path: String)
    /// The daemon answered with a 4xx/5xx.
    case refused(ErrorDocument)
    /// The connection broke or timed out.
    case io(String)
    /// The answer was not HTTP or not the expected document.
    case protocolError(String)

    public var description: String {
        switch self {
        case .noDaemon(let path, let detail):
            "plantard is not running (\(detail) at \(path)): start it with 'systemctl start plantard' (or 'plantard' from a checkout), give its socket with --socket PATH, or run on the simulator with 'plantar run PROGRAM --simulator'"
        case .permission(let path):
            "permission denied on \(path): add yourself to the 'plantar' group ('sudo usermod -aG plantar $USER', then log in again)"
        case .refused(let error):
            "refused: \(error.error)" + (error.details.map { "\n" + $0.joined(separator: "\n") } ?? "")
        case .io(let detail):
            "lost the connection to plantard: \(detail)"
        case .protocolError(let detail):
            "unexpected answer from plantard: \(detail)"
        }
    }
}

/// Ends a blocking `follow` from another thread (Ctrl-C: detach).
public final class StopToken: Sendable {
    private struct State {
        var fd: Int32 = -1
        var stopped = false
    }

    private let state = Mutex(State())

    public init() {}

    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// Shuts the stream's socket down, which wakes the blocked reader.
    public func stop() {
        state.withLock { s in
            s.stopped = true
            if s.fd >= 0 { _ = shutdown(s.fd, Int32(SHUT_RDWR)) }
        }
    }

    func attach(_ connection: Connection) {
        state.withLock { s in
            s.fd = connection.fd
            if s.stopped { _ = shutdown(s.fd, Int32(SHUT_RDWR)) }
        }
    }

    func detach() { state.withLock { $0.fd = -1 } }
}

/// One connected Unix stream socket; closed in deinit. Every system call goes through here.
final class Connection {
    let fd: Int32

    init(path: String) throws(ClientError) {
        #if canImport(Glibc)
        let made = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let made = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard made >= 0 else { throw .io("socket(): \(String(cString: strerror(errno)))") }
        fd = made
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            close(fd)
            throw .noDaemon(path: path, detail: "the path is longer than a Unix socket path may be")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 {
            let code = errno
            close(fd)
            switch code {
            case ENOENT: throw .noDaemon(path: path, detail: "no socket")
            case ECONNREFUSED: throw .noDaemon(path: path, detail: "nobody listening on the socket")
            case ENOTDIR: throw .noDaemon(path: path, detail: "no such folder")
            case EACCES, EPERM: throw .permission(path: path)
            default: throw .io("connect(\(path)): \(String(cString: strerror(code)))")
            }
        }
    }

    deinit { close(fd) }

    func setReceiveTimeout(_ limit: Duration) throws(ClientError) {
        let parts = limit.components
        var tv = timeval(tv_sec: Int(parts.seconds), tv_usec: Int(parts.attoseconds / 1_000_000_000_000))
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw .io("setsockopt(SO_RCVTIMEO): \(String(cString: strerror(errno)))")
        }
    }

    func write(_ data: Data) throws(ClientError) {
        var offset = 0
        while offset < data.count {
            let sent = data.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw .io("send: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    /// Up to `max` bytes; empty at end of stream.
    func read(max: Int = 16 * 1024) throws(ClientError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
            if count >= 0 { return Array(buffer[0..<count]) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: throw .io("no answer within the time limit (is plantard stalled?)")
            default: throw .io("recv: \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// Reads an HTTP/1.1 response off a connection.
struct ResponseReader {
    let connection: Connection
    var buffer: [UInt8] = []
    var ended = false

    init(connection: Connection) { self.connection = connection }

    mutating func fill() throws(ClientError) {
        let bytes = try connection.read()
        if bytes.isEmpty { ended = true } else { buffer += bytes }
    }

    mutating func line() throws(ClientError) -> String {
        while true {
            if let index = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var lineBytes = buffer[..<index]
                if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
                let text = String(decoding: lineBytes, as: UTF8.self)
                buffer.removeFirst(index + 1)
                return text
            }
            if ended { throw .io("the daemon closed the connection mid-answer") }
            try fill()
        }
    }

    mutating func head() throws(ClientError) -> (Int, [String: String]) {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw .protocolError("not an HTTP answer: '\(statusLine.prefix(80))'")
        }
        var headers: [String: String] = [:]
        while true {
            let header = try line()
            if header.isEmpty { break }
            guard let colon = header.firstIndex(of: ":") else { continue }
            headers[header[..<colon].lowercased()] = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    mutating func wholeBody(headers: [String: String]) throws(ClientError) -> Data {
        var body: [UInt8] = []
        try streamBody(headers: headers) { body += $0; return true }
        return Data(body)
    }

    /// Hands the body to `sink` as it arrives; `sink` returns false to stop reading.
    mutating func streamBody(headers: [String: String], _ sink: ([UInt8]) -> Bool) throws(ClientError) {
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try line()
                guard let size = Int(sizeLine.split(separator: ";").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "", radix: 16) else {
                    throw .protocolError("bad chunk size '\(sizeLine.prefix(20))'")
                }
                if size == 0 { return }
                while buffer.count < size + 2 {
                    if ended { throw .io("the daemon closed the connection mid-answer") }
                    try fill()
                }
                let chunk = Array(buffer[0..<size])
                buffer.removeFirst(size + 2)
                if !sink(chunk) { return }
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            while buffer.count < length {
                if ended { throw .io("the daemon closed the connection mid-answer") }
                try fill()
            }
            _ = sink(Array(buffer[0..<length]))
        } else {
            while true {
                if !buffer.isEmpty {
                    let chunk = buffer
                    buffer.removeAll()
                    if !sink(chunk) { return }
                }
                if ended { return }
                try fill()
            }
        }
    }
}

/// Splits a `text/event-stream` body into events (the WHATWG format: `event:`, `data:`,
/// comments starting with `:`, a blank line ending each event).
public struct EventParser: Sendable {
    var pending: [UInt8] = []
    var name = ""
    var data: [String] = []

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) -> [UnixHTTPClient.Event] {
        pending += bytes
        var events: [UnixHTTPClient.Event] = []
        while let index = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var lineBytes = pending[..<index]
            if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
            let line = String(decoding: lineBytes, as: UTF8.self)
            pending.removeFirst(index + 1)
            if line.isEmpty {
                if !data.isEmpty || !name.isEmpty {
                    events.append(UnixHTTPClient.Event(name: name.isEmpty ? "message" : name, data: data.joined(separator: "\n")))
                }
                name = ""
                data = []
            } else if line.hasPrefix(":") {
                continue
            } else if line.hasPrefix("event:") {
                name = line.dropFirst(6).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("data:") {
                var value = line.dropFirst(5)
                if value.first == " " { value = value.dropFirst() }
                data.append(String(value))
            }
        }
        return events
    }
}

/// Stop's own lane beside the API's socket: `plantard.sock` -> `plantard-stop.sock`. It
/// answers only `POST /v1/stop` and `POST /v1/ease`, on a thread of its own in plantard.
public func stopLanePath(forSocket path: String) -> String {
    path.hasSuffix(".sock") ? String(path.dropLast(5)) + "-stop.sock" : path + ".stop"
}
