import PlantarCore
import PlantarSession

/// A session trace as CSV, for spreadsheets and plotting tools (`plantar simulate --trace`).
///
/// One header line, then one row per sample ordered by time and, at the same time, by foot
/// (`left` before `right`), so the same trace always gives the same bytes. Numbers have fixed
/// decimals and no locale: time in seconds to the millisecond, positions in mm and pressures
/// in kPa to two decimals. `measured_kpa` is empty when the sensor gave no reading. Fields are
/// quoted as RFC 4180 says when they hold a comma, a double quote or a line break; lines end
/// with `\n`.
public enum TraceCSV {
    public static let columns = ["time_s", "foot", "u_mm", "v_mm", "setpoint_kpa", "measured_kpa", "state", "step", "zone"]

    public static func render(_ trace: SessionTrace) -> String {
        var out = columns.joined(separator: ",") + "\n"
        let ordered = trace.samples.enumerated().sorted { a, b in
            if a.element.time != b.element.time { return a.element.time < b.element.time }
            if a.element.foot != b.element.foot { return a.element.foot < b.element.foot }
            return a.offset < b.offset
        }
        for (_, s) in ordered {
            let fields = [
                fixed(s.time.seconds, 3),
                s.foot.rawValue,
                fixed(s.position.u, 2),
                fixed(s.position.v, 2),
                fixed(s.setpointKPa, 2),
                s.measuredKPa.map { fixed($0, 2) } ?? "",
                s.state,
                String(s.step),
                s.zone,
            ]
            out += fields.map(field).joined(separator: ",") + "\n"
        }
        return out
    }

    /// One field, quoted when it holds a comma, a double quote, CR or LF (quotes doubled).
    public static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return value
        }
        var quoted = "\""
        for c in value {
            if c == "\"" { quoted += "\"\"" } else { quoted.append(c) }
        }
        return quoted + "\""
    }
}
