import PlantarCore
import Synchronization

/// The daemon's counters and histograms, written out in Prometheus' text format
/// (`GET /metrics`, version 0.0.4).
///
/// Hand-written rather than swift-prometheus: a handful of series, no registry or
/// dependency to build, and recording is one short lock with no allocation on the hot paths.
public final class DaemonMetrics: Sendable {
    /// A Prometheus histogram: cumulative buckets, sum and count.
    struct Histogram {
        let bounds: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
        var maximum = 0.0

        init(bounds: [Double]) {
            self.bounds = bounds
            counts = Array(repeating: 0, count: bounds.count)
        }

        mutating func observe(_ value: Double) {
            for i in bounds.indices where value <= bounds[i] { counts[i] += 1 }
            sum += value
            count += 1
            maximum = max(maximum, value)
        }
    }

    struct State {
        var sessions: [String: UInt64] = [:]
        var interventions: [String: UInt64] = [:]
        var linkErrors: UInt64 = 0
        var refusals: [String: UInt64] = [:]
        // 10 µs to 1 s: a stop path that works is well under a millisecond.
        var stopLatency = Histogram(bounds: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1])
        // 50 µs to 250 ms (the governor's lateness limit).
        var dispatchLateness = Histogram(bounds: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25])
        var sessionActive = false
        var latched = false
    }

    private let state = Mutex(State())

    public init() {}

    /// A session ended: `finished`, `stopped`, `faulted`.
    public func sessionEnded(outcome: String) { state.withLock { $0.sessions[outcome, default: 0] += 1 } }
    public func intervention(_ kind: Intervention.Kind) { state.withLock { $0.interventions[kind.rawValue, default: 0] += 1 } }
    public func linkError() { state.withLock { $0.linkErrors += 1 } }
    public func refused(_ code: String) { state.withLock { $0.refusals[code, default: 0] += 1 } }
    /// Seconds from a stop request reaching the daemon to every output released.
    public func stopLatency(_ seconds: Double) { state.withLock { $0.stopLatency.observe(seconds) } }
    /// Seconds a timeline command reached the driver after it was due (session time).
    public func dispatchLateness(_ seconds: Double) { state.withLock { $0.dispatchLateness.observe(max(0, seconds)) } }
    public func setSessionActive(_ active: Bool) { state.withLock { $0.sessionActive = active } }
    public func setLatched(_ latched: Bool) { state.withLock { $0.latched = latched } }

    /// The exposition text.
    public func render() -> String {
        let s = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v) }
        func histogram(_ name: String, _ h: Histogram, _ help: String) {
            family(name, "histogram", help)
            for (bound, count) in zip(h.bounds, h.counts) { out += "\(name)_bucket{le=\"\(bound)\"} \(count)\n" }
            out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(number(h.sum))\n\(name)_count \(h.count)\n"
        }

        family("plantar_sessions_total", "counter", "Sessions that ended, by outcome.")
        for outcome in ["finished", "stopped", "faulted"] { out += "plantar_sessions_total{outcome=\"\(outcome)\"} \(s.sessions[outcome] ?? 0)\n" }
        family("plantar_session_active", "gauge", "1 while a session runs.")
        out += "plantar_session_active \(s.sessionActive ? 1 : 0)\n"
        family("plantar_latched", "gauge", "1 while a stop or fault is latched (re-arm required).")
        out += "plantar_latched \(s.latched ? 1 : 0)\n"
        family("plantar_interventions_total", "counter", "Interventions of the safety governor, by kind.")
        for kind in Intervention.Kind.allCases { out += "plantar_interventions_total{kind=\"\(kind.rawValue)\"} \(s.interventions[kind.rawValue] ?? 0)\n" }
        family("plantar_link_errors_total", "counter", "Device link losses, device resets and device faults.")
        out += "plantar_link_errors_total \(s.linkErrors)\n"
        family("plantar_requests_refused_total", "counter", "Control requests refused, by reason.")
        for (code, count) in s.refusals.sorted(by: { $0.key < $1.key }) { out += "plantar_requests_refused_total{code=\"\(code)\"} \(count)\n" }
        histogram("plantar_stop_latency_seconds", s.stopLatency, "From a stop request reaching the daemon to every output released.")
        family("plantar_stop_latency_max_seconds", "gauge", "Longest stop latency seen.")
        out += "plantar_stop_latency_max_seconds \(s.stopLatency.maximum)\n"
        histogram("plantar_dispatch_lateness_seconds", s.dispatchLateness, "How late timeline commands reached the driver (session time).")
        family("plantar_dispatch_lateness_max_seconds", "gauge", "Latest command dispatch seen.")
        out += "plantar_dispatch_lateness_max_seconds \(s.dispatchLateness.maximum)\n"
        return out
    }
}
