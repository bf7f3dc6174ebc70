/// Redis 7.0's thresholds for its compact encodings (its defaults; a caller with other settings passes
/// its own): what `RDBWriter.value` uses to choose the encoding Redis would hold the value in.
public struct EncodingLimits: Sendable, Equatable {
    /// `hash-max-listpack-entries` and `-value`.
    public var listpackEntries = 128
    public var listpackValue = 64
    /// `zset-max-listpack-entries` and `-value`.
    public var sortedSetListpackEntries = 128
    public var sortedSetListpackValue = 64
    public var intsetEntries = 512
    /// `list-max-listpack-size` -2: a list's nodes hold at most 8 KiB each.
    public var listNodeBytes = 8192
    /// `stream-node-max-bytes` and `-entries`: where a stream's nodes end.
    public var streamNodeBytes = 4096
    public var streamNodeEntries = 100

    public init() {}
}

extension RDBWriter {
    /// Writes `value` with its type byte, in the encoding Redis 7.0 would hold it in: a list as
    /// quicklist 2 of listpack nodes, a set of few integers as an intset, a small sorted set or hash as
    /// a listpack, anything larger in its plain form (which every Redis reads and re-encodes by its own
    /// settings).
    public mutating func value(_ value: RDBValue, limits: EncodingLimits = EncodingLimits()) {
        self.value(value, key: nil, limits: limits)
    }

    /// Writes a key-value pair as an RDB file holds it: the value's type byte, `key`, then the value.
    public mutating func entry(key: some Collection<UInt8>, _ value: RDBValue, limits: EncodingLimits = EncodingLimits()) {
        self.value(value, key: Array(key), limits: limits)
    }

    private mutating func value(_ value: RDBValue, key: [UInt8]?, limits: EncodingLimits) {
        func begin(_ type: UInt8) {
            byte(type)
            if let key { string(key) }
        }
        switch value {
        case .string(let bytes):
            begin(RDBType.string)
            string(bytes)
        case .list(let items):
            begin(RDBType.listQuicklist2)
            var nodes: [[[UInt8]]] = []
            var node: [[UInt8]] = [], size = 0
            for item in items {
                let entry = Listpack.entrySize(item)
                if !node.isEmpty && size + entry > limits.listNodeBytes {
                    nodes.append(node)
                    node = []
                    size = 0
                }
                node.append(item)
                size += entry
            }
            if !node.isEmpty { nodes.append(node) }
            length(UInt64(nodes.count))
            for node in nodes {
                length(2)  // QUICKLIST_NODE_CONTAINER_PACKED
                string(Listpack.encode(node))
            }
        case .set(let members):
            let integers = members.count <= limits.intsetEntries ? members.compactMap(Listpack.canonicalInteger) : []
            if !members.isEmpty && integers.count == members.count {
                begin(RDBType.setIntset)
                string(Intset.encode(integers))
            } else {
                begin(RDBType.set)
                length(UInt64(members.count))
                for member in members { string(member) }
            }
        case .sortedSet(let members):
            if members.count <= limits.sortedSetListpackEntries && members.allSatisfy({ $0.member.count <= limits.sortedSetListpackValue }) {
                begin(RDBType.zsetListpack)
                // Listpack order is score order (then member), as Redis keeps it.
                let sorted = members.sorted { $0.score != $1.score ? $0.score < $1.score : $0.member.lexicographicallyPrecedes($1.member) }
                string(Listpack.encode(sorted.flatMap { [$0.member, RDBWriter.scoreText($0.score)] }))
            } else {
                begin(RDBType.zset2)
                length(UInt64(members.count))
                for member in members {
                    string(member.member)
                    bytes += littleEndianBytes(member.score.bitPattern, width: 8)
                }
            }
        case .hash(let pairs):
            if pairs.count <= limits.listpackEntries && pairs.allSatisfy({ $0.field.count <= limits.listpackValue && $0.value.count <= limits.listpackValue }) {
                begin(RDBType.hashListpack)
                string(Listpack.encode(pairs.flatMap { [$0.field, $0.value] }))
            } else {
                begin(RDBType.hash)
                length(UInt64(pairs.count))
                for pair in pairs {
                    string(pair.field)
                    string(pair.value)
                }
            }
        case .stream(let stream):
            begin(RDBType.streamListpacks2)
            self.stream(stream, limits: limits)
        }
    }

