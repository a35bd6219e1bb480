import Foundation
import PlantarCore
import PlantarOracle
import Testing

/// Each rule of docs/safety.md against hand-built device logs: a constructed violation is
/// flagged, a constructed clean log passes. Expected numbers are worked out here from the
/// doc (never read from the oracle's own tables).
///
/// The test foot: length 250 mm, width ratio 0.4 (W = 100 mm), heel at u = 10 mm, contact
/// radius 10 mm. Zones (device mm):
///   heel  low       area x 0–0.2, y 0.2–0.8  -> u 10–60, v 20–80 (grown: u 0–70, v 10–90)
///   arch  high      point (0.4, 0.5)          -> (110, 50), a disc of 10 mm
///   edge  moderate  medial-edge path x 0.5–0.7 -> u 135–185 at v 0, a capsule of 10 mm
///   walk  (segments of edge): no region of its own
/// Doc caps: low (357 − 165) × 0.77 / 2 = 73.92, moderate × 0.8 = 59.136, high × 0.6 = 44.352.
@Suite("oracle rules on hand-built logs")
struct OracleRuleTests {
    static let low = 73.92, moderate = 59.136, high = 44.352

    static let map = FootMap(widthRatio: 0.4, zones: [
        Zone(id: "heel", title: "heel", surface: .sole, sensitivity: .low,
             shape: .area(from: FootPoint(x: 0, y: 0.2), to: FootPoint(x: 0.2, y: 0.8))),
        Zone(id: "arch", title: "arch", surface: .sole, sensitivity: .high, shape: .point(FootPoint(x: 0.4, y: 0.5))),
        Zone(id: "edge", title: "edge", surface: .medialEdge, sensitivity: .moderate,
             shape: .path([FootPoint(x: 0.5, y: 0), FootPoint(x: 0.7, y: 0)])),
        Zone(id: "walk", title: "walk", surface: .medialEdge, sensitivity: .high, shape: .segments(["edge"])),
    ])

    static func gantry(ramp: Double = 150, valve: Double = 0.06, maxKPa: Double = 100) -> DeviceProfile {
        DeviceProfile(name: "test", title: "test", kind: .gantry, feet: [.right], heelOffsetMM: 10,
                      reach: [.sole, .medialEdge],
                      uAxis: AxisLimits(travelMM: 300, stepsPerMM: 80, maxSpeed: 60, maxAccel: 400),
                      vAxis: AxisLimits(travelMM: 110, stepsPerMM: 80, maxSpeed: 40, maxAccel: 300),
                      pressure: PressureLimits(maxKPa: maxKPa, maxRampKPaPerS: ramp, pumpTimeConstant: 0.25,
                                               valveTimeConstant: valve, sensorRateHz: 100),
                      inputs: [.pressureSensor, .discomfortSwitch])
    }

    static func oracle(_ profile: DeviceProfile = gantry(), settings: OracleSettings = OracleSettings(),
                       routine: [Oracle.RoutineCommand] = []) -> Oracle {
        Oracle(map: map, profile: profile, footLengthMM: 250, settings: settings, contactRadiusMM: 10, routine: routine)
    }

    // MARK: §1 caps by place

    @Test("the cap at a point: the region's class, grown by the radius; no region is high")
    func capAtPoint() {
        let o = Self.oracle()
        #expect(o.caps.sensitivity(at: DevicePoint(u: 35, v: 50)) == .low)        // inside the heel
        #expect(o.caps.sensitivity(at: DevicePoint(u: 67, v: 50)) == .low)        // 7 mm past its edge
        #expect(o.caps.sensitivity(at: DevicePoint(u: 75, v: 50)) == .high)       // 15 mm past: nothing
        #expect(o.caps.sensitivity(at: DevicePoint(u: 117, v: 50)) == .high)      // the arch disc
        #expect(o.caps.sensitivity(at: DevicePoint(u: 130, v: 0)) == .moderate)   // 5 mm before the edge line
        #expect(o.caps.sensitivity(at: DevicePoint(u: 160, v: 9)) == .moderate)   // 9 mm off the line
        #expect(o.caps.sensitivity(at: DevicePoint(u: 160, v: 11)) == .high)      // 11 mm off
        #expect(abs(o.cap(.low) - Self.low) < 1e-9)
        #expect(abs(o.cap(.moderate) - Self.moderate) < 1e-9)
        #expect(abs(o.cap(.high) - Self.high) < 1e-9)
    }

