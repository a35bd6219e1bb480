import Foundation

/// The simulated side of a gpio-sim chip: `sim_gpioN/value` reads what an output drives,
/// writing `pull-up`/`pull-down` to `sim_gpioN/pull` sets what an input reads (and raises edge
/// events), as a wire or a switch on a real board would.
struct SimChip {
    var directory: String

    /// The physical level line `offset` shows, or nil when it cannot be read.
    func value(_ offset: Int) -> Int? {
        let fd = open("\(directory)/sim_gpio\(offset)/value", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var byte: UInt8 = 0
        guard read(fd, &byte, 1) == 1 else { return nil }
        return byte == UInt8(ascii: "1") ? 1 : byte == UInt8(ascii: "0") ? 0 : nil
    }

    /// Pulls line `offset` up or down from outside.
    @discardableResult
    func pull(_ offset: Int, up: Bool) -> Bool {
        let fd = open("\(directory)/sim_gpio\(offset)/pull", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let text = up ? "pull-up" : "pull-down"
        return text.withCString { write(fd, $0, strlen($0)) } == text.utf8.count
    }
}
