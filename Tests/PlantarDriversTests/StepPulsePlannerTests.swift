@testable import PlantarDrivers
import PlantarCore
import Testing

@Suite("Step pulse planner")
struct StepPulsePlannerTests {
    let u = AxisLimits(travelMM: 300, stepsPerMM: 80, maxSpeed: 60, maxAccel: 400)
    let v = AxisLimits(travelMM: 110, stepsPerMM: 80, maxSpeed: 40, maxAccel: 300)

    /// Checks step times against the limits: no interval shorter than the top speed allows,
    /// and the speed between neighbouring intervals changing no faster than the acceleration.
    func expectWithinLimits(_ times: [Double], stepsPerMM: Double, maxSpeed: Double, maxAccel: Double,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let intervals = zip([0] + times, times).map { $1 - $0 }
        let minInterval = 1 / (maxSpeed * stepsPerMM)
        #expect(intervals.allSatisfy { $0 >= minInterval * (1 - 1e-9) }, sourceLocation: sourceLocation)
        let accelSteps = maxAccel * stepsPerMM
        var worst = 0.0
        for (a, b) in zip(intervals, intervals.dropFirst()) {
            // Mean speed over an interval is the speed at its middle (speed is linear in time).
            worst = max(worst, abs(1 / b - 1 / a) / ((a + b) / 2))
        }
        #expect(worst <= accelSteps * (1 + 1e-6), "steepest change \(worst) steps/s² > \(accelSteps)", sourceLocation: sourceLocation)
    }

    @Test func stepCountIsDistanceTimesStepsPerMM() {
        let plan = StepPulsePlanner.planAxis(.u, distanceMM: 100, speed: 60, limits: u)
        #expect(plan.uSteps == 8000)
        #expect(plan.vSteps == 0)
        #expect(plan.stepTimes(.u).count == 8000)
        #expect(StepPulsePlanner.planAxis(.v, distanceMM: -12.5, speed: 40, limits: v).vSteps == -1000)
    }

    @Test func trapezoidKeepsWithinSpeedAndAcceleration() {
        let plan = StepPulsePlanner.planAxis(.u, distanceMM: 100, speed: 60, limits: u)
        let times = plan.stepTimes(.u)
        #expect(plan.peakSpeed == 60)
        #expect(abs(plan.duration - u.travelTime(100)) < 1e-9)
        #expect(abs(times.last! - plan.duration) < 1e-9)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
        expectWithinLimits(times, stepsPerMM: 80, maxSpeed: 60, maxAccel: 400)
        // Cruise: 60 mm/s × 80 steps/mm = 4800 steps/s, one step every 208.3 µs.
        let mid = times[4000] - times[3999]
        #expect(abs(mid - 1 / 4800.0) < 1e-9)
        // The first step comes after the time to cover one step from rest: sqrt(2 / a).
        #expect(abs(times[0] - (2.0 / (400 * 80)).squareRoot()) < 1e-12)
    }

    @Test func aSlowerRequestedSpeedCapsTheCruise() {
        let plan = StepPulsePlanner.planAxis(.u, distanceMM: 50, speed: 20, limits: u)
        #expect(plan.peakSpeed == 20)
        expectWithinLimits(plan.stepTimes(.u), stepsPerMM: 80, maxSpeed: 20, maxAccel: 400)
    }

    @Test func shortMovesAreTriangular() {
        // 60² / 400 = 9 mm to reach cruise and stop again; 4 mm never gets there.
        let plan = StepPulsePlanner.planAxis(.u, distanceMM: 4, speed: 60, limits: u)
        #expect(plan.peakSpeed < 60)
        #expect(abs(plan.peakSpeed - (400.0 * 4).squareRoot()) < 1e-9)
        #expect(abs(plan.duration - u.travelTime(4)) < 1e-9)
        expectWithinLimits(plan.stepTimes(.u), stepsPerMM: 80, maxSpeed: 60, maxAccel: 400)
    }

    @Test func diagonalMovesKeepEachAxisWithinItsOwnLimits() {
        let plan = StepPulsePlanner.plan(from: (0, 0), to: DevicePoint(u: 120, v: 90), speed: 100, u: u, v: v)
        #expect(plan.uSteps == 9600)
        #expect(plan.vSteps == 7200)
        #expect(abs(plan.stepTimes(.u).last! - plan.stepTimes(.v).last!) < 1e-9)   // both arrive together
        expectWithinLimits(plan.stepTimes(.u), stepsPerMM: 80, maxSpeed: 60, maxAccel: 400)
        expectWithinLimits(plan.stepTimes(.v), stepsPerMM: 80, maxSpeed: 40, maxAccel: 300)
        // v is the busier axis here (90/150 of the path at 40 mm/s): it sets the path speed.
        #expect(abs(plan.peakSpeed - 40 / 0.6) < 1e-9)
    }

    @Test func targetsAreClampedToTheTravelAndCountedFromThePosition() {
        let plan = StepPulsePlanner.plan(from: (800, 80), to: DevicePoint(u: 400, v: -5), speed: 60, u: u, v: v)
        #expect(plan.uSteps == 300 * 80 - 800)
        #expect(plan.vSteps == -80)
        #expect(StepPulsePlanner.plan(from: (800, 80), to: DevicePoint(u: 10, v: 1), speed: 60, u: u, v: v) == .none)
    }
}
