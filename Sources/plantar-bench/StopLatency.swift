import ArgumentParser
import Foundation
import PlantarConfig
import PlantarCore
import PlantarSession
import PlantarSimulator
import Synchronization

/// Stop latency on the in-process simulated device, in real time.
///
/// A dedicated thread stands in for the switch input's reader: it sleeps until the moment the
/// switch "closes" (a deadline on CLOCK_MONOTONIC), then hands the press to the device, which
/// releases everything before returning. The latency is from the deadline to the release
/// applied, so it includes the thread's own wake-up latency, while a session runs on the
/// cooperative pool and another thread loads the CPU. The same thread also measures plain
/// wake-ups (deadline to running, nothing else), interleaved, as the machine's own floor;
/// `cyclictest` runs beside it when installed.
struct StopLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop-latency",
        abstract: "Switch-to-release latency under load, beside the machine's wake-up latency.")

    @Option(help: "Number of stops (each one ends a fresh session).") var stops = 300
    @Flag(help: "Do not start the CPU-loading thread.") var noLoad = false

    func run() async throws {
        let library = ConfigLibrary.standard()
        let map = try library.loadFootMap()
        let (routine, _) = try library.loadRoutine("back-pain", map: map)
        let device = try library.loadDevice("reference")
        let timeline = try Compiler.compile(routine, map: map, device: device)

        let stopLoad = Atomic<Bool>(false)
        if !noLoad {
            // The load: compiling the program over and over, on its own thread.
            Thread.detachNewThread {
                while !stopLoad.load(ordering: .relaxed) {
                    _ = try? Compiler.compile(routine, map: map, device: device)
                }
            }
        }
        let cyclictest = CyclicTest.start(loops: stops * 60)

        var stopLatencies: [Double] = []
        var wakeLatencies: [Double] = []
        for i in 0..<stops {
            let driver = SimulatedDriver(profile: device)
            var options = RunnerOptions()
            options.sampleInterval = .zero
            options.settleAfterEnd = .zero
            let runner = SessionRunner(timeline: timeline, driver: driver, clock: ContinuousClock(),
                                       settings: GovernorSettings.standard(for: device, map: map), options: options)
            async let trace = runner.run()
            let delay = 30 + (i * 7919) % 50   // ms into the session, spread over 30–79 ms
            let (wake, stop) = await ReflexThread.measure(afterMilliseconds: delay) { driver.press(.switchPress) }
            wakeLatencies.append(wake)
            stopLatencies.append(stop)
            let result = await trace
            guard result.finalState.hasPrefix("stopped") else {
                throw ValidationError("session \(i) did not stop: \(result.finalState)")
            }
        }
        stopLoad.store(true, ordering: .relaxed)
        let machine = cyclictest?.finish()

        print("load: \(noLoad ? "none" : "one thread compiling back-pain in a loop") + the session loop")
        print("stop latency (switch deadline -> release applied): \(Summary(stopLatencies).text("µs", scale: 1e6, decimals: 0))")
        print("wake-up latency, same thread, same run:          \(Summary(wakeLatencies).text("µs", scale: 1e6, decimals: 0))")
        if let machine { print("cyclictest (1 ms interval, normal priority):     \(machine)") }
        else { print("cyclictest: not installed (apt-get install rt-tests) - in-benchmark wake-ups only") }
        let ratio = Summary(stopLatencies).p99 / max(Summary(wakeLatencies).p99, 1e-9)
        print("stop p99 / wake-up p99 = \(fixed(ratio, 2)) (target <= 2)")
    }
}

/// One pthread that sleeps to absolute deadlines and measures how late it wakes.
enum ReflexThread {
    /// Sleeps to a deadline and notes the lateness (wake-up); then sleeps to a second deadline
    /// and runs `press`, noting deadline-to-return (stop). Seconds.
    static func measure(afterMilliseconds ms: Int, press: @escaping @Sendable () -> Void) async -> (Double, Double) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let wake = sleepAndMeasure(nanoseconds: Int64(ms / 2) * 1_000_000) {}
                let stop = sleepAndMeasure(nanoseconds: Int64(ms - ms / 2) * 1_000_000, press)
                continuation.resume(returning: (wake, stop))
            }
        }
    }

    static func now() -> timespec {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t
    }

    static func seconds(_ t: timespec) -> Double { Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }

    static func sleepAndMeasure(nanoseconds: Int64, _ work: () -> Void) -> Double {
        var deadline = now()
        let total = Int64(deadline.tv_nsec) + nanoseconds
        deadline.tv_sec += Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nil) == EINTR {}
        work()
        return seconds(now()) - seconds(deadline)
    }
}

/// Debian's cyclictest (rt-tests) in the background, for the machine's own wake-up latency.
final class CyclicTest {
    let process: Process
    let output: Pipe

    static func start(loops: Int) -> CyclicTest? {
        let paths = ["/usr/bin/cyclictest", "/usr/sbin/cyclictest"]
        guard let path = paths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-m", "-q", "-i", "1000", "-l", String(loops), "-h", "20000"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        return CyclicTest(process: process, output: pipe)
    }

    init(process: Process, output: Pipe) {
        self.process = process
        self.output = output
    }

    /// Stops it and summarizes its histogram (one line per microsecond bucket).
    func finish() -> String {
        process.interrupt()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var values: [Double] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let us = Int(fields[0]), let count = Int(fields[1]), count > 0 else { continue }
            values.append(contentsOf: repeatElement(Double(us), count: min(count, 1_000_000)))
        }
        guard !values.isEmpty else { return "no samples" }
        return Summary(values.map { $0 * 1e-6 }).text("µs", scale: 1e6, decimals: 0)
    }
}
