/// CRC-16/CCITT-FALSE (also catalogued as CRC-16/IBM-3740): polynomial 0x1021
/// (x¹⁶ + x¹² + x⁵ + 1), initial value 0xFFFF, bits processed most significant first (no
/// reflection of input or output), no final XOR. Check value: "123456789" → 0x29B1.
///
/// Klipper frames its blocks the same way but its `crc16_ccitt` is the *reflected* variant
/// (CRC-16/MCRF4XX, check 0x6F91); this protocol is not byte-compatible with Klipper and uses
/// the unreflected one, which is what most microcontroller CRC units and libraries call
/// "CCITT". The polynomial detects every error of 1, 2 or 3 bits and every odd number of bit
/// errors in a frame of this protocol's size, and every burst of up to 16 bits.
public enum CRC16 {
    /// The register's value before the first byte.
    public static let initial: UInt16 = 0xFFFF
    /// The generator polynomial without its x¹⁶ term.
    public static let polynomial: UInt16 = 0x1021

    /// The CRC of `bytes`, continuing from `crc` (pass a previous result to checksum in parts).
    public static func ccitt<S: Sequence>(_ bytes: S, continuing crc: UInt16 = initial) -> UInt16
    where S.Element == UInt8 {
        var crc = crc
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// One entry per value of the register's top byte after the next input byte is mixed in.
    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ polynomial : crc << 1
        }
        return crc
    }
}
