import Foundation
import Testing

/// The checkout's top folder (this file is Tests/PlantarCLITests/PlantarRunner.swift).
let repositoryDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// What one run of the built `plantar` executable printed and how it exited.
struct PlantarRun: CustomStringConvertible {
    var status: Int32
    /// False when a signal ended it (a crash).
    var exitedNormally: Bool
    var stdout: String
    var stderr: String

    var stdoutLines: [Substring] { stdout.split(separator: "\n") }
    var stderrLines: [Substring] { stderr.split(separator: "\n") }

    var description: String { "exit \(status)\n--- stdout\n\(stdout.prefix(2000))\n--- stderr\n\(stderr.prefix(2000))" }
}

/// Runs the `plantar` executable as a person would, with the checkout's Config/ as the data
/// folder and an empty home, so nothing on the machine leaks into what it finds.
enum Plantar {
    /// Where the executable is: `$PLANTAR_EXECUTABLE`, else beside the test bundle (the build
    /// products folder, whatever the triple, configuration or scratch path), else the
    /// checkout's `.build/debug`.
    static func executable() throws -> URL {
        var candidates: [URL] = []
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["PLANTAR_EXECUTABLE"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        }
        var folders: [URL] = []
        if let main = Bundle.main.executableURL { folders.append(main.deletingLastPathComponent()) }
        folders.append(Bundle.main.bundleURL)
        folders.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        if let first = CommandLine.arguments.first {
            folders.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        candidates += folders.map { $0.appendingPathComponent("plantar") }
        candidates.append(repositoryDirectory.appendingPathComponent(".build/debug/plantar"))
        var seen = Set<String>()
        for candidate in candidates where seen.insert(candidate.standardizedFileURL.path).inserted {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path) {
                try checkFresh(candidate)
                return candidate
            }
        }
        throw RunnerError("no built 'plantar' executable; looked at \(seen.sorted().joined(separator: ", ")). Build it first: ./dev test does")
    }

    /// `swift test` rebuilds the libraries for the test bundle but does not relink the
    /// executable: an older `plantar` than its modules' objects would test stale code.
    static func checkFresh(_ executable: URL) throws {
        let files = FileManager.default
        guard let built = (try? files.attributesOfItem(atPath: executable.path))?[.modificationDate] as? Date else { return }
        let products = executable.deletingLastPathComponent()
        for module in ["plantar", "PlantarCLI", "PlantarConfig", "PlantarCore"] {
            let folder = products.appendingPathComponent("\(module).build")
            for name in (try? files.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".o") {
                let path = folder.appendingPathComponent(name).path
                if let compiled = (try? files.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                   compiled.timeIntervalSince(built) > 1 {
                    throw RunnerError("\(executable.path) is older than \(path): run 'swift build' first (./dev test does)")
                }
            }
        }
    }

    /// Runs `plantar ARGS` in `directory` (the checkout by default), waiting at most
    /// `limit` seconds; a run that takes longer is killed and fails the test.
    static func run(_ arguments: [String], in directory: URL = repositoryDirectory,
                    environment extra: [String: String] = [:], limit: Double = 120) throws -> PlantarRun {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("plantar-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let home = scratch.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        // Files, not pipes: a long --json output cannot fill a pipe and stall the child.
        let out = scratch.appendingPathComponent("stdout"), err = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)

        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["PLANTAR_DATA_DIR"] = repositoryDirectory.appendingPathComponent("Config").path
        environment["HOME"] = home.path
        environment["XDG_CONFIG_HOME"] = home.appendingPathComponent(".config").path
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = errHandle

        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        if exited.wait(timeout: .now() + limit) == .timedOut {
            process.terminate()
            exited.wait()
            throw RunnerError("plantar \(arguments.joined(separator: " ")) did not finish within \(Int(limit)) s")
        }
        try outHandle.close()
        try errHandle.close()
        return PlantarRun(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit,
                          stdout: try String(contentsOf: out, encoding: .utf8),
                          stderr: try String(contentsOf: err, encoding: .utf8))
    }
}

struct RunnerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A failure a person caused must read as a message, never as a crash.
func expectNoCrash(_ run: PlantarRun, sourceLocation: SourceLocation = #_sourceLocation) {
    for marker in ["Fatal error", "Stack dump", "Backtrace", "backtrace", "Current stack trace", "Illegal instruction", "Segmentation"] {
        #expect(!run.stderr.contains(marker), "\(run)", sourceLocation: sourceLocation)
    }
    #expect(run.exitedNormally, "ended by signal \(run.status)\n\(run)", sourceLocation: sourceLocation)
}
