import ArgumentParser

/// `plantar`: the command-line front of Plantar. Each subcommand parses its arguments and
/// calls into the libraries; the work itself lives there.
public struct PlantarCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "plantar",
        abstract: "Run and check foot-massage programs.",
        discussion: """
            Programs are routine files (YAML) naming zones of the foot, techniques and pressure \
            levels; they compile against a device profile to timed actuator commands.
            """,
        version: "0.1.0",
        subcommands: [Programs.self, Validate.self, Plan.self, Simulate.self, Run.self, SafeState.self,
                      Status.self, Ease.self, Stop.self, Rearm.self, Pause.self, Resume.self]
    )

    public init() {}
}
