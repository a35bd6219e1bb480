#if canImport(Glibc)
import Glibc
#endif

/// An open serial port (a UART, a USB serial adapter, or a pseudo-terminal), and the one
/// funnel for every C call the serial driver makes on it: open, termios, ioctl, read, write,
/// poll. Each call reads `errno` at once, retries on EINTR, and fails with a `SerialError`
/// naming the call and the port.
///
/// The port is opened non-blocking (`O_NONBLOCK`), without becoming the controlling
/// terminal (`O_NOCTTY`), for this process alone (`TIOCEXCL`; root is exempt, as the kernel
/// decides), raw 8N1 with no flow control, at the profile's baud rate. The descriptor is the
/// only handle; it is closed in `deinit`.
public final class SerialPort: Sendable {
    /// The path as given (a symlink such as `/tmp/plantar-mcu` stays as given).
    public let path: String
    public let baud: Int
    /// Whether the kernel accepted low-latency mode (USB adapters: no 16 ms latency timer).
    public let lowLatency: Bool
    let fd: Int32

    /// What a read found.
    enum ReadResult {
        case bytes(Int)
        /// Nothing to read now.
        case empty
        /// The other end went away (cable pulled, emulator killed, adapter unplugged).
        case hangUp
    }

    /// Opens and configures `path` at `baud`.
    /// - Throws: `SerialError` with kind `.portMissing`, `.permissionDenied`, `.busy`,
    ///   `.unsupportedBaud` or `.io`, naming the call that failed.
    public init(path: String, baud: Int) throws(SerialError) {
        self.path = path
        self.baud = baud
        var fd: Int32
        repeat { fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let err = errno
            let kind: SerialError.Kind = switch err {
            case ENOENT, ENXIO, ENODEV, EIO: .portMissing
            case EACCES, EPERM: .permissionDenied
            case EBUSY: .busy
            default: .io
            }
            let hint = switch kind {
            case .portMissing: "no serial device at \(path) (unplugged, or the board emulator is not running)"
            case .permissionDenied: "no permission to open \(path) (add the user to the 'dialout' group)"
            case .busy: "\(path) is in use by another process"
            default: "cannot open \(path)"
            }
            throw SerialError(kind, hint, port: path, call: "open", errno: err)
        }
        self.fd = fd
        do throws(SerialError) {
            guard isatty(fd) == 1 else {
                throw SerialError(.io, "\(path) is not a terminal device", port: path, call: "isatty", errno: errno)
            }
            try Self.check(ioctl(fd, UInt(TIOCEXCL)), "ioctl(TIOCEXCL)", path, kind: .busy)
            try Self.configureRaw(fd, path: path, baud: baud)
            lowLatency = Self.enableLowLatency(fd)
            // Bytes left over from before (a board's boot chatter, an earlier session) are stale.
            _ = tcflush(fd, TCIOFLUSH)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        close(fd)
    }

    // MARK: IO

    /// Reads what is there into `buffer`, without waiting.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SerialError) -> ReadResult {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            let err = errno
            if n > 0 { return .bytes(n) }
            // A pty whose master closed reads 0 or EIO; a vanished USB adapter reads EIO.
            if n == 0 { return .hangUp }
            switch err {
            case EINTR: continue
            case EAGAIN: return .empty
            case EIO, ENXIO, ENODEV: return .hangUp
            default: throw SerialError(.io, "reading \(path) failed", port: path, call: "read", errno: err)
            }
        }
    }

    /// Writes as much of `bytes` as the port takes now; returns how many it took (0 when its
    /// buffer is full).
    func write(_ bytes: UnsafeRawBufferPointer) throws(SerialError) -> Int {
        while true {
            let n = Glibc.write(fd, bytes.baseAddress, bytes.count)
            let err = errno
            if n >= 0 { return n }
            switch err {
            case EINTR: continue
            case EAGAIN: return 0
            default: throw SerialError(.io, "writing to \(path) failed", port: path, call: "write", errno: err)
            }
        }
    }

    /// Discards bytes written but not yet sent by the hardware, so that an emergency release
    /// goes out ahead of them. Best effort: a port that cannot flush still sends it after.
    func discardUnsentOutput() {
        _ = tcflush(fd, TCOFLUSH)
    }

    /// What `wait` saw.
    struct Readiness {
        var readable = false
        var writable = false
        /// The port reports an error or a hang-up.
        var failed = false
        /// The wake descriptor is readable.
        var woken = false
    }

    /// Waits until the port is readable (or writable, when `forWriting`), the wake descriptor
    /// is readable, or `timeoutMS` passes (negative: no limit). EINTR counts as a timeout:
    /// callers recompute their deadlines on every turn.
    func wait(forWriting: Bool, wake: Int32, timeoutMS: Int32) throws(SerialError) -> Readiness {
        var entries = [pollfd(fd: fd, events: Int16(POLLIN) | (forWriting ? Int16(POLLOUT) : 0), revents: 0),
                       pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        let rc = entries.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMS) }
        let err = errno
        if rc < 0 {
            if err == EINTR { return Readiness() }
            throw SerialError(.io, "waiting on \(path) failed", port: path, call: "poll", errno: err)
        }
        let port = entries[0].revents
        return Readiness(readable: port & Int16(POLLIN) != 0, writable: port & Int16(POLLOUT) != 0,
                         failed: port & Int16(POLLERR | POLLHUP | POLLNVAL) != 0,
                         woken: entries[1].revents != 0)
    }

    // MARK: Configuration

    private static func check(_ rc: Int32, _ call: String, _ path: String, kind: SerialError.Kind = .io) throws(SerialError) {
        let err = errno
        guard rc < 0 else { return }
        throw SerialError(kind, "cannot configure \(path)", port: path, call: call, errno: err)
    }

    /// Raw 8N1, no flow control, reads that never wait (the reader polls), and the baud rate.
    private static func configureRaw(_ fd: Int32, path: String, baud: Int) throws(SerialError) {
        var tio = termios()
        try check(tcgetattr(fd, &tio), "tcgetattr", path)
        cfmakeraw(&tio)
        tio.c_cflag |= tcflag_t(CLOCAL | CREAD)
        tio.c_cflag &= ~(tcflag_t(CSTOPB) | crtscts)
        tio.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        withUnsafeMutableBytes(of: &tio.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        let standard = standardSpeed(baud)
        if let standard {
            try check(cfsetispeed(&tio, standard), "cfsetispeed(\(baud))", path, kind: .unsupportedBaud)
            try check(cfsetospeed(&tio, standard), "cfsetospeed(\(baud))", path, kind: .unsupportedBaud)
        }
        var rc: Int32
        repeat { rc = tcsetattr(fd, TCSANOW, &tio) } while rc < 0 && errno == EINTR
        try check(rc, "tcsetattr", path)
        if standard == nil { try setCustomSpeed(fd, path: path, baud: baud) }
    }

    /// RTS/CTS flow control (CRTSCTS, 0x80000000 on Linux, which the importer may not carry).
    private static let crtscts: tcflag_t = 0x8000_0000

    /// The termios constant of a standard rate, nil for any other rate.
    static func standardSpeed(_ baud: Int) -> speed_t? {
        let table: [Int: Int32] = [
            1200: B1200, 2400: B2400, 4800: B4800, 9600: B9600, 19200: B19200, 38400: B38400,
            57600: B57600, 115_200: B115200, 230_400: B230400, 460_800: B460800, 500_000: B500000,
            576_000: B576000, 921_600: B921600, 1_000_000: B1000000, 1_152_000: B1152000,
            1_500_000: B1500000, 2_000_000: B2000000, 2_500_000: B2500000, 3_000_000: B3000000,
            3_500_000: B3500000, 4_000_000: B4000000,
        ]
        return table[baud].map { speed_t($0) }
    }

    /// A rate without a Bxxx constant (250000, the usual rate of printer and massager boards)
    /// through Linux's `termios2` and BOTHER, then read back: a UART that cannot come within
    /// 2% of the rate is refused rather than run at a rate the board does not expect.
    private static func setCustomSpeed(_ fd: Int32, path: String, baud: Int) throws(SerialError) {
        #if os(Linux) && (arch(x86_64) || arch(arm64) || arch(arm))
        // struct termios2 (asm/termbits.h): c_iflag, c_oflag, c_cflag, c_lflag (u32), c_line,
        // c_cc[19] (u8), c_ispeed, c_ospeed (u32): 44 bytes. The kernel header cannot be
        // imported next to glibc's termios.h, so the layout is spelled out here.
        let tcgets2: UInt = 0x802C_542A, tcsets2: UInt = 0x402C_542B
        let cbaud: UInt32 = 0o010017, cibaud: UInt32 = 0o02003600000, bother: UInt32 = 0o010000, ibshift: UInt32 = 16
        let cflag = 8, ispeed = 36, ospeed = 40
        var raw = [UInt8](repeating: 0, count: 44)
        let got = raw.withUnsafeMutableBytes { ioctl(fd, tcgets2, $0.baseAddress!) }
        try check(got, "ioctl(TCGETS2)", path, kind: .unsupportedBaud)
        raw.withUnsafeMutableBytes { t in
            var flags = t.load(fromByteOffset: cflag, as: UInt32.self)
            flags &= ~(cbaud | cibaud)
            flags |= bother | (bother << ibshift)
            t.storeBytes(of: flags, toByteOffset: cflag, as: UInt32.self)
            t.storeBytes(of: UInt32(baud), toByteOffset: ispeed, as: UInt32.self)
            t.storeBytes(of: UInt32(baud), toByteOffset: ospeed, as: UInt32.self)
        }
        let set = raw.withUnsafeMutableBytes { ioctl(fd, tcsets2, $0.baseAddress!) }
        try check(set, "ioctl(TCSETS2, \(baud) baud)", path, kind: .unsupportedBaud)
        var back = [UInt8](repeating: 0, count: 44)
        let reread = back.withUnsafeMutableBytes { ioctl(fd, tcgets2, $0.baseAddress!) }
        try check(reread, "ioctl(TCGETS2)", path, kind: .unsupportedBaud)
        let actual = back.withUnsafeBytes { Int($0.load(fromByteOffset: ospeed, as: UInt32.self)) }
        guard abs(actual - baud) * 50 <= baud else {
            throw SerialError(.unsupportedBaud, "\(path) cannot run at \(baud) baud (the nearest it offers is \(actual))", port: path)
        }
        #else
        throw SerialError(.unsupportedBaud, "\(baud) baud is not a standard rate, and this platform sets no other", port: path)
        #endif
    }

    /// Asks a USB serial adapter (FTDI, CH340, CP210x) to pass bytes on at once instead of
    /// after its latency timer (16 ms on FTDI parts). Ports that have no such setting (a
    /// pseudo-terminal, a built-in UART) refuse, which is fine.
    private static func enableLowLatency(_ fd: Int32) -> Bool {
        // struct serial_struct (linux/serial.h) is 72 bytes on 64-bit Linux, `flags` at offset 16.
        let tiocgserial: UInt = 0x541E, tiocsserial: UInt = 0x541F
        let asyncLowLatency: Int32 = 1 << 13
        var serial = [UInt8](repeating: 0, count: 128)
        guard serial.withUnsafeMutableBytes({ ioctl(fd, tiocgserial, $0.baseAddress!) }) == 0 else { return false }
        serial.withUnsafeMutableBytes { s in
            s.storeBytes(of: s.load(fromByteOffset: 16, as: Int32.self) | asyncLowLatency, toByteOffset: 16, as: Int32.self)
        }
        return serial.withUnsafeMutableBytes { ioctl(fd, tiocsserial, $0.baseAddress!) } == 0
    }
}
