import PlantarCore

/// A device profile's pin map resolved into the lines the GPIO driver claims, with every
/// role checked: the roles a gantry foot needs are present, no role is unknown.
///
/// Roles (Config/devices/reference.yaml): per foot `FOOT.u.step`, `FOOT.u.dir`, `FOOT.v.step`,
/// `FOOT.v.dir`, `FOOT.enable`, `FOOT.pump`, `FOOT.valve` (required), `FOOT.u.home`,
/// `FOOT.v.home`, `FOOT.presence` (optional); shared `discomfort-switch` (required) and
/// `ease-button` (optional). Every output rests inactive: steps low, steppers disabled, pump
/// off, valve unpowered (open).
public struct GPIOPinLayout: Sendable, Hashable {
    /// Indices into `requests` of one foot's lines.
    public struct FootLines: Sendable, Hashable {
        public var uStep: Int, uDir: Int, vStep: Int, vDir: Int
        public var enable: Int, pump: Int, valve: Int
        public var uHome: Int?, vHome: Int?, presence: Int?
    }

    public var chip: String
    /// Every line to claim, outputs first.
    public var requests: [GPIOLineRequest]
    public var feet: [Foot: FootLines]
    public var discomfortSwitch: Int
    public var easeButton: Int?

    static let requiredFootRoles = ["u.step", "u.dir", "v.step", "v.dir", "enable", "pump", "valve"]
    static let optionalFootRoles = ["u.home", "v.home", "presence"]

    /// Resolves the profile's `gpio:` section.
    /// - Throws: `GPIOError` of kind `.pinMap` naming every missing or unknown role.
    public static func resolve(_ profile: DeviceProfile) throws(GPIOError) -> GPIOPinLayout {
        guard let map = profile.gpio else {
            throw GPIOError(.pinMap, "device '\(profile.name)' (\(profile.file)) has no 'gpio:' section: the GPIO driver needs its pin map")
        }
        guard profile.kind == .gantry, profile.uAxis != nil, profile.vAxis != nil else {
            throw GPIOError(.pinMap, "device '\(profile.name)': the GPIO driver drives gantry devices (steppers, pump, valve); use the serial driver for a \(profile.kind.rawValue) device",
                            chip: map.chip)
        }
        var known: [String] = []
        var missing: [String] = []
        for foot in profile.feet {
            for role in requiredFootRoles {
                known.append("\(foot.rawValue).\(role)")
                if map.lines["\(foot.rawValue).\(role)"] == nil { missing.append("\(foot.rawValue).\(role)") }
            }
            known += optionalFootRoles.map { "\(foot.rawValue).\($0)" }
        }
        known += ["discomfort-switch", "ease-button"]
        if map.lines["discomfort-switch"] == nil { missing.append("discomfort-switch") }
        let unknown = map.lines.keys.filter { !known.contains($0) }.sorted()
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing line\(missing.count == 1 ? "" : "s") " + missing.map { "'\($0)'" }.joined(separator: ", ")) }
        if !unknown.isEmpty {
            problems.append("unknown role\(unknown.count == 1 ? "" : "s") " + unknown.map { "'\($0)'" }.joined(separator: ", ")
                            + " (known: " + known.joined(separator: ", ") + ")")
        }
        if !problems.isEmpty {
            throw GPIOError(.pinMap, "device '\(profile.name)' (\(profile.file)) gpio pin map: " + problems.joined(separator: "; "),
                            chip: map.chip, role: missing.first ?? unknown.first)
        }

        var requests: [GPIOLineRequest] = []
        func add(_ role: String, _ direction: GPIOLineRequest.Direction) -> Int {
            requests.append(GPIOLineRequest(role: role, line: map.lines[role]!, direction: direction))
            return requests.count - 1
        }
        func addIfPresent(_ role: String, _ direction: GPIOLineRequest.Direction) -> Int? {
            map.lines[role] == nil ? nil : add(role, direction)
        }
        var feet: [Foot: FootLines] = [:]
        for foot in profile.feet.sorted() {
            let f = foot.rawValue
            let rest = GPIOLineRequest.Direction.output(rest: false)
            feet[foot] = FootLines(uStep: add("\(f).u.step", rest), uDir: add("\(f).u.dir", rest),
                                   vStep: add("\(f).v.step", rest), vDir: add("\(f).v.dir", rest),
                                   enable: add("\(f).enable", rest), pump: add("\(f).pump", rest),
                                   valve: add("\(f).valve", rest), uHome: nil, vHome: nil, presence: nil)
        }
        for foot in profile.feet.sorted() {
            let f = foot.rawValue
            feet[foot]!.uHome = addIfPresent("\(f).u.home", .input)
            feet[foot]!.vHome = addIfPresent("\(f).v.home", .input)
            feet[foot]!.presence = addIfPresent("\(f).presence", .input)
        }
        let discomfort = add("discomfort-switch", .edges)
        let ease = addIfPresent("ease-button", .edges)
        return GPIOPinLayout(chip: map.chip, requests: requests, feet: feet, discomfortSwitch: discomfort, easeButton: ease)
    }

    /// The index of a role's line, if the layout has it.
    public func index(of role: String) -> Int? { requests.firstIndex { $0.role == role } }

    /// Outputs in the order they go to rest: valves open and pumps off first (pressure
    /// falls), then steppers disabled, then step and direction lines low.
    public var restOrder: [Int] {
        let feet = self.feet.keys.sorted().map { self.feet[$0]! }
        return feet.flatMap { [$0.valve, $0.pump] } + feet.map(\.enable)
            + feet.flatMap { [$0.uStep, $0.vStep, $0.uDir, $0.vDir] }
    }

    /// Every output line, in claim order.
    public var outputs: [Int] { requests.indices.filter { requests[$0].restValue != nil } }
}
