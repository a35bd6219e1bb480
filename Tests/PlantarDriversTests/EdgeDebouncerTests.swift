@testable import PlantarDrivers
import Testing

@Suite("Edge debouncer")
struct EdgeDebouncerTests {
    @Test func theFirstEdgeIsReportedAtOnce() {
        var d = EdgeDebouncer(initial: false, windowNS: 20 * ms)
        #expect(d.observe(true, at: 1000) == true)
        #expect(d.windowEnd == 1000 + 20 * ms)
    }

    @Test func bounceInsideTheWindowIsNotReported() {
        var d = EdgeDebouncer(initial: false, windowNS: 20 * ms)
        #expect(d.observe(true, at: 0) == true)
        #expect(d.observe(false, at: 1 * ms) == nil)
        #expect(d.observe(true, at: 2 * ms) == nil)
        #expect(d.observe(false, at: 3 * ms) == nil)
        // The window closes with the line still pressed: nothing to report.
        #expect(d.settle(true, at: 20 * ms) == nil)
        #expect(d.reported == true)
    }

    @Test func theSettledLevelIsReportedWhenTheWindowCloses() {
        var d = EdgeDebouncer(initial: false, windowNS: 20 * ms)
        _ = d.observe(true, at: 0)
        _ = d.observe(false, at: 5 * ms)
        #expect(d.settle(false, at: 19 * ms) == nil)   // not yet
        #expect(d.settle(false, at: 20 * ms) == false)
    }

    @Test func aPressIsNeverDebounced() {
        var d = EdgeDebouncer(initial: false, windowNS: 20 * ms)
        _ = d.observe(true, at: 0)
        _ = d.observe(false, at: 1 * ms)
        #expect(d.settle(false, at: 20 * ms) == false)   // released; a new window opens
        #expect(d.observe(true, at: 21 * ms) == true)    // a press inside it still acts at once
    }

    @Test func aReleaseAfterQuietIsAFirstEdgeToo() {
        var d = EdgeDebouncer(initial: true, windowNS: 20 * ms)
        #expect(d.observe(false, at: 100 * ms) == false)
    }
}
