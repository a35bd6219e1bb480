import Foundation
import PlantarCore
import Yams

/// What `plantard` runs with: which device, where it listens, the person's settings and the
/// session limits. Read from `Config/plantard.yaml` (or `/etc/plantar/plantard.yaml`) by
/// `DaemonConfigLoader`; every default below is what a missing key means.
public struct DaemonConfig: Sendable, Hashable {
    /// How the daemon reaches the device.
    public enum Backend: String, Sendable, Hashable, CaseIterable {
        /// The in-process simulated device: no hardware needed.
        case simulator
        /// A microcontroller board over a serial port (`PlantarWire`).
        case serial
        /// GPIO lines through libgpiod.
        case gpio
    }

    /// A TCP listener, only ever with a token (`Authorization: Bearer TOKEN`).
    public struct TCPListen: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var token: String

        public init(host: String, port: Int, token: String) {
            self.host = host
            self.port = port
            self.token = token
        }
    }

    /// Default `simulator`, so a newcomer can start the daemon with no hardware.
    public var backend: Backend = .simulator
    /// Device profile name or path. Default `reference`.
    public var device: String = "reference"
    /// Serial backend: the port, overriding the profile's `serial.port`.
    public var port: String?
    /// Simulator only: session time runs this many times faster than real time (tests, demos).
    /// Default 1.
    public var simulatorSpeed: Double = 1
    /// The control socket; nil means the default (`DaemonConfig.defaultSocketPath`).
    public var socketPath: String?
    /// Group the socket is given after bind, when it exists. Default `plantar`.
    public var socketGroup: String = "plantar"
    /// Mode of the socket file. Default 0660: the daemon's user and group only.
    public var socketMode: UInt32 = 0o660
    /// Optional TCP listener (off by default).
    public var tcp: TCPListen?
    /// The person's foot length. Default 265 mm (EU 42).
    public var footSize: FootSize = .standard
    /// Intensity when a request names none, 1–5. Default 3.
    public var intensity: Int = 3
    /// Personal sensitivity 0.5…1.0 (lower caps for a more sensitive person). Default 1.0.
    public var sensitivity: Double = 1.0
    /// Lower caps for reduced sensation (e.g. diabetic neuropathy). Default off.
    public var reducedSensation = false
    /// Auto-off (at most 30 min) and the hold limit (at most 60 s).
    public var limits: SessionLimits = .standard
    /// Where this configuration was read from ("built-in defaults" when from no file).
    public var file: String = "built-in defaults"

    public init() {}

    /// The socket path when none is configured: `$RUNTIME_DIRECTORY/plantard.sock` under
    /// systemd (`RuntimeDirectory=plantar`); else `/run/plantar/plantard.sock` for root; else,
    /// for a person trying the daemon from a checkout, `$XDG_RUNTIME_DIR/plantar/plantard.sock`
    /// (or `/tmp/plantar-UID/plantard.sock`), which `plantar` looks for too.
    public static func defaultSocketPath(environment: [String: String], uid: UInt32 = UInt32(getuid())) -> String {
        if let runtime = environment["RUNTIME_DIRECTORY"], !runtime.isEmpty {
            // systemd may list several directories separated by colons; the first is ours.
            let first = runtime.split(separator: ":").first.map(String.init) ?? runtime
            return first + "/plantard.sock"
        }
        return uid == 0 ? systemSocketPath : personalSocketPath(environment: environment, uid: uid)
    }

    /// Where the system's daemon listens.
    public static let systemSocketPath = "/run/plantar/plantard.sock"

    /// Where a daemon started by a person (not root, not systemd) listens.
    public static func personalSocketPath(environment: [String: String], uid: UInt32 = UInt32(getuid())) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { return runtime + "/plantar/plantard.sock" }
        return "/tmp/plantar-\(uid)/plantard.sock"
    }

    /// Where `plantar` looks when `--socket` is not given: `$PLANTAR_SOCKET`; else the system
    /// daemon's socket when it exists; else the person's own daemon's when that exists; else
    /// the system's (so the error names the usual place).
    public static func clientSocketPath(environment: [String: String], uid: UInt32 = UInt32(getuid())) -> String {
        if let explicit = environment["PLANTAR_SOCKET"], !explicit.isEmpty { return explicit }
        if FileManager.default.fileExists(atPath: systemSocketPath) { return systemSocketPath }
        let personal = personalSocketPath(environment: environment, uid: uid)
        if FileManager.default.fileExists(atPath: personal) { return personal }
        return systemSocketPath
    }

    /// The socket in force: the configured one, else the default.
    public func resolvedSocketPath(environment: [String: String]) -> String {
        socketPath ?? Self.defaultSocketPath(environment: environment)
    }
}

/// Reads `plantard.yaml`. Every problem is reported at once, each as FILE:LINE:COLUMN naming
/// the key, and a file with any error is refused whole: the daemon does not guess.
public enum DaemonConfigLoader {
    static let topKeys = ["backend", "device", "port", "simulator-speed", "socket", "tcp", "user", "limits"]