    /// A score as Redis writes it into a listpack: an integral value within ±2^53 as its digits, else
    /// `%.17g` (Swift's shortest form reads back to the same double).
    static func scoreText(_ score: Double) -> [UInt8] {
        if score.isInfinite { return Array((score > 0 ? "inf" : "-inf").utf8) }
        if score == 0 && score.sign == .minus { return Array("-0".utf8) }
        if score == score.rounded(), abs(score) < 0x1p53 { return Array(String(Int64(score)).utf8) }
        return Array("\(score)".utf8)
    }
}

/// Redis's listpack, written: integers that are canonical decimal text in the smallest integer
/// encoding, everything else as a string, each entry followed by its back length.
enum Listpack {
    /// The integer a string is when Redis would store it as one (`lpStringToInt64`: no sign but `-`, no
    /// leading zeros, no blanks, within Int64).
    static func canonicalInteger(_ bytes: [UInt8]) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20, let value = Int64(String(decoding: bytes, as: UTF8.self)) else { return nil }
        return Array(String(value).utf8) == bytes ? value : nil
    }

    /// The bytes an entry takes (encoding, data and back length).
    static func entrySize(_ item: [UInt8]) -> Int {
        let body = encodedBody(item).count
        return body + backLength(body).count
    }

    static func encode(_ items: [[UInt8]]) -> [UInt8] {
        var entries: [UInt8] = []
        for item in items {
            let body = encodedBody(item)
            entries += body
            entries += backLength(body.count)
        }
        // Header (total bytes, count: 65535 for "more"), entries, end marker.
        return littleEndianBytes(UInt64(6 + entries.count + 1), width: 4) + littleEndianBytes(UInt64(min(items.count, 65535)), width: 2)
            + entries + [0xff]
    }

    private static func encodedBody(_ item: [UInt8]) -> [UInt8] {
        if let n = canonicalInteger(item) {
            func little(_ width: Int) -> [UInt8] { littleEndianBytes(UInt64(bitPattern: n), width: width) }
            switch n {
            case 0...127: return [UInt8(n)]
            case -4096...4095:
                let raw = UInt16(bitPattern: Int16(n)) & 0x1fff
                return [0xc0 | UInt8(raw >> 8), UInt8(truncatingIfNeeded: raw)]
            case -32768...32767: return [0xf1] + little(2)
            case -8_388_608...8_388_607: return [0xf2] + little(3)
            case -2_147_483_648...2_147_483_647: return [0xf3] + little(4)
            default: return [0xf4] + little(8)
            }
        }
        let n = item.count
        if n < 64 { return [0x80 | UInt8(n)] + item }
        if n < 4096 { return [0xe0 | UInt8(n >> 8), UInt8(truncatingIfNeeded: n)] + item }
        return [0xf0] + littleEndianBytes(UInt64(n), width: 4) + item
    }

    /// An entry's back length: its size in 7-bit groups, read from the end (the first byte has no
    /// continuation bit, the others have 128 added).
    private static func backLength(_ size: Int) -> [UInt8] {
        let width = backLengthWidth(size)
        // Most significant group first; every byte but that one (the last read backwards) carries 128.
        return (0..<width).map { i in
            let group = UInt8(truncatingIfNeeded: size >> (7 * (width - 1 - i))) & 0x7f
            return i == 0 ? group : group | 0x80
        }
    }

    /// How many bytes Redis's `lpEncodeBacklen` takes for an entry of `size` bytes.
    static func backLengthWidth(_ size: Int) -> Int {
        size <= 127 ? 1 : size < 16_383 ? 2 : size < 2_097_151 ? 3 : size < 268_435_455 ? 4 : 5
    }
}

/// Redis's intset, written: the smallest width that holds every member, members in ascending order.
enum Intset {
    static func encode(_ members: [Int64]) -> [UInt8] {
        let sorted = Array(Set(members)).sorted()
        let width = sorted.allSatisfy { Int16(exactly: $0) != nil } ? 2 : sorted.allSatisfy { Int32(exactly: $0) != nil } ? 4 : 8
        var out = littleEndianBytes(UInt64(width), width: 4) + littleEndianBytes(UInt64(sorted.count), width: 4)
        for member in sorted { out += littleEndianBytes(UInt64(bitPattern: member), width: width) }
        return out
    }
}
