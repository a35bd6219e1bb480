import PlantarConfig
import PlantarCore
import Testing

/// Broken routine files: each mistake is reported at its exact line and column, with a
/// message that says what is wrong (and, for a typo, what was probably meant).
@Suite("Routine files with mistakes")
struct RoutineErrorTests {
    let map: FootMap

    init() throws { map = try shippedFootMap() }

    /// Seven lines of header; the steps written after it start on line 8.
    static let header = """
        routine: probe
        title: Probe
        parameters:
          focus:
            choices: [cervical, thoracic, lumbar, sacral]
            default: lumbar
        steps:

        """

    func errors(steps: String) -> [Diagnostic] {
        errors(Self.header + steps)
    }

    func errors(_ text: String) -> [Diagnostic] {
        diagnostics { () throws(DiagnosticsError) in try RoutineLoader.parse(text, file: "probe.yaml", map: map) }
    }

    @Test func unknownZoneSuggestsTheNearestOne() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbr
                duration: 20s
            """)
        expectErrors(found, [Expected(9, 11, "step 1 'thumb-walk': unknown zone 'spine-lumbr'; did you mean 'spine-lumbar'?")],
                     file: "probe.yaml")
    }

    // Numbers no Int64 can hold used to trap in the conversion (SIGILL): now an error at the value.
    @Test(arguments: ["3000000000000h", "99999999999999999999s", "1" + String(repeating: "0", count: 400) + "ms"])
    func hugeDurationsAreOutOfRangeNotACrash(_ text: String) {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine
                duration: \(text)
            """)
        expectErrors(found, [Expected(10, 15, "step 1 duration \(text) is out of range (0.5s–10m)")], file: "probe.yaml")
    }

    @Test func unknownTechnique() {
        let found = errors(steps: """
              - technique: thumb-walks
                zone: spine-lumbar
                duration: 20s
            """)
        expectErrors(found, [Expected(8, 16, "unknown technique 'thumb-walks'; did you mean 'thumb-walk'?")], file: "probe.yaml")
        #expect(found.first?.message.contains("expected one of thumb-walk, walk-back, finger-walk, cross-walk, press-hold, circle-rub, roll, hold") == true)
    }

    @Test func unknownKeyInAStep() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                duraton: 20s
            """)
        expectErrors(found, [
            Expected(8, 5, "step 1 is missing the required key 'duration'"),
            Expected(10, 5, "unknown key 'duraton' in step 1; did you mean 'duration'?"),
        ], file: "probe.yaml")
    }

    @Test func pressureLevelOutsideTheSet() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                pressure: hard
                duration: 20s
            """)
        expectErrors(found, [Expected(10, 15, "unknown pressure level 'hard'; expected one of light, moderate, firm")],
                     file: "probe.yaml")
    }

    @Test func repeatOutOfRange() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                duration: 20s
                repeat: 50
            """)
        expectErrors(found, [Expected(11, 13, "step 1 repeat 50 is out of range (1–20)")], file: "probe.yaml")
    }

    @Test func negativeDuration() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                duration: -20s
            """)
        expectErrors(found, [Expected(10, 15, "step 1 duration -20s is negative")], file: "probe.yaml")
    }

    @Test func absurdDuration() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                duration: 3h
            """)
        expectErrors(found, [Expected(10, 15, "step 1 duration 3h is out of range (0.5s–10m)")], file: "probe.yaml")
    }

    @Test(arguments: ["20 seconds", "20s30m", "1.2.3s", "s"])
    func durationSyntax(_ written: String) {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                duration: \(written)
            """)
        expectErrors(found, [Expected(10, 15, "step 1 duration '\(written)' is not a duration such as 45s, 1.5s or 1m30s")],
                     file: "probe.yaml")
    }

    @Test func holdAboveTheLimit() {
        let found = errors(steps: """
              - technique: hold
                zone: solar-plexus
                duration: 90s
            """)
        expectErrors(found, [Expected(10, 15, "step 1 'hold': a hold of 1m30s exceeds the hold limit of 1m at one point")],
                     file: "probe.yaml")
    }

    @Test func pressHoldAboveTheLimitPointsAtTheHold() {
        let found = errors(steps: """
              - name: Web point
                technique: press-hold
                zone: web-1-2
                hold: 75s
                rub: 10s
            """)
        expectErrors(found, [Expected(11, 11, "step 1 'Web point': a hold of 1m15s exceeds the hold limit of 1m")],
                     file: "probe.yaml")
    }

    @Test func pressHoldWithoutHold() {
        let found = errors(steps: """
              - technique: press-hold
                zone: web-1-2
                rub: 10s
            """)
        expectErrors(found, [Expected(8, 5, "step 1: press-hold needs 'hold' (how long to press the point)")], file: "probe.yaml")
    }

    @Test func keysThatBelongToOtherTechniques() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                duration: 20s
                hold: 10s
                crossings: 3
            """)
        expectErrors(found, [
            Expected(11, 11, "step 1: 'hold' applies only to press-hold"),
            Expected(12, 16, "step 1: 'crossings' applies only to cross-walk"),
        ], file: "probe.yaml")
    }

    @Test func biteOutOfRange() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-lumbar
                bite: 50mm
                duration: 20s
            """)
        expectErrors(found, [Expected(10, 11, "step 1 bite 50mm is out of range (2–30 mm)")], file: "probe.yaml")
    }

    @Test func undeclaredParameter() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: spine-${side}
                duration: 20s
            """)
        expectErrors(found, [Expected(9, 11, "step 1 'thumb-walk': zone refers to '${side}', which is not a choice parameter of this routine")],
                     file: "probe.yaml")
    }

    @Test func parameterValueThatNamesNoZone() {
        // knee-hip exists, knee-lumbar and the rest do not: one error per choice, each saying when.
        let found = errors(steps: """
              - technique: thumb-walk
                zone: knee-${focus}
                duration: 20s
            """)
        expectErrors(found, ["cervical", "thoracic", "lumbar", "sacral"].map {
            Expected(9, 11, "unknown zone 'knee-\($0)' (when focus=\($0))")
        }, file: "probe.yaml")
    }

    @Test func parameterDefaultNotAmongItsChoices() {
        let found = errors("""
            routine: probe
            title: Probe
            parameters:
              focus:
                choices: [cervical, thoracic, lumbar, sacral]
                default: neck
            steps:
              - technique: hold
                zone: solar-plexus
                duration: 20s
            """)
        expectErrors(found, [Expected(6, 14, "parameter 'focus' default 'neck' is not one of its choices (cervical, thoracic, lumbar, sacral)")],
                     file: "probe.yaml")
    }

    @Test func intensityCannotBeWidened() {
        let found = errors("""
            routine: probe
            title: Probe
            parameters:
              intensity:
                range: [1, 9]
                default: 3
            steps:
              - technique: hold
                zone: solar-plexus
                duration: 20s
            """)
        expectErrors(found, [Expected(5, 12, "intensity can be narrowed but not widened beyond 1–5")], file: "probe.yaml")
    }

    @Test func yamlSyntaxError() {
        let found = errors("""
            routine: probe
            title: Probe
            steps:
              - technique: hold
                zone: [solar-plexus
                duration: 20s
            """)
        expectErrors(found, [Expected(6, 13, "YAML syntax: did not find expected ',' or ']'")], file: "probe.yaml")
    }

    @Test func tabIndentation() {
        let found = errors("routine: probe\ntitle: Probe\nsteps:\n  - technique: hold\n\tzone: solar-plexus\n")
        expectErrors(found, [Expected(5, 1, "YAML syntax: found a tab character that violates indentation")], file: "probe.yaml")
    }

    @Test func duplicateKey() {
        // Reported where the key is first written (the YAML parser gives that place).
        let found = errors("""
            routine: probe
            title: Probe
            steps:
              - technique: hold
                zone: solar-plexus
                duration: 20s
                zone: heel
            """)
        expectErrors(found, [Expected(5, 5, "duplicate key 'zone'")], file: "probe.yaml")
    }

    @Test func emptyFile() {
        expectErrors(errors(""), [Expected(1, 1, "the file is empty")], file: "probe.yaml")
    }

    @Test func missingTopLevelKeys() {
        let found = errors("""
            routine: probe
            titel: Probe
            """)
        expectErrors(found, [
            Expected(1, 1, "the routine is missing the required key 'title'"),
            Expected(1, 1, "the routine is missing the required key 'steps'"),
            Expected(2, 1, "unknown key 'titel' in the routine; did you mean 'title'?"),
        ], file: "probe.yaml")
    }

    @Test func techniqueNeedsAPointButZoneIsALine() {
        let found = errors(steps: """
              - technique: hold
                zone: sole-midline
                duration: 20s
            """)
        expectErrors(found, [Expected(9, 11, "step 1 'hold': hold needs a point, but zone 'sole-midline' is a line or an area")],
                     file: "probe.yaml")
    }

    @Test func techniqueNeedsALineButZoneIsAPoint() {
        let found = errors(steps: """
              - technique: thumb-walk
                zone: solar-plexus
                duration: 20s
            """)
        expectErrors(found, [Expected(9, 11, "step 1 'thumb-walk': thumb-walk needs a line or an area, but zone 'solar-plexus' is a point")],
                     file: "probe.yaml")
    }

    @Test func routineOverThirtyMinutes() {
        // 10 minutes, twice, on both feet: 40 minutes.
        let found = errors(steps: """
              - technique: roll
                zone: sole
                duration: 10m
                repeat: 2
            """)
        expectErrors(found, [Expected(8, 5, "routine lasts 40m on both feet, over the 30m that no session may exceed")],
                     file: "probe.yaml")
    }

    @Test func routineOverTheAutoOffIsOnlyAWarning() throws {
        let (routine, warnings) = try RoutineLoader.parse(Self.header + """
              - technique: roll
                zone: sole
                duration: 8m
            """, file: "probe.yaml", map: map)
        #expect(routine.statedDuration() == .seconds(16 * 60))
        #expect(warnings.map(\.description) == [
            "probe.yaml:8:5: warning: routine lasts 16m, longer than the 15m auto-off; sessions will stop there",
        ])
    }

    @Test func everyErrorInTheFileIsListed() {
        // Parse errors in steps 1 and 3 do not hide the map errors in steps 2 and 4.
        let found = errors("""
            routine: probe
            title: Probe
            steps:
              - technique: thumb-walks
                zone: spine-lumbar
                duration: 20s
              - technique: thumb-walk
                zone: spine-lumbr
                duration: 20s
              - technique: hold
                zone: solar-plexus
                duration: 20 s
                pressure: hard
              - technique: hold
                zone: sole-midline
                duration: 20s
            """)
        expectErrors(found, [
            Expected(4, 16, "unknown technique 'thumb-walks'"),
            Expected(8, 11, "step 2 'thumb-walk': unknown zone 'spine-lumbr'"),
            Expected(12, 15, "step 3 duration '20 s' is not a duration"),
            Expected(13, 15, "unknown pressure level 'hard'"),
            Expected(15, 11, "step 4 'hold': hold needs a point, but zone 'sole-midline' is a line or an area"),
        ], file: "probe.yaml")
    }

    @Test func aBrokenParameterIsReportedOnceNotAgainByTheStepsThatUseIt() {
        let found = errors("""
            routine: probe
            title: Probe
            parameters:
              focus:
                choices: lumbar
                default: lumbar
            steps:
              - technique: thumb-walk
                zone: spine-${focus}
                duration: 20s
              - technique: thumb-walk
                zone: spine-lumbr
                duration: 20s
            """)
        expectErrors(found, [
            Expected(5, 14, "parameter 'focus' choices must be a list"),
            Expected(12, 11, "step 2 'thumb-walk': unknown zone 'spine-lumbr'"),
        ], file: "probe.yaml")
    }
}
