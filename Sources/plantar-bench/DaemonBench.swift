import ArgumentParser
import Foundation
import PlantarAPI
import PlantarCore
import Synchronization

/// The daemon as a person's machine runs it: the real `plantard` on a Unix socket with the
/// simulated device in real time, measured from outside.
///
/// 1. start-to-READY: spawn to the `READY=1` datagram on a notify socket of our own;
/// 2. idle: CPU time and RSS from /proc over a quiet window, with a systemd-like watchdog set;
/// 3. under load: `clients` threads hammer `GET /v1/status` and `GET /v1/events` while
///    back-pain runs; each round stops the session (`POST /v1/stop`), re-arms and starts again.
///    Stop latency is taken by the client (request sent to answer read, the release happens
///    before the answer) and inside the daemon (request received to release returned, from
///    /metrics); dispatch lateness (scheduled vs applied) comes from the daemon's histogram;
///    a thread of this process sleeping to 1 ms deadlines gives the machine's wake-up latency
///    in the same run.
struct DaemonBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "plantard: start-to-READY, idle CPU and RSS, stop latency and dispatch lateness under 50 clients.")

    @Option(help: "The plantard executable (default: beside plantar-bench).") var plantard: String?
    @Option(help: "Clients hammering status and events.") var clients = 50
    @Option(help: "Stops under load (each ends a fresh back-pain session).") var stops = 40
    @Option(help: "Starts measured for start-to-READY.") var starts = 5
    @Option(help: "Idle window for CPU and RSS (s).") var idleSeconds = 20
    @Option(help: "Run the clients in a separate process at this nice level (0: same priority as plantard and the measuring thread).")
    var floodNice = 0

    func run() async throws {
        let executable = plantard ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("plantard").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("no plantard at \(executable); build it (swift build -c release) or give --plantard")
        }
        print("plantard: \(executable)")

        var readies: [Double] = []
        for _ in 0..<starts {
            let daemon = try BenchDaemon(executable: executable)
            readies.append(daemon.readyAfter.seconds)
            daemon.stop()
        }
        print("start to READY=1: \(Summary(readies).text("ms", scale: 1000, decimals: 1))  (target <= 200 ms)")

        let daemon = try BenchDaemon(executable: executable)
        defer { daemon.stop() }
        let before = try ProcStat(pid: daemon.pid)
        try await Task.sleep(for: .seconds(idleSeconds))
        let after = try ProcStat(pid: daemon.pid)
        let cpu = (after.cpuSeconds - before.cpuSeconds) / after.wall.timeIntervalSince(before.wall)
        print("idle CPU over \(idleSeconds) s (watchdog 10 s as under systemd): \(fixed(cpu * 100, 3))% of a core  (target < 0.1%)")
        print("RSS idle: \(fixed(Double(after.rssKiB) / 1024, 1)) MiB  (target <= 25 MiB)")

        let client = UnixHTTPClient(socketPath: daemon.socket, timeout: .seconds(10))
        let start = StartRequest(program: "back-pain")
        _ = try client.send("POST", "/v1/sessions", body: start)
        // The clients are another process, as they would be on a real machine.
        let flood = Process()
        flood.executableURL = URL(fileURLWithPath: "/usr/bin/nice")
        flood.arguments = ["-n", String(floodNice), CommandLine.arguments[0], "flood", "--socket", daemon.socket, "--clients", String(clients)]
        let floodOutput = Pipe()
        flood.standardOutput = floodOutput
        try flood.run()
        let wakes = WakeSampler()
        wakes.start()
        var clientStops: [Double] = [], laneStops: [Double] = []
        let lane = UnixHTTPClient(socketPath: stopLanePath(forSocket: daemon.socket), timeout: .seconds(10))
        for i in 0..<stops {
            // Let the session run and the flood settle a moment: 200-700 ms into each session.
            try await Task.sleep(for: .milliseconds(200 + (i * 7919) % 500))
            // Every other stop through the stop lane (what plantar stop uses), the rest through the API.
            let throughLane = i % 2 == 1
            let sent = ContinuousClock.now
            let answer = try (throughLane ? lane : client).send("POST", "/v1/stop")
            let took = sent.duration(to: .now).seconds
            if throughLane { laneStops.append(took) } else { clientStops.append(took) }
            guard answer.status == 200 else { throw ValidationError("stop answered \(answer.status)") }
            _ = try client.send("POST", "/v1/rearm")
            let again = try client.send("POST", "/v1/sessions", body: start)
            guard again.status == 201 else { throw ValidationError("restart answered \(again.status): \(String(decoding: again.body, as: UTF8.self))") }
        }
        let rssLoaded = try ProcStat(pid: daemon.pid).rssKiB
        let wakeups = wakes.finish()
        flood.interrupt()
        flood.waitUntilExit()
        let requests = Int(String(decoding: floodOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let metrics = String(decoding: try client.send("GET", "/metrics").body, as: UTF8.self)
        print("load: \(clients) clients in another process at nice \(floodNice) (\(clients / 5) following events, the rest polling status), \(requests) requests during \(stops) stops")
        print("stop latency, client, API  (POST sent -> answer read): \(Summary(clientStops).text("µs", scale: 1e6, decimals: 0))")
        print("stop latency, client, lane (POST sent -> answer read): \(Summary(laneStops).text("µs", scale: 1e6, decimals: 0))")
        print("stop latency, in plantard (request -> released), both: \(Histogram(metrics, "plantar_stop_latency_seconds").text)")
        print("dispatch lateness (scheduled -> applied):        \(Histogram(metrics, "plantar_dispatch_lateness_seconds").text)")
        print("wake-up latency, 1 ms sleeps, this process:      \(Summary(wakeups).text("µs", scale: 1e6, decimals: 0))")
        print("RSS under load: \(fixed(Double(rssLoaded) / 1024, 1)) MiB")
    }
}

