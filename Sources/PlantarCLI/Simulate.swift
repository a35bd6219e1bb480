import ArgumentParser
import Foundation
import PlantarConfig
import PlantarCore
import PlantarOracle
import PlantarSession
import PlantarSimulator

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program on the simulated device in virtual time and report what happened.",
        discussion: """
            Exits 0 when every safety invariant held, 2 when one was violated, 1 on bad input. \
            Events script the person and the hardware: KIND@TIME with KIND one of switch, \
            switch-release, ease, pullaway, return, sensor-fault and TIME like 250s, 4m10s, 1.5s.
            """)

    @Argument(help: "A program name (back-pain) or a routine file.")
    var program: String

    @OptionGroup var choices: RunChoices

    @Option(name: .customLong("event"), help: "A scripted event, KIND@TIME (repeatable).")
    var events: [String] = []

    @Option(name: .long, help: "Seed for sensor noise.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Add sensor noise (reproducible for a given --seed).")
    var noise = false

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    @Option(name: .long, help: "Write the trace as CSV to this file.")
    var trace: String?

    @Option(name: .long, help: "Write a picture of the session (pressure over time, node path over the foot) as SVG.")
    var svg: String?

    @Option(name: .customLong("device-log"),
            help: "Write what the simulated device itself recorded (samples, commands as received, arm and release events) as JSON Lines (docs/safety.md).")
    var deviceLog: String?

    func run() async throws {
        try await reportingFailures {
            var script: [ScriptedEvent] = []
            for text in events {
                do throws(ScriptError) { script.append(try ScriptedEvent.parse(text)) } catch { throw UserFacingError(error.description) }
            }
            let bench = Workbench()
            let (_, device, timeline, map) = try bench.compile(program, choices)
            let settings = choices.governorSettings(for: device, map: map)
            // The safety verdict is the independent oracle's, on the device's own log.
            let run = await SafetyRun.run(timeline: timeline, map: map, device: device,
                                          footLengthMM: choices.compileOptions().footSize.lengthMM, settings: settings,
                                          script: script, seed: seed, noise: noise, sampleInterval: .milliseconds(100))
            let sessionTrace = run.trace
            let report = run.report

            if let trace {
                try write(TraceCSV.render(sessionTrace), to: trace)
            }
            if let deviceLog {
                try write(run.log.jsonLines(), to: deviceLog)
            }
            if let svg {
                let geometry = FootGeometry(map: map, size: choices.compileOptions().footSize, device: device)
                try write(TraceSVG.render(sessionTrace, geometry: geometry, feet: []), to: svg)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(ReportDocument(report, timeline: timeline)), as: UTF8.self))
            } else {
                print("\(timeline.routine) on \(timeline.device) (simulated), " + timeline.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                print(report.text(), terminator: "")
            }
            if !report.violations.isEmpty { throw ExitCode(2) }
        }
    }

    func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw UserFacingError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}

/// `plantar simulate --json`.
struct ReportDocument: Encodable {
    struct Zone: Encodable { var zone: String; var seconds: Double; var peakKPa: Double }
    struct Event: Encodable { var timeSeconds: Double; var kind: String; var foot: String?; var detail: String }
    struct Group: Encodable { var firstSeconds: Double; var lastSeconds: Double; var count: Int; var kind: String; var foot: String?; var detail: String }
    struct Broken: Encodable {
        var rule: String; var timeSeconds: Double; var untilSeconds: Double; var count: Int
        var foot: String?; var channel: String?; var place: String; var value: Double; var limit: Double; var unit: String; var detail: String
    }

    var routine: String
    var device: String
    var parameters: [String: String]
    var durationSeconds: Double
    var finalState: String
    var zones: [Zone]
    var interventions: [Event]
    /// The same, repeated ones coalesced with a count and a time span.
    var interventionGroups: [Group]
    var violations: [String]
    /// The oracle's violations with their fields.
    var safetyViolations: [Broken]

    init(_ r: SessionReport, timeline: Timeline) {
        routine = timeline.routine
        device = timeline.device
        parameters = timeline.parameters
        durationSeconds = r.duration.seconds
        finalState = r.finalState
        zones = r.zones.map { Zone(zone: $0.zone, seconds: $0.seconds, peakKPa: $0.peakKPa) }
        interventions = r.interventions.map { Event(timeSeconds: $0.time.seconds, kind: $0.kind.rawValue, foot: $0.foot?.rawValue, detail: $0.detail) }
        interventionGroups = r.interventionGroups.map {
            Group(firstSeconds: $0.first.seconds, lastSeconds: $0.last.seconds, count: $0.count, kind: $0.kind.rawValue,
                  foot: $0.foot?.rawValue, detail: $0.detail)
        }
        violations = r.violations
        // JSON has no infinity: a non-finite value (a runaway command) is written as the largest double.
        func finite(_ x: Double) -> Double { x.isFinite ? x : (x < 0 ? -Double.greatestFiniteMagnitude : Double.greatestFiniteMagnitude) }
        safetyViolations = r.safetyViolations.map {
            Broken(rule: $0.rule.rawValue, timeSeconds: finite($0.time), untilSeconds: finite($0.until), count: $0.count,
                   foot: $0.foot?.rawValue, channel: $0.channel, place: $0.place, value: finite($0.value), limit: finite($0.limit),
                   unit: $0.unit, detail: $0.detail)
        }
    }
}
