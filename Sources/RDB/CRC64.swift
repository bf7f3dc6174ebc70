/// Redis's CRC64 (Jones polynomial 0xad93d23594c935a9, reflected, initial value 0, no final xor),
/// which ends RDB files and DUMP payloads. `checksum("123456789")` is 0xe9c6d914c4b8d9ca. Eight bytes
/// at a time through eight tables (slicing-by-8), as Redis's crc64 does.
public enum CRC64 {
    /// tables[k][b]: the CRC of byte b followed by k zero bytes.
    private static let tables: [[UInt64]] = {
        var first = [UInt64](repeating: 0, count: 256)
        for index in 0..<256 {
            var crc = UInt64(index)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5 : crc >> 1 }
            first[index] = crc
        }
        var tables = [first]
        for k in 1..<8 { tables.append((0..<256).map { tables[k - 1][$0] >> 8 ^ first[Int(UInt8(truncatingIfNeeded: tables[k - 1][$0]))] }) }
        return tables
    }()
    private static let flat: [UInt64] = tables.flatMap { $0 }

    /// The checksum of `bytes`, continuing from `crc` (0 to start).
    public static func checksum(_ bytes: some Sequence<UInt8>, continuing crc: UInt64 = 0) -> UInt64 {
        if let done = bytes.withContiguousStorageIfAvailable({ checksum(UnsafeRawBufferPointer($0), continuing: crc) }) { return done }
        return checksum(Array(bytes), continuing: crc)
    }

    /// The checksum of the bytes in `raw`, continuing from `crc`.
    public static func checksum(_ raw: UnsafeRawBufferPointer, continuing crc: UInt64 = 0) -> UInt64 {
        var crc = crc
        var i = 0
        let n = raw.count
        flat.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let word = crc ^ UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                crc = t[7 * 256 + Int(word & 0xff)] ^ t[6 * 256 + Int(word >> 8 & 0xff)]
                    ^ t[5 * 256 + Int(word >> 16 & 0xff)] ^ t[4 * 256 + Int(word >> 24 & 0xff)]
                    ^ t[3 * 256 + Int(word >> 32 & 0xff)] ^ t[2 * 256 + Int(word >> 40 & 0xff)]
                    ^ t[256 + Int(word >> 48 & 0xff)] ^ t[Int(word >> 56)]
                i += 8
            }
            while i < n {
                crc = t[Int(UInt8(truncatingIfNeeded: crc) ^ raw[i])] ^ (crc >> 8)
                i += 1
            }
        }
        return crc
    }
}
