import PlantarConfig
import PlantarCore
import Testing

// The cap field and the governor's use of it, checked against numbers worked out by hand from
// docs/safety.md and Config/footmap.yaml (not from the field's or the governor's own tables):
// a 265 mm foot, width 0.38 × 265 = 100.7 mm, heel at u = 10 on the reference gantry, zones
// grown by its 10 mm contact radius; caps low 73.92, moderate 59.136, high 44.352 kPa.
private let library = ConfigLibrary.standard(environment: [:])
private let map = try! library.loadFootMap()
private let reference = try! library.loadDevice("reference")
private let zoned = try! library.loadDevice("zoned")
private let field = CapField(map: map, size: .standard, device: reference)

@Suite("Cap field")
struct CapFieldTests {
    @Test("places get the class of the tissue under them, the most sensitive winning")
    func classesByPlace() {
        // spine-lumbar: x .27–.45 on the medial edge, u = 10 + 265x = 81.55…129.25, v = 0.
        #expect(field.sensitivity(at: DevicePoint(u: 100, v: 0)) == .high)
        // heel: x .04–.20, y .20–.80: u 20.6…63, v 20.14…80.56; midfoot starts at u 63,
        // grown by 10 mm to u 53. (40, 50) is heel only; (58, 50) is heel and midfoot.
        #expect(field.sensitivity(at: DevicePoint(u: 40, v: 50)) == .low)
        #expect(field.sensitivity(at: DevicePoint(u: 58, v: 50)) == .moderate)
        // spine-coccyx x .02–.12 on the medial edge: u 15.3…41.8 at v 0; the heel's rectangle
        // starts 20.14 mm in, 10.14 mm grown: (30, 0) is coccyx only.
        #expect(field.sensitivity(at: DevicePoint(u: 30, v: 0)) == .low)
        // Off the foot: no region, the strictest class.
        #expect(field.sensitivity(at: DevicePoint(u: 300, v: 300)) == .high)
        // The work zone `sole` has no region of its own: its middle, x .40 y .47 (u 116,
        // v 47.3), lies in the midfoot (moderate) and beyond the arch (y ≤ .40, v ≤ 40.3,
        // grown to 50.3): high there. At y .6 (v 60.4) only the midfoot.
        #expect(field.sensitivity(at: DevicePoint(u: 116, v: 60.4)) == .moderate)
        #expect(field.sensitivity(at: DevicePoint(u: 116, v: 47.3)) == .high)
    }

    @Test("a move takes the strictest class anywhere on its path")
    func pathClass() {
        // Along the medial edge from the coccyx (u 30) to the thoracic segment (u 150):
        // through the lumbar segment, high.
        #expect(field.sensitivity(along: DevicePoint(u: 30, v: 0), to: DevicePoint(u: 150, v: 0)) == .high)
        // Within the heel: low all the way.
        #expect(field.sensitivity(along: DevicePoint(u: 30, v: 40), to: DevicePoint(u: 45, v: 60)) == .low)
    }

    @Test("a zoned bladder takes the strictest class of any zone it covers")
    func zonedNodes() {
        let zonedField = CapField(map: map, size: .standard, device: zoned)
        // The zoned heel is at u 5: the arch bladder (u 70–150 on the sole) covers the medial
        // arch (u 76.55…137.5, v 0…40.3): high. The heel bladder (u 0–70) covers the heel
        // (low) and the midfoot from u 58 (moderate): moderate.
        #expect(zonedField.sensitivity(ofNode: "arch") == .high)
        #expect(zonedField.sensitivity(ofNode: "heel") == .moderate)
        // The medial-arch edge bladder (u 80–160, medial edge) covers spine-lumbar: high.
        #expect(zonedField.sensitivity(ofNode: "medial-arch") == .high)
    }
}

@Suite("Governor caps by place")
struct GovernorCapByPlaceTests {
    func armed() -> (Governor, [GovernorAction]) {
        var gov = Governor(settings: GovernorSettings.standard(for: reference, map: map))
        var log = gov.telemetry(Telemetry(foot: .right, position: DevicePoint(u: 40, v: 50), pressureKPa: ["node": 0],
                                          contactForceN: 0, footPresent: true), at: .zero)
        log += gov.arm(at: .zero)
        return (gov, log)
    }

