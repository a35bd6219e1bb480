import ArgumentParser
import PlantarConfig
import PlantarCore

struct Programs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the programs Plantar can find: built-in ones and your own.",
        discussion: "Your own routines go in ~/.config/plantar/routines (or $XDG_CONFIG_HOME/plantar/routines).")

    func run() async throws {
        try await reportingFailures {
            let library = ConfigLibrary.standard()
            let map = try library.loadFootMap()
            let programs = library.programs()
            if programs.isEmpty {
                throw UserFacingError("no programs found in " + library.dataDirectories.map { $0 + "/routines" }.joined(separator: ", "))
            }
            let width = programs.map(\.name.count).max() ?? 0
            for program in programs {
                let name = program.name.padding(toLength: width, withPad: " ", startingAt: 0)
                do {
                    let (routine, _) = try library.loadRoutine(program.path, map: map)
                    print("\(name)  \(program.origin.padding(toLength: 8, withPad: " ", startingAt: 0))  \(DurationSyntax.format(routine.statedDuration()).padding(toLength: 7, withPad: " ", startingAt: 0))  \(routine.title)")
                } catch {
                    print("\(name)  \(program.origin.padding(toLength: 8, withPad: " ", startingAt: 0))  invalid  (run 'plantar validate \(program.path)')")
                }
            }
        }
    }
}
