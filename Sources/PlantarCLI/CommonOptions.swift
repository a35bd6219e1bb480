import ArgumentParser
import Foundation
import PlantarConfig
import PlantarCore
import PlantarSession

/// The choices a person makes for one run, shared by plan, simulate and run.
struct RunChoices: ParsableArguments {
    @Option(name: .long, help: "Device profile: a name (reference, zoned) or a file.")
    var device: String = "reference"

    @Option(name: .long, help: "Where the back hurts: cervical, thoracic, lumbar or sacral.")
    var focus: String?

    @Option(name: .long, help: "1 (gentlest) to 5 (firmest), always within the pressure caps.")
    var intensity: Int?

    @Option(name: .long, help: "Which feet: left, right or both.")
    var feet: FeetSelection?

    @Option(name: .customLong("foot-length"), help: "Foot length heel to longest toe, in mm.")
    var footLength: Double?

    @Option(name: .customLong("shoe-size"), help: "EU shoe size, instead of --foot-length.")
    var shoeSize: Double?

    @Option(name: .customLong("param"), help: "Any other routine parameter, as NAME=VALUE.")
    var extraParameters: [String] = []

    @Option(name: .long, help: "Personal sensitivity, 0.5 (more sensitive: lower caps) to 1.0.")
    var sensitivity: Double = 1.0

    @Flag(name: .customLong("reduced-sensation"), help: "Lower caps for reduced sensation (e.g. diabetic neuropathy).")
    var reducedSensation = false

    func validate() throws {
        if footLength != nil && shoeSize != nil {
            throw ValidationError("give either --foot-length or --shoe-size, not both")
        }
        if !(0.5...1.0).contains(sensitivity) {
            throw ValidationError("--sensitivity must be from 0.5 to 1.0, got \(sensitivity)")
        }
        for p in extraParameters where !p.contains("=") {
            throw ValidationError("--param needs NAME=VALUE, got '\(p)'")
        }
    }

    func compileOptions() -> CompileOptions {
        var parameters: [String: String] = [:]
        for p in extraParameters {
            let parts = p.split(separator: "=", maxSplits: 1).map(String.init)
            parameters[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        if let focus { parameters["focus"] = focus }
        if let intensity { parameters["intensity"] = String(intensity) }
        let size = shoeSize.map(FootSize.euShoeSize) ?? footLength.map(FootSize.init(lengthMM:)) ?? .standard
        let factor = sensitivity * (reducedSensation ? PressureCaps.reducedSensationFactor : 1)
        return CompileOptions(parameters: parameters, feet: feet, footSize: size, caps: PressureCaps.standard.scaled(by: factor))
    }

    /// The governor's settings for this person on this device, with the cap field of this
    /// person's foot on it (from the map, never from the timeline).
    func governorSettings(for device: DeviceProfile, map: FootMap) -> GovernorSettings {
        var settings = GovernorSettings.standard(for: device, map: map, footSize: compileOptions().footSize)
        settings.sensitivityFactor = sensitivity
        settings.reducedSensation = reducedSensation
        return settings
    }
}

extension FeetSelection: ExpressibleByArgument {}

/// A failure the person can act on: printed as one line (or a list of diagnostics), no trace.
struct UserFacingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Loads the program and device named on the command line and compiles them.
struct Workbench {
    var library = ConfigLibrary.standard()

    func compile(_ program: String, _ choices: RunChoices) throws -> (Routine, DeviceProfile, Timeline, FootMap) {
        let map = try library.loadFootMap()
        let (routine, warnings) = try library.loadRoutine(program, map: map)
        warnings.forEach { printError($0.description) }
        let device = try library.loadDevice(choices.device)
        let timeline = try Compiler.compile(routine, map: map, device: device, options: choices.compileOptions())
        return (routine, device, timeline, map)
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Runs a command body, turning expected failures into messages and exit codes.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as LoadError {
        printError(error.description)
        throw ExitCode(1)
    } catch let error as DiagnosticsError {
        printError(error.description)
        throw ExitCode(1)
    } catch let error as UserFacingError {
        printError("error: \(error.description)")
        throw ExitCode(1)
    }
}
