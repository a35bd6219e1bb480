import Foundation

// One source, two programs:
//
// - Built by scripts/fuzz with `-DFUZZING -sanitize=fuzzer,address`: a libFuzzer binary for
//   the surface named by $PLANTAR_FUZZ_SURFACE, taking libFuzzer's own arguments.
// - Built plainly (`swift build`): `plantar-fuzz SURFACE FILE-OR-FOLDER...` replays inputs
//   through the same harness and exits 0 when none traps; the suite replays every committed
//   seed and crash this way (Tests/PlantarFuzzTests).

#if FUZZING

/// Read once: libFuzzer owns the command line.
let fuzzedSurface: FuzzSurface = {
    let name = ProcessInfo.processInfo.environment["PLANTAR_FUZZ_SURFACE"] ?? ""
    guard let surface = FuzzSurface(rawValue: name) else {
        fatalError("set PLANTAR_FUZZ_SURFACE to one of: \(FuzzSurface.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return surface
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzedSurface.run(data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
    return 0
}

/// libFuzzer's public driver. SwiftPM links an executable with `main` renamed to the module's
/// own entry point, so libFuzzer's `main` never gets linked in; this `@main` calls the driver
/// that libFuzzer's `main` would have called.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
enum FuzzerMain {
    static func main() {
        _ = fuzzedSurface
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, { fuzzTestOneInput($0, $1) }))
    }
}

#else

@main
enum CorpusReplay {
    static let usage = """
        usage: plantar-fuzz SURFACE FILE-OR-FOLDER...
               plantar-fuzz --surfaces
        Runs every file (every file of a folder) through SURFACE's harness; a trap ends the run.
        Surfaces: \(FuzzSurface.allCases.map(\.rawValue).joined(separator: ", "))
        """

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments == ["--surfaces"] {
            print(FuzzSurface.allCases.map(\.rawValue).joined(separator: "\n"))
            return
        }
        guard let name = arguments.first, let surface = FuzzSurface(rawValue: name), arguments.count >= 2 else {
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            exit(2)
        }
        var replayed = 0
        for path in inputs(arguments.dropFirst()) {
            guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
            // Named before it runs: if it traps, this is the last line printed.
            FileHandle.standardError.write(Data("\(surface.rawValue): \(path)\n".utf8))
            surface.run(Array(data))
            replayed += 1
        }
        print("\(surface.rawValue): replayed \(replayed) inputs, none crashed")
    }

    /// The files named, and the files of the folders named (not recursive), in name order.
    static func inputs(_ paths: ArraySlice<String>) -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("no such file: \(path)") }
            if isDirectory.boolValue {
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { fail("cannot list \(path)") }
                files += names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        return files
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("plantar-fuzz: \(message)\n".utf8))
        exit(1)
    }
}

#endif
