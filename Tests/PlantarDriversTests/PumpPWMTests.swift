@testable import PlantarDrivers
import PlantarCore
import Testing

@Suite("Pump PWM")
struct PumpPWMTests {
    let limits = PressureLimits(maxKPa: 100, maxRampKPaPerS: 150, pumpTimeConstant: 0.25, valveTimeConstant: 0.06, sensorRateHz: 100)

    @Test func holdingDutyIsTheSetpointOverTheCeiling() {
        let pwm = PumpPWM(limits: limits)
        #expect(pwm.holdingDuty(40) == 0.4)
        #expect(pwm.holdingDuty(100) == 1)
        #expect(pwm.holdingDuty(250) == 1)
        #expect(pwm.holdingDuty(-3) == 0)
    }

    @Test func zeroMeansPumpOffAndValveOpen() {
        var pwm = PumpPWM(limits: limits)
        #expect(pwm.step(commandKPa: 0, dt: 0.01) == PumpPWM.Output(duty: 0, valveClosed: false))
    }

    @Test func aSteadySetpointSettlesTheModelThere() {
        var pwm = PumpPWM(limits: limits)
        var last = PumpPWM.Output(duty: 0, valveClosed: false)
        for _ in 0..<300 { last = pwm.step(commandKPa: 40, dt: 0.01) }   // 3 s = 12 time constants
        #expect(last == PumpPWM.Output(duty: 0.4, valveClosed: true))
        #expect(abs(pwm.estimateKPa - 40) < 0.01)
    }

    @Test func aRisingCommandGetsFeedForward() {
        var pwm = PumpPWM(limits: limits)
        let out = pwm.step(commandKPa: 10, commandRate: 100, dt: 0.01)
        #expect(abs(out.duty - (0.1 + 0.25 * 100 / 100)) < 1e-12)
        #expect(pwm.step(commandKPa: 99, commandRate: 150, dt: 0.01).duty == 1)
    }

    @Test func aLowerSetpointBleedsThroughTheValve() {
        var pwm = PumpPWM(limits: limits)
        for _ in 0..<300 { _ = pwm.step(commandKPa: 60, dt: 0.01) }
        let out = pwm.step(commandKPa: 30, dt: 0.01)
        #expect(out == PumpPWM.Output(duty: 0, valveClosed: false))
        var bled = 0
        while pwm.step(commandKPa: 30, dt: 0.01).valveClosed == false { bled += 1 }
        // ln(60/32) × 60 ms ≈ 38 ms of venting before holding again.
        #expect((2...6).contains(bled))
        #expect(abs(pwm.estimateKPa - 32) < 3)
    }

    @Test func theRampLimitsTheRateOfChange() {
        var ramp = PressureRamp()
        ramp.set(targetKPa: 50, rate: 100)
        #expect(ramp.advance(dt: 0.1).kPa == 10)
        #expect(ramp.advance(dt: 0.1).rate == 100)
        for _ in 0..<10 { _ = ramp.advance(dt: 0.1) }
        #expect(ramp.commandKPa == 50)
        ramp.set(targetKPa: 20, rate: 100)
        #expect(ramp.advance(dt: 0.1).kPa == 40)
    }
}
