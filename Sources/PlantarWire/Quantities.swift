import PlantarCore

/// A physical quantity as the wire carries it: an unsigned 16-bit count of a fixed step
/// (little-endian on the wire). Messages hold these rather than `Double`s so that encoding
/// never fails and a decoded message equals the one sent, bit for bit.
public protocol FixedPointQuantity: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Counts per unit: 100 for a step of 0.01.
    static var scale: Double { get }
    /// Digits after the decimal point that the step has.
    static var decimals: Int { get }
    /// The unit's symbol, e.g. "mm".
    static var unit: String { get }
    /// What the quantity is, for errors: "position".
    static var quantity: String { get }

    /// The count on the wire.
    var raw: UInt16 { get }
    init(raw: UInt16)
}

extension FixedPointQuantity {
    /// The nearest representable value.
    /// - Throws: `WireError.quantityOutOfRange` when `value` is negative, not finite, or
    ///   above `maximum`. Commands are never clamped on the way to the wire.
    public init(_ value: Double) throws(WireError) {
        let count = (value * Self.scale).rounded()
        guard value.isFinite, count >= 0, count <= Double(UInt16.max) else {
            throw .quantityOutOfRange(quantity: Self.quantity, value: value, maximum: Self.maximum)
        }
        self.init(raw: UInt16(count))
    }

    /// The nearest representable value, limited to `0...maximum` (not-a-number becomes 0).
    /// For measurements only: a reading a hair below zero is zero.
    public init(clamping value: Double) {
        let count = (value * Self.scale).rounded()
        self.init(raw: count.isNaN ? 0 : UInt16(min(max(count, 0), Double(UInt16.max))))
    }

    /// The value in the quantity's unit.
    public var value: Double { Double(raw) / Self.scale }

    /// The largest value the wire carries.
    public static var maximum: Double { Double(UInt16.max) / scale }

    public static func < (a: Self, b: Self) -> Bool { a.raw < b.raw }

    public var description: String { fixed(value, Self.decimals) + " " + Self.unit }
}

/// A node position along an axis in 0.01 mm (0...655.35 mm).
public struct FixedLength: FixedPointQuantity {
    public static let scale = 100.0
    public static let decimals = 2
    public static let unit = "mm"
    public static let quantity = "position"
    public let raw: UInt16
    public init(raw: UInt16) { self.raw = raw }
}

/// A cruise speed in 0.1 mm/s (0...6553.5 mm/s).
public struct FixedSpeed: FixedPointQuantity {
    public static let scale = 10.0
    public static let decimals = 1
    public static let unit = "mm/s"
    public static let quantity = "speed"
    public let raw: UInt16
    public init(raw: UInt16) { self.raw = raw }
}

/// A gauge pressure in 0.1 kPa (0...6553.5 kPa).
public struct FixedPressure: FixedPointQuantity {
    public static let scale = 10.0
    public static let decimals = 1
    public static let unit = "kPa"
    public static let quantity = "pressure"
    public let raw: UInt16
    public init(raw: UInt16) { self.raw = raw }
}

/// A pressure ramp rate in 0.1 kPa/s (0...6553.5 kPa/s).
public struct FixedRamp: FixedPointQuantity {
    public static let scale = 10.0
    public static let decimals = 1
    public static let unit = "kPa/s"
    public static let quantity = "ramp"
    public let raw: UInt16
    public init(raw: UInt16) { self.raw = raw }
}

/// A contact force in 0.1 N (0...6553.5 N).
public struct FixedForce: FixedPointQuantity {
    public static let scale = 10.0
    public static let decimals = 1
    public static let unit = "N"
    public static let quantity = "force"
    public let raw: UInt16
    public init(raw: UInt16) { self.raw = raw }
}

/// A temperature in 0.1 °C (0...6553.5 °C; heat targets are far lower).
public struct FixedTemperature: FixedPointQuantity {
    public static let scale = 10.0
    public static let decimals = 1
    public static let unit = "°C"
    public static let quantity = "temperature"
    public let raw: UInt16
    public init(raw: UInt16) { self.raw = raw }
}

/// Text for the wire: at most `WireProtocol.maxTextLength` bytes of UTF-8, sent as a length
/// byte and the bytes (no terminator).
public struct ShortText: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    /// - Throws: `WireError.textTooLong` when `text` has more than 32 bytes of UTF-8.
    public init(_ text: String) throws(WireError) {
        let count = text.utf8.count
        guard count <= WireProtocol.maxTextLength else { throw .textTooLong(bytes: count) }
        self.text = text
    }

    /// `text`, cut at a character boundary to fit. For details built at run time, where a
    /// shortened message beats none.
    public init(truncating text: String) {
        var result = ""
        var count = 0
        for character in text {
            let size = character.utf8.count
            if count + size > WireProtocol.maxTextLength { break }
            result.append(character)
            count += size
        }
        self.text = result
    }

    /// The UTF-8 bytes.
    public var bytes: [UInt8] { Array(text.utf8) }

    public var description: String { text }

    static func decode(_ bytes: ArraySlice<UInt8>) throws(WireError) -> ShortText {
        guard bytes.count <= WireProtocol.maxTextLength else { throw .textTooLong(bytes: bytes.count) }
        // Validating decode: String(decoding:) would silently repair bad bytes.
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidText }
        return ShortText(verified: text)
    }

    private init(verified text: String) { self.text = text }
}
