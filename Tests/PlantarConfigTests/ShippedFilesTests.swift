import Foundation
import PlantarConfig
import PlantarCore
import Testing

/// Everything under Config/ loads without a single error or warning.
@Suite("Shipped configuration files")
struct ShippedFilesTests {
    static func files(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: configDirectory.appendingPathComponent(folder).path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
    }

    @Test func theFootMapHasTheZonesTheIssueNames() throws {
        let map = try shippedFootMap()
        for id in ["spine-cervical", "spine-thoracic", "spine-lumbar", "spine-sacral", "spine-coccyx", "spine", "brain",
                   "diaphragm", "solar-plexus", "knee-hip", "web-1-2", "sole-midline", "shoulder"] {
            #expect(map.zone(id) != nil, "zone \(id)")
        }
        // Heel = sacrum/coccyx, big toe = cervical: the spine runs up the medial edge in that order.
        let spine = try #require(map.line(of: "spine"))
        #expect(spine.map(\.zone).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
                == ["spine-coccyx", "spine-sacral", "spine-lumbar", "spine-thoracic", "spine-cervical"])
        #expect(spine.allSatisfy { $0.surface == .medialEdge })
        #expect(zip(spine, spine.dropFirst()).allSatisfy { $0.point.x < $1.point.x })
        #expect(map.zone("knee-hip")?.surface == .lateralEdge)
        #expect(map.zone("heel")?.sensitivity == .low)
        #expect(map.zone("spine-lumbar")?.sensitivity == .high)
    }

    @Test(arguments: files(in: "routines"))
    func routineLoadsCleanly(_ path: String) throws {
        let map = try shippedFootMap()
        let (routine, warnings) = try RoutineLoader.parse(try shippedText(path), file: path, map: map)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(!routine.steps.isEmpty)
    }

    @Test(arguments: files(in: "devices"))
    func deviceLoadsCleanly(_ path: String) throws {
        let device = try DeviceProfileLoader.parse(try shippedText(path), file: path)
        #expect(device.inputs.contains(.discomfortSwitch))
        #expect(device.pressure.maxKPa <= 357)
    }

    @Test func theShippedFilesAreTheOnesExpected() {
        #expect(Self.files(in: "routines").contains("routines/back-pain.yaml"))
        #expect(Self.files(in: "devices") == ["devices/reference-serial.yaml", "devices/reference.yaml", "devices/zoned.yaml"])
    }

    @Test func backPainIsTheProgramTheIssueDescribes() throws {
        let map = try shippedFootMap()
        let (routine, _) = try RoutineLoader.parse(try shippedText("routines/back-pain.yaml"), file: "back-pain.yaml", map: map)
        #expect(routine.name == "back-pain")
        #expect(routine.feet == .both && routine.order == .rightFirst)
        #expect(routine.allParameters["focus"] == .choice(["cervical", "thoracic", "lumbar", "sacral"], default: "lumbar"))
        #expect(routine.allParameters["intensity"] == .integer(1...5, default: 3))
        // About 12–15 minutes at default settings.
        #expect((Duration.seconds(12 * 60)...Duration.seconds(15 * 60)).contains(routine.statedDuration()))
        #expect(routine.steps.first?.technique == .roll)
        #expect(routine.steps.last?.technique == .hold && routine.steps.last?.zone == "solar-plexus")
        let web = try #require(routine.steps.first { $0.zone == "web-1-2" })
        #expect(web.technique == .pressHold && web.hold! <= .seconds(60) && web.rub! > .zero)
    }
}