    @Test("person factor and the device ceiling lower caps")
    func personFactor() {
        let o = Self.oracle(settings: OracleSettings(sensitivity: 0.5, reducedSensation: true))
        #expect(abs(o.cap(.low) - 73.92 * 0.5 * 0.6) < 1e-9)
        let capped = Self.oracle(Self.gantry(maxKPa: 50))
        #expect(capped.cap(.low) == 50)
        // A setting above 1 cannot raise caps.
        #expect(abs(Self.oracle(settings: OracleSettings(sensitivity: 3)).cap(.low) - Self.low) < 1e-9)
    }

    @Test("a setpoint above the place's cap is flagged with its place, value and limit; at the cap it passes")
    func capByPlace() {
        var clean = LogBuilder()
        clean.arm(0)
        clean.move(0, to: (35, 50))
        clean.sample(0.5, at: (35, 50))
        clean.press(1, 70)                                  // below the heel's 73.92
        clean.run(from: 1.05, to: 3, at: (35, 50), setpoint: 70, measured: 70)
        clean.release(3)
        clean.sample(3.05, at: (35, 50))
        #expect(Self.oracle().check(clean.log).isEmpty, "\(Self.oracle().check(clean.log))")

        var hot = LogBuilder()
        hot.arm(0)
        hot.move(0, to: (110, 50))
        hot.sample(0.5, at: (110, 50))
        hot.press(1, 50)                                    // the arch is high: 44.352
        hot.run(from: 1.05, to: 2, at: (110, 50), setpoint: 50, measured: 44)
        hot.release(2)
        hot.sample(2.05, at: (110, 50))
        let found = Self.oracle().check(hot.log).filter { $0.rule == .capByPlace }
        #expect(found.count == 1, "\(found)")
        #expect(found.first.map { abs($0.limit - Self.high) < 1e-9 && $0.value == 50 && $0.time == 1 } == true, "\(found)")
        #expect(found.first?.place == "u=110.0 v=50.0 (arch high)")
    }

    @Test("a setpoint held through a move is capped by the lowest cap on the swept segment")
    func capOnPath() {
        // Heel (low) to the edge line (moderate) crosses u 70–125 at v 50 → 0, which no region
        // covers: the high cap, 44.352, holds for the whole move.
        var hot = LogBuilder()
        hot.arm(0)
        hot.move(0, to: (35, 50))
        hot.sample(0.5, at: (35, 50))
        hot.press(1, 55)
        hot.sample(1.5, at: (35, 50), setpoint: 55, measured: 55)
        hot.move(2, from: (35, 50), to: (140, 0))
        hot.sample(2.05, at: (40, 48), setpoint: 55, measured: 55)
        hot.release(2.1)
        hot.sample(4, at: (140, 0))
        let found = Self.oracle().check(hot.log).filter { $0.rule == .capOnPath }
        #expect(!found.isEmpty)
        #expect(found.first.map { abs($0.limit - Self.high) < 1e-9 && $0.value == 55 } == true, "\(found)")

        // Within the heel the same press moves freely.
        var clean = LogBuilder()
        clean.arm(0)
        clean.move(0, to: (35, 50))
        clean.sample(0.5, at: (35, 50))
        clean.press(1, 55)
        clean.sample(1.5, at: (35, 50), setpoint: 55, measured: 55)
        clean.move(2, from: (35, 50), to: (55, 75))
        clean.sample(2.5, at: (55, 75), setpoint: 55, measured: 55)
        clean.release(3)
        clean.sample(3.05, at: (55, 75))
        #expect(Self.oracle().check(clean.log).isEmpty, "\(Self.oracle().check(clean.log))")
    }

