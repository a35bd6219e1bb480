import Foundation
import PlantarCore

/// What a device itself recorded during a run: its sensor samples, every command exactly as
/// it received it, and the session and release events it saw. The oracle reads only this
/// (plus the foot map, the profile and the person's settings), never the governor's view.
///
/// Written as JSON Lines by `plantar simulate --device-log FILE`; the field names are listed
/// in docs/safety.md ("The device log").
public struct DeviceLog: Sendable, Hashable {
    public var records: [Record]

    public init(records: [Record] = []) { self.records = records }

    /// One channel of one foot at a sample.
    public struct ChannelSample: Sendable, Hashable {
        public var channel: String
        /// The pressure the device was last asked for (kPa): its target.
        public var setpointKPa: Double
        /// Where the device's ramp toward the target has got to (kPa).
        public var rampKPa: Double
        /// What the sensor read (kPa); nil when it could not be read.
        public var measuredKPa: Double?
        /// The release valve forced open.
        public var venting: Bool

        public init(channel: String, setpointKPa: Double, rampKPa: Double, measuredKPa: Double?, venting: Bool) {
            self.channel = channel
            self.setpointKPa = setpointKPa
            self.rampKPa = rampKPa
            self.measuredKPa = measuredKPa
            self.venting = venting
        }
    }

    /// One foot at one instant, as the device's sensors and outputs were.
    public struct Sample: Sendable, Hashable {
        public var time: Double
        public var foot: Foot
        /// Node position (gantry), device mm; (0, 0) on a zoned device.
        public var position: DevicePoint
        public var present: Bool
        public var channels: [ChannelSample]
        /// Heat pad temperature (°C) where the device has one.
        public var heatC: Double?

        public init(time: Double, foot: Foot, position: DevicePoint, present: Bool, channels: [ChannelSample], heatC: Double? = nil) {
            self.time = time
            self.foot = foot
            self.position = position
            self.present = present
            self.channels = channels
            self.heatC = heatC
        }
    }

    /// A command as the device received it.
    public struct Command: Sendable, Hashable {
        public var time: Double
        public var foot: Foot
        public var command: ActuatorCommand
        /// Where the node was when the command arrived (gantry), device mm.
        public var from: DevicePoint?

        public init(time: Double, foot: Foot, command: ActuatorCommand, from: DevicePoint? = nil) {
            self.time = time
            self.foot = foot
            self.command = command
            self.from = from
        }
    }

    /// A person's or the hardware's input that the device itself sensed.
    public enum Input: String, Sendable, Hashable, CaseIterable {
        case switchPress = "switch"
        case switchRelease = "switch-release"
        case ease
        case pullAway = "pullaway"
        case footReturn = "return"
        case sensorFault = "sensor-fault"
    }

    /// A request made to the session from outside the device (API, CLI, a test's storm),
    /// noted by whoever made it when they made it: the oracle's clock for pause, resume,
    /// ease and stop, which the device cannot see.
    public enum Request: String, Sendable, Hashable, CaseIterable {
        case pause, resume, ease, stop
    }

    public enum Record: Sendable, Hashable {
        case sample(Sample)
        case command(Command)
        /// The session layer armed a new session (`DeviceDriver.beginSession`).
        case arm(time: Double)
        /// Every output to rest at once (`DeviceDriver.releaseAll`), with the caller's reason.
        case releaseAll(time: Double, reason: String)
        case input(time: Double, Input)
        case request(time: Double, Request, foot: Foot?)

        public var time: Double {
            switch self {
            case .sample(let s): s.time
            case .command(let c): c.time
            case .arm(let t), .releaseAll(let t, _), .input(let t, _), .request(let t, _, _): t
            }
        }
    }
}

// MARK: JSON Lines

extension DeviceLog {
    /// The flat shape of one line. Every field but `event` and `t` is optional; which appear
    /// depends on the event (docs/safety.md, "The device log").
    struct Line: Codable {
        var event: String
        var t: Double
        var foot: String?
        var u: Double?
        var v: Double?
        var present: Bool?
        var channels: [ChannelLine]?
        var heatC: Double?
        var kind: String?
        var channel: String?
        var kPa: Double?
        var ramp: Double?
        var speed: Double?
        var fromU: Double?
        var fromV: Double?
        var reason: String?
        var input: String?
        var request: String?

        enum CodingKeys: String, CodingKey {
            case event, t, foot, u, v, present, channels, kind, channel, ramp, speed, reason, input, request
            case heatC = "heat-c", kPa = "kpa", fromU = "from-u", fromV = "from-v"
        }
    }

    struct ChannelLine: Codable {
        var channel: String
        var setpoint: Double
        var ramped: Double
        var measured: Double?
        var vent: Bool
    }

