import ArgumentParser
import Foundation
import PlantarAPI
import PlantarConfig
import PlantarCore
import Synchronization

extension Run {
    /// `plantar run PROGRAM` without `--simulator`: asks plantard to run it, then follows its
    /// progress with the live display until the session ends.
    ///
    /// Ctrl-C in a terminal asks whether to stop the session or only detach from it (the
    /// session goes on); without a terminal, or on a second Ctrl-C, it stops.
    func runThroughDaemon(_ connection: DaemonConnection) async throws {
        let request = try startRequest()
        let response = try connection.send("POST", "/sessions", body: request)
        let session = try connection.decode(response, as: SessionDocument.self)
        let display = LiveDisplay(routine: session.program, speed: 1)
        print("Running \(session.program) on plantard's \(session.device) device (session \(session.id), \(DurationSyntax.format(.roundedSeconds(session.totalSeconds)))). Ctrl-C stops it or detaches.")

        let stream = StopToken()
        let choice = Mutex<InterruptChoice?>(nil)
        let interactive = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let presses = Atomic<Int>(0)
        // While the question is on screen the live line stays still, so it does not draw over it.
        let asking = Atomic<Bool>(false)
        let interrupt = Interrupt {
            let count = presses.add(1, ordering: .relaxed).newValue
            if interactive && count == 1 {
                asking.store(true, ordering: .relaxed)
                defer { asking.store(false, ordering: .relaxed) }
                display.note("Ctrl-C: [s]top the session, or [d]etach and leave it running? [S/d] ")
                let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
                // Only a clear "d" detaches: anything else, or a second Ctrl-C meanwhile, stops.
                guard presses.load(ordering: .relaxed) == 1, answer == "d" || answer == "detach" else {
                    Self.requestStop(connection, display, choice)
                    return
                }
                choice.withLock { $0 = .detach }
                stream.stop()
            } else if count == 1 || choice.withLock({ $0 }) != .stop {
                Self.requestStop(connection, display, choice)
            }
        }
        defer { interrupt.cancel() }

        var final: SessionDocument?
        try connection.follow(stop: stream) { event in
            switch event.name {
            case "intervention":
                if let i = try? JSONDecoder().decode(InterventionDocument.self, from: Data(event.data.utf8)), i.session == session.id {
                    display.note(i.text)
                }
            case "status":
                guard let status = try? JSONDecoder().decode(StatusDocument.self, from: Data(event.data.utf8)),
                      let current = status.session, current.id == session.id else { return true }
                if !asking.load(ordering: .relaxed) { display.update(current.status) }
                if !current.active {
                    final = current
                    return false
                }
            default:
                break
            }
            return true
        }
        display.finish()
        if choice.withLock({ $0 }) == .detach {
            print("Detached: session \(session.id) keeps running. Follow it with 'plantar status --follow'; stop it with 'plantar stop'.")
            return
        }
        guard let final else {
            throw UserFacingError("plantard ended the event stream before session \(session.id) ended (is it shutting down?); see 'plantar status'")
        }
        print("Session \(final.stateText). The device is at rest." + (final.state == "stopped" || final.state == "faulted" ? " Re-arm with 'plantar rearm' before the next session." : ""))
        if final.state != "finished" { throw ExitCode(3) }
    }

    enum InterruptChoice { case stop, detach }

    static func requestStop(_ connection: DaemonConnection, _ display: LiveDisplay, _ choice: borrowing Mutex<InterruptChoice?>) {
        choice.withLock { $0 = .stop }
        do {
            _ = try connection.sendUrgent("/stop")
            display.note("Ctrl-C: stop sent; pressure released, the session is stopping")
        } catch {
            display.note("Ctrl-C: could not send the stop: \(error); press the discomfort switch")
        }
    }

    /// The request for this command line. A routine the daemon cannot see (a file, or one of
    /// the person's own routines) goes along as text.
    func startRequest() throws -> StartRequest {
        let library = ConfigLibrary.standard()
        var routineText: String?
        var name = program
        let isPath = program.contains("/") || program.hasSuffix(".yaml") || program.hasSuffix(".yml")
        let own = library.programs().first { $0.name == program && $0.origin == "user" }
        if isPath || own != nil {
            let path = own?.path ?? program
            guard let data = FileManager.default.contents(atPath: path) else { throw UserFacingError("\(path): cannot read the file") }
            routineText = String(decoding: data, as: UTF8.self)
            name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        }
        let options = choices.compileOptions()
        var parameters = options.parameters
        let intensity = parameters.removeValue(forKey: "intensity").flatMap { Int($0) }
        return StartRequest(program: name, routine: routineText, parameters: parameters.isEmpty ? nil : parameters,
                            intensity: intensity, feet: choices.feet?.rawValue, footLengthMM: choices.footLength,
                            shoeSize: choices.shoeSize, sensitivity: choices.sensitivity < 1 ? choices.sensitivity : nil,
                            reducedSensation: choices.reducedSensation ? true : nil)
    }
}