    @Test("a zoned node takes the strictest zone its rectangle meets on its surface")
    func zonedNodes() {
        let profile = DeviceProfile(
            name: "z", title: "z", kind: .zoned, feet: [.right], heelOffsetMM: 10, reach: [], uAxis: nil, vAxis: nil,
            pressure: PressureLimits(maxKPa: 100, maxRampKPaPerS: 80, pumpTimeConstant: 0.5, valveTimeConstant: 0.12, sensorRateHz: 50),
            nodes: [ZonedNode(id: "back", surface: .sole, u: 0...60, v: 0...100),      // meets heel only
                    ZonedNode(id: "mid", surface: .sole, u: 90...130, v: 0...100),     // meets the arch point
                    ZonedNode(id: "side", surface: .medialEdge, u: 0...100, v: 0...5), // no edge zone there
                    ZonedNode(id: "edge", surface: .medialEdge, u: 140...200, v: 0...5)],
            inputs: [.pressureSensor])
        // Radius 0 on a zoned device: rectangles against the zones' own shapes.
        let o = Oracle(map: Self.map, profile: profile, footLengthMM: 250, settings: OracleSettings())
        func log(_ node: String, _ kPa: Double) -> DeviceLog {
            var b = LogBuilder(channels: profile.channels)
            b.arm(0)
            b.sample(0.5, at: (0, 0))
            b.press(1, kPa, channel: node, ramp: 80)
            b.sample(1.5, at: (0, 0), channel: node, setpoint: kPa, measured: kPa)
            b.release(2, channel: node)
            b.sample(2.05, at: (0, 0))
            return b.log
        }
        #expect(o.check(log("back", 70)).isEmpty, "\(o.check(log("back", 70)))")
        #expect(o.check(log("mid", 50)).first { $0.rule == .capOnNode }.map { abs($0.limit - Self.high) < 1e-9 } == true)
        #expect(o.check(log("side", 50)).contains { $0.rule == .capOnNode })          // nothing there: high
        #expect(o.check(log("edge", 59)).isEmpty)                                    // moderate 59.136
        #expect(o.check(log("edge", 60)).contains { $0.rule == .capOnNode && abs($0.limit - Self.moderate) < 1e-9 })
    }

    @Test("measured pressure: 1.1 × cap + 2 kPa, after the settling allowance when the cap falls")
    func measured() {
        // Heel: 1.1 × 73.92 + 2 = 83.312.
        func heel(_ measured: Double) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.move(0, to: (35, 50))
            b.sample(0.5, at: (35, 50))
            b.press(1, 70)
            b.sample(1.5, at: (35, 50), setpoint: 70, measured: measured)
            b.release(2)
            b.sample(2.05, at: (35, 50))
            return Self.oracle().check(b.log).filter { $0.rule == .measuredOverCap }
        }
        #expect(heel(83.3).isEmpty)
        #expect(heel(83.4).first.map { abs($0.limit - 83.312) < 1e-9 } == true)