    public static func parse(_ text: String, file: String) throws(DiagnosticsError) -> DaemonConfig {
        var r = YAMLReader(file: file)
        var config = DaemonConfig()
        config.file = file
        // An empty file (or only comments) means every default.
        if text.split(whereSeparator: \.isNewline).allSatisfy({ $0.trimmingPrefix(while: \.isWhitespace).first == "#" || $0.allSatisfy(\.isWhitespace) }) {
            return config
        }
        guard let root = r.compose(text), let top = r.mapping(root, "the daemon configuration", allowed: topKeys)
        else { throw DiagnosticsError(r.problems) }

        if let node = top["backend"], let backend = r.choice(node, "backend", DaemonConfig.Backend.self) { config.backend = backend }
        if let node = top["device"], let device = r.string(node, "device") { config.device = device }
        if let node = top["port"], let port = r.string(node, "port") {
            config.port = port
            if config.backend != .serial { r.error(node, "port is for the serial backend; backend is \(config.backend.rawValue)") }
        }
        if let node = top["simulator-speed"], let speed = r.double(node, "simulator-speed", in: 0.01...1000) {
            config.simulatorSpeed = speed
            if config.backend != .simulator && speed != 1 {
                r.error(node, "simulator-speed is for the simulator backend; a real device runs in real time")
            }
        }
        if let node = top["socket"], let socket = r.mapping(node, "socket", allowed: ["path", "group", "mode"]) {
            if let n = socket["path"], let path = r.string(n, "socket path") {
                if !path.hasPrefix("/") { r.error(n, "socket path must be absolute, got '\(path)'") }
                // sockaddr_un holds 108 bytes including the terminating zero.
                else if path.utf8.count > 107 { r.error(n, "socket path is \(path.utf8.count) bytes long; a Unix socket path holds at most 107") }
                else { config.socketPath = path }
            }
            if let n = socket["group"], let group = r.string(n, "socket group") { config.socketGroup = group }
            if let n = socket["mode"] {
                if case .scalar(let s) = n, let mode = UInt32(s.string, radix: 8), mode <= 0o777 {
                    if mode & 0o007 != 0 { r.error(n, "socket mode \(s.string) lets every user on the machine control the device; use 0660 or stricter") }
                    else { config.socketMode = mode }
                } else {
                    r.error(n, "socket mode must be octal permissions such as \"0660\"")
                }
            }
        }
        if let node = top["tcp"] { config.tcp = parseTCP(node, &r) }
        if let node = top["user"] { parseUser(node, into: &config, &r) }
        if let node = top["limits"], let limits = r.mapping(node, "limits", allowed: ["auto-off", "hold-limit"]) {
            var auto = config.limits.autoOff, hold = config.limits.holdLimit
            if let n = limits["auto-off"], let d = r.duration(n, "limits auto-off", in: .seconds(1)...SessionLimits.autoOffCeiling) { auto = d }
            if let n = limits["hold-limit"], let d = r.duration(n, "limits hold-limit", in: .seconds(1)...SessionLimits.standard.holdLimit) { hold = d }
            config.limits = SessionLimits(holdLimit: hold, autoOff: auto)
        }
        // In file order, whatever order the keys were checked in.
        guard !r.problems.hasErrors else {
            throw DiagnosticsError(r.problems.sorted { ($0.location?.line ?? 0, $0.location?.column ?? 0) < ($1.location?.line ?? 0, $1.location?.column ?? 0) })
        }
        return config
    }

    static func parseTCP(_ node: Node, _ r: inout YAMLReader) -> DaemonConfig.TCPListen? {
        guard let tcp = r.mapping(node, "tcp", allowed: ["listen", "token"], required: ["listen", "token"]) else { return nil }
        var host: String?, port: Int?
        if let n = tcp["listen"], let listen = r.string(n, "tcp listen") {
            if let colon = listen.lastIndex(of: ":"), let p = Int(listen[listen.index(after: colon)...]), (1...65535).contains(p),
               colon != listen.startIndex {
                host = String(listen[..<colon]).trimmingCharacters(in: ["[", "]"])
                port = p
            } else {
                r.error(n, "tcp listen must be HOST:PORT such as 127.0.0.1:8470, got '\(listen)'")
            }
        }
        var token: String?
        if let n = tcp["token"], let t = r.string(n, "tcp token") {
            // A token is the only thing between the network and the device: make guessing hopeless.
            if t.count < 24 { r.error(n, "tcp token must be at least 24 characters (it is \(t.count)); e.g. the output of 'openssl rand -hex 24'") }
            else { token = t }
        }
        guard let host, let port, let token else { return nil }
        return DaemonConfig.TCPListen(host: host, port: port, token: token)
    }

    static func parseUser(_ node: Node, into config: inout DaemonConfig, _ r: inout YAMLReader) {
        guard let user = r.mapping(node, "user", allowed: ["foot-length", "shoe-size", "intensity", "sensitivity", "reduced-sensation"])
        else { return }
        let range = FootSize.plausibleRange
        if let n = user["foot-length"], let mm = r.millimetres(n, "user foot-length", in: range) { config.footSize = FootSize(lengthMM: mm) }
        if let n = user["shoe-size"] {
            if user["foot-length"] != nil {
                r.error(n, "give either foot-length or shoe-size, not both")
            } else if let size = r.double(n, "user shoe-size", in: 30...52) {
                config.footSize = .euShoeSize(size)
            }
        }
        if let n = user["intensity"], let i = r.int(n, "user intensity", in: 1...5) { config.intensity = i }
        if let n = user["sensitivity"], let s = r.double(n, "user sensitivity", in: 0.5...1.0) { config.sensitivity = s }
        if let n = user["reduced-sensation"], let b = r.bool(n, "user reduced-sensation") { config.reducedSensation = b }
    }
}

extension ConfigLibrary {
    /// Reads and checks a daemon configuration file.
    public func loadDaemonConfig(_ path: String) throws(LoadError) -> DaemonConfig {
        let text = try read(path)
        return try wrap { () throws(DiagnosticsError) in try DaemonConfigLoader.parse(text, file: path) }
    }
}

extension ConfigLibrary {
    /// The daemon's configuration when `--config` is not given: the first `plantard.yaml` in
    /// the data folders (`$PLANTAR_DATA_DIR`, `/etc/plantar`, …, the checkout's `Config/`).
    public func defaultDaemonConfigPath() -> String? { firstExisting("plantard.yaml") }
}
