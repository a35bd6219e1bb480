import Foundation
import PlantarConfig
import PlantarCore
import PlantarOracle

/// The shipped files, loaded once for the oracle's tests.
enum Shipped {
    static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config").path

    static func text(_ relative: String) -> String {
        (try? String(contentsOfFile: config + "/" + relative, encoding: .utf8)) ?? ""
    }

    static let map: FootMap = try! FootMapLoader.parse(text("footmap.yaml"), file: "footmap.yaml")
    static let reference: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/reference.yaml"), file: "reference.yaml")
    static let zoned: DeviceProfile = try! DeviceProfileLoader.parse(text("devices/zoned.yaml"), file: "zoned.yaml")
}
