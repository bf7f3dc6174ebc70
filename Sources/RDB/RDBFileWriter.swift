/// Writes an RDB file piece by piece: the header ("REDIS0010", what Debian's redis-server 7.0.15 reads)
/// and AUX fields, function libraries, then each database's SELECTDB, RESIZEDB and keys, and EOF with
/// the CRC64 of everything before it. `take()` hands out what was written so far (the caller writes it
/// out), so memory holds one value at a time however large the file.
public struct RDBFileWriter {
    private var writer = RDBWriter()
    private var crc: UInt64 = 0
    private var ended = false

    /// A file of RDB `version`, starting with `aux` fields (name and value).
    public init(version: UInt16 = DumpPayload.version, aux: [(String, String)] = []) {
        writer.bytes += Array("REDIS".utf8) + Array(fourDigits(version).utf8)
        for (name, value) in aux {
            writer.byte(0xFA)
            writer.string(Array(name.utf8))
            writer.string(Array(value.utf8))
        }
    }

    /// Bytes written and not yet taken.
    public var pendingCount: Int { writer.bytes.count }

    /// A function library's source (FUNCTION2), which Redis loads before the keys.
    public mutating func function(code: some Collection<UInt8>) {
        writer.byte(0xF5)
        writer.string(code)
    }

    /// The keys that follow are in numbered database `database`, which holds `keys` keys, `expires` of
    /// them with a deadline (RESIZEDB: a sizing hint).
    public mutating func selectDatabase(_ database: Int, keys: Int, expires: Int) {
        writer.byte(0xFE)
        writer.length(UInt64(database))
        writer.byte(0xFB)
        writer.length(UInt64(keys))
        writer.length(UInt64(expires))
    }

    /// A key, its value (in the encoding Redis would hold it in by `limits`) and its deadline (Unix
    /// time in milliseconds).
    public mutating func key(_ key: some Collection<UInt8>, _ value: RDBValue, expiresAt: Int64? = nil,
                             limits: EncodingLimits = EncodingLimits()) {
        if let expiresAt {
            writer.byte(0xFC)
            writer.bytes += littleEndianBytes(UInt64(bitPattern: expiresAt), width: 8)
        }
        writer.entry(key: key, value, limits: limits)
    }

    /// EOF and the checksum: the file is complete once what follows is taken.
    public mutating func finish() {
        precondition(!ended, "an RDB file ends once")
        writer.byte(0xFF)
        crc = CRC64.checksum(writer.bytes, continuing: crc)
        writer.bytes += littleEndianBytes(crc, width: 8)
        ended = true
    }

    /// What was written since the last `take`.
    public mutating func take() -> [UInt8] {
        defer { writer.bytes.removeAll(keepingCapacity: true) }
        if !ended { crc = CRC64.checksum(writer.bytes, continuing: crc) }
        return writer.bytes
    }
}

/// `n` as four digits ("0010").
private func fourDigits(_ n: UInt16) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
