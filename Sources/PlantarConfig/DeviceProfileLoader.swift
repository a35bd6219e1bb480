import PlantarCore
import Yams

/// Reads a device profile (`Config/devices/*.yaml`).
public enum DeviceProfileLoader {
    public static func parse(_ text: String, file: String) throws(DiagnosticsError) -> DeviceProfile {
        var r = YAMLReader(file: file)
        guard let root = r.compose(text),
              let top = r.mapping(root, "the device profile",
                                  allowed: ["device", "title", "kind", "feet", "heel-offset-mm", "contact-radius-mm", "reach", "axes", "pressure",
                                            "nodes", "inputs", "gpio", "serial"],
                                  required: ["device", "title", "kind", "pressure", "inputs"])
        else { throw DiagnosticsError(r.problems) }

        let name = top["device"].flatMap { r.string($0, "device name") } ?? ""
        let title = top["title"].flatMap { r.string($0, "title") } ?? name
        let kind = top["kind"].flatMap { r.choice($0, "device kind", DeviceKind.self) }
        let feet = top["feet"].flatMap { node in r.sequence(node, "feet").map { $0.compactMap { r.choice($0, "foot", Foot.self) } } } ?? [.left, .right]
        let heelOffset = top["heel-offset-mm"].flatMap { r.double($0, "heel-offset-mm", in: 0...100) } ?? 0
        let contactRadius = top["contact-radius-mm"].flatMap { r.double($0, "contact-radius-mm", in: 0...50) }
        let reach = top["reach"].flatMap { node in r.sequence(node, "reach").map { Set($0.compactMap { r.choice($0, "surface", Surface.self) }) } } ?? []
        let inputs = top["inputs"].flatMap { node in r.sequence(node, "inputs").map { Set($0.compactMap { r.choice($0, "input", DeviceInput.self) }) } } ?? []

        var uAxis: AxisLimits?, vAxis: AxisLimits?
        if let axesNode = top["axes"], let axes = r.mapping(axesNode, "axes", allowed: ["u", "v"], required: ["u", "v"]) {
            uAxis = axes["u"].flatMap { parseAxis($0, "axis u", &r) }
            vAxis = axes["v"].flatMap { parseAxis($0, "axis v", &r) }
        }
        let pressure = top["pressure"].flatMap { parsePressure($0, &r) }

        var nodes: [ZonedNode] = []
        if let nodesNode = top["nodes"], let items = r.sequence(nodesNode, "nodes") {
            var seen = Set<String>()
            for item in items {
                guard let n = r.mapping(item, "node", allowed: ["id", "surface", "u-mm", "v-mm"], required: ["id", "surface", "u-mm", "v-mm"]),
                      let id = n["id"].flatMap({ r.string($0, "node id") }),
                      let surface = n["surface"].flatMap({ r.choice($0, "surface", Surface.self) }),
                      let u = n["u-mm"].flatMap({ range($0, "node '\(id)' u-mm", &r) }),
                      let v = n["v-mm"].flatMap({ range($0, "node '\(id)' v-mm", &r) })
                else { continue }
                if !seen.insert(id).inserted { r.error(item, "node id '\(id)' is used twice") }
                nodes.append(ZonedNode(id: id, surface: surface, u: u, v: v))
            }
        }

        switch kind {
        case .gantry?:
            if top["axes"] == nil { r.error(root, "a gantry profile needs 'axes' (u and v)") }
            if reach.isEmpty { r.error(top["reach"] ?? root, "a gantry profile needs 'reach': the surfaces its node can press") }
            if top["nodes"] != nil { r.error(top["nodes"]!, "'nodes' belong to zoned profiles; a gantry has one moving node per foot") }
        case .zoned?:
            if nodes.isEmpty { r.error(top["nodes"] ?? root, "a zoned profile needs 'nodes': the fixed nodes or bladders under each foot") }
            if top["axes"] != nil { r.error(top["axes"]!, "'axes' belong to gantry profiles; a zoned device does not move") }
        case nil:
            break
        }
        if !inputs.contains(.discomfortSwitch) {
            r.error(top["inputs"] ?? root, "every device needs a 'discomfort-switch' input: the person on it must be able to stop it")
        }

        let gpio = top["gpio"].flatMap { parseGPIO($0, &r) }
        var serial: SerialLink?
        if let serialNode = top["serial"], let s = r.mapping(serialNode, "serial", allowed: ["port", "baud"], required: ["port", "baud"]),
           let port = s["port"].flatMap({ r.string($0, "serial port") }),
           let baud = s["baud"].flatMap({ r.int($0, "serial baud", in: 1200...4_000_000) }) {
            serial = SerialLink(port: port, baud: baud)
        }

        guard !r.problems.hasErrors, let kind, let pressure else { throw DiagnosticsError(r.problems) }
        return DeviceProfile(name: name, title: title, kind: kind, feet: feet, heelOffsetMM: heelOffset,
                             reach: kind == .zoned ? Set(nodes.map(\.surface)) : reach, contactRadiusMM: contactRadius, uAxis: uAxis, vAxis: vAxis,
                             pressure: pressure, nodes: nodes, inputs: inputs, gpio: gpio, serial: serial, file: file)
    }

