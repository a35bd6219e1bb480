import Foundation
import PlantarConfig
import PlantarCore
import PlantarDrivers
import PlantarSession
import PlantarSimulator
import PlantarWire
import Synchronization

/// The shipped files and a short routine, for the serial link tests.
enum Fixtures {
    static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config").path

    static func text(_ relative: String) -> String {
        (try? String(contentsOfFile: config + "/" + relative, encoding: .utf8)) ?? ""
    }

    static let map: FootMap = try! FootMapLoader.parse(text("footmap.yaml"), file: "footmap.yaml")
    static let serial: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/reference-serial.yaml"),
                                                                      file: "reference-serial.yaml")
    static let zoned: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/zoned.yaml"), file: "zoned.yaml")

    /// About 15 s on the right foot: a roll over the heel, then bites along the sacral reflex,
    /// then the park move home.
    static let shortRoutine = """
        routine: serial-check
        title: A short routine for the serial link tests
        feet: right
        steps:
          - name: Roll the heel
            technique: roll
            zone: heel
            pressure: moderate
            duration: 6s
          - name: Walk the sacral reflex
            technique: thumb-walk
            zone: spine-sacral
            pressure: firm
            bite: 10mm
            duration: 4s
        """

    static let timeline: Timeline = {
        let routine = try! RoutineLoader.parse(shortRoutine, file: "serial-check.yaml", map: map).0
        return try! Compiler.compile(routine, map: map, device: serial)
    }()

    /// A fresh directory for symlinks.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "plantar-serial-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A board emulator on a pty and the serial driver connected to it.
struct Rig {
    let emulator: BoardEmulator
    let driver: SerialDriver
    let logs: LogSink

    /// Starts a board for `board` and connects a driver for `host` to it (through `link`, a
    /// symlink, when given, so a second emulator can take the port over).
    static func start(board: DeviceProfile = Fixtures.serial, host: DeviceProfile = Fixtures.serial,
                      options: BoardEmulatorOptions = BoardEmulatorOptions(), link: String? = nil,
                      driverOptions: SerialDriverOptions = SerialDriverOptions()) async throws -> Rig {
        var options = options
        options.realtimePriority = 60
        let emulator = try BoardEmulator(profile: board, options: options)
        if let link { try emulator.terminal.link(at: link) }
        try emulator.start()
        var driverOptions = driverOptions
        driverOptions.port = link ?? emulator.path
        let logs = LogSink()
        do {
            let driver = try await SerialDriver.connect(profile: host, options: driverOptions, log: logs.log)
            return Rig(emulator: emulator, driver: driver, logs: logs)
        } catch {
            emulator.stop()
            throw error
        }
    }

    func stop() {
        driver.shutdown()
        emulator.stop()
    }
}

/// Driver messages, kept for assertions.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var log: SerialLog { { level, text in self.lines.withLock { $0.append("\(level.rawValue): \(text)") } } }
    var all: [String] { lines.withLock { $0 } }
}

/// Wraps a driver and records every command the governor let through, in order.
final class RecordingDriver: DeviceDriver {
    let inner: any DeviceDriver
    private let commands = Mutex<[(foot: Foot, command: ActuatorCommand)]>([])

    init(_ inner: any DeviceDriver) { self.inner = inner }

    var profile: DeviceProfile { inner.profile }
    var applied: [(foot: Foot, command: ActuatorCommand)] { commands.withLock { $0 } }

    func apply(_ command: ActuatorCommand, foot: Foot, at time: Duration) async throws(DriverError) {
        commands.withLock { $0.append((foot, command)) }
        try await inner.apply(command, foot: foot, at: time)
    }

    func releaseAll(_ reason: ReleaseReason) { inner.releaseAll(reason) }
    func poll(upTo now: Duration) async -> [DeviceEvent] { await inner.poll(upTo: now) }
    func beginSession() { inner.beginSession() }
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(what)" }
}

