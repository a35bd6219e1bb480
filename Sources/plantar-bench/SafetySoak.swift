import ArgumentParser
import Foundation
import PlantarConfig
import PlantarCore
import PlantarOracle
import PlantarSimulator

/// `plantar-bench safety-soak`: the long run of issue 10. Whole simulated sessions from the
/// adversarial generators and random command sequences straight through the governor, every
/// one checked by the independent oracle on what the simulated device received.
struct SafetySoak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safety-soak",
        abstract: "Adversarial sessions and governor cases checked by the independent oracle (BENCHMARKS.md).")

    @Option(help: "Whole simulated sessions to run (generators in turn).") var sessions = 10_000
    @Option(help: "Governor cases (one event each) to feed through the governor directly.") var governorCases = 1_000_000
    @Option(help: "Events per governor sequence (a fresh governor and device each).") var eventsPerSequence = 500
    @Option(help: "Seed; the same seed gives the same run.") var seed: UInt64 = 1
    @Option(help: "Violations to print per rule.") var show = 3
    @Option(help: "Write the device logs (JSON lines) of the first failing session and governor sequence into this folder.")
    var failingLogs: String?
    @Option(help: "With --failing-logs: the first failing session that broke this rule (e.g. ease-relief).")
    var failingRule: String?

    func run() async throws {
        let library = ConfigLibrary.standard()
        let map = try library.loadFootMap()
        let devices = try ["reference", "zoned"].map { try library.loadDevice($0) }
        let clock = ContinuousClock()
        let started = clock.now

        // Sessions: the generators in turn, each drawn from the run's seed by its index, until
        // `sessions` of them compiled and ran (the compiler refuses some combinations, e.g.
        // a walk on a point; those are counted, not run).
        var pools: [[SafetyGenerators.Session]] = []
        for device in devices {
            pools.append(SafetyGenerators.everyTechniqueOverEveryZone(map: map, device: device))
            pools.append(SafetyGenerators.borderCrossings(map: map, device: device))
            for extreme in SafetyGenerators.extremes(of: device) {
                pools.append(SafetyGenerators.everyTechniqueOverEveryZone(map: map, device: extreme, seconds: 30))
            }
        }
        func session(_ i: Int) -> SafetyGenerators.Session {
            var k = seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            k = (k ^ (k >> 31)) &* 0xBF58_476D_1CE4_E5B9
            if i % 2 == 0 {
                let pool = pools[Int((k >> 33) % UInt64(pools.count))]
                var s = pool[Int((k >> 13) % UInt64(pool.count))]
                s.footLengthMM = 230 + Double((k >> 40) % 56)
                return s
            }
            let device = devices[Int((k >> 35) % UInt64(devices.count))]
            let routine = SafetyGenerators.randomRoutine(seed: k, map: map)
            return SafetyGenerators.storm(seed: k ^ 0x5EED, routine: routine, device: device, span: .seconds(60))
        }

        // One session per core at a time; each is independent.
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let target = max(0, sessions)
        var generated = 0, ranCount = 0, failingCount = 0
        var byRule: [SafetyRule: Int] = [:], sessionsByRule: [SafetyRule: Int] = [:]
        var examples: [SafetyRule: [String]] = [:]
        var simulated = 0.0, checking = 0.0
        var firstFailing: SafetyGenerators.Outcome?
        await withTaskGroup(of: SafetyGenerators.Outcome.self) { group in
            var next = 0
            for _ in 0..<(target > 0 ? workers : 0) {
                let s = session(next)
                next += 1
                group.addTask { await SafetyGenerators.run(s, map: map) }
            }
            while let outcome = await group.next() {
                generated += 1
                // Only the summary is kept: a session's counts and a few examples.
                if let found = outcome.violations {
                    ranCount += 1
                    simulated += outcome.simulatedSeconds
                    checking += outcome.oracleSeconds
                    if !found.isEmpty { failingCount += 1 }
                    if firstFailing == nil, !found.isEmpty, failingRule.map({ r in found.contains { $0.rule.rawValue == r } }) ?? true {
                        firstFailing = outcome
                    }
                    for rule in Set(found.map(\.rule)) { sessionsByRule[rule, default: 0] += 1 }
                    for v in found {
                        byRule[v.rule, default: 0] += 1
                        if examples[v.rule, default: []].count < show { examples[v.rule, default: []].append("\(outcome.session.name): \(v)") }
                    }
                }
                if ranCount + (workers - 1) < target || (ranCount < target && group.isEmpty) {
                    let s = session(next)
                    next += 1
                    group.addTask { await SafetyGenerators.run(s, map: map) }
                }
            }
        }
        let sessionWall = started.duration(to: clock.now).seconds

        print("sessions: \(generated) generated, \(ranCount) compiled and run, \(generated - ranCount) refused by the compiler")
        print("  with violations: \(failingCount) sessions; violations \(byRule.values.reduce(0, +))")
        for rule in byRule.keys.sorted() {
            print("  \(rule.rawValue): \(byRule[rule]!) in \(sessionsByRule[rule]!) sessions")
            for e in examples[rule] ?? [] { print("    e.g. \(e)") }
        }
        if let folder = failingLogs, let outcome = firstFailing, let log = outcome.failingLog {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try log.jsonLines().write(toFile: folder + "/session.jsonl", atomically: true, encoding: .utf8)
            print("  the first failing session's device log: \(folder)/session.jsonl (\(outcome.session.name)); its violations:")
            for v in outcome.violations ?? [] { print("    \(v)") }
        }
        print("  wall \(fixed(sessionWall, 1)) s for \(fixed(simulated, 0)) simulated s; the oracle's share \(fixed(checking, 1)) s of CPU")

        // Governor cases, spread over the devices, two sequences' worth at a time.
        let governorStart = clock.now
        let perSequence = max(1, eventsPerSequence)
        let sequenceCount = (max(0, governorCases) + perSequence - 1) / perSequence
        var total = SafetyGenerators.GovernorRun()
        let chunks = stride(from: 0, to: sequenceCount, by: 50).map { ($0, min(50, sequenceCount - $0)) }
        await withTaskGroup(of: SafetyGenerators.GovernorRun.self) { group in
            var next = 0
            func add(_ group: inout TaskGroup<SafetyGenerators.GovernorRun>) {
                let (start, count) = chunks[next]
                let device = devices[next % devices.count]
                next += 1
                group.addTask {
                    await SafetyGenerators.governorCases(seed: seed &+ UInt64(start) &* 0x9E37_79B9, sequences: count,
                                                         eventsPerSequence: perSequence, map: map, device: device, keepViolations: 20)
                }
            }
            for _ in 0..<min(workers, chunks.count) { add(&group) }
            while let r = await group.next() {
                total.cases += r.cases
                total.sequences += r.sequences
                total.violationCount += r.violationCount
                for (rule, n) in r.byRule { total.byRule[rule, default: 0] += n }
                if total.violations.count < 50 { total.violations.append(contentsOf: r.violations.prefix(5)) }
                if total.firstFailingLog == nil {
                    total.firstFailingLog = r.firstFailingLog
                    total.firstFailingViolations = r.firstFailingViolations
                }
                if next < chunks.count { add(&group) }
            }
        }
        let governorWall = governorStart.duration(to: clock.now).seconds
        print("governor cases: \(total.cases) in \(total.sequences) sequences; violations \(total.violationCount)"
              + (total.byRule.isEmpty ? "" : " (\(total.byRuleText))"))
        for rule in total.byRule.keys.sorted() {
            for v in total.violations.filter({ $0.rule == rule }).prefix(show) { print("    e.g. \(v)") }
        }
        if let folder = failingLogs, let log = total.firstFailingLog {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try log.jsonLines().write(toFile: folder + "/governor.jsonl", atomically: true, encoding: .utf8)
            print("  the first failing sequence's device log: \(folder)/governor.jsonl; its violations:")
            for v in total.firstFailingViolations { print("    \(v)") }
        }
        print("  wall \(fixed(governorWall, 1)) s")
        print("total wall \(fixed(started.duration(to: clock.now).seconds, 1)) s, seed \(seed)")
        if !byRule.isEmpty || total.violationCount > 0 { throw ExitCode(2) }
    }
}