/// plantard on a scratch socket, started with a notify socket and a 10 s watchdog as systemd would.
final class BenchDaemon {
    let process = Process()
    let folder: String
    let socket: String
    var readyAfter: Duration = .zero
    var pid: Int32 { process.processIdentifier }

    init(executable: String) throws {
        folder = "/tmp/plantar-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        socket = folder + "/plantard.sock"
        let notify = try DatagramListener(path: folder + "/notify")
        let config = folder + "/plantard.yaml"
        try "backend: simulator\n".write(toFile: config, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--config", config, "--socket", socket, "--log-level", "warning"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "10000000"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        while true {
            guard let message = notify.receive(within: .seconds(10)) else { throw ValidationError("plantard sent no READY=1 within 10 s") }
            if message.contains("READY=1") { break }
        }
        readyAfter = started.duration(to: .now)
        // Keep draining the notify socket so the daemon's non-blocking sends do not pile up.
        Thread.detachNewThread { while notify.receive(within: .seconds(60)) != nil {} }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// CPU time and RSS of a process, from /proc.
struct ProcStat {
    var cpuSeconds: Double
    var rssKiB: Int
    var wall = Date()

    init(pid: Int32) throws {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            throw ValidationError("cannot read /proc/\(pid)")
        }
        // Fields after "(comm) ": state is field 3; utime and stime are 14 and 15 (clock ticks).
        let fields = stat[stat.range(of: ") ")!.upperBound...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        cpuSeconds = (Double(fields[11]) ?? 0) / ticks + (Double(fields[12]) ?? 0) / ticks
        let rssLine = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        rssKiB = Int(rssLine.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}

/// A Prometheus histogram read back from /metrics: interpolated p50 and p99, and the max gauge.
struct Histogram {
    var text: String

    init(_ metrics: String, _ name: String) {
        var buckets: [(Double, Double)] = []
        var count = 0.0
        for line in metrics.split(separator: "\n") {
            if line.hasPrefix("\(name)_bucket{le=\""), let close = line.firstIndex(of: "}") {
                let bound = line[line.index(line.startIndex, offsetBy: name.count + 12)..<line.index(close, offsetBy: -1)]
                let value = Double(line.split(separator: " ").last ?? "") ?? 0
                if let b = Double(bound) { buckets.append((b, value)) }
            } else if line.hasPrefix("\(name)_count ") {
                count = Double(line.split(separator: " ").last ?? "") ?? 0
            }
        }
        let maxLine = metrics.split(separator: "\n").first { $0.hasPrefix(name.replacingOccurrences(of: "_seconds", with: "_max_seconds") + " ") }
        let maximum = maxLine.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        func quantile(_ q: Double) -> Double {
            let rank = q * count
            var lower = 0.0, below = 0.0
            for (bound, cumulative) in buckets {
                if cumulative >= rank {
                    let inBucket = cumulative - below
                    return inBucket > 0 ? lower + (bound - lower) * (rank - below) / inBucket : bound
                }
                lower = bound
                below = cumulative
            }
            return maximum
        }
        text = count == 0 ? "no samples"
            : "p50 ≈\(fixed(quantile(0.5) * 1e6, 0)) µs, p99 ≈\(fixed(quantile(0.99) * 1e6, 0)) µs, max \(fixed(maximum * 1e6, 0)) µs (n=\(Int(count)), from buckets)"
    }
}

/// `plantar-bench flood`: the clients, as a process of their own; prints how many requests
/// they made when interrupted (SIGINT).
struct FloodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flood", abstract: "Hammer plantard's status and events (used by 'daemon').",
                                                    shouldDisplay: false)
    @Option var socket: String
    @Option var clients = 50

    func run() async throws {
        let flood = BenchFlood(socket: socket, clients: clients)
        let interrupted = DispatchSemaphore(value: 0)
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { interrupted.signal() }
        source.resume()
        flood.start()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                interrupted.wait()
                done.resume()
            }
        }
        print(flood.finish())
    }
}

