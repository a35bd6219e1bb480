import Foundation
import PlantarConfig
import PlantarCore
import Testing

/// The checkout's `Config/` (this file is Tests/PlantarConfigTests/Support.swift).
let configDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Config")

func shippedText(_ relative: String) throws -> String {
    try String(contentsOf: configDirectory.appendingPathComponent(relative), encoding: .utf8)
}

/// The shipped foot map, which routines are checked against.
func shippedFootMap() throws -> FootMap {
    try FootMapLoader.parse(try shippedText("footmap.yaml"), file: "footmap.yaml")
}

/// What one diagnostic must say: where (exactly) and the heart of its message.
struct Expected: CustomStringConvertible {
    var line: Int
    var column: Int
    var message: String

    init(_ line: Int, _ column: Int, _ message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    var description: String { "\(line):\(column): …\(message)…" }
}

/// Runs `parse`, which must fail, and returns its diagnostics (errors and warnings).
func diagnostics<T>(_ parse: () throws(DiagnosticsError) -> T, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Diagnostic] {
    do {
        _ = try parse()
        Issue.record("expected the file to be rejected", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.diagnostics
    }
}

/// Checks that `found` are exactly the `expected` errors, in order, at the exact places,
/// each in `file` and rendered as `FILE:LINE:COLUMN: error: message`.
func expectErrors(_ found: [Diagnostic], _ expected: [Expected], file: String,
                  sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let rendered = found.map(\.description).joined(separator: "\n")
    #expect(found.count == expected.count, "expected \(expected.count) error(s), got:\n\(rendered)",
            sourceLocation: sourceLocation)
    for (diagnostic, want) in zip(found, expected) {
        #expect(diagnostic.severity == .error, sourceLocation: sourceLocation)
        #expect(diagnostic.location?.file == file, sourceLocation: sourceLocation)
        #expect(diagnostic.location?.line == want.line && diagnostic.location?.column == want.column,
                "\(diagnostic) should be at \(want.line):\(want.column)", sourceLocation: sourceLocation)
        #expect(diagnostic.message.contains(want.message), "\(diagnostic) should say: \(want.message)",
                sourceLocation: sourceLocation)
        #expect(diagnostic.description.hasPrefix("\(file):\(want.line):\(want.column): error: "),
                sourceLocation: sourceLocation)
    }
}

/// Diagnostics in file order (the routine loader sorts its own; the others report in the
/// order they check).
func byPosition(_ found: [Diagnostic]) -> [Diagnostic] {
    found.enumerated().sorted {
        ($0.element.location?.line ?? 0, $0.element.location?.column ?? 0, $0.offset)
            < ($1.element.location?.line ?? 0, $1.element.location?.column ?? 0, $1.offset)
    }.map(\.element)
}
