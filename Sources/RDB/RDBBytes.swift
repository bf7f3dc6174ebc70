/// Where a value in RDB bytes could not be read, and why.
public struct RDBError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    /// The data ran out before the value did (a streaming reader waits for more before it says so).
    public let truncated: Bool
    public var description: String { "RDB data is invalid at offset \(offset): \(reason)" }

    public init(offset: Int, reason: String, truncated: Bool = false) {
        self.offset = offset
        self.reason = reason
        self.truncated = truncated
    }

    /// The same error `shift` bytes further on (a reader's offset made an offset in the whole stream).
    func shifted(by shift: Int) -> RDBError { RDBError(offset: offset + shift, reason: reason, truncated: truncated) }
}

/// Reads RDB's encodings from bytes held in memory (a DUMP payload, a FUNCTION2 record): lengths
/// (6, 14, 32 and 64 bits) and strings (raw, integer, LZF). Every length is checked against what is
/// left, so no input makes it read out of bounds or allocate more than the input could hold.
public struct RDBReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int
    /// Whether more data may follow `end` (a file read piece by piece): running out is then `truncated`.
    let partial: Bool
    /// The longest string or count a partial reader accepts (it would otherwise wait for ever for more).
    var lengthLimit = Int.max

    public init(_ bytes: [UInt8], from offset: Int = 0, to end: Int? = nil) {
        self.init(bytes, from: offset, to: end, partial: false)
    }

    init(_ bytes: [UInt8], from offset: Int, to end: Int?, partial: Bool) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
        self.partial = partial
    }

    public var isAtEnd: Bool { offset >= end }

    private func fail(_ reason: String) -> RDBError { RDBError(offset: offset, reason: reason) }

    /// The data ends before what the input claims.
    func short(_ reason: String, at: Int? = nil) -> RDBError { RDBError(offset: at ?? offset, reason: reason, truncated: partial) }

    public mutating func byte() throws(RDBError) -> UInt8 {
        guard offset < end else { throw short("the data ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func take(_ count: Int) throws(RDBError) -> ArraySlice<UInt8> {
        guard count >= 0 else { throw fail("a length of \(count) runs past the end") }
        guard count <= lengthLimit else { throw fail("a length of \(count) is over the limit of \(lengthLimit) bytes") }
        guard count <= end - offset else { throw short("a length of \(count) runs past the end") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    private mutating func bigEndian(_ count: Int) throws(RDBError) -> UInt64 {
        try take(count).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func littleEndian(_ count: Int) throws(RDBError) -> UInt64 {
        try take(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A length, or the special encoding of a string (`encoded`: the low six bits of the first byte).
    public mutating func length() throws(RDBError) -> (value: UInt64, encoded: Bool) {
        let first = try byte()
        switch first >> 6 {
        case 0: return (UInt64(first & 0x3f), false)
        case 1: return (UInt64(first & 0x3f) << 8 | UInt64(try byte()), false)
        case 2:
            switch first {
            case 0x80: return (try bigEndian(4), false)
            case 0x81: return (try bigEndian(8), false)
            default: throw fail("unknown length encoding 0x\(String(first, radix: 16))")
            }
        default: return (UInt64(first & 0x3f), true)
        }
    }

    /// A string: raw bytes, an integer written as digits, or LZF-compressed bytes.
    public mutating func string() throws(RDBError) -> [UInt8] {
        let (value, encoded) = try length()
        guard encoded else { return Array(try take(Int(clamping: value))) }
        switch value {
        case 0: return Array(String(Int8(bitPattern: try byte())).utf8)
        case 1: return Array(String(Int16(truncatingIfNeeded: try littleEndian(2))).utf8)
        case 2: return Array(String(Int32(truncatingIfNeeded: try littleEndian(4))).utf8)
        case 3:
            let start = offset
            let compressed = Int(clamping: try length().value)
            let length = Int(clamping: try self.length().value)
            let data = try take(compressed)
            // An LZF run yields at most 264 bytes per input byte: a claimed length beyond that is a lie.
            guard length <= compressed * 264, length <= lengthLimit else { throw RDBError(offset: start, reason: "an LZF string claims \(length) bytes from \(compressed)") }
            do { return try LZF.decompress(data, length: length) } catch { throw RDBError(offset: start, reason: error.description) }
        default:
            throw fail("unknown string encoding \(value)")
        }
    }
}

/// Writes RDB's encodings (strings always raw: every reader accepts them).
public struct RDBWriter {
    public internal(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    /// Bytes as they are (a header, a fixed-width field).
    public mutating func raw(_ value: some Sequence<UInt8>) { bytes.append(contentsOf: value) }

    public mutating func length(_ value: UInt64) {
        switch value {
        case ..<64: bytes.append(UInt8(value))
        case ..<16384: bytes += [0x40 | UInt8(value >> 8), UInt8(truncatingIfNeeded: value)]
        case ...UInt64(UInt32.max): bytes.append(0x80); bytes += (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
        default: bytes.append(0x81); bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
        }
    }

    public mutating func string(_ value: some Collection<UInt8>) {
        length(UInt64(value.count))
        bytes += value
    }
}

/// The low `width` bytes of `value`, least significant first (RDB's footers, listpacks, intsets,
/// binary scores).
func littleEndianBytes(_ value: UInt64, width: Int) -> [UInt8] {
    (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

/// DUMP's payload (and FUNCTION DUMP's): the serialized value, then the RDB version (two bytes) and
/// the CRC64 of everything before it (eight bytes), both little endian.
public enum DumpPayload {
    /// The RDB version written: 10, Redis 7.0's (what Debian's redis-server reads).
    public static let version: UInt16 = 10

    public static func seal(_ body: [UInt8], version: UInt16 = DumpPayload.version) -> [UInt8] {
        var payload = body + littleEndianBytes(UInt64(version), width: 2)
        payload += littleEndianBytes(CRC64.checksum(payload), width: 8)
        return payload
    }

    /// The body's end and the payload's RDB version, or nil when the footer's version is newer than
    /// `newest` or its checksum is wrong (Redis's verifyDumpPayload).
    public static func open(_ payload: [UInt8], newest: UInt16 = 12) -> (bodyEnd: Int, version: UInt16)? {
        guard payload.count >= 10 else { return nil }
        let footer = payload.count - 10
        let version = UInt16(payload[footer]) | UInt16(payload[footer + 1]) << 8
        guard version <= newest else { return nil }
        let crc = (0..<8).reduce(UInt64(0)) { $0 | UInt64(payload[footer + 2 + $1]) << ($1 * 8) }
        guard CRC64.checksum(payload[..<(footer + 2)]) == crc else { return nil }
        return (footer, version)
    }
}
