/// A sorted set's member with its score.
public struct ScoredMember: Equatable, Sendable {
    public let member: [UInt8]
    public let score: Double

    public init(_ member: [UInt8], _ score: Double) {
        self.member = member
        self.score = score
    }

    /// Scores compare as Redis compares them (NaN never appears in a sorted set; -0 equals 0).
    public static func == (a: ScoredMember, b: ScoredMember) -> Bool { a.member == b.member && a.score == b.score }
}

/// A hash's field with its value.
public struct FieldValue: Equatable, Sendable {
    public let field: [UInt8]
    public let value: [UInt8]

    public init(_ field: [UInt8], _ value: [UInt8]) {
        self.field = field
        self.value = value
    }
}

/// A value of one of the types Redis keeps, as an RDB file or a DUMP payload holds it, whatever its
/// encoding was: elements in the order the encoding lists them (a list's order; a set's, a hash's and a
/// sorted set's as Redis happened to store them).
public enum RDBValue: Equatable, Sendable {
    case string([UInt8])
    case list([[UInt8]])
    case set([[UInt8]])
    case sortedSet([ScoredMember])
    case hash([FieldValue])
    case stream(RDBStream)
}

/// A value of a type this codec does not read (modules, hashes with field TTLs): the caller
/// names the key and counts it.
public struct RDBUnsupportedType: Error, Equatable, CustomStringConvertible {
    public let type: UInt8
    public let name: String
    public var description: String { "RDB value type \(type) (\(name)) is not supported" }
}

/// RDB's value type bytes (Redis's `RDB_TYPE_*`).
public enum RDBType {
    public static let string: UInt8 = 0, list: UInt8 = 1, set: UInt8 = 2, zset: UInt8 = 3, hash: UInt8 = 4, zset2: UInt8 = 5
    public static let module: UInt8 = 6, module2: UInt8 = 7
    public static let hashZipmap: UInt8 = 9, listZiplist: UInt8 = 10, setIntset: UInt8 = 11, zsetZiplist: UInt8 = 12
    public static let hashZiplist: UInt8 = 13, listQuicklist: UInt8 = 14, streamListpacks: UInt8 = 15, hashListpack: UInt8 = 16
    public static let zsetListpack: UInt8 = 17, listQuicklist2: UInt8 = 18, streamListpacks2: UInt8 = 19, setListpack: UInt8 = 20
    public static let streamListpacks3: UInt8 = 21, hashMetadataPreGA: UInt8 = 22, hashListpackExPreGA: UInt8 = 23
    public static let hashMetadata: UInt8 = 24, hashListpackEx: UInt8 = 25

    /// Whether `type` is a value type (else an opcode of the file, or nothing).
    public static func isValue(_ type: UInt8) -> Bool { type <= 7 || (9...25).contains(type) }

    static func unsupportedName(_ type: UInt8) -> String? {
        switch type {
        case module, module2: "a module's type"
        case hashMetadataPreGA, hashListpackExPreGA, hashMetadata, hashListpackEx: "a hash with field expiry (Redis 7.4)"
        default: nil
        }
    }
}

extension RDBReader {
    /// Reads a value of RDB type `type` (the byte before the key in a file, the first byte of a DUMP
    /// payload). Counts are checked against the bytes left (every element takes at least one), so no
    /// input allocates more than it could fill.
    public mutating func value(ofType type: UInt8) throws(any Error) -> RDBValue {
        if let name = RDBType.unsupportedName(type) { throw RDBUnsupportedType(type: type, name: name) }
        switch type {
        case RDBType.string:
            return .string(try string())
        case RDBType.list:
            return .list(try strings(try count()))
        case RDBType.set:
            return .set(try strings(try count()))
        case RDBType.zset, RDBType.zset2:
            let n = try count()
            var members: [ScoredMember] = []
            members.reserveCapacity(n)
            for _ in 0..<n {
                let member = try string()
                members.append(ScoredMember(member, type == RDBType.zset2 ? try binaryDouble() : try textDouble()))
            }
            return .sortedSet(members)
        case RDBType.hash:
            let n = try count()
            var pairs: [FieldValue] = []
            pairs.reserveCapacity(n)
            for _ in 0..<n { pairs.append(FieldValue(try string(), try string())) }
            return .hash(pairs)
        case RDBType.streamListpacks, RDBType.streamListpacks2, RDBType.streamListpacks3:
            return .stream(try stream(type: type))
        case RDBType.hashZipmap:
            let base = offset
            return .hash(try PackedEncodings.zipmap(try string(), base: base).map { FieldValue($0.bytes, $1.bytes) })
        case RDBType.listZiplist:
            return .list(try packed(ziplist: true).map(\.bytes))
        case RDBType.setIntset:
            let base = offset
            return .set(try PackedEncodings.intset(try string(), base: base).map { Array(String($0).utf8) })
        case RDBType.setListpack:
            return .set(try packed(ziplist: false).map(\.bytes))
        case RDBType.zsetZiplist, RDBType.zsetListpack:
            return .sortedSet(try scored(try packed(ziplist: type == RDBType.zsetZiplist)))
        case RDBType.hashZiplist, RDBType.hashListpack:
            return .hash(try pairs(try packed(ziplist: type == RDBType.hashZiplist)))
        case RDBType.listQuicklist:
            var items: [[UInt8]] = []
            for _ in 0..<(try count()) { items += try packed(ziplist: true).map(\.bytes) }
            return .list(items)
        case RDBType.listQuicklist2:
            var items: [[UInt8]] = []
            for _ in 0..<(try count()) {
                let at = offset
                switch try length().value {
                case 1: items.append(try string())
                case 2: items += try packed(ziplist: false).map(\.bytes)
                case let container: throw RDBError(offset: at, reason: "unknown quicklist container \(container)")
                }
            }
            return .list(items)
        default:
            throw RDBError(offset: offset, reason: "unknown value type \(type)")
        }
    }

