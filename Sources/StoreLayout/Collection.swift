/// Redis's collection types as ShmKV stores them (docs/STORAGE.md): a key that is not a string has one
/// record in `__types` — a `CollectionHeader`, then, for a small collection, its elements packed
/// (`PackedItems`) — and a large one has a record per element in `__elements` (`ElementKey`).

/// A key's type, as TYPE names it.
public enum KeyType: UInt8, Sendable, Hashable {
    case string = 0
    case hash = 0x68   // "h"
    case set = 0x73    // "s"
    case zset = 0x7A   // "z"
    case list = 0x6C   // "l"
    case stream = 0x78 // "x"

    /// TYPE's answer.
    public var name: String {
        switch self {
        case .string: "string"
        case .hash: "hash"
        case .set: "set"
        case .zset: "zset"
        case .list: "list"
        case .stream: "stream"
        }
    }
}

/// OBJECT ENCODING's answer for a collection, decided by Redis's rules and thresholds (whatever ShmKV's
/// own layout): kept in the header because, as in Redis, a collection never goes back to a smaller
/// encoding once it has grown out of it.
public enum RedisEncoding: UInt8, Sendable, Hashable {
    case listpack = 0
    case hashtable = 1
    case intset = 2
    case skiplist = 3
    case quicklist = 4
    case stream = 5

    public var name: String {
        switch self {
        case .listpack: "listpack"
        case .hashtable: "hashtable"
        case .intset: "intset"
        case .skiplist: "skiplist"
        case .quicklist: "quicklist"
        case .stream: "stream"
        }
    }
}

/// The first 24 bytes of a `__types` record (all integers little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | type: `h` hash, `s` set, `z` sorted set, `l` list |
/// | 1 | 1 | layout: 0 packed (the elements follow the header), 1 one record per element in `__elements` |
/// | 2 | 1 | Redis's encoding (`RedisEncoding`) |
/// | 3 | 5 | zero |
/// | 8 | 8 | element count (a hash's fields, a set's members…) |
/// | 16 | 8 | the collection's id: the prefix of its records in `__elements` (0 when packed) |
public struct CollectionHeader: Sendable, Equatable {
    public static let size = 24

    public var type: KeyType
    /// Whether the elements follow the header (else they are in `__elements` under `id`).
    public var isPacked: Bool
    public var encoding: RedisEncoding
    public var count: Int
    public var id: UInt64

    public init(type: KeyType, isPacked: Bool, encoding: RedisEncoding, count: Int, id: UInt64) {
        self.type = type
        self.isPacked = isPacked
        self.encoding = encoding
        self.count = count
        self.id = id
    }

    /// The header at the front of `record`; nil for bytes that are not one (too short, an unknown type,
    /// layout or encoding, a count past what a record can say, a packed record with an id).
    public init?(_ record: UnsafeRawBufferPointer) {
        guard record.count >= CollectionHeader.size, let type = KeyType(rawValue: record[0]), type != .string,
              record[1] <= 1, let encoding = RedisEncoding(rawValue: record[2]) else { return nil }
        let count = UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let id = UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let isPacked = record[1] == 0
        guard count <= UInt64(Int.max), isPacked == (id == 0) else { return nil }
        self.init(type: type, isPacked: isPacked, encoding: encoding, count: Int(count), id: id)
    }

    /// Writes the header into the first `size` bytes of `buffer`.
    public func write(to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= CollectionHeader.size)
        buffer[0] = type.rawValue
        buffer[1] = isPacked ? 0 : 1
        buffer[2] = encoding.rawValue
        for i in 3..<8 { buffer[i] = 0 }
        buffer.storeBytes(of: UInt64(count).littleEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: id.littleEndian, toByteOffset: 16, as: UInt64.self)
    }

    /// The header as 24 bytes.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: CollectionHeader.size) { buffer, n in
            write(to: UnsafeMutableRawBufferPointer(buffer))
            n = CollectionHeader.size
        }
    }
}

