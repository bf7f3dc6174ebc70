/// An RDB file's checksum, checked in one pass over the whole file before anything of it is loaded
/// (a changed byte inside a value reads as well as the right one: only the CRC64 at the end tells).
/// Append the file piece by piece, then `verify()`.
public struct RDBFileChecksum {
    private var crc: UInt64 = 0
    private var header: [UInt8] = []
    private var tail: [UInt8] = []  // the last 8 bytes seen: the checksum, once the file has ended
    /// Bytes appended.
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ bytes: some Collection<UInt8>) {
        if header.count < 9 { header += bytes.prefix(9 - header.count) }
        count += bytes.count
        if bytes.count >= 8 {
            crc = CRC64.checksum(tail, continuing: crc)
            crc = CRC64.checksum(bytes.dropLast(8), continuing: crc)
            tail = Array(bytes.suffix(8))
        } else {
            let joined = tail + bytes
            crc = CRC64.checksum(joined.dropLast(8), continuing: crc)
            tail = Array(joined.suffix(8))
        }
    }

    /// Nil when the file's last 8 bytes are the CRC64 of the rest, or 0 (written with `rdbchecksum
    /// no`), or the version predates checksums (before 5); otherwise the error.
    public func verify() -> RDBError? {
        guard count >= 18 else { return RDBError(offset: count, reason: "the file ends early (\(count) bytes)") }
        if header.starts(with: "REDIS".utf8), let version = Int(String(decoding: header.suffix(4), as: UTF8.self)), version < 5 { return nil }
        let stored = tail.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard stored == 0 || stored == crc else {
            return RDBError(offset: count - 8, reason: "the checksum is wrong (file says 0x\(String(stored, radix: 16)), data gives 0x\(String(crc, radix: 16)))")
        }
        return nil
    }
}
