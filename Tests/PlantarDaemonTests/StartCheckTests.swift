import PlantarAPI
import PlantarConfig
import PlantarCore
import Testing

/// `StartCheck`: what `POST /v1/sessions` decides before anything runs, without a daemon.
@Suite("session start checks")
struct StartCheckTests {
    let library = ConfigLibrary(dataDirectories: [repository.appendingPathComponent("Config").path])
    let map: FootMap
    let profile: DeviceProfile

    init() throws {
        map = try library.loadFootMap()
        profile = try library.loadDevice("reference")
    }

    func check(_ request: StartRequest, config: DaemonConfig = DaemonConfig()) throws(Refusal) -> CheckedStart {
        try StartCheck.check(request, who: "test", map: map, profile: profile, config: config, library: library, clockSpeed: 1)
    }

    @Test func aShippedProgramCompilesAndAPersonMayOnlyLowerTheCaps() throws {
        var config = DaemonConfig()
        config.sensitivity = 0.8
        let started = try check(StartRequest(program: "back-pain", intensity: 2, sensitivity: 1.0), config: config)
        #expect(started.program == "back-pain" && started.timeline.device == "reference")
        #expect(started.timeline.parameters["intensity"] == "2")
        #expect(started.settings.sensitivityFactor == 0.8)
    }

    // The request that brought plantard down with SIGILL.
    @Test func aRoutineWithAHugeDurationIsRefusedWithItsPosition() {
        let routine = "routine: x\ntitle: x\nsteps:\n  - technique: thumb-walk\n    zone: spine\n    duration: 3000000000000h\n"
        #expect(throws: Refusal(422, "invalid-routine", "the routine sent does not check", details: [
            "x (sent by test):6:15: error: step 1 duration 3000000000000h is out of range (0.5s–10m)",
        ])) { try check(StartRequest(program: "x", routine: routine)) }
    }

    /// Each problem names its key, in the message and one per line in `details` (issue 11:
    /// range checks used to carry no details).
    @Test func everyRangeProblemAtOnceEachNamingItsKey() {
        let problems = ["intensity: 9 is out of range (1–5)", "footLengthMM: inf is out of range (180–330)", "feet: 'all' must be left, right or both"]
        #expect(throws: Refusal(422, "invalid-parameters", problems.joined(separator: "; "), details: problems)) {
            try check(StartRequest(program: "back-pain", intensity: 9, feet: "all", footLengthMM: .infinity))
        }
    }

    /// A routine sent as text runs under the request's `program`, never its own `routine:` key,
    /// and that name is checked like any program name.
    @Test func aRoutineSentRunsUnderTheProgramNameAsked() throws {
        let routine = TestRoutines.quick.replacingOccurrences(of: "routine: quick", with: "routine: ../../x")
        #expect(try check(StartRequest(program: "my-feet", routine: routine)).program == "my-feet")
        for bad in ["../../x", "", ".hidden", "a/b", "x.yaml", String(repeating: "a", count: 65), "a b"] {
            #expect(throws: Refusal.self, "\(bad)") { try check(StartRequest(program: bad, routine: routine)) }
            do { _ = try check(StartRequest(program: bad, routine: routine)) } catch {
                #expect(error.code == "invalid-parameters" && error.details?.first?.hasPrefix("program: ") == true, "\(error)")
            }
        }
    }
}
