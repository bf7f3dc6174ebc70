/// Redis's CRC64 (Jones polynomial 0xad93d23594c935a9, reflected, initial value 0, no final xor),
/// which ends RDB files and DUMP payloads. `checksum("123456789")` is 0xe9c6d914c4b8d9ca.
public enum CRC64 {
    private static let table: [UInt64] = (0..<256).map { index in
        var crc = UInt64(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5 : crc >> 1 }
        return crc
    }

    /// The checksum of `bytes`, continuing from `crc` (0 to start).
    public static func checksum(_ bytes: some Sequence<UInt8>, continuing crc: UInt64 = 0) -> UInt64 {
        var crc = crc
        for byte in bytes { crc = table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8) }
        return crc
    }
}