/// Threads hammering status and events.
final class BenchFlood: Sendable {
    let socket: String
    let clients: Int
    let running = Atomic<Bool>(true)
    let requests = Atomic<Int>(0)
    let done = DispatchGroup()
    /// Ends the event followers' blocking reads (an idle daemon sends only keep-alive comments).
    let tokens = Mutex<[StopToken]>([])

    init(socket: String, clients: Int) {
        self.socket = socket
        self.clients = clients
    }

    func start() {
        for i in 0..<clients {
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                let client = UnixHTTPClient(socketPath: socket, timeout: .seconds(10))
                while running.load(ordering: .relaxed) {
                    if i % 5 == 0 {
                        var seen = 0
                        let token = StopToken()
                        tokens.withLock { $0.append(token) }
                        if !running.load(ordering: .relaxed) { token.stop() }
                        try? client.follow("/v1/events", stop: token) { _ in seen += 1; return seen < 20 && self.running.load(ordering: .relaxed) }
                    } else {
                        _ = try? client.send("GET", "/v1/status")
                    }
                    requests.add(1, ordering: .relaxed)
                }
            }
        }
    }

    func finish() -> Int {
        running.store(false, ordering: .relaxed)
        for token in tokens.withLock({ $0 }) { token.stop() }
        done.wait()
        return requests.load(ordering: .relaxed)
    }
}

/// A thread sleeping to 1 ms deadlines on CLOCK_MONOTONIC, noting how late it wakes.
final class WakeSampler: Sendable {
    let running = Atomic<Bool>(true)
    let samples = Mutex<[Double]>([])
    let done = DispatchSemaphore(value: 0)

    func start() {
        Thread.detachNewThread { [self] in
            var local: [Double] = []
            while running.load(ordering: .relaxed) {
                local.append(ReflexThread.sleepAndMeasure(nanoseconds: 1_000_000) {})
            }
            samples.withLock { $0 = local }
            done.signal()
        }
    }

    func finish() -> [Double] {
        running.store(false, ordering: .relaxed)
        done.wait()
        return samples.withLock { $0 }
    }
}

/// A datagram socket for READY=1.
final class DatagramListener: Sendable {
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
        guard fd >= 0, bound == 0 else { throw ValidationError("cannot bind \(path)") }
    }

    deinit { close(fd) }

    func receive(within limit: Duration) -> String? {
        var tv = timeval(tv_sec: Int(limit.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }
}
