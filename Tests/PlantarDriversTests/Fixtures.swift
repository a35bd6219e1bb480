@testable import PlantarDrivers
import PlantarCore

/// The reference gantry of Config/devices/reference.yaml, built in code so these tests do not
/// depend on the YAML loader.
func referenceProfile(chip: String = "gpiochip0", editing edit: (inout [String: GPIOLine]) -> Void = { _ in }) -> DeviceProfile {
    var lines: [String: GPIOLine] = [:]
    for (foot, base) in [("right", 0), ("left", 10)] {
        lines["\(foot).u.step"] = GPIOLine(offset: base + 0)
        lines["\(foot).u.dir"] = GPIOLine(offset: base + 1)
        lines["\(foot).v.step"] = GPIOLine(offset: base + 2)
        lines["\(foot).v.dir"] = GPIOLine(offset: base + 3)
        lines["\(foot).enable"] = GPIOLine(offset: base + 4, activeLow: true)
        lines["\(foot).pump"] = GPIOLine(offset: base + 5)
        lines["\(foot).valve"] = GPIOLine(offset: base + 6)
        lines["\(foot).u.home"] = GPIOLine(offset: base + 7, bias: .pullUp)
        lines["\(foot).v.home"] = GPIOLine(offset: base + 8, bias: .pullUp)
        lines["\(foot).presence"] = GPIOLine(offset: base + 9, bias: .pullDown)
    }
    lines["discomfort-switch"] = GPIOLine(offset: 20, bias: .pullUp)
    lines["ease-button"] = GPIOLine(offset: 21, activeLow: true, bias: .pullUp)
    edit(&lines)
    return DeviceProfile(
        name: "reference", title: "Reference", kind: .gantry, heelOffsetMM: 10, reach: [.sole],
        uAxis: AxisLimits(travelMM: 300, stepsPerMM: 80, maxSpeed: 60, maxAccel: 400),
        vAxis: AxisLimits(travelMM: 110, stepsPerMM: 80, maxSpeed: 40, maxAccel: 300),
        pressure: PressureLimits(maxKPa: 100, maxRampKPaPerS: 150, pumpTimeConstant: 0.25, valveTimeConstant: 0.06, sensorRateHz: 100),
        inputs: [.discomfortSwitch, .easeButton, .footPresence],
        gpio: GPIOPinMap(chip: chip, lines: lines))
}

/// Options for driving the engine by hand: no pulse-width spin, no real-time scheduling.
func testOptions() -> GPIODriverOptions {
    var options = GPIODriverOptions()
    options.stepPulseWidthNS = 0
    options.realtime = .off
    return options
}

/// A fake chip wired like a device at rest with the person holding nothing: the normally
/// closed switch conducts (low), the ease button is released (pulled up).
func wiredBank(held: [Int: String] = [:]) -> InMemoryLineBank {
    let bank = try! InMemoryLineBank(held: held)   // a test without a pipe cannot run anyway
    bank.setExternal(offset: 20, high: false)
    return bank
}

let ms: UInt64 = 1_000_000
let outputsAtRest: [String: Bool] = Dictionary(uniqueKeysWithValues:
    ["right", "left"].flatMap { f in ["u.step", "u.dir", "v.step", "v.dir", "enable", "pump", "valve"].map { ("\(f).\($0)", false) } })

/// Logical values of every output.
func outputs(_ bank: InMemoryLineBank) -> [String: Bool] {
    Dictionary(uniqueKeysWithValues: outputsAtRest.keys.map { ($0, bank.value($0)!) })
}

/// Runs the engine's pulse thread logic by hand: service at every deadline until `end`.
func run(_ engine: inout GPIOEngine, from start: UInt64, to end: UInt64) {
    var now = start
    while now < end {
        let next = engine.service(now: now)
        now = max(next, now + 1)
    }
}
