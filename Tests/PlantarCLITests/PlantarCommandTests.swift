import Foundation
import Testing

/// `plantar` as the three people of the README type it: the built executable, its stdout,
/// stderr and exit code. A person's mistake exits 1 with a reason, never a stack trace.
@Suite("plantar end to end", .timeLimit(.minutes(5)))
struct PlantarCommandTests {
    // MARK: programs

    @Test func programsListsBackPain() throws {
        let run = try Plantar.run(["programs"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stderr.isEmpty, "\(run)")
        let line = try #require(run.stdoutLines.first { $0.hasPrefix("back-pain ") }, "\(run)")
        #expect(line.contains("built-in"))
        #expect(line.contains("12m18s"))
        #expect(line.hasSuffix("Reflexology for back pain"))
    }

    @Test func programsFindsTheAuthorsOwnRoutines() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-cli-home-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let routines = home.appendingPathComponent("plantar/routines")
        try FileManager.default.createDirectory(at: routines, withIntermediateDirectories: true)
        try """
            routine: evening
            title: Evening calm
            steps:
              - technique: hold
                zone: solar-plexus
                duration: 40s
            """.write(to: routines.appendingPathComponent("evening.yaml"), atomically: true, encoding: .utf8)
        try "routine: [broken\n".write(to: routines.appendingPathComponent("draft.yaml"), atomically: true, encoding: .utf8)

        let run = try Plantar.run(["programs"], environment: ["XDG_CONFIG_HOME": home.path])
        #expect(run.status == 0, "\(run)")
        let names = run.stdoutLines.map { $0.split(separator: " ").first.map(String.init) ?? "" }
        #expect(names == ["back-pain", "draft", "evening"], "\(run)")
        #expect(run.stdoutLines.contains { $0.hasPrefix("evening") && $0.contains("user") && $0.contains("1m20s") && $0.hasSuffix("Evening calm") })
        #expect(run.stdoutLines.contains { $0.hasPrefix("draft") && $0.contains("invalid") && $0.contains("plantar validate") })

        let plan = try Plantar.run(["plan", "evening", "--feet", "left"], environment: ["XDG_CONFIG_HOME": home.path])
        #expect(plan.status == 0, "\(plan)")
        #expect(plan.stdout.hasPrefix("# routine evening on device reference\n"))
    }

    // MARK: validate