/// Runs a session in real time through `driver` (ContinuousClock's time, woken by a thread of
/// its own: see `DedicatedClock`); cancelled (the runner releases and ends) and reported when
/// it takes longer than `limit`.
func runSession(_ driver: any DeviceDriver, timeline: Timeline = Fixtures.timeline, within limit: Duration = .seconds(40)) async throws -> SessionTrace {
    var options = RunnerOptions()
    options.settleAfterEnd = .milliseconds(200)
    let runner = SessionRunner(timeline: timeline, driver: driver, clock: DedicatedClock(),
                               settings: GovernorSettings.standard(for: driver.profile, map: Fixtures.map), options: options)
    let trace = await withTaskGroup(of: SessionTrace?.self) { group in
        group.addTask { await runner.run() }
        group.addTask {
            try? await DedicatedClock().sleep(until: .now + limit)
            return nil
        }
        let first = await group.next()!
        group.cancelAll()
        return first
    }
    guard let trace else { throw TimedOut(what: "the session did not end within \(limit)") }
    return trace
}

extension BoardSnapshot {
    /// Whether the board has carried out a pressure setpoint above `kPa`.
    func pressed(above kPa: Double) -> Bool {
        executed.contains { if case .pressure(_, _, let p, _) = $0 { p.value > kPa } else { false } }
    }
}

/// A thread of its own for the serial tests' tasks. These tests run in real time beside the
/// suite's CPU-bound tests, which can keep every thread of the cooperative pool busy for
/// seconds: a session loop starved that long misses its deadlines. With this executor
/// preferred, the session loop and the test body run here whatever the pool is doing (as the
/// driver's reader and the board's loop already do on threads of their own).
final class DedicatedExecutor: TaskExecutor {
    static let shared = DedicatedExecutor()

    private let jobs = Mutex<[UnownedJob]>([])
    private let available = DispatchSemaphore(value: 0)

    private init() {
        Thread.detachNewThread { [self] in
            realtime(priority: 50)
            while true {
                available.wait()
                let job = jobs.withLock { $0.removeFirst() }
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
        available.signal()
    }
}

/// Runs a test body (and every task it starts) on `DedicatedExecutor`.
func onDedicatedThread<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(DedicatedExecutor.shared, operation: body)
}

/// `ContinuousClock`'s time, with sleeps timed by a thread of its own. On Linux a task's sleep
/// is woken through the cooperative pool's timer queue, so while CPU-bound tests keep every
/// pool thread busy a sleeping session loop wakes hundreds of milliseconds late (and its
/// governor rightly faults for missed deadlines). Woken from here, the loop resumes on the
/// executor it prefers (`DedicatedExecutor`) on time.
struct DedicatedClock: Clock {
    typealias Instant = ContinuousClock.Instant
    typealias Duration = Swift.Duration

    var now: Instant { ContinuousClock.now }
    var minimumResolution: Duration { .microseconds(1) }

    func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await SleepTimer.shared.sleep(until: deadline)
    }
}

/// One thread that resumes sleepers at their deadlines.
final class SleepTimer: Sendable {
    static let shared = SleepTimer()

    private struct Sleeper {
        var id: Int
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let sleepers = Mutex<(next: Int, waiting: [Sleeper])>((0, []))
    private let changed = DispatchSemaphore(value: 0)

    private init() {
        Thread.detachNewThread { [self] in
            realtime(priority: 55)
            while true {
                let now = ContinuousClock.now
                let (due, next) = sleepers.withLock { s -> ([Sleeper], ContinuousClock.Instant?) in
                    let due = s.waiting.filter { $0.deadline <= now }
                    s.waiting.removeAll { $0.deadline <= now }
                    return (due, s.waiting.map(\.deadline).min())
                }
                for sleeper in due { sleeper.continuation.resume() }
                if let next {
                    let wait = now.duration(to: next)
                    let nanoseconds = Int(wait.components.seconds) * 1_000_000_000 + Int(wait.components.attoseconds / 1_000_000_000)
                    _ = changed.wait(timeout: .now() + .nanoseconds(max(0, nanoseconds)))
                } else {
                    changed.wait()
                }
            }
        }
    }

    func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = sleepers.withLock { s in defer { s.next += 1 }; return s.next }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = sleepers.withLock { s in
                    if Task.isCancelled { return true }
                    s.waiting.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) } else { changed.signal() }
            }
        } onCancel: {
            let sleeper = sleepers.withLock { s -> Sleeper? in
                guard let index = s.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiting.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}

/// SCHED_FIFO for the calling test thread when permitted (root): on a machine whose every core
/// is busy, a normally scheduled thread can be kept off the CPU for longer than the link's
/// 250 ms timeouts, which the tests would read as a lost link.
func realtime(priority: Int32) {
    var param = sched_param(sched_priority: priority)
    _ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
}
