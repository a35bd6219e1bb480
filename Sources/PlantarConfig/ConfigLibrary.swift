import Foundation
import PlantarCore

/// Where Plantar finds its shipped files (foot map, routines, device profiles) and the
/// person's own routines, and how names like `back-pain` or `zoned` resolve to files.
///
/// Search order for shipped files: `$PLANTAR_DATA_DIR`; `/etc/plantar` (local overrides of
/// devices and foot map); the install prefix next to the executable (`../share/plantar`);
/// `/usr/share/plantar`; and, for a build run from a checkout, the checkout's `Config/`.
public struct ConfigLibrary: Sendable {
    public var dataDirectories: [String]
    /// The person's routines (`$XDG_CONFIG_HOME/plantar/routines` or `~/.config/plantar/routines`).
    public var userRoutineDirectory: String?

    public init(dataDirectories: [String], userRoutineDirectory: String? = nil) {
        self.dataDirectories = dataDirectories
        self.userRoutineDirectory = userRoutineDirectory
    }

    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> ConfigLibrary {
        var dirs: [String] = []
        if let dir = environment["PLANTAR_DATA_DIR"], !dir.isEmpty { dirs.append(dir) }
        dirs.append("/etc/plantar")
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        dirs.append(exe.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("share/plantar").path)
        dirs.append("/usr/share/plantar")
        dirs.append(sourceTreeConfig)
        var user: String?
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { user = xdg + "/plantar/routines" }
        else if let home = environment["HOME"], !home.isEmpty { user = home + "/.config/plantar/routines" }
        return ConfigLibrary(dataDirectories: dirs, userRoutineDirectory: user)
    }

    /// The checkout's `Config/` (this file is Sources/PlantarConfig/ConfigLibrary.swift).
    static let sourceTreeConfig = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config").path

    // MARK: Finding files

    func firstExisting(_ relative: String) -> String? {
        dataDirectories.map { $0 + "/" + relative }.first { FileManager.default.fileExists(atPath: $0) }
    }

    public func footMapPath() throws(ConfigError) -> String {
        guard let path = firstExisting("footmap.yaml") else {
            throw ConfigError("no footmap.yaml in " + dataDirectories.joined(separator: ", ") + "; set PLANTAR_DATA_DIR to the folder that holds it")
        }
        return path
    }

    /// A program the library can find.
    public struct Program: Sendable, Hashable {
        public var name: String
        public var path: String
        /// "built-in" or "user".
        public var origin: String
    }

    /// Every routine file found: the person's own first, then the shipped ones; a user
    /// routine with a shipped routine's name takes its place.
    public func programs() -> [Program] {
        var found: [String: Program] = [:]
        var folders: [(String, String)] = dataDirectories.reversed().map { ($0 + "/routines", "built-in") }
        if let user = userRoutineDirectory { folders.append((user, "user")) }
        for (folder, origin) in folders {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for file in names where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                let name = String(file.prefix(upTo: file.lastIndex(of: ".")!))
                found[name] = Program(name: name, path: folder + "/" + file, origin: origin)
            }
        }
        return found.values.sorted { $0.name < $1.name }
    }

    /// A program by name (`back-pain`) or by path (anything with a `/` or a `.yaml` suffix).
    public func programPath(_ nameOrPath: String) throws(ConfigError) -> String {
        if looksLikePath(nameOrPath) {
            guard FileManager.default.fileExists(atPath: nameOrPath) else { throw ConfigError("\(nameOrPath): no such file") }
            return nameOrPath
        }
        let all = programs()
        if let program = all.first(where: { $0.name == nameOrPath }) { return program.path }
        let hint = RoutineValidator.nearestName(to: nameOrPath, in: all.map(\.name)).map { "did you mean '\($0)'? " } ?? ""
        throw ConfigError("no program named '\(nameOrPath)'; \(hint)known programs: \(all.map(\.name).joined(separator: ", ")) (see 'plantar programs')")
    }

    /// A device profile by name (`reference`, `zoned`) or by path.
    public func devicePath(_ nameOrPath: String) throws(ConfigError) -> String {
        if looksLikePath(nameOrPath) {
            guard FileManager.default.fileExists(atPath: nameOrPath) else { throw ConfigError("\(nameOrPath): no such file") }
            return nameOrPath
        }
        if let path = firstExisting("devices/\(nameOrPath).yaml") { return path }
        let known = deviceNames()
        throw ConfigError("no device profile named '\(nameOrPath)'; known profiles: \(known.joined(separator: ", "))")
    }

    public func deviceNames() -> [String] {
        var names = Set<String>()
        for dir in dataDirectories {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: dir + "/devices")) ?? [] where file.hasSuffix(".yaml") {
                names.insert(String(file.dropLast(5)))
            }
        }
        return names.sorted()
    }

    func looksLikePath(_ s: String) -> Bool { s.contains("/") || s.hasSuffix(".yaml") || s.hasSuffix(".yml") }

    // MARK: Loading

    public func loadFootMap() throws(LoadError) -> FootMap {
        let path = try wrap { () throws(ConfigError) in try footMapPath() }
        let text = try read(path)
        return try wrap { () throws(DiagnosticsError) in try FootMapLoader.parse(text, file: path) }
    }

    public func loadRoutine(_ nameOrPath: String, map: FootMap) throws(LoadError) -> (Routine, [Diagnostic]) {
        let path = try wrap { () throws(ConfigError) in try programPath(nameOrPath) }
        let text = try read(path)
        return try wrap { () throws(DiagnosticsError) in try RoutineLoader.parse(text, file: path, map: map) }
    }

    public func loadDevice(_ nameOrPath: String) throws(LoadError) -> DeviceProfile {
        let path = try wrap { () throws(ConfigError) in try devicePath(nameOrPath) }
        let text = try read(path)
        return try wrap { () throws(DiagnosticsError) in try DeviceProfileLoader.parse(text, file: path) }
    }

    func read(_ path: String) throws(LoadError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw .config(ConfigError("\(path): cannot read the file")) }
        guard let text = String(data: data, encoding: .utf8) else { throw .config(ConfigError("\(path): not UTF-8 text")) }
        return text
    }

    func wrap<T>(_ body: () throws(ConfigError) -> T) throws(LoadError) -> T {
        do { return try body() } catch { throw .config(error) }
    }

    func wrap<T>(_ body: () throws(DiagnosticsError) -> T) throws(LoadError) -> T {
        do { return try body() } catch { throw .diagnostics(error) }
    }
}

/// A file could not be found or read; one line that says what to do.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Loading failed: either a file was not found, or it had errors (every one listed).
public enum LoadError: Error, Sendable, CustomStringConvertible {
    case config(ConfigError)
    case diagnostics(DiagnosticsError)

    public var description: String {
        switch self {
        case .config(let e): e.description
        case .diagnostics(let e): e.description
        }
    }
}