/// The packed elements of a small collection, after its header: each item a u32 little-endian length
/// and that many bytes; a hash's items alternate field and value (in the order the fields were added),
/// a set's are its members (numerically ascending while Redis's encoding is `intset`, else in byte
/// order), a sorted set's are member items each followed by its score as an 8-byte little-endian IEEE
/// double, ordered by score then member bytes.
public enum PackedItems {
    /// Bytes an item of `count` bytes takes.
    @inline(__always)
    public static func size(_ count: Int) -> Int { 4 + count }

    /// The longest a packed collection grows (items and header) before it moves to `__elements`.
    public static let maxRecordBytes = 4096
    /// The most elements a packed collection holds before it moves to `__elements`.
    public static let maxElements = 128

    /// Whether `items` holds exactly `elements` well-formed elements of `type` (each `itemsPerElement`
    /// length-prefixed items, and a score per sorted-set member): the check a reader makes once before it
    /// trusts the lengths.
    public static func isValid(_ items: UnsafeRawBufferPointer, type: KeyType, elements: Int) -> Bool {
        var reader = Reader(items)
        var seen = 0
        while !reader.atEnd {
            switch type {
            case .hash: guard reader.item() != nil, reader.item() != nil else { return false }
            case .set, .list, .stream: guard reader.item() != nil else { return false }
            case .zset: guard reader.item() != nil, reader.score() != nil else { return false }
            case .string: return false
            }
            seen += 1
            if seen > elements { return false }
        }
        return seen == elements
    }

    /// Reads items one after another; nil past the end or at a malformed length.
    public struct Reader {
        public let bytes: UnsafeRawBufferPointer
        public private(set) var offset = 0

        public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        public var atEnd: Bool { offset >= bytes.count }

        /// The next length-prefixed item.
        public mutating func item() -> UnsafeRawBufferPointer? {
            guard bytes.count - offset >= 4 else { return nil }
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            guard bytes.count - offset - 4 >= length else { return nil }
            defer { offset += 4 + length }
            return UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + 4 + length)])
        }

        /// The next 8-byte score.
        public mutating func score() -> Double? {
            guard bytes.count - offset >= 8 else { return nil }
            defer { offset += 8 }
            return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
        }
    }

    /// Appends an item to `buffer`.
    public static func append(_ item: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: UInt32(item.count).littleEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: item)
    }

    /// Appends a score to `buffer`.
    public static func append(score: Double, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: score.bitPattern.littleEndian) { buffer.append(contentsOf: $0) }
    }
}

/// Keys of `__elements`, where a large collection keeps a record per element, all under its id (8
/// bytes big-endian) and a tag byte:
///
/// | key | value | |
/// |---|---|---|
/// | id `f` field | value | a hash's field of up to `maxInline` bytes |
/// | id `F` sha256(field) | u32 LE field length, field, value | a longer field |
/// | id `m` member | empty (set), score (sorted set: 8-byte LE double) | a member of up to `maxInline` bytes |
/// | id `M` sha256(member) | member (set), score then member (sorted set) | a longer member |
/// | id `o` score order (8) member | empty | a sorted set's order, member of up to `maxOrderInline` bytes |
/// | id `o` score order (8) member prefix sha256(member) | member | a longer member |
///
/// The score order is `ScoreOrder.encode`: byte order is score order. Ids are never reused, so a key
/// deleted or overwritten leaves its old elements behind unreachable until the daemon reclaims them
/// (`__reclaim`).
public enum ElementKey {
    public static let field: UInt8 = 0x66       // "f"
    public static let longField: UInt8 = 0x46   // "F"
    public static let member: UInt8 = 0x6D      // "m"
    public static let longMember: UInt8 = 0x4D  // "M"
    public static let order: UInt8 = 0x6F       // "o"
    /// Bytes before the element: id and tag.
    public static let prefixSize = 9
    /// The longest field or member stored as itself in its key.
    public static let maxInline = StoreLayout.maxKeySize - prefixSize
    /// The longest member stored as itself in an order key.
    public static let maxOrderInline = StoreLayout.maxKeySize - prefixSize - 8
    /// The bytes of a long member kept in its order key, before its digest.
    public static let orderPrefix = maxOrderInline - 32

