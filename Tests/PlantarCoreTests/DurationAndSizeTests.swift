import PlantarCore
import PropertyBased
import Testing

@Suite("Duration syntax and foot size")
struct DurationAndSizeTests {
    @Test(arguments: [
        ("45s", Duration.seconds(45)), ("1.5s", .milliseconds(1500)), ("500ms", .milliseconds(500)),
        ("2m", .seconds(120)), ("4m10s", .seconds(250)), ("1h", .seconds(3600)), ("1m30.5s", .milliseconds(90_500)),
        (" 20s ", .seconds(20)), ("1h2m3s4ms", .milliseconds(3_723_004)),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(DurationSyntax.parse(text) == expected)
    }

    @Test(arguments: ["", "20", "20 s", "s", "-5s", "5x", "1s1m", "1m1m", "1.2.3s", "m5", "5sec"])
    func rejects(_ text: String) {
        #expect(DurationSyntax.parse(text) == nil)
    }

    // Beyond a year (and far beyond Int64 milliseconds): too long, never a trap.
    @Test(arguments: ["8785h", "3000000000000h", "99999999999999999999s", "1" + String(repeating: "0", count: 400) + "ms", "1e400s"])
    func rejectsWhatIsTooLong(_ text: String) {
        #expect(DurationSyntax.parse(text) == nil)
        if text != "1e400s" { #expect(DurationSyntax.parsing(text) == .failure(.tooLong)) }
    }

    @Test func roundedSecondsSaturatesInsteadOfTrapping() {
        #expect(Duration.roundedSeconds(.nan) == .zero)
        #expect(Duration.roundedSeconds(.infinity) == .seconds(1_000_000_000_000))
        #expect(Duration.roundedSeconds(-1e300) == .seconds(-1_000_000_000_000))
    }

    @Test(arguments: [
        (Duration.zero, "0s"), (.seconds(45), "45s"), (.milliseconds(1500), "1.5s"), (.milliseconds(250), "0.25s"),
        (.seconds(60), "1m"), (.seconds(250), "4m10s"), (.seconds(3600), "60m"), (.milliseconds(90_500), "1m30.5s"),
    ])
    func formats(_ duration: Duration, _ expected: String) {
        #expect(DurationSyntax.format(duration) == expected)
    }

    @Test func formatThenParseIsIdentityToTheMillisecond() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...(4 * 3600 * 1000))) { ms in
            let d = Duration.milliseconds(ms)
            #expect(DurationSyntax.parse(DurationSyntax.format(d)) == d)
        }
    }

    @Test func canonicalTextRoundTrips() {
        for text in ["0s", "0.5s", "45s", "1m", "1m30s", "12m48s", "59m59.999s"] {
            #expect(DurationSyntax.parse(text).map(DurationSyntax.format) == text)
        }
    }

    @Test func euShoeSizeToFootLength() {
        // The last is size × 2/3 cm; the foot is about 15 mm shorter than the last.
        #expect(FootSize.euShoeSize(42).lengthMM == 265)
        #expect(FootSize.euShoeSize(42) == FootSize.standard)
        #expect(abs(FootSize.euShoeSize(36).lengthMM - 225) < 1e-9)
        #expect(abs(FootSize.euShoeSize(46).lengthMM - (46 * 20.0 / 3 - 15)) < 1e-9)
        #expect(FootSize.plausibleRange.contains(FootSize.euShoeSize(35).lengthMM))
        #expect(FootSize.plausibleRange.contains(FootSize.euShoeSize(50).lengthMM))
    }
}