        // Moving off the heel to nowhere (high: 1.1 × 44.352 + 2 = 50.787) with the pressure
        // lowered to 40: the measured 60 still venting is allowed for 3 × 0.06 + 0.05 = 0.23 s.
        func after(_ dt: Double) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.move(0, to: (35, 50))
            b.sample(0.5, at: (35, 50))
            b.press(1, 70)
            b.sample(2, at: (35, 50), setpoint: 70, measured: 70)
            b.press(2.01, 40)
            b.move(2.02, from: (35, 50), to: (90, 50))
            b.sample(2.1, at: (90, 50), setpoint: 40, measured: 60)
            b.sample(2.1 + dt, at: (90, 50), setpoint: 40, measured: 60)
            b.release(3)
            b.sample(3.05, at: (90, 50))
            return Self.oracle().check(b.log).filter { $0.rule == .measuredOverCap }
        }
        #expect(after(0.1).isEmpty, "\(after(0.1))")
        #expect(after(0.3).first.map { abs($0.limit - 50.7872) < 1e-9 } == true, "\(after(0.3))")
    }

    // MARK: §2 ramp

    @Test("a rise faster than max-ramp-kpa-s is flagged; falling fast is not")
    func ramp() {
        func log(_ ramp: Double, fall: Double = 500) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.move(0, to: (35, 50))
            b.sample(0.5, at: (35, 50))
            b.press(1, 30, ramp: ramp)
            b.sample(2, at: (35, 50), setpoint: 30, measured: 30)
            b.press(2.5, 10, ramp: fall)
            b.sample(3, at: (35, 50), setpoint: 10, measured: 10)
            b.release(3.5)
            b.sample(3.55, at: (35, 50))
            return Self.oracle().check(b.log).filter { $0.rule == .ramp }
        }
        #expect(log(150).isEmpty)
        #expect(log(150.5).first.map { $0.value == 150.5 && $0.limit == 150 } == true)
        #expect(log(.infinity).count == 1)
        // The device's own ramp as sampled: 0 → 30 kPa in 0.1 s is 300 kPa/s.
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (35, 50))
        b.press(1, 30, ramp: 150)
        b.sample(1.0, at: (35, 50), setpoint: 30, ramped: 0, measured: 0)
        b.sample(1.1, at: (35, 50), setpoint: 30, ramped: 30, measured: 10)
        b.release(2)
        b.sample(2.05, at: (35, 50))
        #expect(Self.oracle().check(b.log).contains { $0.rule == .ramp && abs($0.value - 300) < 1e-6 })
    }

    // MARK: §3 dose

    @Test("dose: 60 s within 120 s per 10 mm spot; brief releases and small moves do not reset it")
    func dose() {
        // Pressed samples every 50 ms; limit 60 s + settling 0.23 s + one sample 0.05 s.
        func log(pressedFor seconds: Double, wobble: Double = 0, gapsEvery: Double = .infinity, hop: Double = 0) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.sample(0, at: (35, 50))
            var t = 0.05, k = 0
            var pressed = 0.0
            while pressed < seconds {
                let inGap = gapsEvery.isFinite && t.truncatingRemainder(dividingBy: gapsEvery) < 0.5
                let u = 35 + (k % 2 == 0 ? 0 : wobble) + hop * Double(Int(pressed / 10))
                b.sample(t, at: (u, 50), setpoint: inGap ? 0 : 40, measured: inGap ? 0 : 40)
                if !inGap { pressed += 0.05 }
                t += 0.05
                k += 1
            }
            b.sample(t, at: (35, 50))
            return Self.oracle().check(b.log).filter { $0.rule == .dose }
        }
        #expect(log(pressedFor: 59).isEmpty)
        let over = log(pressedFor: 61)
        #expect(over.count == 1, "\(over)")
        #expect(over.first.map { $0.value > 60.28 && $0.value <= 61.1 && $0.limit == 60 } == true, "\(over)")
        #expect(!log(pressedFor: 62, gapsEvery: 5).isEmpty)            // 0.5 s releases every 5 s
        #expect(!log(pressedFor: 62, wobble: 3).isEmpty)               // 3 mm back and forth
        #expect(log(pressedFor: 62, hop: 12).isEmpty)                  // a new spot every 10 s, 12 mm on
    }

    @Test("dose with a custom hold limit and on a zoned node")
    func doseLimit() {
        var b = LogBuilder()
        b.arm(0)
        b.sample(0, at: (35, 50))
        var t = 0.05
        while t < 31 { b.sample(t, at: (35, 50), setpoint: 40, measured: 40); t += 0.05 }
        #expect(Self.oracle(settings: OracleSettings(holdLimitSeconds: 30)).check(b.log).contains { $0.rule == .dose && $0.limit == 30 })
        #expect(!Self.oracle().check(b.log).contains { $0.rule == .dose })
    }

    // MARK: §4 ease

    @Test("ease: 40% lower measured within 300 ms, and nothing rises")
    func ease() {
        func log(measuredAfter: Double, riseAt: Double? = nil) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.sample(0.5, at: (35, 50))
            b.press(1, 40)
            b.sample(2, at: (35, 50), setpoint: 40, measured: 40)
            b.input(2.0, .ease)
            b.press(2.05, 24, ramp: 1000)
            b.sample(2.1, at: (35, 50), setpoint: 24, measured: 30)
            if let riseAt { b.press(riseAt, 30) }
            b.sample(2.3, at: (35, 50), setpoint: 24, measured: measuredAfter)
            b.release(3)
            b.sample(3.05, at: (35, 50))
            return Self.oracle().check(b.log).filter { $0.rule == .easeRelief || $0.rule == .easeRise }
        }
        // From min(measured 40, ramp 40) = 40: at most 0.6 × 40 + 0.5 = 24.5 kPa at 300 ms.
        #expect(log(measuredAfter: 24).isEmpty, "\(log(measuredAfter: 24))")
        #expect(log(measuredAfter: 26).first.map { $0.rule == .easeRelief && abs($0.limit - 24.5) < 1e-9 } == true)
        #expect(log(measuredAfter: 24, riseAt: 2.2).contains { $0.rule == .easeRise })
        #expect(log(measuredAfter: 24, riseAt: 2.4).isEmpty)   // after the window
    }

    @Test("an ease lowers every cap × 0.8 and the worked class × 0.7 more")
    func easeLowersCaps() {
        // Pressing the heel (low) at 40, eased: low becomes 73.92 × 0.8 × 0.7 = 41.395.
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (35, 50))
        b.press(1, 40)
        b.sample(2, at: (35, 50), setpoint: 40, measured: 40)
        b.input(2, .ease)
        b.press(2.05, 20, ramp: 1000)
        b.sample(2.3, at: (35, 50), setpoint: 20, measured: 20)
        b.press(5, 42)
        b.sample(6, at: (35, 50), setpoint: 42, measured: 41)
        b.release(7)
        b.sample(7.05, at: (35, 50))
        let found = Self.oracle().check(b.log).filter { $0.rule == .capByPlace }
        #expect(found.first.map { abs($0.limit - 73.92 * 0.56) < 1e-9 } == true, "\(found)")
    }

    @Test("after an ease a class's cap is never above a less sensitive class's")
    func easedCapsStayOrdered() {
        // Eased while pressing the heel (low): low 73.92 × 0.8 × 0.7 = 41.395; moderate's own
        // 59.136 × 0.8 = 47.31 would be above it, so the edge (moderate) is held to 41.395.
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (35, 50))
        b.press(1, 40)
        b.sample(2, at: (35, 50), setpoint: 40, measured: 40)
        b.input(2, .ease)
        b.press(2.05, 20, ramp: 1000)
        b.sample(2.3, at: (35, 50), setpoint: 20, measured: 20)
        b.release(2.4)
        b.sample(2.45, at: (35, 50))
        b.move(3, to: (160, 0))
        b.sample(6, at: (160, 0))
        b.press(6.1, 45)
        b.sample(7, at: (160, 0), setpoint: 45, measured: 45)
        b.release(8)
        b.sample(8.05, at: (160, 0))
        let found = Self.oracle().check(b.log).filter { $0.rule == .capByPlace }
        #expect(found.first.map { abs($0.limit - 73.92 * 0.8 * 0.7) < 1e-9 } == true, "\(found)")
    }

    @Test("ease relief: the window's last sample counts, and no valve is asked to beat its own venting")
    func easeReliefAllowances() {
        // A rise right at the window's end (allowed) shows only in the first sample after it.
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (35, 50))
        b.press(1, 40)
        b.sample(2, at: (35, 50), setpoint: 40, measured: 40)
        b.input(2.0, .ease)
        b.press(2.05, 24, ramp: 1000)
        b.sample(2.25, at: (35, 50), setpoint: 24, measured: 24)
        b.press(2.31, 30)
        b.sample(2.35, at: (35, 50), setpoint: 30, ramped: 30, measured: 26)
        b.release(3)
        b.sample(3.05, at: (35, 50))
        let lateRise = Self.oracle().check(b.log).filter { $0.rule == .easeRelief || $0.rule == .easeRise }
        #expect(lateRise.isEmpty, "\(lateRise)")

        // The setpoint was dropped to 5 just before the ease while 40 was still measured: 60%
        // of 5 is out of any valve's reach; with τ 0.25 s venting from 100 ms leaves
        // 40 × e^(−0.2 / 0.25) = 17.97 kPa, the limit (+ 0.5 noise).
        func vented(_ measuredAfter: Double) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.sample(0.5, at: (35, 50))
            b.press(1, 40)
            b.sample(1.95, at: (35, 50), setpoint: 40, measured: 40)
            b.press(1.98, 5, ramp: 1000)
            b.input(2.0, .ease)
            b.press(2.0, 0, ramp: 1000)
            b.sample(2.3, at: (35, 50), setpoint: 0, measured: measuredAfter)
            b.release(3)
            b.sample(3.05, at: (35, 50))
            return Self.oracle(Self.gantry(valve: 0.25)).check(b.log).filter { $0.rule == .easeRelief }
        }
        #expect(vented(15).isEmpty, "\(vented(15))")
        #expect(vented(19).first.map { abs($0.limit - (40 * exp(-0.8) + 0.5)) < 1e-9 } == true, "\(vented(19))")
    }

    // MARK: §5 stop, latch, auto-off

    @Test("the switch: the next sample shows every setpoint zero; nothing presses until a new arm")
    func switchStop() {
        func log(released: Bool, pressAgain: Double? = nil, rearm: Bool = false) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.sample(0.5, at: (35, 50))
            b.press(1, 40)
            b.sample(2, at: (35, 50), setpoint: 40, measured: 40)
            b.input(2.02, .switchPress)
            b.sample(2.05, at: (35, 50), setpoint: released ? 0 : 40, measured: 35)
            b.sample(2.3, at: (35, 50), setpoint: 0, measured: 1)
            if rearm { b.arm(4) }
            if let t = pressAgain { b.press(t, 20) }
            b.sample(5, at: (35, 50), setpoint: pressAgain == nil ? 0 : 20, measured: pressAgain == nil ? 0 : 20)
            b.release(6)
            b.sample(6.05, at: (35, 50))
            return Self.oracle().check(b.log)
        }
        #expect(log(released: true).isEmpty, "\(log(released: true))")
        #expect(log(released: false).contains { $0.rule == .stop && $0.time == 2.05 })
        #expect(log(released: true, pressAgain: 4.5).contains { $0.rule == .latch })
        #expect(log(released: true, pressAgain: 4.5, rearm: true).isEmpty)
    }

    @Test("an operator stop and a release-all allow one host reaction (100 ms), then latch")
    func operatorStop() {
        func log(zeroAt: Double) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.sample(0.5, at: (35, 50))
            b.press(1, 40)
            b.sample(2, at: (35, 50), setpoint: 40, measured: 40)
            b.request(2.0, .stop)
            if zeroAt <= 2.1 { b.log.records.append(.releaseAll(time: 2.02, reason: "governor")) }
            b.sample(2.05, at: (35, 50), setpoint: zeroAt <= 2.05 ? 0 : 40, measured: 40)
            b.sample(2.15, at: (35, 50), setpoint: zeroAt <= 2.15 ? 0 : 40, measured: 30)
            b.sample(2.5, at: (35, 50), setpoint: 0, measured: 0)
            return Self.oracle().check(b.log)
        }
        #expect(log(zeroAt: 2.05).isEmpty, "\(log(zeroAt: 2.05))")
        let late = log(zeroAt: 2.2)
        #expect(late.contains { $0.rule == .stop && $0.time == 2.15 && $0.foot == .right })
        // No release-all reached the device: the session did not stop.
        #expect(late.contains { $0.rule == .stop && $0.foot == nil && $0.detail.contains("did not stop") }, "\(late)")
    }

    @Test("no pressing past auto-off")
    func autoOff() {
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (35, 50))
        b.press(1, 40)
        var t = 1.05
        while t < 12 { b.sample(t, at: (t < 6 ? 35 : 60, 50), setpoint: 40, measured: 40); t += 0.25 }
        b.release(12)
        b.sample(12.05, at: (60, 50))
        let short = Self.oracle(settings: OracleSettings(autoOffSeconds: 10)).check(b.log)
        #expect(short.contains { $0.rule == .autoOff && $0.time >= 10.1 }, "\(short)")
        #expect(Self.oracle().check(b.log).isEmpty)
    }

    @Test("three discomfort signals within 60 s must stop the session")
    func escalation() {
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (35, 50))
        for (i, t) in [2.0, 10, 20].enumerated() {
            b.press(t - 1, 30)
            b.sample(t, at: (35, 50), setpoint: 30, measured: 30)
            b.input(t, .ease)
            b.press(t + 0.05, 10, ramp: 1000)
            b.sample(t + 0.3, at: (35, 50), setpoint: 10, measured: 10)
            #expect(i < 3)
        }
        b.sample(21, at: (35, 50), setpoint: 10, measured: 10)
        b.release(22)
        b.sample(22.05, at: (35, 50))
        #expect(Self.oracle().check(b.log).contains { [.stop, .latch].contains($0.rule) && $0.time >= 20.05 }, "\(Self.oracle().check(b.log))")
    }

    // MARK: §6 pause and resume

    @Test("pause releases every channel; resume restores only what the routine had in force")
    func pauseResume() {
        // The routine: press at 1 s, release at 5 s, press again at 20 s.
        let routine = [Oracle.RoutineCommand(offset: 1, foot: .right, command: .pressure(channel: "node", kPa: 30, ramp: 150)),
                       Oracle.RoutineCommand(offset: 5, foot: .right, command: .release(channel: "node")),
                       Oracle.RoutineCommand(offset: 20, foot: .right, command: .pressure(channel: "node", kPa: 30, ramp: 150))]
        let o = Self.oracle(routine: routine)
        func log(pauseAt: Double, resumeAt: Double, pressAt: Double, releasedInPause: Bool = true) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.sample(0.5, at: (35, 50))
            b.press(1, 30)
            b.sample(2, at: (35, 50), setpoint: 30, measured: 30)
            if pauseAt > 5 { b.release(5); b.sample(5.05, at: (35, 50)) }
            b.request(pauseAt, .pause)
            if releasedInPause { b.release(pauseAt + 0.05) }
            b.sample(pauseAt + 0.2, at: (35, 50), setpoint: releasedInPause ? 0 : 30, measured: releasedInPause ? 0 : 30)
            b.request(resumeAt, .resume)
            b.press(pressAt, 30)
            b.sample(pressAt + 0.5, at: (35, 50), setpoint: 30, measured: 30)
            b.release(pressAt + 1)
            b.sample(pressAt + 1.05, at: (35, 50))
            return o.check(b.log)
        }
        // Paused at 3 s (pressing), resumed at 8 s: the press comes back at once.
        #expect(log(pauseAt: 3, resumeAt: 8, pressAt: 8.05).isEmpty, "\(log(pauseAt: 3, resumeAt: 8, pressAt: 8.05))")
        #expect(log(pauseAt: 3, resumeAt: 8, pressAt: 8.05, releasedInPause: false).contains { $0.rule == .pause })
        // Paused at 6 s (released), resumed at 10 s: routine time 6 s; the next press is due at
        // 20 + 4 = 24 s. Pressing at 10.05 s re-presses what the routine had released.
        #expect(log(pauseAt: 6, resumeAt: 10, pressAt: 10.05).contains { $0.rule == .resume })
        #expect(log(pauseAt: 6, resumeAt: 10, pressAt: 24).isEmpty, "\(log(pauseAt: 6, resumeAt: 10, pressAt: 24))")
    }

    // MARK: §7 pull-away

    @Test("a foot pulled away while pressed is released and the session pauses until it returns")
    func pullAway() {
        func log(releaseAfter: Double) -> [Violation] {
            var b = LogBuilder()
            b.arm(0)
            b.sample(0.5, at: (35, 50))
            b.press(1, 30)
            b.sample(2, at: (35, 50), setpoint: 30, measured: 30)
            b.sample(2.05, at: (35, 50), setpoint: 30, measured: 0, present: false)
            b.release(2.05 + releaseAfter)
            b.sample(2.5, at: (35, 50), setpoint: releaseAfter < 0.4 ? 0 : 30, measured: 0, present: false)
            b.sample(3, at: (35, 50), setpoint: 0, measured: 0, present: false)
            b.sample(3.5, at: (35, 50), setpoint: 0, measured: 0, present: true)
            return Self.oracle().check(b.log)
        }
        #expect(log(releaseAfter: 0.1).isEmpty, "\(log(releaseAfter: 0.1))")
        #expect(log(releaseAfter: 1).contains { $0.rule == .pullAway })
    }

    // MARK: §8 rest

    @Test("outputs at rest before the first command and at the end")
    func rest() {
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (35, 50))
        b.press(1, 30)
        b.sample(2, at: (35, 50), setpoint: 30, measured: 30)
        #expect(Self.oracle().check(b.log).contains { $0.rule == .rest && $0.time == 2 })
        var c = LogBuilder()
        c.sample(0, at: (35, 50), setpoint: 5, measured: 5)   // left over: not at rest
        c.arm(0.1)
        c.press(1, 30)
        c.release(2)
        c.sample(2.05, at: (35, 50))
        #expect(c.log.records.isEmpty == false)
        #expect(Self.oracle().check(c.log).contains { $0.rule == .rest && $0.time == 1 })
    }

    @Test("pressure with no armed session breaks the latch")
    func unarmed() {
        var b = LogBuilder()
        b.sample(0.5, at: (35, 50))
        b.press(1, 30)
        b.release(2)
        b.sample(2.05, at: (35, 50))
        #expect(Self.oracle().check(b.log).contains { $0.rule == .latch })
    }
}

