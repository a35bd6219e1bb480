/// Pressed time per spot within a sliding window: the dose rule of docs/safety.md §3.
///
/// A spot is a disc `spotDiameterMM` across. Pressed time is recorded as runs (pressing
/// continuously within a millimetre of one anchor); the dose near a place is the time of every
/// run whose anchor could share a spot with it, clipped to the window. That over-counts a
/// little (anchors up to a diameter apart may lie in different spots), which errs toward rest.
/// On a zoned device each node is one spot and the place does not matter.
///
/// Runs are bucketed in a grid of cells one query reach wide, so a query looks at nine cells,
/// not the whole window: a long glide leaves thousands of runs behind it.
struct DoseTracker: Sendable {
    /// A place pressed from `start` to `end`.
    struct Run: Sendable {
        var anchor: DevicePoint
        var start: Duration
        var end: Duration
    }

    struct Cell: Hashable, Sendable {
        var foot: Foot
        var u: Int
        var v: Int
    }

    let window: Duration
    /// Anchors within this of a place may share a spot with it: the spot's diameter plus the
    /// run's anchor tolerance on both sides.
    let reach: Double
    static let anchorToleranceMM = 1.0

    private var grid: [Cell: [Run]] = [:]
    /// The run being extended, per foot (gantry).
    private var open = PerFoot<Run?>()
    /// Runs per foot and node (zoned), oldest first.
    private var nodes = PerFoot<[String: [Run]]>([:])

    init(window: Duration, spotDiameterMM: Double = 10) {
        self.window = window
        reach = spotDiameterMM + 2 * Self.anchorToleranceMM
        cellMM = reach + 2 * Check.margin
    }

    /// Grid cells are at least as wide as any query's reach, so nine of them hold every run
    /// a query can count.
    private let cellMM: Double

    // MARK: Gantry: spots by place

    /// The node of `foot` pressed at `place` from `start` to `end`.
    mutating func pressed(_ foot: Foot, at place: DevicePoint, from start: Duration, to end: Duration) {
        if var run = open[foot], run.end >= start, run.anchor.distance(to: place) <= Self.anchorToleranceMM {
            run.end = max(run.end, end)
            open[foot] = run
            return
        }
        close(foot)
        open[foot] = Run(anchor: place, start: start, end: end)
    }

    /// The node of `foot` stopped pressing: the next press starts a new run.
    mutating func lifted(_ foot: Foot) { close(foot) }

    /// Pressed time within the window ending `now` of every run that may share a spot with
    /// `place`, or with any place within `margin` of it.
    mutating func dose(_ foot: Foot, near place: DevicePoint, at now: Duration, margin: Double = 0) -> Duration {
        let reach = reach + margin
        let from = now - window
        var total = Duration.zero
        let centre = cell(foot, place)
        for du in -1...1 {
            for dv in -1...1 {
                let key = Cell(foot: foot, u: centre.u + du, v: centre.v + dv)
                guard var runs = grid[key] else { continue }
                // Runs are appended in time order: the expired ones are at the front.
                if let keep = runs.firstIndex(where: { $0.end > from }) {
                    if keep > 0 { runs.removeFirst(keep); grid[key] = runs }
                } else {
                    grid[key] = nil
                    continue
                }
                for run in runs where run.anchor.distance(to: place) <= reach { total += overlap(run, from, now) }
            }
        }
        if let run = open[foot], run.anchor.distance(to: place) <= reach { total += overlap(run, from, now) }
        return total
    }

    /// The last exact count for one foot and channel: until the node strays more than
    /// `margin` from `place`, the dose there cannot have grown by more than the time since.
    struct Check: Sendable {
        var place: DevicePoint
        var at: Duration
        var spent: Duration
        static let margin = 0.5
    }
    private var checks = PerFoot<[String: Check]>([:])

    /// As `dose(_:near:at:)` or `dose(_:node:at:)`, but answers "certainly below `limit`"
    /// (nil) without counting while the last count leaves room: most samples need no count.
    mutating func exceeds(_ foot: Foot, channel: String, at place: DevicePoint?, now: Duration, limit: Duration) -> Duration? {
        if let check = checks[foot][channel], check.spent + (now - check.at) < limit,
           place.map({ $0.distance(to: check.place) <= Check.margin }) ?? true {
            return nil
        }
        let spent = place.map { dose(foot, near: $0, at: now, margin: Check.margin) } ?? dose(foot, node: channel, at: now)
        checks[foot][channel] = Check(place: place ?? DevicePoint(u: 0, v: 0), at: now, spent: spent)
        return spent >= limit ? spent : nil
    }

    // MARK: Zoned: each node one spot

    mutating func pressed(_ foot: Foot, node: String, from start: Duration, to end: Duration) {
        // Changed in place: a copy taken out and written back would copy the node's runs
        // (the dictionary still holds them) on every sample.
        nodes[foot][node, default: []].extend(from: start, to: end)
    }

    mutating func dose(_ foot: Foot, node: String, at now: Duration) -> Duration {
        let from = now - window
        guard var runs = nodes[foot][node] else { return .zero }
        if let keep = runs.firstIndex(where: { $0.end > from }), keep > 0 {
            runs.removeFirst(keep)
            nodes[foot][node] = runs
        }
        return runs.reduce(Duration.zero) { $0 + overlap($1, from, now) }
    }

    // MARK: Bookkeeping

    private mutating func close(_ foot: Foot) {
        guard let run = open[foot] else { return }
        open[foot] = nil
        grid[cell(foot, run.anchor), default: []].append(run)
    }

    private func cell(_ foot: Foot, _ p: DevicePoint) -> Cell {
        // Positions come from telemetry: keep them in a range Int() cannot trap on.
        func index(_ x: Double) -> Int {
            guard x.isFinite else { return 0 }
            return Int((min(max(x, -1e6), 1e6) / cellMM).rounded(.down))
        }
        return Cell(foot: foot, u: index(p.u), v: index(p.v))
    }

    private func overlap(_ run: Run, _ from: Duration, _ to: Duration) -> Duration {
        let start = max(run.start, from), end = min(run.end, to)
        return end > start ? end - start : .zero
    }
}

private extension Array where Element == DoseTracker.Run {
    /// A zoned node pressed from `start` to `end`: the last run grows when this continues it.
    mutating func extend(from start: Duration, to end: Duration) {
        if let last, last.end >= start {
            self[count - 1].end = Swift.max(last.end, end)
        } else {
            append(DoseTracker.Run(anchor: DevicePoint(u: 0, v: 0), start: start, end: end))
        }
    }
}
