import PlantarConfig
import PlantarCore
import Testing

/// Broken device profiles: a hardware integrator learns exactly where the profile is wrong.
@Suite("Device profiles with mistakes")
struct DeviceProfileErrorTests {
    func errors(_ text: String) -> [Diagnostic] {
        diagnostics { () throws(DiagnosticsError) in try DeviceProfileLoader.parse(text, file: "device.yaml") }
    }

    @Test func everyDeviceNeedsADiscomfortSwitch() {
        let found = errors("""
            device: probe
            title: Probe
            kind: zoned
            pressure: { max-kpa: 80, max-ramp-kpa-s: 80, pump-time-constant-s: 0.5, valve-time-constant-s: 0.1, sensor-rate-hz: 50 }
            nodes:
              - { id: heel, surface: sole, u-mm: [0, 70], v-mm: [0, 120] }
            inputs: [ease-button, foot-presence]
            """)
        expectErrors(found, [Expected(7, 9, "every device needs a 'discomfort-switch' input: the person on it must be able to stop it")],
                     file: "device.yaml")
    }

    @Test func aGantryNeedsAxes() {
        let found = errors("""
            device: probe
            title: Probe
            kind: gantry
            reach: [sole]
            pressure: { max-kpa: 80, max-ramp-kpa-s: 80, pump-time-constant-s: 0.5, valve-time-constant-s: 0.1, sensor-rate-hz: 50 }
            inputs: [discomfort-switch]
            """)
        expectErrors(found, [Expected(1, 1, "a gantry profile needs 'axes' (u and v)")], file: "device.yaml")
    }

    @Test func maxPressureAboveThePainThreshold() {
        let found = errors("""
            device: probe
            title: Probe
            kind: zoned
            pressure:
              max-kpa: 400
              max-ramp-kpa-s: 80
              pump-time-constant-s: 0.5
              valve-time-constant-s: 0.1
              sensor-rate-hz: 50
            nodes:
              - { id: heel, surface: sole, u-mm: [0, 70], v-mm: [0, 120] }
            inputs: [discomfort-switch]
            """)
        expectErrors(found, [Expected(5, 12, "pressure max-kpa 400 is out of range (1–357)")], file: "device.yaml")
    }

    @Test func severalMistakesAreAllListed() {
        let found = errors("""
            device: probe
            title: Probe
            kind: zoned
            pressure:
              max-kpa: 80
              max-ramp-kpa-s: 80
              pump-time-constant-s: 0.5
              valve-time-constant-s: 0.1
            nodes:
              - { id: heel, surface: sole, u-mm: [0, 70], v-mm: [0, 120] }
              - { id: heel, surface: sol, u-mm: [70, 150], v-mm: [0, 120] }
              - { id: arch, surface: sole, u-mm: [150, 70], v-mm: [0, 120] }
            inputs: [discomfort-switch, panic-button]
            gpio:
              chip: gpiochip0
              lines:
                right.pump: { offset: 5 }
                right.valve: { offset: 5 }
            """)
        expectErrors(byPosition(found), [
            Expected(5, 3, "pressure is missing the required key 'sensor-rate-hz'"),
            Expected(11, 26, "unknown surface 'sol'; did you mean 'sole'?"),
            Expected(12, 38, "node 'arch' u-mm must go from the smaller to the larger value"),
            Expected(13, 29, "unknown input 'panic-button'"),
            Expected(18, 18, "gpio line 'right.valve' uses offset 5, already used by 'right.pump'"),
        ], file: "device.yaml")
    }

    @Test func zonedProfileWithAxesAndNoNodes() {
        let found = errors("""
            device: probe
            title: Probe
            kind: zoned
            axes:
              u: { travel-mm: 300, steps-per-mm: 80, max-speed-mm-s: 60, max-accel-mm-s2: 400 }
              v: { travel-mm: 110, steps-per-mm: 80, max-speed-mm-s: 40, max-accel-mm-s2: 300 }
            pressure: { max-kpa: 80, max-ramp-kpa-s: 80, pump-time-constant-s: 0.5, valve-time-constant-s: 0.1, sensor-rate-hz: 50 }
            inputs: [discomfort-switch]
            """)
        expectErrors(found, [
            Expected(1, 1, "a zoned profile needs 'nodes'"),
            Expected(5, 3, "'axes' belong to gantry profiles; a zoned device does not move"),
        ], file: "device.yaml")
    }
}

