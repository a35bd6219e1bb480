import ArgumentParser
import Foundation
import PlantarConfig
import PlantarCore
import PlantarSimulator

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a program for a device and print its timeline of actuator commands.")

    @Argument(help: "A program name (back-pain) or a routine file.")
    var program: String

    @OptionGroup var choices: RunChoices

    @Flag(name: .long, help: "Print JSON: every command with its step, foot and zone.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let (_, device, timeline, map) = try Workbench().compile(program, choices)
            // What the governor would change, on stderr so the timeline stays clean on stdout.
            for finding in await Preflight.run(timeline, device: device, settings: choices.governorSettings(for: device, map: map)) {
                printError(finding.description)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let data = try encoder.encode(TimelineDocument(timeline))
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(timeline.renderText(), terminator: "")
            }
        }
    }
}

/// The JSON form of a timeline, for machines (`plantar plan --json`).
struct TimelineDocument: Encodable {
    struct Command: Encodable {
        var offsetSeconds: Double
        var foot: String
        var kind: String
        var channel: String?
        var u: Double?
        var v: Double?
        var speed: Double?
        var kPa: Double?
        var ramp: Double?
        var step: Int
        var stepName: String
        var pass: Int
        var zone: String
    }

    var routine: String
    var device: String
    var parameters: [String: String]
    var durationSeconds: Double
    var statedDurationSeconds: Double
    var commands: [Command]

    init(_ t: Timeline) {
        routine = t.routine
        device = t.device
        parameters = t.parameters
        durationSeconds = t.duration.seconds
        statedDurationSeconds = t.statedDuration.seconds
        commands = t.entries.map { e in
            var c = Command(offsetSeconds: e.offset.seconds, foot: e.foot.rawValue, kind: "", step: e.step.index,
                            stepName: e.step.name, pass: e.step.pass, zone: e.zone)
            switch e.command {
            case .move(let p, let speed):
                c.kind = "move"; c.u = p.u; c.v = p.v; c.speed = speed
            case .pressure(let channel, let kPa, let ramp):
                c.kind = "pressure"; c.channel = channel; c.kPa = kPa; c.ramp = ramp
            case .release(let channel):
                c.kind = "release"; c.channel = channel
            }
            return c
        }
    }
}
