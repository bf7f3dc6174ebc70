import RDB
import TestSupport
import Testing

@Suite("RDB codec pieces: CRC64, LZF, lengths, strings, DUMP payload footers")
struct RDBTests {
    @Test("CRC64 is Redis's (Jones, reflected): the check value of \"123456789\" and of nothing")
    func crc64() {
        #expect(CRC64.checksum(Array("123456789".utf8)) == 0xe9c6_d914_c4b8_d9ca)
        #expect(CRC64.checksum([UInt8]()) == 0)
        #expect(CRC64.checksum(Array("6789".utf8), continuing: CRC64.checksum(Array("12345".utf8))) == 0xe9c6_d914_c4b8_d9ca)
        // Eight bytes at a time gives what one byte at a time gives, at every length and split.
        func bitwise(_ bytes: [UInt8]) -> UInt64 {
            var crc: UInt64 = 0
            for byte in bytes {
                crc ^= UInt64(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5 : crc >> 1 }
            }
            return crc
        }
        var random = SplitMix64(seed: 0xC4C6_4)
        for length in 0..<100 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let split = Int.random(in: 0...length, using: &random)
            #expect(CRC64.checksum(bytes) == bitwise(bytes), "length \(length)")
            #expect(CRC64.checksum(bytes[split...], continuing: CRC64.checksum(bytes[..<split])) == bitwise(bytes), "length \(length) split at \(split)")
        }
    }

    @Test("LZF: literals and overlapping back references decompress; every lie about a length or an offset is an error")
    func lzf() throws {
        let abc: [UInt8] = [0x02, 0x61, 0x62, 0x63, 0x80, 0x02]
        #expect(try LZF.decompress(abc, length: 9) == Array("abcabcabc".utf8))
        // A long reference (length byte) repeating one byte.
        #expect(try LZF.decompress([0x00, 0x78, 0xe0, 0x05, 0x00], length: 1 + 14) == [UInt8](repeating: 0x78, count: 15))
        for (input, length) in [(abc, 8), (abc, 10), ([0x05, 0x61], 6), ([0x80, 0x00], 3), ([0x00, 0x61, 0x20, 0x05], 4), ([0xe0], 9)] as [([UInt8], Int)] {
            #expect(throws: LZF.Corrupt.self) { try LZF.decompress(input, length: length) }
        }
    }

    @Test("lengths and strings round-trip at every width; integer and LZF strings read as Redis writes them")
    func lengthsAndStrings() throws {
        var writer = RDBWriter()
        let lengths: [UInt64] = [0, 63, 64, 16383, 16384, UInt64(UInt32.max), UInt64(UInt32.max) + 1]
        for n in lengths { writer.length(n) }
        let strings: [[UInt8]] = [[], Array("x".utf8), [UInt8](repeating: 7, count: 70), [UInt8](repeating: 9, count: 20_000)]
        for s in strings { writer.string(s) }
        var reader = RDBReader(writer.bytes)
        for n in lengths { #expect(try reader.length() == (n, false)) }
        for s in strings { #expect(try reader.string() == s) }
        #expect(reader.isAtEnd)
        // Integers (8, 16, 32 bits, little endian) and LZF, as Redis encodes them.
        var encoded = RDBReader([0xc0, 0xfb, 0xc1, 0x39, 0x30, 0xc2, 0x87, 0xd6, 0x12, 0x00, 0xc3, 0x06, 0x09, 0x02, 0x61, 0x62, 0x63, 0x80, 0x02])
        #expect(try encoded.string() == Array("-5".utf8))
        #expect(try encoded.string() == Array("12345".utf8))
        #expect(try encoded.string() == Array("1234567".utf8))
        #expect(try encoded.string() == Array("abcabcabc".utf8))
    }

    @Test("a truncated or lying input is an error naming its offset, never a read out of bounds")
    func corrupt() {
        for bytes: [UInt8] in [[0x05, 0x61], [0x80, 0xff, 0xff, 0xff, 0xff], [0x81, 0, 0, 0, 0, 0, 0, 0], [0x82], [0xc4], [0xc3, 0x01, 0x7f, 0x00]] {
            var reader = RDBReader(bytes)
            #expect(throws: RDBError.self) { try reader.string() }
        }
        var reader = RDBReader([0x40])
        #expect(throws: RDBError(offset: 1, reason: "the data ends early")) { try reader.length() }
    }

    @Test("DUMP payload footers: sealed payloads open; a changed byte, a newer version or a short payload do not")
    func payloads() {
        let sealed = DumpPayload.seal([0xf5, 0x03, 0x61, 0x62, 0x63])
        #expect(sealed.count == 15 && sealed[5] == 10 && sealed[6] == 0)
        #expect(DumpPayload.open(sealed)?.bodyEnd == 5)
        var changed = sealed
        changed[2] ^= 1
        #expect(DumpPayload.open(changed) == nil)
        #expect(DumpPayload.open(DumpPayload.seal([1], version: 13)) == nil)
        #expect(DumpPayload.open(Array(sealed.prefix(9))) == nil)
    }
}