    /// The log as JSON Lines: one object per record, in order.
    public func jsonLines() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var out = ""
        for record in records {
            // Non-finite numbers cannot be JSON; a device never reports them, and a line that
            // cannot be encoded is dropped rather than crashing the report.
            guard let data = try? encoder.encode(Self.line(record)) else { continue }
            out += String(decoding: data, as: UTF8.self)
            out += "\n"
        }
        return out
    }

    static func line(_ record: Record) -> Line {
        var l = Line(event: "", t: record.time)
        switch record {
        case .sample(let s):
            l.event = "sample"
            l.foot = s.foot.rawValue
            l.u = s.position.u
            l.v = s.position.v
            l.present = s.present
            l.heatC = s.heatC
            l.channels = s.channels.map {
                ChannelLine(channel: $0.channel, setpoint: $0.setpointKPa, ramped: $0.rampKPa, measured: $0.measuredKPa, vent: $0.venting)
            }
        case .command(let c):
            l.event = "command"
            l.foot = c.foot.rawValue
            switch c.command {
            case .move(let to, let speed):
                l.kind = "move"
                l.u = to.u
                l.v = to.v
                l.speed = speed
                l.fromU = c.from?.u
                l.fromV = c.from?.v
            case .pressure(let channel, let kPa, let ramp):
                l.kind = "pressure"
                l.channel = channel
                l.kPa = kPa
                l.ramp = ramp
            case .release(let channel):
                l.kind = "release"
                l.channel = channel
            }
        case .arm:
            l.event = "arm"
        case .releaseAll(_, let reason):
            l.event = "release-all"
            l.reason = reason
        case .input(_, let input):
            l.event = "input"
            l.input = input.rawValue
        case .request(_, let request, let foot):
            l.event = "request"
            l.request = request.rawValue
            l.foot = foot?.rawValue
        }
        return l
    }

    /// A log read back from JSON Lines. Blank lines are skipped; a line that is not a record
    /// is an error naming its line number (never a crash).
    public static func parse(jsonLines text: String) throws(DeviceLogError) -> DeviceLog {
        let decoder = JSONDecoder()
        var records: [Record] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let number = index + 1
            guard let line = try? decoder.decode(Line.self, from: Data(trimmed.utf8)) else {
                throw DeviceLogError("line \(number): not a device-log record")
            }
            records.append(try record(line, number))
        }
        return DeviceLog(records: records)
    }

    static func record(_ l: Line, _ number: Int) throws(DeviceLogError) -> Record {
        func need<T>(_ value: T?, _ field: String) throws(DeviceLogError) -> T {
            guard let value else { throw DeviceLogError("line \(number): \(l.event) needs '\(field)'") }
            return value
        }
        func foot() throws(DeviceLogError) -> Foot {
            let name = try need(l.foot, "foot")
            guard let f = Foot(rawValue: name) else { throw DeviceLogError("line \(number): unknown foot '\(name)'") }
            return f
        }
        guard l.t.isFinite else { throw DeviceLogError("line \(number): time is not a number") }
        switch l.event {
        case "sample":
            let channels = try need(l.channels, "channels").map {
                ChannelSample(channel: $0.channel, setpointKPa: $0.setpoint, rampKPa: $0.ramped, measuredKPa: $0.measured, venting: $0.vent)
            }
            return .sample(Sample(time: l.t, foot: try foot(), position: DevicePoint(u: l.u ?? 0, v: l.v ?? 0),
                                  present: l.present ?? true, channels: channels, heatC: l.heatC))
        case "command":
            let command: ActuatorCommand
            switch try need(l.kind, "kind") {
            case "move":
                command = .move(to: DevicePoint(u: try need(l.u, "u"), v: try need(l.v, "v")), speed: l.speed ?? 0)
            case "pressure":
                command = .pressure(channel: try need(l.channel, "channel"), kPa: try need(l.kPa, "kpa"), ramp: try need(l.ramp, "ramp"))
            case "release":
                command = .release(channel: try need(l.channel, "channel"))
            case let other:
                throw DeviceLogError("line \(number): unknown command kind '\(other)'")
            }
            let from = l.fromU.flatMap { u in l.fromV.map { DevicePoint(u: u, v: $0) } }
            return .command(Command(time: l.t, foot: try foot(), command: command, from: from))
        case "arm":
            return .arm(time: l.t)
        case "release-all":
            return .releaseAll(time: l.t, reason: l.reason ?? "")
        case "input":
            let name = try need(l.input, "input")
            guard let input = Input(rawValue: name) else { throw DeviceLogError("line \(number): unknown input '\(name)'") }
            return .input(time: l.t, input)
        case "request":
            let name = try need(l.request, "request")
            guard let request = Request(rawValue: name) else { throw DeviceLogError("line \(number): unknown request '\(name)'") }
            return .request(time: l.t, request, foot: try l.foot.map { _ throws(DeviceLogError) in try foot() })
        case let other:
            throw DeviceLogError("line \(number): unknown event '\(other)'")
        }
    }
}

/// A device log that cannot be read.
public struct DeviceLogError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