    /// The slowest valve a profile may declare. An ease must take 40% off what the foot feels
    /// within 300 ms (docs/safety.md §4); a first-order valve vents to e^(-t/τ), so even fully
    /// open a slower one cannot: at τ = 0.25 s a step leaves 37% after 250 ms, and the governor
    /// aims below 60% to land there in time.
    public static let slowestValveSeconds = 0.25

    static func parseAxis(_ node: Node, _ what: String, _ r: inout YAMLReader) -> AxisLimits? {
        guard let a = r.mapping(node, what, allowed: ["travel-mm", "steps-per-mm", "max-speed-mm-s", "max-accel-mm-s2"],
                                required: ["travel-mm", "steps-per-mm", "max-speed-mm-s", "max-accel-mm-s2"]),
              let travel = a["travel-mm"].flatMap({ r.double($0, "\(what) travel-mm", in: 1...1000) }),
              let steps = a["steps-per-mm"].flatMap({ r.double($0, "\(what) steps-per-mm", in: 0.1...10_000) }),
              let speed = a["max-speed-mm-s"].flatMap({ r.double($0, "\(what) max-speed-mm-s", in: 1...1000) }),
              let accel = a["max-accel-mm-s2"].flatMap({ r.double($0, "\(what) max-accel-mm-s2", in: 1...20_000) })
        else { return nil }
        return AxisLimits(travelMM: travel, stepsPerMM: steps, maxSpeed: speed, maxAccel: accel)
    }

    static func parsePressure(_ node: Node, _ r: inout YAMLReader) -> PressureLimits? {
        let keys = ["max-kpa", "max-ramp-kpa-s", "pump-time-constant-s", "valve-time-constant-s", "sensor-rate-hz"]
        guard let p = r.mapping(node, "pressure", allowed: keys, required: keys),
              // No device profile may allow more than the plantar pain threshold's mean (357 kPa).
              let max = p["max-kpa"].flatMap({ r.double($0, "pressure max-kpa", in: 1...357) }),
              let ramp = p["max-ramp-kpa-s"].flatMap({ r.double($0, "pressure max-ramp-kpa-s", in: 1...2000) }),
              let pump = p["pump-time-constant-s"].flatMap({ r.double($0, "pressure pump-time-constant-s", in: 0.001...10) }),
              let valve = p["valve-time-constant-s"].flatMap({ r.double($0, "pressure valve-time-constant-s", in: 0.001...Self.slowestValveSeconds) }),
              let rate = p["sensor-rate-hz"].flatMap({ r.double($0, "pressure sensor-rate-hz", in: 1...10_000) })
        else { return nil }
        return PressureLimits(maxKPa: max, maxRampKPaPerS: ramp, pumpTimeConstant: pump, valveTimeConstant: valve, sensorRateHz: rate)
    }

    static func range(_ node: Node, _ what: String, _ r: inout YAMLReader) -> ClosedRange<Double>? {
        guard let items = r.sequence(node, what) else { return nil }
        guard items.count == 2, let lo = r.double(items[0], "\(what) start", in: 0...1000),
              let hi = r.double(items[1], "\(what) end", in: 0...1000) else {
            if items.count != 2 { r.error(node, "\(what) must be [from, to]") }
            return nil
        }
        guard lo < hi else {
            r.error(node, "\(what) must go from the smaller to the larger value")
            return nil
        }
        return lo...hi
    }

    static func parseGPIO(_ node: Node, _ r: inout YAMLReader) -> GPIOPinMap? {
        guard let g = r.mapping(node, "gpio", allowed: ["chip", "lines"], required: ["chip", "lines"]),
              let chip = g["chip"].flatMap({ r.string($0, "gpio chip") }),
              let linesNode = g["lines"], let entries = r.mapping(linesNode, "gpio lines", allowed: [])
        else { return nil }
        var lines: [String: GPIOLine] = [:]
        var offsets: [Int: String] = [:]
        for (role, _, value) in entries.items {
            let what = "gpio line '\(role)'"
            guard let l = r.mapping(value, what, allowed: ["offset", "active-low", "bias"], required: ["offset"]),
                  let offset = l["offset"].flatMap({ r.int($0, "\(what) offset", in: 0...511) })
            else { continue }
            if let other = offsets[offset] { r.error(value, "\(what) uses offset \(offset), already used by '\(other)'") }
            offsets[offset] = role
            let activeLow = l["active-low"].flatMap { r.bool($0, "\(what) active-low") } ?? false
            let bias = l["bias"].flatMap { r.choice($0, "bias", GPIOLine.Bias.self) } ?? .asIs
            lines[role] = GPIOLine(offset: offset, activeLow: activeLow, bias: bias)
        }
        return GPIOPinMap(chip: chip, lines: lines)
    }
}
