import PlantarCore

/// The line layer over the kernel's GPIO character device, through libgpiod.
///
/// Each line is requested on its own (libgpiod v1 applies active-low and bias per request,
/// and the profile sets them per line); the claim checks every line before requesting any, so
/// a busy or missing line is reported by name without disturbing the others.
public final class LibGPIODLineBank: GPIOLineBank {
    private var chip: GPIOChipHandle?
    private var lines: [GPIORequestedLine] = []
    private var rest: [Bool?] = []

    public init() {}

    deinit { release() }

    /// The libgpiod version in use (`1.6.3`).
    public static var libraryVersion: String { libgpiodVersion() }

    /// The kernel's name and label of a chip and how many lines it has, for tools.
    /// - Throws: `GPIOError` when the chip cannot be opened.
    public static func describeChip(_ spec: String) throws(GPIOError) -> (name: String, label: String, lineCount: Int) {
        let chip = try GPIOChipHandle.open(spec)
        return (chip.name, chip.label, chip.lineCount)
    }

    public func claim(chip spec: String, _ requests: [GPIOLineRequest], consumer: String) throws(GPIOError) {
        release()
        let chip = try GPIOChipHandle.open(spec)
        // Check every line first: a missing line or one held by another program is named
        // before anything is requested (the startup check of the issue).
        var busy: [(request: GPIOLineRequest, text: String)] = []
        for request in requests {
            let status = try chip.lineStatus(offset: request.line.offset, role: request.role)
            if status.used {
                busy.append((request, GPIOError.lineName(request.role, chip: spec, offset: request.line.offset)
                             + " is busy, used by " + (status.consumer.map { "'\($0)'" } ?? "another program")))
            }
        }
        if let first = busy.first {
            let message = busy.map(\.text).joined(separator: "; ")
            throw GPIOError(.lineBusy, message, chip: spec, role: first.request.role, offset: first.request.line.offset)
        }
        var claimed: [GPIORequestedLine] = []
        for request in requests {
            let mode: GPIOChipHandle.Mode
            switch request.direction {
            case .output(let rest): mode = .output(initial: rest)
            case .input: mode = .input
            case .edges: mode = .bothEdges
            }
            // On a failure here `claimed` goes out of scope and every request made so far is
            // released by GPIORequestedLine.deinit (outputs were driving their rest values).
            claimed.append(try chip.request(offset: request.line.offset, role: request.role, mode: mode,
                                            activeLow: request.line.activeLow, bias: request.line.bias.lineBias,
                                            consumer: consumer))
        }
        self.chip = chip
        lines = claimed
        rest = requests.map(\.restValue)
    }

    public func write(_ index: Int, _ active: Bool) throws(GPIOError) {
        try lines[index].set(active)
    }

    public func read(_ index: Int) throws(GPIOError) -> Bool {
        try lines[index].get()
    }

    public var eventDescriptors: [Int32] { lines.map(\.eventFD).filter { $0 >= 0 } }

    public func drainEdges() throws(GPIOError) -> [GPIOEdge] {
        var edges: [GPIOEdge] = []
        for (index, line) in lines.enumerated() where line.eventFD >= 0 {
            while true {
                let state = Posix.isReadable(line.eventFD)
                if state.failed {
                    throw GPIOError(.io, "\(GPIOError.lineName(line.role, chip: chip?.spec, offset: line.offset)) cannot be read",
                                    call: "poll", chip: chip?.spec, role: line.role, offset: line.offset)
                }
                guard state.ready else { break }
                let event = try line.readEvent()
                edges.append(GPIOEdge(index: index, active: event.active, timestampNS: event.timestampNS))
            }
        }
        return edges
    }

    public func release() {
        // Rest before release, on every path: whatever the driver did last, the lines go
        // back to the kernel driving their safe values.
        for (line, rest) in zip(lines, self.rest) {
            if let rest { try? line.set(rest) }
        }
        for line in lines { line.release() }
        lines = []
        rest = []
        chip = nil
    }
}

extension GPIOLine.Bias {
    var lineBias: GPIOLineBias {
        switch self {
        case .asIs: .asIs
        case .disabled: .disabled
        case .pullUp: .pullUp
        case .pullDown: .pullDown
        }
    }
}