    func at(_ p: DevicePoint, kPa: Double = 0, _ t: Duration) -> Telemetry {
        Telemetry(foot: .right, position: p, pressureKPa: ["node": kPa], contactForceN: nil, footPresent: true)
    }

    @Test("a label cannot raise the cap of the place")
    func labelCannotRaise() {
        var (gov, _) = armed()
        let lumbar = DevicePoint(u: 100, v: 0)
        _ = gov.filter(move(lumbar.u, lumbar.v), at: .milliseconds(10))
        _ = gov.telemetry(at(lumbar, .milliseconds(500)), at: .milliseconds(500))
        // Labelled low (73.9), pressed where the tissue is high: 44.352.
        let actions = gov.filter(press(70, sensitivity: .low), at: .milliseconds(510))
        #expect(actions.pressures.map(\.kPa) == [PressureCaps.standard.high])
        #expect(actions.reports(.capClamped).count == 1)
    }

    @Test("pressure held into a stricter place comes down before the move goes out")
    func moveWhilePressing() {
        var (gov, _) = armed()
        let heel = DevicePoint(u: 40, v: 50)
        _ = gov.filter(move(heel.u, heel.v), at: .milliseconds(10))
        _ = gov.telemetry(at(heel, .milliseconds(100)), at: .milliseconds(100))
        #expect(gov.filter(press(70, sensitivity: .low), at: .milliseconds(110)).pressures.map(\.kPa) == [70])
        _ = gov.telemetry(at(heel, kPa: 55, .milliseconds(500)), at: .milliseconds(500))   // no gap past 500 ms
        _ = gov.telemetry(at(heel, kPa: 70, .seconds(1)), at: .seconds(1))
        // On to the lumbar segment with 70 kPa held: 44.352 is the most the path allows.
        let actions = gov.filter(move(100, 0), at: .seconds(1))
        let pressureIndex = actions.firstIndex { if case .apply(.pressure, _) = $0 { true } else { false } }
        let moveIndex = actions.firstIndex { if case .apply(.move, _) = $0 { true } else { false } }
        #expect(pressureIndex != nil && moveIndex != nil && pressureIndex! < moveIndex!, "\(actions)")
        #expect(actions.pressures.map(\.kPa) == [PressureCaps.standard.high])
        // While the node is still on its way, a new press is capped by the rest of the path.
        #expect(gov.filter(press(70, sensitivity: .low), at: .milliseconds(1_100)).pressures.map(\.kPa) == [PressureCaps.standard.high])
    }

    @Test("before any position is known the node could be anywhere: the strictest cap")
    func unknownPosition() {
        var gov = Governor(settings: GovernorSettings.standard(for: reference, map: map))
        _ = gov.arm(at: .zero)
        #expect(gov.filter(press(70, sensitivity: .low), at: .milliseconds(1)).pressures.map(\.kPa) == [PressureCaps.standard.high])
    }

    @Test("an ease works on what the foot feels, never raises, and blocks rises on a resting foot")
    func easeFromMeasured() {
        var (gov, _) = armed()
        let heel = DevicePoint(u: 40, v: 50)
        _ = gov.filter(move(heel.u, heel.v), at: .milliseconds(10))
        _ = gov.telemetry(at(heel, .milliseconds(100)), at: .milliseconds(100))
        _ = gov.filter(press(70, sensitivity: .low), at: .milliseconds(110))
        // The pump lags: 20 kPa measured while the ramp has reached ~60.
        _ = gov.telemetry(at(heel, kPa: 20, .milliseconds(500)), at: .milliseconds(500))
        let eased = gov.ease(source: "test", foot: .right, at: .milliseconds(500))
        let setpoints = eased.pressures.map(\.kPa)
        // 40% below the lower of measured (20) and commanded: at most 12 kPa.
        #expect(setpoints.count == 1 && setpoints[0] <= 12, "\(setpoints)")
        // Nothing rises on that foot for 300 ms, nor on the other foot, which was at rest.
        #expect(gov.filter(press(30, sensitivity: .low), at: .milliseconds(700)).pressures.isEmpty)
        let other = gov.ease(source: "test", foot: .left, at: .milliseconds(900))
        #expect(other.pressures.isEmpty)
        #expect(gov.filter(press(30, foot: .left, sensitivity: .low), at: .milliseconds(1_000)).pressures.isEmpty)
    }
}
