import Foundation
import Testing

/// The committed fuzz corpus (Tests/Fuzz/corpus/SURFACE: seeds and every crash found) replayed
/// through the plainly built harness, so an input that once crashed fails the suite if it
/// crashes again. No sanitizer: Swift's own traps (overflow, out-of-range conversions,
/// failed preconditions) are what these inputs found.
@Suite("fuzz corpus replay")
struct CorpusReplayTests {
    /// The checkout (this file is Tests/PlantarFuzzTests/CorpusReplayTests.swift).
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let corpus = repository.appendingPathComponent("Tests/Fuzz/corpus")

    static let corpusSurfaces: [String] =
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()

    @Test func everySurfaceHasACorpusAndEveryCorpusIsASurface() throws {
        let run = try replay(["--surfaces"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.split(separator: "\n").map(String.init).sorted() == Self.corpusSurfaces)
    }

    @Test(arguments: corpusSurfaces)
    func everyCommittedInputReplaysWithoutACrash(_ surface: String) throws {
        let folder = Self.corpus.appendingPathComponent(surface)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
        #expect(!files.isEmpty, "\(surface) has no seeds")
        let run = try replay([surface, folder.path])
        // A trap ends the process by a signal; stderr names the input it was running last.
        #expect(run.exitedNormally && run.status == 0, "\(run)")
        #expect(run.stdout == "\(surface): replayed \(files.count) inputs, none crashed\n", "\(run)")
    }

    struct Run: CustomStringConvertible {
        var status: Int32
        var exitedNormally: Bool
        var stdout: String
        var stderr: String
        var description: String {
            "exit \(status)\(exitedNormally ? "" : " (by a signal)")\n--- stdout\n\(stdout.suffix(1500))\n--- stderr (end)\n\(stderr.suffix(1500))"
        }
    }

    func replay(_ arguments: [String]) throws -> Run {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // Files, not pipes: the replay names every input on stderr.
        let out = scratch.appendingPathComponent("stdout"), err = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        let process = Process()
        process.executableURL = try Self.executable()
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        // A trap should end the replay at once: Swift's crash reporter can take minutes here.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = errHandle
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        if exited.wait(timeout: .now() + 300) == .timedOut {
            process.terminate()
            exited.wait()
            throw ReplayError("plantar-fuzz \(arguments.joined(separator: " ")) did not finish within 300 s")
        }
        try outHandle.close()
        try errHandle.close()
        return Run(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit,
                   stdout: try String(contentsOf: out, encoding: .utf8), stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// The plainly built `plantar-fuzz` beside the test bundle (whatever the scratch path), else
    /// in the checkout's `.build/debug`.
    static func executable() throws -> URL {
        var folders: [URL] = []
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        folders.append(Bundle.main.bundleURL)
        if let main = Bundle.main.executableURL { folders.append(main.deletingLastPathComponent()) }
        folders.append(repository.appendingPathComponent(".build/debug"))
        for candidate in folders.map({ $0.appendingPathComponent("plantar-fuzz") })
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        throw ReplayError("no built 'plantar-fuzz' in \(folders.map(\.path).joined(separator: ", ")); build it first (./dev test does)")
    }
}

struct ReplayError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
