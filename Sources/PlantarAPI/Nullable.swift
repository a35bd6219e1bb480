/// An optional property of an API document whose key is always written: `null` when it has no
/// value, never left out (docs/openapi.yaml: every key of a response is required).
///
/// Swift's synthesized `Encodable` drops nil optionals (`encodeIfPresent`), so a client would
/// see `latchReason` sometimes and sometimes not; wrapped, the key is there either way.
/// Decoding still accepts the key missing (older daemons) as well as `null`.
@propertyWrapper
public struct Nullable<Value: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// A `Nullable` key may be missing altogether: it decodes as nil.
    public func decode<Value>(_ type: Nullable<Value>.Type, forKey key: Key) throws -> Nullable<Value> {
        try decodeIfPresent(type, forKey: key) ?? Nullable(wrappedValue: nil)
    }
}
