import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlantarAPI
import PlantarConfig
import Testing

/// The checkout's top folder (this file is Tests/PlantarDaemonTests/Support.swift).
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Routines that keep the daemon's tests in seconds.
enum TestRoutines {
    /// A roll (6 s), then a firm press held 40 s at the solar-plexus point (session time):
    /// "mid-hold" is anywhere from about 10 s to 48 s.
    static let pressTest = """
        routine: press-test
        title: A short roll, then a long press and hold (tests)
        feet: right
        steps:
          - name: Roll the heel
            technique: roll
            zone: heel
            duration: 6s
          - name: Hold the point
            technique: press-hold
            zone: solar-plexus
            pressure: firm
            hold: 40s
            rub: 2s
        """

    /// About 15 s of session time on the right foot.
    static let quick = """
        routine: quick
        title: Two short steps on the right foot (tests)
        feet: right
        steps:
          - technique: roll
            zone: heel
            duration: 6s
          - technique: hold
            zone: solar-plexus
            duration: 3s
        """
}

/// A scratch folder that is removed when the value is.
final class Scratch {
    let url: URL
    var path: String { url.path }

    init(_ label: String) throws {
        // Short: a Unix socket path holds at most 107 bytes.
        url = URL(fileURLWithPath: "/tmp/pd-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// A data folder: the checkout's foot map, devices and back-pain, plus the test routines.
    func dataDirectory() throws -> String {
        let data = url.appendingPathComponent("data")
        let routines = data.appendingPathComponent("routines")
        try FileManager.default.createDirectory(at: routines, withIntermediateDirectories: true)
        let config = repository.appendingPathComponent("Config")
        try FileManager.default.createSymbolicLink(at: data.appendingPathComponent("footmap.yaml"), withDestinationURL: config.appendingPathComponent("footmap.yaml"))
        try FileManager.default.createSymbolicLink(at: data.appendingPathComponent("devices"), withDestinationURL: config.appendingPathComponent("devices"))
        try FileManager.default.createSymbolicLink(at: routines.appendingPathComponent("back-pain.yaml"), withDestinationURL: config.appendingPathComponent("routines/back-pain.yaml"))
        try TestRoutines.pressTest.write(to: routines.appendingPathComponent("press-test.yaml"), atomically: true, encoding: .utf8)
        try TestRoutines.quick.write(to: routines.appendingPathComponent("quick.yaml"), atomically: true, encoding: .utf8)
        return data.path
    }

    func write(_ text: String, to name: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
}

/// The built executables, found beside the test bundle (or in the checkout's .build/debug).
enum Executables {
    static func url(_ name: String) throws -> URL {
        var folders: [URL] = []
        if let main = Bundle.main.executableURL { folders.append(main.deletingLastPathComponent()) }
        folders.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        if let first = CommandLine.arguments.first { folders.append(URL(fileURLWithPath: first).deletingLastPathComponent()) }
        folders.append(repository.appendingPathComponent(".build/debug"))
        for folder in folders {
            let candidate = folder.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw TestFailure("no built '\(name)' beside the tests; build everything first (./dev test does)")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What a finished process printed and how it ended.
struct Finished: CustomStringConvertible {
    var status: Int32
    var signalled: Bool
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\(signalled ? " (signal)" : "")\n--- stdout\n\(stdout.prefix(3000))\n--- stderr\n\(stderr.prefix(3000))" }
}

/// Runs a program to its end (killed after `limit` seconds), output in files so it cannot stall.
func runProcess(_ executable: URL, _ arguments: [String], environment extra: [String: String] = [:], limit: Double = 60) throws -> Finished {
    let scratch = try Scratch("run")
    let out = scratch.url.appendingPathComponent("out"), err = scratch.url.appendingPathComponent("err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment.merge(extra) { $1 }
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    if exited.wait(timeout: .now() + limit) == .timedOut {
        process.terminate()
        exited.wait()
        throw TestFailure("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(Int(limit)) s")
    }
    return Finished(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                    stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "", stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// A datagram socket standing in for systemd's $NOTIFY_SOCKET: it collects what the daemon sends.
final class NotifyListener: Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw TestFailure("cannot bind the notify socket \(path)") }
    }

    deinit { close(fd) }

    /// The next datagram, or nil when none comes within `limit`.
    func receive(within limit: Duration) -> String? {
        let parts = limit.components
        var tv = timeval(tv_sec: Int(parts.seconds), tv_usec: Int(parts.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }

    /// Waits for a message containing `text`; returns every message seen up to it.
    func wait(for text: String, within limit: Duration) -> [String]? {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var seen: [String] = []
        while ContinuousClock.now < deadline {
            guard let message = receive(within: ContinuousClock.now.duration(to: deadline)) else { break }
            seen.append(message)
            if message.contains(text) { return seen }
        }
        return nil
    }
}

/// The real `plantard` binary on a temporary socket with the simulated device.
final class RunningDaemon {
    let scratch: Scratch
    let process = Process()
    let socket: String
    let configPath: String
    let data: String
    let notify: NotifyListener
    let logFile: URL
    let exited = DispatchSemaphore(value: 0)
    /// What the daemon sent to its notify socket before READY=1 (inclusive).
    var startupMessages: [String] = []
    var startedAt = ContinuousClock.now
    var readyAfter: Duration = .zero

    /// Starts plantard and waits for READY=1 (the device at rest, the API listening).
    init(config: String = "backend: simulator\nsimulator-speed: 10\n", environment extra: [String: String] = [:]) throws {
        scratch = try Scratch("d")
        data = try scratch.dataDirectory()
        socket = scratch.path + "/plantard.sock"
        configPath = try scratch.write(config, to: "plantard.yaml")
        notify = try NotifyListener(path: scratch.path + "/notify")
        logFile = scratch.url.appendingPathComponent("log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = try Executables.url("plantard")
        process.arguments = ["--config", configPath, "--socket", socket]
        var environment = ProcessInfo.processInfo.environment
        environment["PLANTAR_DATA_DIR"] = data
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "2000000"
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let logHandle = try FileHandle(forWritingTo: logFile)
        process.standardOutput = logHandle
        process.standardError = logHandle
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        startedAt = .now
        try process.run()
        guard let messages = notify.wait(for: "READY=1", within: .seconds(20)) else {
            process.terminate()
            throw TestFailure("plantard did not send READY=1 within 20 s\n\(log())")
        }
        readyAfter = startedAt.duration(to: .now)
        startupMessages = messages
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
    }

    func log() -> String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    var client: UnixHTTPClient { UnixHTTPClient(socketPath: socket, timeout: .seconds(10)) }

    /// `plantar ARGS --socket SOCKET`.
    func plantar(_ arguments: [String], limit: Double = 60) throws -> Finished {
        try runProcess(try Executables.url("plantar"), arguments + ["--socket", socket],
                       environment: ["PLANTAR_DATA_DIR": data, "HOME": scratch.path, "XDG_CONFIG_HOME": scratch.path + "/config"], limit: limit)
    }

    /// `curl --unix-socket SOCKET ARGS`.
    func curl(_ arguments: [String], limit: Double = 30) throws -> Finished {
        try runProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["--silent", "--show-error", "--unix-socket", socket] + arguments, limit: limit)
    }

    func status() throws -> StatusDocument {
        try client.send("GET", "/v1/status").decode(StatusDocument.self)
    }

    /// Follows the event stream until a status satisfies `condition` (the first status comes at
    /// once, later ones as the daemon publishes them); fails after `limit`.
    @discardableResult
    func waitForStatus(within limit: Duration = .seconds(30), _ what: String, _ condition: @escaping (StatusDocument) -> Bool) throws -> StatusDocument {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var found: StatusDocument?
        let client = UnixHTTPClient(socketPath: socket, timeout: limit)
        try client.follow("/v1/events") { event in
            if event.name == "status", let status = try? JSONDecoder().decode(StatusDocument.self, from: Data(event.data.utf8)), condition(status) {
                found = status
                return false
            }
            return ContinuousClock.now < deadline
        }
        guard let found else { throw TestFailure("no status with \(what) within \(limit)\n\(log())") }
        return found
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to end; its exit status, or nil when it does not end in time.
    func waitForExit(within seconds: Double) -> (Int32, Bool)? {
        guard exited.wait(timeout: .now() + seconds) == .success else { return nil }
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }
}

/// An HTTP answer read off a raw connection.
struct RawHTTPResponse: Equatable, CustomStringConvertible {
    var status: Int
    /// Lower-cased names.
    var headers: [String: String]
    var body: Data
    /// The server closed the connection after the answer.
    var closed: Bool
    var description: String { "\(status) \(headers) \(String(decoding: body.prefix(300), as: UTF8.self))\(closed ? " (closed)" : "")" }
}

/// A TCP connection to the live test server on loopback, for bytes no HTTP client would send
/// (garbage, NULs, dribbles). Every read is bounded by a deadline; nothing sleeps.
///
/// Reads block, so they run on a thread of their own (`offThePool`), never on Swift's
/// cooperative pool: on two cores, tests blocking its threads starved the in-process server
/// under test of the very threads it needed to answer. @unchecked Sendable: one test uses a
/// connection, one call at a time.
final class RawConnection: @unchecked Sendable {
    let fd: Int32
    private var buffer = Data()
    private var eof = false
    private var isClosed = false

    init(port: Int) throws {
        // Hummingbird's live server binds "localhost": IPv4 or IPv6, whichever came first.
        for family in [AF_INET, AF_INET6] {
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            var connected: Int32 = -1
            if family == AF_INET {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            } else {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = in_port_t(UInt16(port).bigEndian)
                address.sin6_addr = in6addr_loopback
                connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            }
            if connected == 0 { self.fd = fd; return }
            Glibc.close(fd)
        }
        throw TestFailure("cannot connect to localhost:\(port)")
    }

    /// A connection to a Unix socket (the API's own).
    init(unixPath: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(unixPath.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, connected == 0 else { throw TestFailure("cannot connect to \(unixPath)") }
    }

    deinit { close() }

    /// Once only: a second close(2) could close a descriptor the process has reused since
    /// (in the test process, one of the server's own: NIO traps on EBADF).
    func close() {
        guard !isClosed, fd >= 0 else { return }
        isClosed = true
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // The server may answer and close before it has read all of an oversized request.
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads what comes within `limit` (or until the peer closes); false when nothing came.
    @discardableResult
    private func fill(until deadline: ContinuousClock.Instant) -> Bool {
        guard !eof else { return false }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return false }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
        guard poll(&poller, 1, ms) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { buffer.append(contentsOf: chunk[0..<n]) } else { eof = true }
        return true
    }

    /// The next complete response (Content-Length bodies), or nil when none is complete by `limit`.
    func readResponse(within limit: Duration) async -> RawHTTPResponse? {
        await offThePool { self.blockingReadResponse(within: limit) }
    }

    /// Everything read up to the `count`-th `marker` (an event stream has no end to wait for),
    /// or nil when it does not come by `limit`.
    func read(upTo marker: String, count: Int = 1, within limit: Duration) async -> String? {
        await offThePool { self.blockingRead(upTo: marker, count: count, within: limit) }
    }

    /// Whether the server closes the connection within `limit` (what it sends meanwhile is kept).
    func waitForClose(within limit: Duration) async -> Bool {
        await offThePool { self.blockingWaitForClose(within: limit) }
    }

    private func blockingReadResponse(within limit: Duration) -> RawHTTPResponse? {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while true {
            if let end = buffer.range(of: Data("\r\n\r\n".utf8)) {
                let head = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
                let lines = head.components(separatedBy: "\r\n")
                let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                if buffer.distance(from: end.upperBound, to: buffer.endIndex) >= length {
                    let body = buffer[end.upperBound..<buffer.index(end.upperBound, offsetBy: length)]
                    let rest = buffer[buffer.index(end.upperBound, offsetBy: length)...]
                    var closed = eof && rest.isEmpty
                    if !closed && rest.isEmpty && headers["connection"]?.lowercased() == "close" {
                        closed = blockingWaitForClose(within: .seconds(5))
                    }
                    let response = RawHTTPResponse(status: status, headers: headers, body: Data(body), closed: closed)
                    buffer = Data(rest)
                    return response
                }
            }
            if eof { return nil }
            if !fill(until: deadline) && ContinuousClock.now >= deadline { return nil }
        }
    }

    private func blockingRead(upTo marker: String, count: Int, within limit: Duration) -> String? {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while true {
            let text = String(decoding: buffer, as: UTF8.self)
            if text.components(separatedBy: marker).count > count { return text }
            if eof || (!fill(until: deadline) && ContinuousClock.now >= deadline) { return nil }
        }
    }

    private func blockingWaitForClose(within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while !eof && ContinuousClock.now < deadline { fill(until: deadline) }
        return eof
    }
}

/// Runs blocking work on a thread of its own and awaits it, leaving Swift's cooperative pool
/// free for the code under test in the same process.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}
