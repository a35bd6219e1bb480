import Foundation
import Logging
import Synchronization

/// A swift-log handler for `plantard`'s stderr. Under systemd (stderr connected to the
/// journal, `$JOURNAL_STREAM` set) each line starts with the syslog priority in angle
/// brackets (`<4>` warning), which journald reads as the entry's level; in a terminal each
/// line starts with the time and the level instead. Metadata follows as `key=value`.
///
/// Only `plantard` makes one: the libraries take a `Logger`, and tests pass their own.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let journal: Bool
    private static let output = Mutex<Void>(())

    public init(label: String, level: Logger.Level = .info, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.label = label
        logLevel = level
        journal = !(environment["JOURNAL_STREAM"] ?? "").isEmpty
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The syslog priority journald understands for a swift-log level.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        // Hummingbird's per-request id is noise in a daemon's log.
        all.removeValue(forKey: "hb.request.id")
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = event.message.description + (fields.isEmpty ? "" : "  " + fields)
        let line: String
        if journal {
            line = "<\(Self.priority(event.level))>\(text)\n"
        } else {
            let stamp = Date().formatted(.iso8601.time(includingFractionalSeconds: true))
            line = "\(stamp) \(event.level.rawValue.uppercased()) \(text)\n"
        }
        Self.output.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }
}
