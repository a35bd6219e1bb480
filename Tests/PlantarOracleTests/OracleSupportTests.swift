import Foundation
import PlantarCore
import PlantarOracle
import Testing

@Suite("oracle: independence, the device log's format, bad input")
struct OracleSupportTests {
    /// The oracle must not share the code it checks: its sources name none of the governor's,
    /// the compiler's or the timeline's labelled types. (A scan, since PlantarCore is one
    /// module; the names are those of Sources/PlantarCore/Safety/* and Compiler/*.)
    @Test("the oracle's sources use neither the governor nor the compiler")
    func independent() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Simulator/Sources/PlantarOracle")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count >= 4)
        let forbidden = ["Governor", "PressureCaps", "SessionLimits", "CapField", "Compiler", "FootGeometry", "TimelineEntry",
                         "Intervention", "Intensity", "PressureLevel", ".line(of", "import PlantarSession",
                         "import PlantarSimulator"]
        for file in files {
            let text = try String(contentsOfFile: folder.appendingPathComponent(file).path, encoding: .utf8)
            for word in forbidden {
                #expect(!text.contains(word),
                        "\(file) mentions \(word)")
            }
        }
    }

    @Test("a device log survives JSON Lines unchanged")
    func roundTrip() throws {
        let log = DeviceLog(records: [
            .arm(time: 0),
            .sample(DeviceLog.Sample(time: 0.05, foot: .left, position: DevicePoint(u: 12.5, v: 3), present: true,
                                     channels: [DeviceLog.ChannelSample(channel: "node", setpointKPa: 10, rampKPa: 5,
                                                                        measuredKPa: nil, venting: false)], heatC: 38)),
            .command(DeviceLog.Command(time: 0.1, foot: .right, command: .move(to: DevicePoint(u: 1, v: 2), speed: 30),
                                       from: DevicePoint(u: 0, v: 0))),
            .command(DeviceLog.Command(time: 0.2, foot: .right, command: .pressure(channel: "node", kPa: 20, ramp: 150))),
            .command(DeviceLog.Command(time: 0.3, foot: .right, command: .release(channel: "node"))),
            .input(time: 0.4, .switchPress),
            .request(time: 0.5, .pause, foot: nil),
            .request(time: 0.6, .ease, foot: .left),
            .releaseAll(time: 0.7, reason: "governor"),
        ])
        let text = log.jsonLines()
        #expect(text.split(separator: "\n").count == 9)
        #expect(text.contains(#""event":"release-all""#) && text.contains(#""from-u":0"#) && text.contains(#""heat-c":38"#))
        #expect(try DeviceLog.parse(jsonLines: text) == log)
    }

    @Test("a bad device log is an error naming its line, never a crash", arguments: [
        "{\"event\":\"sample\",\"t\":1}",
        "not json",
        "{\"event\":\"command\",\"t\":1,\"foot\":\"middle\",\"kind\":\"release\",\"channel\":\"node\"}",
        "{\"event\":\"warp\",\"t\":1}",
        "{\"event\":\"command\",\"t\":1,\"foot\":\"left\",\"kind\":\"pressure\",\"channel\":\"node\"}",
        "{\"event\":\"arm\",\"t\":1e400}",
    ])
    func badLines(line: String) {
        #expect(throws: DeviceLogError.self) { try DeviceLog.parse(jsonLines: "{\"event\":\"arm\",\"t\":0}\n" + line) }
        do { _ = try DeviceLog.parse(jsonLines: "\n" + line) } catch { #expect(error.description.hasPrefix("line 2")) }
    }

    @Test("absurd numbers in a log are judged, not trapped on")
    func absurdNumbers() {
        let o = Oracle(map: OracleRuleTests.map, profile: OracleRuleTests.gantry(), footLengthMM: .nan,
                       settings: OracleSettings(sensitivity: .nan, holdLimitSeconds: -1, autoOffSeconds: .infinity))
        var b = LogBuilder()
        b.arm(0)
        b.sample(0.5, at: (.nan, .infinity))
        b.press(1, .infinity, ramp: .nan)
        b.move(1.1, from: (.nan, 0), to: (1e300, -1e300))
        b.sample(1.5, at: (1e300, -1e300), setpoint: .greatestFiniteMagnitude, measured: .nan)
        b.release(2)
        b.sample(2.05, at: (0, 0))
        let found = o.check(b.log)
        #expect(found.contains { $0.rule == .capByPlace || $0.rule == .capOnPath })
        #expect(found.contains { $0.rule == .ramp })
        #expect(found.allSatisfy { !$0.description.isEmpty })
    }
}
