import Foundation
import Hummingbird
import Logging
import PlantarConfig
import PlantarDaemon
import Testing

/// docs/api.md and the server in step; the systemd units checked by systemd's own tools;
/// the install script into a scratch root.
@Suite("docs, units and install", .timeLimit(.minutes(3)))
struct DocsAndUnitsTests {
    static let apiDoc = (try? String(contentsOf: repository.appendingPathComponent("docs/api.md"), encoding: .utf8)) ?? ""

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let scratch = try Scratch("docs")
        let options = Daemon.Options(socketPath: scratch.path + "/s.sock", environment: [:],
                                     library: ConfigLibrary(dataDirectories: [try scratch.dataDirectory()]),
                                     notifier: SystemdNotifier(environment: [:]))
        let daemon = try await Daemon(config: DaemonConfig(), options: options, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let served = Set(buildRouter(daemon: daemon).routes.map { "\($0.method) \($0.path)".replacingOccurrences(of: "{input}", with: ":input") })
        let documented = Set(Self.apiDoc.split(separator: "\n").filter { $0.hasPrefix("### ") }.map { String($0.dropFirst(4)) })
        #expect(served == documented, "served but not documented: \(served.subtracting(documented).sorted()); documented but not served: \(documented.subtracting(served).sorted())")
        #expect(served.count >= 11)
    }

    @Test func everyRefusalCodeIsDocumented() throws {
        let folder = repository.appendingPathComponent("Sources/PlantarDaemon")
        var codes = Set<String>()
        let pattern = try Regex(#"(?:Refusal\(\d+, |code: )"([a-z-]+)""#)
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: pattern) { codes.insert(String(match.output[1].substring ?? "")) }
        }
        #expect(codes.count >= 10, "\(codes)")
        for code in codes.sorted() {
            #expect(Self.apiDoc.contains("| `\(code)` |"), "refusal code '\(code)' is not in docs/api.md's table")
        }
    }

    /// docs/api.md and docs/openapi.yaml agree: the same routes, the same refusal codes (all
    /// but `internal`, a bug that is never part of the contract).
    @Test func apiMarkdownAndOpenAPIAgree() throws {
        let contract = try OpenAPIContract.shared.get()
        var operations = Set<String>()
        for (path, item) in contract.document["paths"]?.object ?? [:] {
            for method in (item.object ?? [:]).keys {
                operations.insert("\(method.uppercased()) \(path.replacingOccurrences(of: "{input}", with: ":input"))")
            }
        }
        let documented = Set(Self.apiDoc.split(separator: "\n").filter { $0.hasPrefix("### ") }.map { String($0.dropFirst(4)) })
        #expect(operations == documented, "only in openapi.yaml: \(operations.subtracting(documented).sorted()); only in api.md: \(documented.subtracting(operations).sorted())")
        let pattern = try Regex(#"^\| \d{3} \| `([a-z-]+)` \|"#)
        let tableCodes = Set(Self.apiDoc.split(separator: "\n").compactMap { line in
            (try? pattern.firstMatch(in: String(line))).map { String($0.output[1].substring ?? "") }
        })
        let enumCodes = Set(contract.document["components"]?["schemas"]?["Refusal"]?["properties"]?["code"]?["enum"]?.array?.compactMap(\.string) ?? [])
        #expect(tableCodes.subtracting(["internal"]) == enumCodes, "only in api.md: \(tableCodes.subtracting(enumCodes).sorted()); only in openapi.yaml: \(enumCodes.subtracting(tableCodes).sorted())")
    }

    static let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze is missing (apt-get install systemd): the unit's checks are skipped"))
    func serviceExposureIsAtMostOne() throws {
        let unit = repository.appendingPathComponent("systemd/plantard.service").path
        let result = try runProcess(URL(fileURLWithPath: Self.systemdAnalyze!), ["security", "--offline=yes", "--no-pager", unit])
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(result)")
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, "\(line)")
        #expect(score <= 1.0, "\(line)\n\(result.stdout.split(separator: "\n").filter { $0.contains("✗") }.joined(separator: "\n"))")
    }

    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze is missing (apt-get install systemd): the unit's checks are skipped"))
    func unitVerifies() throws {
        // verify also checks that ExecStart= and ExecStopPost= exist: point them at the built binaries.
        let scratch = try Scratch("unit")
        let plantard = try Executables.url("plantard").path, plantar = try Executables.url("plantar").path
        var text = try String(contentsOf: repository.appendingPathComponent("systemd/plantard.service"), encoding: .utf8)
        text = text.replacingOccurrences(of: "/usr/bin/plantard ", with: plantard + " ").replacingOccurrences(of: "/usr/bin/plantar ", with: plantar + " ")
        let unit = try scratch.write(text, to: "plantard.service")
        let result = try runProcess(URL(fileURLWithPath: Self.systemdAnalyze!), ["verify", "--man=no", unit])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty && result.stdout.isEmpty, "\(result)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-sysusers") || FileManager.default.isExecutableFile(atPath: "/bin/systemd-sysusers"),
                   "systemd-sysusers is missing: the sysusers.d file is not checked"))
    func sysusersFileParses() throws {
        let tool = FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-sysusers") ? "/usr/bin/systemd-sysusers" : "/bin/systemd-sysusers"
        let result = try runProcess(URL(fileURLWithPath: tool), ["--dry-run", repository.appendingPathComponent("systemd/plantar.sysusers").path])
        #expect(result.status == 0, "\(result)")
        #expect(!result.stderr.contains("Failed") && !result.stderr.contains("error"), "\(result)")
    }

    @Test func installScriptLaysOutADestdir() throws {
        let scratch = try Scratch("inst")
        let bin = try Executables.url("plantard").deletingLastPathComponent().path
        let result = try runProcess(URL(fileURLWithPath: "/bin/bash"),
                                    [repository.appendingPathComponent("scripts/install").path, "--destdir", scratch.path, "--bin-dir", bin])
        #expect(result.status == 0, "\(result)")
        for path in ["usr/bin/plantard", "usr/bin/plantar", "etc/plantar/plantard.yaml", "usr/share/plantar/footmap.yaml",
                     "usr/share/plantar/routines/back-pain.yaml", "usr/share/plantar/devices/reference.yaml",
                     "usr/lib/systemd/system/plantard.service", "usr/lib/sysusers.d/plantar.conf",
                     "usr/lib/tmpfiles.d/plantar.conf", "usr/lib/udev/rules.d/60-plantar.rules"] {
            #expect(FileManager.default.fileExists(atPath: scratch.path + "/" + path), "\(path) not installed\n\(result)")
        }
        // The installed configuration is the one a newcomer starts with, and it checks.
        let installed = try runProcess(URL(fileURLWithPath: scratch.path + "/usr/bin/plantard"),
                                       ["--check-config", "--config", scratch.path + "/etc/plantar/plantard.yaml"],
                                       environment: ["PLANTAR_DATA_DIR": scratch.path + "/usr/share/plantar"])
        #expect(installed.status == 0 && installed.stdout.contains("ok: backend simulator"), "\(installed)")
    }
}
