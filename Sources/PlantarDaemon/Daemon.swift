import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PlantarAPI
import PlantarConfig
import PlantarCore
import ServiceLifecycle
import UnixSignals

/// Everything `plantard` runs, built once from a configuration: the device, the session
/// manager, the metrics and the event hub. `buildApplication(daemon:)` puts the HTTP API in
/// front of it; tests build one with an in-memory configuration.
public final class Daemon: Sendable {
    public let config: DaemonConfig
    public let device: DeviceHandle
    public let manager: SessionManager
    public let metrics: DaemonMetrics
    public let hub: EventHub
    public let notifier: SystemdNotifier
    public let logger: Logger
    /// The Unix socket the API listens on.
    public let socketPath: String
    /// Deadlines and the connection cap of the API's listeners.
    public let connectionLimits: ConnectionLimits
    let library: ConfigLibrary

    /// What the environment adds to a configuration.
    public struct Options: Sendable {
        /// `--socket PATH`: overrides the configuration's socket.
        public var socketPath: String?
        public var environment: [String: String]
        /// Where programs, the foot map and device profiles are found.
        public var library: ConfigLibrary
        public var notifier: SystemdNotifier
        /// The API's deadlines and connection cap (tests shorten them).
        public var connectionLimits: ConnectionLimits

        public init(socketPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                    library: ConfigLibrary? = nil, notifier: SystemdNotifier? = nil, connectionLimits: ConnectionLimits = ConnectionLimits()) {
            self.socketPath = socketPath
            self.connectionLimits = connectionLimits
            self.environment = environment
            self.library = library ?? ConfigLibrary.standard(environment: environment)
            self.notifier = notifier ?? SystemdNotifier(environment: environment)
        }
    }

    /// Loads the foot map and the device profile, opens the device and puts it at rest.
    /// - Throws: `DaemonError` naming the file or backend when any of it cannot be had: the
    ///   daemon refuses to start rather than guess.
    public init(config: DaemonConfig, options: Options = Options(), logger: Logger) async throws(DaemonError) {
        self.config = config
        self.logger = logger
        library = options.library
        notifier = options.notifier
        connectionLimits = options.connectionLimits
        socketPath = options.socketPath ?? config.resolvedSocketPath(environment: options.environment)
        let map: FootMap, profile: DeviceProfile
        do {
            map = try library.loadFootMap()
            profile = try library.loadDevice(config.device)
        } catch {
            throw DaemonError(error.description)
        }
        var profileForBackend = profile
        if config.backend == .serial, let port = config.port {
            profileForBackend.serial = SerialLink(port: port, baud: profile.serial?.baud ?? 115_200)
        }
        metrics = DaemonMetrics()
        hub = EventHub()
        device = try await DeviceHandle.open(config: config, profile: profileForBackend, logger: logger, metrics: metrics)
        // systemd's StateDirectory=plantar; $PLANTAR_STATE_DIR from a checkout.
        let stateDirectory = [options.environment["STATE_DIRECTORY"], options.environment["PLANTAR_STATE_DIR"]]
            .compactMap { $0 }.first { !$0.isEmpty }.map { $0.split(separator: ":").first.map(String.init) ?? $0 }
        manager = SessionManager(device: device, profile: profileForBackend, config: config, library: library, map: map,
                                 logger: logger, metrics: metrics, hub: hub, notifier: notifier, stateDirectory: stateDirectory)
    }
}

/// The device's service: first to start (the device is put at rest when the daemon is
/// built, before any service runs) and last to stop, leaving every output at rest.
public struct DeviceService: Service {
    let device: DeviceHandle
    let logger: Logger

    public func run() async throws {
        try? await gracefulShutdown()
        device.close()
        if let simulated = device.simulatedState, !simulated.atRest {
            logger.critical("the simulated device is NOT at rest after release")
        } else {
            logger.notice("device at rest", metadata: ["backend": "\(device.backend.rawValue)"])
        }
    }
}

