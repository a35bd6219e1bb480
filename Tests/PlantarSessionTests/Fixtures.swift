import Foundation
import PlantarConfig
import PlantarCore
import PlantarOracle
import PlantarSession
import PlantarSimulator

/// The shipped files, loaded once for the session tests.
enum Fixtures {
    static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config").path

    static func text(_ relative: String) -> String {
        (try? String(contentsOfFile: config + "/" + relative, encoding: .utf8)) ?? ""
    }

    static let map: FootMap = try! FootMapLoader.parse(text("footmap.yaml"), file: "footmap.yaml")
    static let backPain: Routine = try! RoutineLoader.parse(text("routines/back-pain.yaml"), file: "back-pain.yaml", map: map).0
    static let reference: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/reference.yaml"), file: "reference.yaml")
    static let zoned: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/zoned.yaml"), file: "zoned.yaml")

    static func timeline(_ device: DeviceProfile = reference, _ parameters: [String: String] = [:],
                         routine: Routine = backPain) -> Timeline {
        try! Compiler.compile(routine, map: map, device: device, options: CompileOptions(parameters: parameters))
    }

    /// Runs a session in virtual time with scripted events; returns the trace and the driver.
    static func simulate(_ device: DeviceProfile = reference, events: [String] = [], timeline: Timeline? = nil,
                         settings: GovernorSettings? = nil) async -> (SessionTrace, SimulatedDriver, SessionReport) {
        let script = events.map { try! ScriptedEvent.parse($0) }
        let driver = SimulatedDriver(profile: device, script: script, recordsDeviceLog: true)
        let settings = settings ?? GovernorSettings.standard(for: device, map: map)
        let timeline = timeline ?? Self.timeline(device)
        let runner = SessionRunner(timeline: timeline, driver: driver, clock: VirtualClock(), settings: settings)
        let trace = await runner.run()
        // The verdict is the independent oracle's, on the device's own log.
        let oracle = Oracle(map: map, profile: device, footLengthMM: FootSize.standard.lengthMM,
                            settings: SafetyRun.oracleSettings(settings), routine: SafetyRun.routineCommands(timeline))
        let report = SessionReport(trace: trace, violations: oracle.check(driver.deviceLog), sampleInterval: .milliseconds(100))
        return (trace, driver, report)
    }
}