/// Broken foot maps.
@Suite("Foot maps with mistakes")
struct FootMapErrorTests {
    func errors(_ text: String) -> [Diagnostic] {
        diagnostics { () throws(DiagnosticsError) in try FootMapLoader.parse(text, file: "footmap.yaml") }
    }

    @Test func eachMistakeOnceAtItsPlace() {
        let found = errors("""
            foot-map: 1
            zones:
              spine:
                title: Spine
                segments: [spine-lumbar, spine-neck]
              spine-lumbar:
                title: Lumbar
                surface: medial-edge
                sensitivity: high
                path: [[0.27, 0.0], [1.45, 0.0]]
              heel:
                title: Heel
                surface: sole
                sensitivity: painful
                point: [0.1, 0.5]
              arch:
                title: Arch
                surface: sole
                sensitivity: high
                point: [0.1, 0.5]
                path: [[0.1, 0.5], [0.2, 0.5]]
              toe:
                title: Toe
                surface: sole
                sensitivity: high
                path: [[0.9, 0.5]]
            """)
        expectErrors(byPosition(found), [
            // The segment that is written but broken is not also 'unknown'; the missing one is.
            Expected(3, 3, "zone 'spine' names unknown segment 'spine-neck'"),
            // The bad point is reported; the path is not also 'missing points'.
            Expected(10, 26, "zone 'spine-lumbar' path point x 1.45 is out of range (0–1)"),
            Expected(14, 18, "unknown sensitivity 'painful'; expected one of low, moderate, high"),
            Expected(17, 5, "zone 'arch' needs exactly one of point, path, area or segments"),
            Expected(26, 11, "zone 'toe' path needs at least two points"),
        ], file: "footmap.yaml")
    }

    @Test func segmentCyclesAndEmptySegmentsAreErrors() {
        let found = errors("""
            foot-map: 1
            zones:
              spine:
                title: Spine
                segments: [spine]
              loop-a:
                title: A
                segments: [loop-b]
              loop-b:
                title: B
                segments: [loop-a]
              nothing:
                title: Nothing
                segments: []
            """)
        expectErrors(found, [
            Expected(3, 3, "zone 'spine' segments form a cycle: spine -> spine"),
            Expected(6, 3, "zone 'loop-a' segments form a cycle: loop-a -> loop-b -> loop-a"),
            Expected(9, 3, "zone 'loop-b' segments form a cycle: loop-b -> loop-a -> loop-b"),
            Expected(12, 3, "zone 'nothing' segments must name at least one zone"),
        ], file: "footmap.yaml")
    }

    // 40 levels of segments each naming the next one twice: 2^40 paths, checked in linear time.
    @Test(.timeLimit(.minutes(1))) func deepSegmentChainsLoadQuickly() {
        var text = "foot-map: 1\nzones:\n  z40:\n    title: end\n    surface: sole\n    sensitivity: low\n    point: [0.1, 0.5]\n"
        for k in 0..<40 { text += "  z\(k):\n    title: z\(k)\n    segments: [z\(k + 1), z\(k + 1)]\n" }
        #expect(throws: Never.self) { _ = try FootMapLoader.parse(text, file: "footmap.yaml") }
    }

    @Test func zoneWithoutSurface() {
        let found = errors("""
            foot-map: 1
            zones:
              heel:
                title: Heel
                point: [0.1, 0.5]
            """)
        // Without a sensitivity a zone is a work zone (capped by the tissue under it): no error.
        expectErrors(found, [
            Expected(4, 5, "zone 'heel' is missing the required key 'surface'"),
        ], file: "footmap.yaml")
    }
}