/// Builds the control API in front of `daemon`, Hummingbird-template style: the tests drive
/// the routes with `app.test(.router)`; `plantard` runs it.
///
/// Services start in this order and stop in the reverse: the device, the session manager,
/// stop's own lane, then (inside the application) the HTTP server. On SIGTERM the server closes first (event
/// streams end at once), then the session manager stops any session (releasing first), then
/// the device is left at rest.
public func buildApplication(daemon: Daemon) -> Application<RouterResponder<PlantarRequestContext>> {
    let router = buildRouter(daemon: daemon)
    var services: [any Service] = [
        DeviceService(device: daemon.device, logger: daemon.logger), daemon.manager,
        StopLane(path: stopLanePath(forSocket: daemon.socketPath), manager: daemon.manager, logger: daemon.logger,
                 mode: daemon.config.socketMode, group: daemon.config.socketGroup),
    ]
    if let tcp = daemon.config.tcp {
        // A second listener on the same routes; TokenMiddleware refuses any TCP request without the token.
        services.append(Application(router: buildRouter(daemon: daemon), server: daemon.httpServer,
                                    configuration: daemon.serverConfiguration(.hostname(tcp.host, port: tcp.port)),
                                    onServerRunning: { _ in daemon.logger.notice("listening on tcp \(tcp.host):\(tcp.port) (token required)") },
                                    logger: daemon.logger))
    }
    let socketPath = daemon.socketPath
    return Application(
        router: router,
        server: daemon.httpServer,
        configuration: daemon.serverConfiguration(.unixDomainSocket(path: socketPath)),
        services: services,
        onServerRunning: { _ in
            daemon.secureSocket()
            let status = "idle; device \(daemon.device.backend.rawValue) at rest; listening on \(socketPath)"
            daemon.logger.notice("ready: listening on \(socketPath)", metadata: ["backend": "\(daemon.device.backend.rawValue)"])
            daemon.notifier.ready(status: status)
        },
        logger: daemon.logger
    )
}

/// Convenience: builds the daemon and its application from a configuration.
public func buildApplication(config: DaemonConfig, options: Daemon.Options = Daemon.Options(), logger: Logger) async throws(DaemonError)
    -> (Application<RouterResponder<PlantarRequestContext>>, Daemon) {
    let daemon = try await Daemon(config: config, options: options, logger: logger)
    return (buildApplication(daemon: daemon), daemon)
}

extension Daemon {
    /// HTTP/1.1 with the API's edge in front of the routes (deadlines, arrival stamps, JSON
    /// refusals for what the parser rejects: `HTTPEdgeHandler`).
    var httpServer: HTTPServerBuilder {
        let limits = connectionLimits
        // An autoclosure: every connection gets an edge handler of its own (it holds that
        // connection's state and timer).
        return .http1(configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [HTTPEdgeHandler(limits: limits)]))
    }

    func serverConfiguration(_ address: BindAddress) -> ApplicationConfiguration {
        ApplicationConfiguration(address: address, serverName: "plantard",
                                 availableConnectionsDelegate: MaximumAvailableConnections(connectionLimits.maxConnections, logger: logger))
    }

    /// Before binding: make the socket's folder, and refuse to take over a socket another
    /// daemon still answers on (Hummingbird would replace the file).
    public func prepareSocket() throws(DaemonError) {
        let folder = (socketPath as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            } catch {
                throw DaemonError("cannot create the socket's folder \(folder): \(error.localizedDescription); give another with --socket PATH")
            }
        }
        if FileManager.default.fileExists(atPath: socketPath) {
            if (try? UnixHTTPClient(socketPath: socketPath, timeout: .seconds(2)).send("GET", "/v1/status")) != nil {
                throw DaemonError("another plantard is already listening on \(socketPath); stop it first or give another --socket")
            }
        }
    }

    /// After bind: mode 0660 (configurable) and the `plantar` group when it exists, so that
    /// exactly the daemon's user and the group's members can control the device.
    func secureSocket() {
        if chmod(socketPath, mode_t(config.socketMode)) != 0 {
            logger.error("cannot set mode \(String(config.socketMode, radix: 8)) on \(socketPath): \(String(cString: strerror(errno)))")
        }
        guard let group = getgrnam(config.socketGroup) else {
            logger.info("no group '\(config.socketGroup)' on this machine: \(socketPath) keeps the daemon's group")
            return
        }
        if chown(socketPath, uid_t.max, group.pointee.gr_gid) != 0 {
            logger.warning("cannot give \(socketPath) to group '\(config.socketGroup)': \(String(cString: strerror(errno)))")
        }
    }
}

/// The signals that end plantard, and what each does first: every output released and any
/// session stopped at once (`SessionManager.shutdown`), before the service group's graceful
/// shutdown closes the HTTP server, the stop lane and the device in turn.
public enum TerminationSignals {
    /// Every catchable signal whose default would end the process; each is a clean shutdown.
    public static let numbers: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM]
    /// The same, for ServiceLifecycle.
    public static let unix: [UnixSignal] = [.sigterm, .sigint, .sighup, .sigquit, .sigusr1, .sigusr2, .sigalrm]
}

extension Daemon {
    /// Releases the device and stops any session on every `TerminationSignals` signal, the
    /// moment it arrives (the graceful shutdown comes after, service by service, and would
    /// reach the session manager only once the HTTP server has closed). Keep the result alive
    /// as long as the daemon runs.
    public func releaseOnSignals() -> [any DispatchSourceSignal] {
        TerminationSignals.numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global(qos: .userInteractive))
            source.setEventHandler { [manager, logger] in
                manager.shutdown()
                logger.notice("signal \(number): device released and session stopped; shutting down")
            }
            source.resume()
            return source
        }
    }
}
