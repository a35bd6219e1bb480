/// Why bytes could not become a frame or a message, or a value could not go on the wire.
public enum WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A payload without even a message type byte.
    case emptyPayload
    /// The first payload byte names no message of this protocol version.
    case unknownMessageType(UInt8)
    /// The payload ended before the message's layout did: `needed` bytes were required so
    /// far (type byte included), only `actual` were there.
    case shortPayload(type: MessageType, needed: Int, actual: Int)
    /// The payload goes on after the message's layout ended at `expected` bytes.
    case longPayload(type: MessageType, expected: Int, actual: Int)
    /// A field holds a value its layout does not allow (a foot other than 0 or 1, a flag
    /// byte other than 0 or 1, reserved bits set, a count above its maximum, …).
    case valueOutOfRange(field: String, value: Int)
    /// A physical quantity that the wire cannot represent (negative, not finite, too large).
    case quantityOutOfRange(quantity: String, value: Double, maximum: Double)
    /// Text longer than `WireProtocol.maxTextLength` bytes of UTF-8.
    case textTooLong(bytes: Int)
    /// Text bytes that are not valid UTF-8.
    case invalidText
    /// More pressure channels than `WireProtocol.maxChannelsPerFoot`.
    case tooManyChannels(Int)
    /// A channel name the device profile does not have.
    case unknownChannel(String)
    /// A payload longer than `WireProtocol.maxPayloadLength`.
    case payloadTooLong(Int)

    public var description: String {
        switch self {
        case .emptyPayload:
            "empty payload (no message type byte)"
        case .unknownMessageType(let code):
            "unknown message type 0x\(hex(code))"
        case .shortPayload(let type, let needed, let actual):
            "\(type.name) payload too short: needs \(needed) bytes, has \(actual)"
        case .longPayload(let type, let expected, let actual):
            "\(type.name) payload too long: layout ends at \(expected) bytes, has \(actual)"
        case .valueOutOfRange(let field, let value):
            "\(field) out of range: \(value)"
        case .quantityOutOfRange(let quantity, let value, let maximum):
            "\(quantity) \(value) cannot be sent: the wire carries 0...\(maximum)"
        case .textTooLong(let bytes):
            "text of \(bytes) bytes is longer than \(WireProtocol.maxTextLength)"
        case .invalidText:
            "text is not valid UTF-8"
        case .tooManyChannels(let count):
            "\(count) pressure channels, the wire carries at most \(WireProtocol.maxChannelsPerFoot)"
        case .unknownChannel(let name):
            "no pressure channel named '\(name)'"
        case .payloadTooLong(let count):
            "payload of \(count) bytes is longer than \(WireProtocol.maxPayloadLength)"
        }
    }
}

/// Two upper-case hex digits.
func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

/// Bytes as upper-case hex pairs separated by spaces: `0D 05 14`.
public func hexString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    bytes.map(hex).joined(separator: " ")
}
