import Foundation
import Testing

/// `plantar simulate` and `plantar run` as a routine author and a newcomer type them.
@Suite("plantar simulate and run end to end", .timeLimit(.minutes(5)))
struct SimulateCommandTests {
    @Test func simulateSwitchAtTwoMinutesStopsAndLatches() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("trace.csv"), svg = folder.appendingPathComponent("trace.svg")
        let run = try Plantar.run(["simulate", "back-pain", "--event", "switch@2m", "--json", "--trace", csv.path, "--svg", svg.path])
        #expect(run.status == 0 || run.status == 2, "\(run)")
        withKnownIssue("issue 10: the oracle finds caps broken by place (zone borders, the map's overlapping sole) and the web-1-2 dose until the governor's cap field lands") { #expect(run.status == 0, "\(run)") }
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect((report["finalState"] as? String)?.hasPrefix("stopped") == true, "\(run)")
        let interventions = report["interventions"] as! [[String: Any]]
        let stop = try #require(interventions.first { $0["kind"] as? String == "switch-stop" })
        #expect(abs((stop["timeSeconds"] as! Double) - 120) < 0.06)
        withKnownIssue("issue 10: the oracle finds caps broken by place (zone borders, the map's overlapping sole) and the web-1-2 dose until the governor's cap field lands") { #expect((report["violations"] as! [Any]).isEmpty) }

        // The trace: header first, then pressure released from 2:00 on.
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "time_s,foot,u_mm,v_mm,setpoint_kpa,measured_kpa,state,step,zone")
        let late = rows.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .filter { Double($0[0])! >= 120.6 }
        #expect(!late.isEmpty)
        #expect(late.allSatisfy { Double($0[4])! == 0 && (Double($0[5]) ?? 0) < 1 && $0[6] == "stopped" })
        #expect(try String(contentsOf: svg, encoding: .utf8).hasPrefix("<svg") || (try String(contentsOf: svg, encoding: .utf8)).contains("<svg"))
    }

    @Test func simulateRejectsABadEventWithOneLine() throws {
        let run = try Plantar.run(["simulate", "back-pain", "--event", "sneeze@2m"])
        #expect(run.status == 1, "\(run)")
        #expect(run.stderrLines.count == 1, "\(run)")
        #expect(run.stderr.contains("unknown kind 'sneeze'"))
        #expect(run.stdout.isEmpty)
    }

    @Test func simulateIsDeterministic() throws {
        let a = try Plantar.run(["simulate", "back-pain", "--event", "pullaway@3m", "--event", "return@3m5s", "--noise", "--seed", "7", "--json"])
        let b = try Plantar.run(["simulate", "back-pain", "--event", "pullaway@3m", "--event", "return@3m5s", "--noise", "--seed", "7", "--json"])
        #expect(a.status == 0 || a.status == 2, "\(a)")
        withKnownIssue("issue 10: the oracle finds caps broken by place (zone borders, the map's overlapping sole) and the web-1-2 dose until the governor's cap field lands") { #expect(a.status == 0, "\(a)") }
        #expect(a.stdout == b.stdout)
        #expect(a.stdout.contains("ease-off"))
    }

    @Test func runWithoutTheSimulatorSaysWhatToDo() throws {
        let run = try Plantar.run(["run", "back-pain"])
        #expect(run.status != 0, "\(run)")
        #expect(run.stderrLines.count == 1, "\(run)")
        #expect(run.stderr.contains("--simulator"))
    }

    @Test func runOnTheSimulatorFinishes() throws {
        let run = try Plantar.run(["run", "back-pain", "--simulator", "--speed", "400", "--feet", "right"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("Session finished. The device is at rest."), "\(run)")
    }
}
