import Foundation
import PlantarConfig
import PlantarCore
import Testing

/// The checkout's top folder (this file is Tests/PlantarCoreTests/Support.swift).
let repositoryDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The shipped foot map, back-pain routine and device profiles, loaded as `plantar` does.
struct Fixtures {
    let map: FootMap
    let backPain: Routine
    let reference: DeviceProfile
    let zoned: DeviceProfile

    init() throws {
        func text(_ relative: String) throws -> String {
            try String(contentsOf: repositoryDirectory.appendingPathComponent("Config/" + relative), encoding: .utf8)
        }
        map = try FootMapLoader.parse(try text("footmap.yaml"), file: "footmap.yaml")
        backPain = try RoutineLoader.parse(try text("routines/back-pain.yaml"), file: "back-pain.yaml", map: map).0
        reference = try DeviceProfileLoader.parse(try text("devices/reference.yaml"), file: "reference.yaml")
        zoned = try DeviceProfileLoader.parse(try text("devices/zoned.yaml"), file: "zoned.yaml")
    }

    func device(_ name: String) -> DeviceProfile { name == "zoned" ? zoned : reference }

    func compile(_ routine: Routine? = nil, on device: String,
                 _ options: CompileOptions = CompileOptions()) throws(DiagnosticsError) -> Timeline {
        try Compiler.compile(routine ?? backPain, map: map, device: self.device(device), options: options)
    }

    /// Compiles, expecting failure; returns the errors.
    func failures(_ routine: Routine, on device: String, _ options: CompileOptions = CompileOptions(),
                  sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Diagnostic] {
        do {
            let timeline = try compile(routine, on: device, options)
            Issue.record("expected compilation to fail, got \(timeline.entries.count) commands", sourceLocation: sourceLocation)
            return []
        } catch {
            return error.diagnostics
        }
    }
}

/// A one-step routine on the right foot, for compiler edge cases.
func oneStep(_ step: RoutineStep, feet: FeetSelection = .right) -> Routine {
    Routine(name: "probe", title: "Probe", feet: feet, steps: [step])
}

extension Timeline {
    /// The entries for one foot only, as a timeline of their own.
    func only(_ foot: Foot) -> Timeline {
        var copy = self
        copy.entries = entries.filter { $0.foot == foot }
        copy.steps = steps.filter { $0.foot == foot }
        return copy
    }
}