    /// A count of elements, checked against the bytes left.
    mutating func count() throws(RDBError) -> Int {
        let at = offset
        let n = try length().value
        guard n <= UInt64(lengthLimit) else { throw RDBError(offset: at, reason: "a count of \(n) elements is over the limit of \(lengthLimit)") }
        guard n <= UInt64(end - offset) else { throw short("a count of \(n) elements in \(end - offset) bytes", at: at) }
        return Int(n)
    }

    private mutating func strings(_ n: Int) throws(RDBError) -> [[UInt8]] {
        var items: [[UInt8]] = []
        items.reserveCapacity(n)
        for _ in 0..<n { items.append(try string()) }
        return items
    }

    /// The elements of the listpack or ziplist in the next string.
    private mutating func packed(ziplist: Bool) throws(RDBError) -> [PackedElement] {
        let base = offset
        let blob = try string()
        return ziplist ? try PackedEncodings.ziplist(blob, base: base) : try PackedEncodings.listpack(blob, base: base)
    }

    /// A score as `ZSET` (type 3) writes it: a length byte (253 NaN, 254 +inf, 255 -inf) and digits.
    private mutating func textDouble() throws(RDBError) -> Double {
        let at = offset
        switch try byte() {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        case let n:
            let text = try take(Int(n))
            guard let value = Double(String(decoding: text, as: UTF8.self)) else { throw RDBError(offset: at, reason: "a score that is not a number") }
            return value
        }
    }

    /// A score as `ZSET_2` writes it: an IEEE 754 double, little-endian.
    private mutating func binaryDouble() throws(RDBError) -> Double {
        Double(bitPattern: try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) })
    }

    private func scored(_ elements: [PackedElement]) throws(RDBError) -> [ScoredMember] {
        guard elements.count % 2 == 0 else { throw RDBError(offset: offset, reason: "a sorted set of an odd number of entries") }
        var members: [ScoredMember] = []
        members.reserveCapacity(elements.count / 2)
        for i in stride(from: 0, to: elements.count, by: 2) {
            let score: Double
            switch elements[i + 1] {
            case .integer(let n): score = Double(n)
            case .bytes(let text):
                guard let value = Double(String(decoding: text, as: UTF8.self)) else { throw RDBError(offset: offset, reason: "a score that is not a number") }
                score = value
            }
            members.append(ScoredMember(elements[i].bytes, score))
        }
        return members
    }

    private func pairs(_ elements: [PackedElement]) throws(RDBError) -> [FieldValue] {
        guard elements.count % 2 == 0 else { throw RDBError(offset: offset, reason: "a hash of an odd number of entries") }
        return stride(from: 0, to: elements.count, by: 2).map { FieldValue(elements[$0].bytes, elements[$0 + 1].bytes) }
    }
}

extension DumpPayload {
    /// The value of a DUMP payload (RESTORE's input), or why it cannot be read: a wrong version or
    /// checksum, an unsupported type, a malformed value, or bytes left after it.
    public static func value(of payload: [UInt8]) throws(any Error) -> RDBValue {
        guard let (end, _) = open(payload) else { throw RDBError(offset: max(0, payload.count - 10), reason: "DUMP payload version or checksum are wrong") }
        return try value(of: payload, bodyEnd: end)
    }

    /// The value of a payload `open` has checked (its body ends at `bodyEnd`).
    public static func value(of payload: [UInt8], bodyEnd end: Int) throws(any Error) -> RDBValue {
        var reader = RDBReader(payload, to: end)
        let value = try reader.value(ofType: try reader.byte())
        guard reader.isAtEnd else { throw RDBError(offset: reader.offset, reason: "bytes after the value") }
        return value
    }
}