/// Builds device logs by hand for one gantry foot (right) or a zoned foot's channels.
struct LogBuilder {
    var log = DeviceLog()
    var channels: [String]
    var position = DevicePoint.home

    init(channels: [String] = ["node"]) { self.channels = channels }

    mutating func arm(_ t: Double) { log.records.append(.arm(time: t)) }
    mutating func input(_ t: Double, _ i: DeviceLog.Input) { log.records.append(.input(time: t, i)) }
    mutating func request(_ t: Double, _ r: DeviceLog.Request) { log.records.append(.request(time: t, r, foot: nil)) }

    mutating func move(_ t: Double, from: (Double, Double)? = nil, to: (Double, Double)) {
        let f = from.map { DevicePoint(u: $0.0, v: $0.1) } ?? position
        log.records.append(.command(DeviceLog.Command(time: t, foot: .right, command: .move(to: DevicePoint(u: to.0, v: to.1), speed: 30), from: f)))
    }

    mutating func press(_ t: Double, _ kPa: Double, channel: String = "node", ramp: Double = 150) {
        log.records.append(.command(DeviceLog.Command(time: t, foot: .right, command: .pressure(channel: channel, kPa: kPa, ramp: ramp))))
    }

    mutating func release(_ t: Double, channel: String = "node") {
        log.records.append(.command(DeviceLog.Command(time: t, foot: .right, command: .release(channel: channel))))
    }

    /// One sample; `channel` gets the values, every other channel is at rest. `ramped`
    /// defaults to the setpoint (the ramp has arrived).
    mutating func sample(_ t: Double, at p: (Double, Double), channel: String = "node", setpoint: Double = 0,
                         ramped: Double? = nil, measured: Double = 0, present: Bool = true) {
        position = DevicePoint(u: p.0, v: p.1)
        let cs = channels.map { name in
            name == channel
                ? DeviceLog.ChannelSample(channel: name, setpointKPa: setpoint, rampKPa: ramped ?? setpoint, measuredKPa: measured, venting: setpoint == 0)
                : DeviceLog.ChannelSample(channel: name, setpointKPa: 0, rampKPa: 0, measuredKPa: 0, venting: false)
        }
        log.records.append(.sample(DeviceLog.Sample(time: t, foot: .right, position: position, present: present, channels: cs)))
    }

    /// Samples every 50 ms from `from` to `to` (exclusive) at one place.
    mutating func run(from: Double, to: Double, at p: (Double, Double), setpoint: Double, measured: Double) {
        var t = from
        while t < to - 1e-9 {
            sample(t, at: p, setpoint: setpoint, measured: measured)
            t += 0.05
        }
    }
}
