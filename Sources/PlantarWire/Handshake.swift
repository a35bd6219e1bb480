import PlantarCore

/// Checks a board's `helloReply` against the device profile the host was told to drive.
public enum Handshake {
    /// Nil when the board can run `profile`; otherwise one message naming every mismatch, for
    /// a person to read ("wrong board or wrong profile"), never a guess at what was meant.
    ///
    /// A board may have more than the profile uses (an unused sensor, a third axis), except
    /// that a zoned profile on a board with axes, or a different number of pressure channels,
    /// means the profile describes another device.
    public static func mismatch(_ reply: HelloReply, profile: DeviceProfile) -> String? {
        var problems: [String] = []
        let c = reply.capabilities

        if reply.version != WireProtocol.version {
            problems.append("the board speaks protocol version \(reply.version), this host speaks \(WireProtocol.version)")
        }
        let missingFeet = profile.feet.filter { !c.feet.contains($0) }
        if !missingFeet.isEmpty {
            problems.append("the profile uses the \(missingFeet.map(\.rawValue).joined(separator: " and ")) foot, "
                + "the board drives \(c.feet.isEmpty ? "no foot" : c.feet.sorted().map(\.rawValue).joined(separator: " and "))")
        }
        switch profile.kind {
        case .gantry:
            let missing = Axis.allCases.filter { !c.axes.contains($0) }
            if !missing.isEmpty {
                problems.append("the profile is a gantry moving on axes u and v, the board has "
                    + (c.axes.isEmpty ? "no axes" : "no \(missing.map(\.description).joined(separator: " or ")) axis"))
            }
        case .zoned:
            if !c.axes.isEmpty {
                problems.append("the profile is a zoned device with no moving node, the board has axes "
                    + Axis.allCases.filter(c.axes.contains).map(\.description).joined(separator: " and "))
            }
        }
        let channels = profile.channels.count
        if channels != c.channelsPerFoot {
            problems.append("the profile has \(channels) pressure channel\(channels == 1 ? "" : "s") per foot "
                + "(\(profile.channels.joined(separator: ", "))), the board has \(c.channelsPerFoot)")
        }
        let missingInputs = DeviceInput.allCases.filter { profile.inputs.contains($0) && !c.features.contains(.init($0)) }
        if !missingInputs.isEmpty {
            problems.append("the profile lists \(missingInputs.map(\.rawValue).joined(separator: ", ")) "
                + "but the board reports \(missingInputs.count == 1 ? "it" : "them") missing")
        }

        guard !problems.isEmpty else { return nil }
        return "board \"\(reply.identity)\" does not match device profile '\(profile.name)' (\(profile.file)): "
            + problems.joined(separator: "; ")
    }
}

extension Capabilities.Features {
    /// The feature bit of a profile input.
    public init(_ input: DeviceInput) {
        switch input {
        case .discomfortSwitch: self = .discomfortSwitch
        case .easeButton: self = .easeButton
        case .footPresence: self = .footPresence
        case .pressureSensor: self = .pressureSensor
        case .forceSensor: self = .forceSensor
        case .homeSwitches: self = .homeSwitches
        }
    }
}

extension Capabilities {
    /// What a board built to `profile` announces (the board emulator uses this), plus `extra`
    /// features the profile has no field for (heat).
    /// - Throws: `WireError.tooManyChannels` when the profile has more channels than the wire carries.
    public init(profile: DeviceProfile, extra: Features = []) throws(WireError) {
        var features = extra
        for input in profile.inputs { features.insert(Features(input)) }
        try self.init(feet: Set(profile.feet), axes: profile.kind == .gantry ? [.u, .v] : [],
                      channelsPerFoot: profile.channels.count, features: features)
    }
}