    @Test func validateReportsDurationAndSteps() throws {
        let run = try Plantar.run(["validate", "Config/routines/back-pain.yaml"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stderr.isEmpty, "\(run)")
        let lines = run.stdoutLines
        #expect(lines.first?.hasPrefix("Config/routines/back-pain.yaml: ok: 9 steps, 12m18s on both feet as written, ") == true, "\(run)")
        #expect(lines.first?.hasSuffix("on device 'reference' with travel") == true)
        #expect(lines.count == 10)
        #expect(lines.dropFirst().first == "  1. Relax the whole sole: roll on sole, light, 30s")
        #expect(lines.contains("  4. Extra passes where it hurts: thumb-walk on spine-${focus}, firm, 15s x3"))
        #expect(lines.last == "  9. Solar plexus hold: hold on solar-plexus, moderate, 25s")
    }

    @Test func validateAgainstTheZonedDevice() throws {
        let run = try Plantar.run(["validate", "--device", "zoned", "back-pain"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdoutLines.first?.hasSuffix("on device 'zoned' with travel") == true, "\(run)")
    }

    @Test func validateListsEveryErrorOfABrokenFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("broken.yaml")
        try """
            routine: broken
            title: Broken
            steps:
              - technique: thumb-walks
                zone: spine-lumbar
                duration: 20s
              - technique: thumb-walk
                zone: spine-lumbr
                duration: -3s
              - technique: hold
                zone: taichong
                duration: 2m
            """.write(to: file, atomically: true, encoding: .utf8)

        let run = try Plantar.run(["validate", file.path])
        expectNoCrash(run)
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.isEmpty, "\(run)")
        #expect(run.stderrLines == [
            "\(file.path):4:16: error: unknown technique 'thumb-walks'; did you mean 'thumb-walk'? expected one of thumb-walk, walk-back, finger-walk, cross-walk, press-hold, circle-rub, roll, hold",
            "\(file.path):9:15: error: step 2 duration -3s is negative",
            "\(file.path):12:15: error: step 3 'hold': a hold of 2m exceeds the hold limit of 1m at one point",
            "1 of 1 file failed validation",
        ], "\(run)")
    }

    @Test func validateGoesOnPastABadFileAndCountsFailures() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let unreachable = folder.appendingPathComponent("top.yaml")
        try """
            routine: top
            title: Top of the foot
            steps:
              - name: Taichong
                technique: press-hold
                zone: taichong
                hold: 30s
            """.write(to: unreachable, atomically: true, encoding: .utf8)
        let missing = folder.appendingPathComponent("missing.yaml").path

        let run = try Plantar.run(["validate", "Config/routines/back-pain.yaml", unreachable.path, missing])
        expectNoCrash(run)
        #expect(run.status == 1, "\(run)")
        #expect(run.stdoutLines.first?.hasPrefix("Config/routines/back-pain.yaml: ok: ") == true, "\(run)")
        #expect(run.stderrLines == [
            "\(unreachable.path):6:11: error: step 1 'Taichong': device 'reference' cannot reach zone 'taichong' on the dorsum (it reaches lateral-edge, medial-edge, sole)",
            "\(missing): no such file",
            "2 of 3 files failed validation",
        ], "\(run)")
    }

    // MARK: plan

    @Test(arguments: ["reference", "zoned"])
    func planPrintsTheCheckedInTimeline(_ device: String) throws {
        let run = try Plantar.run(["plan", "back-pain", "--device", device])
        #expect(run.status == 0, "\(run)")
        #expect(run.stderr.isEmpty, "\(run)")
        let golden = repositoryDirectory.appendingPathComponent("Tests/PlantarCoreTests/Golden/back-pain.\(device).txt")
        if ProcessInfo.processInfo.environment["PLANTAR_UPDATE_GOLDEN"] != "1" {
            #expect(run.stdout == (try String(contentsOf: golden, encoding: .utf8)), "plantar plan differs from \(golden.lastPathComponent)")
        }
        #expect(run.stdout.hasPrefix("# routine back-pain on device \(device)\n# parameters feet=both focus=lumbar foot-length=265mm intensity=3\n"))
        let moves = run.stdoutLines.filter { $0.contains(" move ") }
        #expect(device == "zoned" ? moves.isEmpty : !moves.isEmpty)
    }

    @Test func planFocusLumbarWorksTheLumbarSegmentMore() throws {
        func lumbarLines(_ focus: String, _ foot: String) throws -> Int {
            let run = try Plantar.run(["plan", "back-pain", "--focus", focus])
            #expect(run.status == 0, "\(run)")
            return run.stdoutLines.filter { $0.contains(" \(foot) ") && $0.contains("pressure") && $0.hasSuffix("[spine-lumbar]") }.count
        }
        for foot in ["right", "left"] {
            #expect(try lumbarLines("lumbar", foot) > lumbarLines("cervical", foot), "\(foot) foot")
        }
    }

    @Test func planJSONNamesStepFootAndZoneForEveryCommand() throws {
        let run = try Plantar.run(["plan", "back-pain", "--json", "--intensity", "4", "--shoe-size", "40"])
        #expect(run.status == 0, "\(run)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(document["routine"] as? String == "back-pain")
        #expect(document["device"] as? String == "reference")
        let parameters = try #require(document["parameters"] as? [String: String])
        #expect(parameters == ["feet": "both", "focus": "lumbar", "intensity": "4", "foot-length": "252mm"])
        #expect(document["statedDurationSeconds"] as? Double == 738)
        #expect((document["durationSeconds"] as? Double ?? 0) > 738)
        let commands = try #require(document["commands"] as? [[String: Any]])
        #expect(commands.count > 1000)
        var feetSeen = Set<String>()
        for command in commands {
            let step = try #require(command["step"] as? Int, "\(command)")
            let foot = try #require(command["foot"] as? String, "\(command)")
            let zone = try #require(command["zone"] as? String, "\(command)")
            let kind = try #require(command["kind"] as? String, "\(command)")
            #expect((0...9).contains(step))
            #expect(["left", "right"].contains(foot))
            #expect(!zone.isEmpty)
            #expect(["move", "pressure", "release"].contains(kind))
            #expect(command["stepName"] is String && command["pass"] is Int && command["offsetSeconds"] is Double)
            feetSeen.insert(foot)
        }
        #expect(feetSeen == ["left", "right"])
        #expect((commands.first?["foot"] as? String) == "right")
    }

    @Test func shoeSizeAndFootLengthAgree() throws {
        let bySize = try Plantar.run(["plan", "back-pain", "--shoe-size", "42"])
        let byLength = try Plantar.run(["plan", "back-pain", "--foot-length", "265"])
        #expect(bySize.status == 0 && byLength.status == 0)
        #expect(bySize.stdout == byLength.stdout)
    }

    @Test func planOneFootOnly() throws {
        let run = try Plantar.run(["plan", "back-pain", "--feet", "left", "--device", "zoned"])
        #expect(run.status == 0, "\(run)")
        let commands = run.stdoutLines.filter { !$0.hasPrefix("#") }
        #expect(!commands.isEmpty && commands.allSatisfy { $0.contains(" left ") })
    }

    // MARK: mistakes: one line, exit 1

    @Test(arguments: [
        (["plan", "back-pain", "--focus", "nowhere"], "error: parameter focus=nowhere: must be one of cervical, thoracic, lumbar, sacral"),
        (["plan", "back-pain", "--intensity", "9"], "error: parameter intensity=9: must be a whole number from 1 to 5"),
        (["plan", "nosuch"], "no program named 'nosuch'; known programs: back-pain (see 'plantar programs')"),
        (["plan", "back-pian"], "no program named 'back-pian'; did you mean 'back-pain'? known programs: back-pain (see 'plantar programs')"),
        (["plan", "back-pain", "--device", "gantry"], "no device profile named 'gantry'; known profiles: reference, reference-serial, zoned"),
        (["plan", "no/such/file.yaml"], "no/such/file.yaml: no such file"),
        (["plan", "back-pain", "--foot-length", "2650"], "error: foot length 2650 mm is outside 180–330 mm"),
    ])
    func aMistakeIsOneLineAndExitOne(_ arguments: [String], _ reason: String) throws {
        let run = try Plantar.run(arguments)
        expectNoCrash(run)
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.isEmpty, "\(run)")
        #expect(run.stderrLines == [Substring(reason)], "\(run)")
    }

    @Test func aFootTooLongForTheDeviceNamesTheStepAndZone() throws {
        let run = try Plantar.run(["plan", "back-pain", "--foot-length", "330", "--device", "zoned"])
        expectNoCrash(run)
        #expect(run.status == 1, "\(run)")
        #expect(!run.stderrLines.isEmpty)
        for line in run.stderrLines {
            #expect(line.contains("/Config/routines/back-pain.yaml:") && line.contains(": error: step "), "\(line)")
        }
        #expect(run.stderr.contains("no node of device 'zoned' covers zone 'brain'"), "\(run)")
    }

    @Test func conflictingOptionsAreAUsageError() throws {
        let run = try Plantar.run(["plan", "back-pain", "--foot-length", "250", "--shoe-size", "40"])
        expectNoCrash(run)
        #expect(run.status == 64, "\(run)")
        #expect(run.stderrLines.first == "Error: give either --foot-length or --shoe-size, not both", "\(run)")
    }
}
