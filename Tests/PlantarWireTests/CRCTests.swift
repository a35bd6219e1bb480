import PropertyBased
import Testing
@testable import PlantarWire

@Suite struct CRCTests {
    @Test func checkValueOfTheStandardString() {
        #expect(CRC16.ccitt(Array("123456789".utf8)) == 0x29B1)
        #expect(referenceCRC(Array("123456789".utf8)) == 0x29B1)
    }

    @Test func emptyInputLeavesTheInitialValue() {
        #expect(CRC16.ccitt([UInt8]()) == 0xFFFF)
    }

    @Test func checksumsInPartsLikeInOneGo() {
        let data = Array("123456789".utf8)
        #expect(CRC16.ccitt(data[4...], continuing: CRC16.ccitt(data[..<4])) == 0x29B1)
    }

    /// Klipper's crc16_ccitt is the reflected variant; the document says we are not it.
    @Test func differsFromKlippersReflectedVariant() {
        var crc: UInt16 = 0xFFFF
        for byte in Array("123456789".utf8) {
            var data = byte ^ UInt8(crc & 0xFF)
            data ^= data << 4
            crc = ((UInt16(data) << 8) | (crc >> 8)) ^ UInt16(data >> 4) ^ (UInt16(data) << 3)
        }
        #expect(crc == 0x6F91)
        #expect(crc != CRC16.ccitt(Array("123456789".utf8)))
    }

    @Test func tableMatchesTheBitwiseDefinition() async {
        await propertyCheck(count: 500, input: Gen<UInt8>.value(in: 0...255).array(of: 0...80)) { bytes in
            #expect(CRC16.ccitt(bytes) == referenceCRC(bytes))
        }
    }
}
