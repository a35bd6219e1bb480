import Foundation
import PlantarCore
import Testing

/// The compiled back-pain timelines, checked in as text (like Klipper's test/klippy
/// regression files): any change to what a device is told to do shows up in review.
/// After an intended change, rewrite them with `PLANTAR_UPDATE_GOLDEN=1 ./dev test` and
/// read the diff before committing.
@Suite("Golden timelines")
struct GoldenTimelineTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    @Test(arguments: ["reference", "zoned"])
    func backPainWithDefaultParameters(_ device: String) throws {
        let fixtures = try Fixtures()
        let rendered = try fixtures.compile(on: device).renderText()
        let file = Self.goldenDirectory.appendingPathComponent("back-pain.\(device).txt")

        if ProcessInfo.processInfo.environment["PLANTAR_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: Self.goldenDirectory, withIntermediateDirectories: true)
            try rendered.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        guard let golden = try? String(contentsOf: file, encoding: .utf8) else {
            Issue.record("no golden file \(file.path); create it with PLANTAR_UPDATE_GOLDEN=1 ./dev test")
            return
        }
        guard rendered != golden else { return }
        let got = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        let want = golden.split(separator: "\n", omittingEmptySubsequences: false)
        let line = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
        let show = { (lines: [Substring]) in lines[min(line, lines.count)..<min(line + 3, lines.count)].joined(separator: "\n") }
        Issue.record("""
            back-pain on '\(device)' differs from \(file.lastPathComponent) from line \(line + 1) \
            (\(got.count) lines now, \(want.count) in the file).
            expected:
            \(show(want))
            got:
            \(show(got))
            If the change is intended, run PLANTAR_UPDATE_GOLDEN=1 ./dev test and review the diff.
            """)
    }
}
