import Foundation
import PlantarCore
import PlantarSession
import Synchronization

/// The one-line live view of `plantar run`: progress, time, step, foot, zone and a pressure
/// gauge against the cap. Redrawn at most ten times a second; plain lines when not a terminal.
final class LiveDisplay: Sendable {
    struct State {
        var lastDraw: ContinuousClock.Instant?
        var lastStep = -1
        var lastStatus: SessionStatus?
    }

    let routine: String
    let speed: Double
    let interactive = isatty(STDOUT_FILENO) == 1
    private let state = Mutex(State())

    init(routine: String, speed: Double) {
        self.routine = routine
        self.speed = speed
    }

    func update(_ status: SessionStatus) {
        state.withLock { s in
            s.lastStatus = status
            let now = ContinuousClock.now
            if interactive {
                if let last = s.lastDraw, last.duration(to: now) < .milliseconds(100) { return }
                s.lastDraw = now
                FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + Self.line(status)).utf8))
            } else if status.step != s.lastStep {
                s.lastStep = status.step
                if status.step > 0 { print("\(clockText(status.elapsed)) step \(status.step): \(status.stepName) (\(status.foot?.rawValue ?? "-") foot)") }
            }
        }
    }

    func note(_ text: String) {
        state.withLock { _ in
            print((interactive ? "\r\u{1B}[2K" : "") + text)
        }
    }

    func finish() {
        state.withLock { s in
            if interactive, let status = s.lastStatus { print("\r\u{1B}[2K" + Self.line(status)) }
        }
    }

    static func line(_ s: SessionStatus) -> String {
        let width = 24
        let filled = Int((s.progress * Double(width)).rounded())
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let remaining = max(.zero, s.total - s.elapsed)
        let kPa = s.foot.flatMap { s.measuredKPa[$0] } ?? 0
        let gaugeWidth = 10
        let gaugeFill = s.capKPa > 0 ? min(gaugeWidth, Int((kPa / s.capKPa * Double(gaugeWidth)).rounded())) : 0
        let gauge = String(repeating: "▮", count: gaugeFill) + String(repeating: "▯", count: gaugeWidth - gaugeFill)
        let step = s.step > 0 ? "step \(s.step) \(s.stepName)" : s.state.name
        return "\(bar) \(clockText(s.elapsed))/-\(clockText(remaining))  \(s.state.name)  \(s.foot?.rawValue ?? "-") \(s.zone)  \(gauge) \(fixed(kPa, 0)) kPa  \(step)"
    }
}
