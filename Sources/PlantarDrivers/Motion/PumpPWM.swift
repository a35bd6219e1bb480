#if canImport(Glibc)
import Glibc
#endif
import PlantarCore

/// Pump duty and valve state for a pressure setpoint on a device whose lines carry no
/// pressure sensor.
///
/// The reference device's pressure sensor is on its serial board, not on the GPIO lines, so
/// over GPIO pressure is open loop: this model stands in for the measurement. Its
/// assumptions: the pump running at duty `d` against the bellows' leak settles at
/// `d × maxKPa` with the profile's pump time constant; the open valve vents with the valve
/// time constant. The governor's caps and ramp limits apply to the setpoints the model
/// follows, so the model never asks for more than the governor allowed; the model only
/// shapes the duty. Pure: the caller passes elapsed time.
public struct PumpPWM: Sendable, Hashable {
    /// What to drive for the next PWM period.
    public struct Output: Sendable, Hashable {
        /// Fraction of the period the pump runs, 0...1.
        public var duty: Double
        /// Whether the valve is energized (closed). Open whenever pressure should fall.
        public var valveClosed: Bool
    }

    public var maxKPa: Double
    public var pumpTimeConstant: Double
    public var valveTimeConstant: Double
    /// How far the estimate may sit above the command before the valve opens to bleed.
    public var bleedBandKPa: Double
    /// The model's estimate of the pressure in the bellows (kPa).
    public private(set) var estimateKPa: Double = 0

    public init(limits: PressureLimits, bleedBandKPa: Double = 2) {
        maxKPa = limits.maxKPa
        pumpTimeConstant = limits.pumpTimeConstant
        valveTimeConstant = limits.valveTimeConstant
        self.bleedBandKPa = bleedBandKPa
    }

    /// The duty that holds `kPa` once settled: `kPa / maxKPa`, within 0...1.
    public func holdingDuty(_ kPa: Double) -> Double {
        min(max(kPa / maxKPa, 0), 1)
    }

    /// The output for the next `dt` seconds while the ramped command is `commandKPa`, rising
    /// at `commandRate` kPa/s; then advances the estimate by `dt`.
    ///
    /// - Zero (or less): pump off, valve open.
    /// - Estimate above command + band: pump off, valve open until it falls (bleeding).
    /// - Otherwise: valve closed, duty = holding duty plus a feed-forward of the ramp
    ///   (`τ_pump × rate / maxKPa`) so the bellows keeps up with a rising command.
    public mutating func step(commandKPa: Double, commandRate: Double = 0, dt: Double) -> Output {
        let output: Output
        if commandKPa <= 0 || estimateKPa > commandKPa + bleedBandKPa {
            output = Output(duty: 0, valveClosed: false)
        } else {
            let feedForward = pumpTimeConstant * max(commandRate, 0) / maxKPa
            output = Output(duty: min(max(holdingDuty(commandKPa) + feedForward, 0), 1), valveClosed: true)
        }
        advance(output, dt: dt)
        return output
    }

    /// Advances the estimate by `dt` under `output` (first-order toward its equilibrium).
    public mutating func advance(_ output: Output, dt: Double) {
        let (target, tau) = output.valveClosed ? (output.duty * maxKPa, pumpTimeConstant) : (0, valveTimeConstant)
        estimateKPa = target + (estimateKPa - target) * exp(-dt / tau)
    }

    /// Forgets the pressure (after a release through the open valve).
    public mutating func vented() { estimateKPa = 0 }
}

/// A pressure setpoint followed at a limited rate: the command moves toward the target by no
/// more than `rate` kPa/s.
public struct PressureRamp: Sendable, Hashable {
    public var targetKPa: Double = 0
    public var rateKPaPerS: Double = 0
    public private(set) var commandKPa: Double = 0

    public init() {}

    /// Sets a new target, approached at `rate` kPa/s (a drop to zero is a release and is
    /// handled by the valve, not by the ramp).
    public mutating func set(targetKPa: Double, rate: Double) {
        self.targetKPa = max(targetKPa, 0)
        rateKPaPerS = max(rate, 0)
    }

    /// Advances by `dt` seconds; returns the command and how fast it is rising (kPa/s).
    public mutating func advance(dt: Double) -> (kPa: Double, rate: Double) {
        let before = commandKPa
        let maxChange = rateKPaPerS * dt
        let delta = targetKPa - commandKPa
        commandKPa = abs(delta) <= maxChange ? targetKPa : commandKPa + (delta > 0 ? maxChange : -maxChange)
        return (commandKPa, dt > 0 ? (commandKPa - before) / dt : 0)
    }

    /// Drops everything to zero at once (release).
    public mutating func reset() {
        targetKPa = 0
        commandKPa = 0
    }
}
