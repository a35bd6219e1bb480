import Foundation
import PlantarConfig
import PlantarCore
import PlantarDrivers

/// `plantar-gpio-check`: checks of the real GPIO driver that need a kernel GPIO chip (the VM
/// tier, scripts/gpio-vm/run) or this machine's scheduler (scripts/gpio-timing).
///
///     plantar-gpio-check vm --profile FILE --sim DIR    checks against a gpio-sim chip
///     plantar-gpio-check timing --profile FILE [--seconds N] [--no-rt]
@main
enum GPIOCheckMain {
    static func main() async {
        let args = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String) -> String? {
            args.firstIndex(of: name).flatMap { args.index(after: $0) < args.endIndex ? args[args.index(after: $0)] : nil }
        }
        guard let mode = args.first, let profilePath = option("--profile") else {
            FileHandle.standardError.write(Data("usage: plantar-gpio-check vm|timing --profile FILE [--sim DIR] [--seconds N] [--no-rt]\n".utf8))
            exit(2)
        }
        let profile: DeviceProfile
        do {
            let text = try String(contentsOfFile: profilePath, encoding: .utf8)
            profile = try DeviceProfileLoader.parse(text, file: profilePath)
        } catch {
            print("cannot load \(profilePath): \(error)")
            print("RESULT=1")
            exit(1)
        }
        switch mode {
        case "vm":
            guard let sim = option("--sim") else { print("vm needs --sim DIR"); exit(2) }
            let failures = await VMChecks(profile: profile, sim: SimChip(directory: sim)).run()
            print("RESULT=\(failures == 0 ? 0 : 1)")
            exit(failures == 0 ? 0 : 1)
        case "timing":
            let seconds = option("--seconds").flatMap(Double.init) ?? 10
            await TimingRun(profile: profile, seconds: seconds, realtime: !args.contains("--no-rt")).run()
        default:
            print("unknown mode \(mode)")
            exit(2)
        }
    }
}

/// The monotonic clock the driver and the kernel's event timestamps use.
func monotonicNS() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// p50 / max of samples in microseconds.
func summary(_ samplesNS: [UInt64]) -> String {
    guard !samplesNS.isEmpty else { return "n=0" }
    let sorted = samplesNS.sorted()
    let p50 = sorted[(sorted.count - 1) / 2], p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
    return "n=\(sorted.count) p50=\(p50 / 1000)us p99=\(p99 / 1000)us max=\(sorted.last! / 1000)us"
}
