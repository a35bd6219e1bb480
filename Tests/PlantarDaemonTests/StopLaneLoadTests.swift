import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlantarAPI
import Synchronization
import Testing

/// The real plantard's stop lane under slow, idle and flooding clients at once, while another
/// client's stops are timed from connect() to the end of the answer.
@Suite("stop lane under hostile clients", .serialized, .timeLimit(.minutes(3)))
struct StopLaneLoadTests {
    /// A blocking Unix stream socket connected to `path`, or -1.
    static func connect(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 { close(fd); return -1 }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the lane closes the connection (bounded by a 5 s receive timeout).
    static func readAll(_ fd: Int32) -> String {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
            if n <= 0 { break }
            answer += chunk[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// Hostile clients on threads of their own until `running` is cleared. They pace
    /// themselves with sleeps: that is what a slow client does, not a test waiting.
    final class Adversaries: Sendable {
        let lane: String
        let running = Atomic<Bool>(true)
        let connections = Atomic<Int>(0)
        let done = DispatchGroup()

        init(lane: String) { self.lane = lane }

        func start(drippers: Int, idle: Int, flooders: Int) {
            for _ in 0..<drippers { spawn(drip) }
            spawn { self.holdIdle(idle) }
            for i in 0..<flooders { spawn { self.flood(garbage: i % 2 == 0) } }
        }

        /// The adversaries' nice value: 19 in the suite, where they share two cores with the
        /// serial tests (a board and a host in real time); `PLANTAR_LANE_NICE=0` for the
        /// documented run, where they compete with the daemon on equal terms.
        static let nice = Int32(ProcessInfo.processInfo.environment["PLANTAR_LANE_NICE"] ?? "") ?? 19

        func spawn(_ body: @escaping @Sendable () -> Void) {
            done.enter()
            Thread.detachNewThread { [done] in
                // Per thread on Linux; 0 names the calling one.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Adversaries.nice)
                body()
                done.leave()
            }
        }

        func stop() {
            running.store(false, ordering: .sequentiallyConsistent)
            done.wait()
        }

        /// One byte of a stop request every 200 ms, reconnecting whenever the lane cuts it off.
        @Sendable func drip() {
            let request = Array("POST /v1/stop HTTP/1.1\r\n\r\n".utf8)
            while running.load(ordering: .relaxed) {
                let fd = StopLaneLoadTests.connect(lane)
                guard fd >= 0 else { usleep(10_000); continue }
                connections.add(1, ordering: .relaxed)
                for byte in request.prefix(10) where running.load(ordering: .relaxed) {
                    if [byte].withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }) <= 0 { break }
                    usleep(200_000)
                }
                close(fd)
            }
        }

        /// `count` connections that never say anything, replaced as the lane drops them.
        func holdIdle(_ count: Int) {
            var open: [Int32] = []
            while running.load(ordering: .relaxed) {
                while open.count < count, running.load(ordering: .relaxed) {
                    let fd = StopLaneLoadTests.connect(lane)
                    guard fd >= 0 else { break }
                    connections.add(1, ordering: .relaxed)
                    open.append(fd)
                }
                // Dropped by the lane (deadline or make room): read returns 0 at once.
                var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                _ = poll(&fds, nfds_t(fds.count), 20)
                for p in fds where p.revents != 0 { close(p.fd); open.removeAll { $0 == p.fd } }
            }
            for fd in open { close(fd) }
        }

        /// Connect, send a wrong request (or nothing) and hang up, as fast as it can.
        func flood(garbage: Bool) {
            while running.load(ordering: .relaxed) {
                let fd = StopLaneLoadTests.connect(lane)
                guard fd >= 0 else { continue }
                connections.add(1, ordering: .relaxed)
                if garbage { StopLaneLoadTests.send(fd, "GET /v1/status HTTP/1.1\r\n\r\n"); _ = StopLaneLoadTests.readAll(fd) }
                close(fd)
            }
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    @Test func aStopIsAnsweredPromptlyWhileOthersDripIdleAndFlood() throws {
        let daemon = try RunningDaemon()
        let lane = stopLanePath(forSocket: daemon.socket)
        let adversaries = Adversaries(lane: lane)
        adversaries.start(drippers: 8, idle: 100, flooders: 2)
        defer { adversaries.stop() }
        // Under way: more connections than the lane keeps at once.
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while adversaries.connections.load(ordering: .relaxed) < 300, ContinuousClock.now < deadline {
            _ = poll(nil, 0, 5)
        }
        #expect(adversaries.connections.load(ordering: .relaxed) >= 300, "the adversaries got going")
        var latencies: [Double] = []
        var failures: [String] = []
        var retried = 0
        // Long enough for the drippers to outlast the lane's deadline a few times over (1 s in
        // the suite, where its flooders share the machine with the serial tests; 30 s in BENCHMARKS.md).
        let seconds = Double(ProcessInfo.processInfo.environment["PLANTAR_LANE_SECONDS"] ?? "") ?? 1
        let atLeast = Int(ProcessInfo.processInfo.environment["PLANTAR_LANE_MIN_STOPS"] ?? "") ?? 200
        let measuring = ContinuousClock.now
        while latencies.count + failures.count < atLeast || measuring.duration(to: .now) < .seconds(seconds) {
            let start = ContinuousClock.now
            var answer = ""
            // As `plantar stop` does: a second try when the lane dropped the connection (a
            // full lane drops its oldest waiter, which may be a client slow to send).
            for attempt in 0..<2 where answer.isEmpty {
                let fd = Self.connect(lane)
                guard fd >= 0 else { failures.append("connect: \(String(cString: strerror(errno)))"); break }
                Self.send(fd, "POST /v1/stop HTTP/1.1\r\nHost: plantard\r\n\r\n")
                answer = Self.readAll(fd)
                close(fd)
                if answer.isEmpty && attempt == 0 { retried += 1 }
            }
            let took = start.duration(to: .now)
            latencies.append(Double(took.components.attoseconds) / 1e15 + Double(took.components.seconds) * 1000)
            if !answer.hasPrefix("HTTP/1.1 200") || !answer.contains(#""action":"stop""#) { failures.append(String(answer.prefix(120))) }
        }
        let sorted = latencies.sorted()
        let p50 = Self.percentile(sorted, 0.5), p99 = Self.percentile(sorted, 0.99), worst = sorted.last ?? .infinity
        let figures = String(format: "stop lane under 8 drippers, 100 idle, 2 flooders: %d stops (%d needed a second try), p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d hostile connections)",
                             sorted.count, retried, p50, p99, worst, adversaries.connections.load(ordering: .relaxed))
        print(figures)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        // p99 is the bound; the single worst of thousands on this shared 2-core machine is
        // the machine's (scheduling) as much as the lane's, so its bound is looser. One slow
        // client used to hold the lane for seconds (a dripper: over 30 s). The bound is the
        // lane's own per-request deadline, 250 ms: in CI the suite's other real-time tests
        // share the two cores (a p99 of 135 ms was seen there; 8.5 ms in the documented run).
        #expect(p99 < 250, "\(figures)")
        #expect(worst < 1000, "\(figures)")
        #expect(try daemon.status().latched)
    }
}
