import ArgumentParser
import Foundation
import Logging
import PlantarConfig
import PlantarDaemon

/// `plantard`: parses its arguments, reads the configuration, and runs the daemon.
@main
struct Plantard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plantard",
        abstract: "The Plantar daemon: owns the device and runs massage programs on request.",
        discussion: """
            Reads its configuration (--config, else the first plantard.yaml in $PLANTAR_DATA_DIR, \
            /etc/plantar, /usr/share/plantar or the checkout's Config/), puts the device at rest and \
            serves the control API on a Unix socket. A configuration with any error is refused: \
            every problem is printed as FILE:LINE:COLUMN and the daemon exits 1. SIGTERM, SIGINT, \
            SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 or SIGALRM release the device at once, stop any \
            session and leave the device at rest before a clean exit.
            """,
        version: "0.1.0")

    @Option(name: .long, help: "Configuration file (YAML).")
    var config: String?

    @Option(name: .long, help: "Control socket path (overrides the configuration).")
    var socket: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(name: .customLong("check-config"), help: "Check the configuration and the device profile, then exit.")
    var checkConfig = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        if let socket, !socket.hasPrefix("/") { throw ValidationError("--socket needs an absolute path") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let logger = Logger(label: "plantard") { JournalLogHandler(label: $0, level: level) }
        let library = ConfigLibrary.standard()
        guard let path = config ?? library.defaultDaemonConfigPath() else {
            fail("no plantard.yaml in \(library.dataDirectories.joined(separator: ", ")); give one with --config FILE")
        }
        let daemonConfig: DaemonConfig
        do {
            daemonConfig = try library.loadDaemonConfig(path)
        } catch {
            fail(error.description)
        }
        do {
            let (app, daemon) = try await buildApplication(config: daemonConfig, options: Daemon.Options(socketPath: socket, library: library), logger: logger)
            if checkConfig {
                print("\(path): ok: backend \(daemonConfig.backend.rawValue), device \(daemonConfig.device), socket \(daemon.socketPath)")
                return
            }
            try daemon.prepareSocket()
            logger.notice("starting: config \(path), backend \(daemonConfig.backend.rawValue), device \(daemonConfig.device)")
            let releasing = daemon.releaseOnSignals()
            try await app.runService(gracefulShutdownSignals: TerminationSignals.unix)
            withExtendedLifetime(releasing) {}
            logger.notice("stopped; device at rest")
        } catch let error as DaemonError {
            fail(error.description)
        }
    }

    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\nplantard: refusing to start\n").utf8))
        Foundation.exit(1)
    }
}