    /// The id and tag, the prefix of every record of one kind of a collection.
    public static func prefix(_ id: UInt64, _ tag: UInt8) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: prefixSize)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: id.bigEndian, as: UInt64.self) }
        bytes[8] = tag
        return bytes
    }

    /// The id's prefix alone (every record of the collection).
    public static func prefix(_ id: UInt64) -> [UInt8] { Array(prefix(id, 0)[0..<8]) }

    /// Lends the key of a field or member: `id short member` when it fits, else `id long sha256(member)`;
    /// `isLong` says which.
    public static func withKey<R>(_ id: UInt64, short: UInt8, long: UInt8, _ member: UnsafeRawBufferPointer,
                                  _ body: (_ key: UnsafeRawBufferPointer, _ isLong: Bool) throws -> R) rethrows -> R {
        let isLong = member.count > maxInline
        let size = prefixSize + (isLong ? 32 : member.count)
        return try withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { buffer in
            buffer.storeBytes(of: id.bigEndian, as: UInt64.self)
            buffer[8] = isLong ? long : short
            if isLong {
                let digest = SHA256.digest(member)
                UnsafeMutableRawBufferPointer(rebasing: buffer[prefixSize...]).copyBytes(from: digest)
            } else if !member.isEmpty {
                UnsafeMutableRawBufferPointer(rebasing: buffer[prefixSize...]).copyMemory(from: member)
            }
            return try body(UnsafeRawBufferPointer(buffer), isLong)
        }
    }

    /// Lends a sorted set's order key of `member` with `score`; `isLong` as `withKey`.
    public static func withOrderKey<R>(_ id: UInt64, score: Double, _ member: UnsafeRawBufferPointer,
                                       _ body: (_ key: UnsafeRawBufferPointer, _ isLong: Bool) throws -> R) rethrows -> R {
        let isLong = member.count > maxOrderInline
        let size = prefixSize + 8 + (isLong ? orderPrefix + 32 : member.count)
        return try withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { buffer in
            buffer.storeBytes(of: id.bigEndian, as: UInt64.self)
            buffer[8] = order
            buffer.storeBytes(of: ScoreOrder.encode(score).bigEndian, toByteOffset: prefixSize, as: UInt64.self)
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[(prefixSize + 8)...])
            if isLong {
                rest.copyMemory(from: UnsafeRawBufferPointer(rebasing: member[0..<orderPrefix]))
                UnsafeMutableRawBufferPointer(rebasing: rest[orderPrefix...]).copyBytes(from: SHA256.digest(member))
            } else if !member.isEmpty {
                rest.copyMemory(from: member)
            }
            return try body(UnsafeRawBufferPointer(buffer), isLong)
        }
    }

    /// The order key's prefix up to a score: id, `o`, and the score's order bytes (a seek target).
    public static func orderPrefix(_ id: UInt64, score: UInt64) -> [UInt8] {
        var bytes = prefix(id, order)
        withUnsafeBytes(of: score.bigEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }
}

/// A sorted set's score as 8 bytes whose unsigned big-endian order is the scores' numeric order (-0
/// sorts as 0; NaN is never stored): the sign bit flipped for a positive score, every bit for a negative.
public enum ScoreOrder {
    public static func encode(_ score: Double) -> UInt64 {
        let bits = score == 0 ? 0 : score.bitPattern
        return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
    }

    public static func decode(_ order: UInt64) -> Double {
        Double(bitPattern: order & (1 << 63) != 0 ? order & ~(1 << 63) : ~order)
    }
}
