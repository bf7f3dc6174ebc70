/// A stream entry's id: milliseconds and a sequence number, ordered as a pair.
public struct RDBStreamID: Comparable, Hashable, Sendable {
    public var ms: UInt64
    public var seq: UInt64

    public init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    public static func < (a: RDBStreamID, b: RDBStreamID) -> Bool { (a.ms, a.seq) < (b.ms, b.seq) }

    /// The 16 bytes Redis keys a stream node by: both halves big-endian.
    var bigEndianBytes: [UInt8] { bigEndianBytes(ms) + bigEndianBytes(seq) }

    private func bigEndianBytes(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * $0)) } }
}

/// A stream entry: its id and its fields and values, alternating (`field, value, field, value …`).
public struct RDBStreamEntry: Equatable, Sendable {
    public var id: RDBStreamID
    public var fields: [[UInt8]]

    public init(id: RDBStreamID, fields: [[UInt8]]) {
        self.id = id
        self.fields = fields
    }
}

/// A stream as far as ShmKV keeps one: the last id handed out and the live entries, first to last.
/// Redis's bookkeeping for consumer groups (the first id, the largest deleted id, the entries ever
/// added) is written from these; consumer groups themselves are read past and only counted.
public struct RDBStream: Equatable, Sendable {
    public var lastID: RDBStreamID
    public var entries: [RDBStreamEntry]
    /// How many consumer groups the RDB value held (read past, not kept): a loader refuses such a stream.
    public var consumerGroups: Int

    public init(lastID: RDBStreamID, entries: [RDBStreamEntry], consumerGroups: Int = 0) {
        self.lastID = lastID
        self.entries = entries
        self.consumerGroups = consumerGroups
    }
}

/// Redis's stream node: a listpack whose first entries (the master entry) are the live count, the
/// deleted count, and the fields of the node's first entry then a 0; then per entry its flags, its id
/// as differences from the node's key, its fields and values (only the values when the fields are the
/// master entry's), and the number of listpack entries it took (t_stream.c, streamAppendItem).
enum StreamNode {
    static let deleted: Int64 = 1, sameFields: Int64 = 2

    /// Appends the live entries of a node keyed by `master` to `entries`.
    static func read(_ elements: [PackedElement], master: RDBStreamID, base: Int, into entries: inout [RDBStreamEntry]) throws(RDBError) {
        func fail(_ reason: String) -> RDBError { RDBError(offset: base, reason: "stream node: " + reason) }
        var p = 0
        func integer() throws(RDBError) -> Int64 {
            guard p < elements.count else { throw fail("it ends inside an entry") }
            defer { p += 1 }
            switch elements[p] {
            case .integer(let n): return n
            case .bytes(let text):
                guard let n = Listpack.canonicalInteger(Array(text)) else { throw fail("element \(p) is not an integer") }
                return n
            }
        }
        func strings(_ n: Int64) throws(RDBError) -> [[UInt8]] {
            guard n >= 0, n <= elements.count - p else { throw fail("\(n) elements past element \(p) of \(elements.count)") }
            defer { p += Int(n) }
            return elements[p..<(p + Int(n))].map(\.bytes)
        }
        let live = try integer(), dead = try integer()
        let masterFields = try strings(try integer())
        guard !masterFields.isEmpty, try integer() == 0 else { throw fail("a master entry without fields or its 0") }
        var seen: Int64 = 0, kept: Int64 = 0
        while p < elements.count {
            let flags = try integer()
            let ms = master.ms &+ UInt64(bitPattern: try integer()), seq = master.seq &+ UInt64(bitPattern: try integer())
            var fields: [[UInt8]]
            if flags & sameFields != 0 {
                fields = []
                for (field, value) in zip(masterFields, try strings(Int64(masterFields.count))) { fields += [field, value] }
            } else {
                let n = try integer()
                guard n > 0, n <= Int64(elements.count) else { throw fail("an entry of \(n) fields") }
                fields = try strings(2 * n)
            }
            // Flags and the id's two halves, then the values (and the count and names when not the master's).
            let pieces = flags & sameFields != 0 ? 3 + fields.count / 2 : 4 + fields.count
            guard try integer() == Int64(pieces) else { throw fail("an entry's count of listpack entries is wrong") }
            seen += 1
            if flags & deleted == 0 {
                entries.append(RDBStreamEntry(id: RDBStreamID(ms: ms, seq: seq), fields: fields))
                kept += 1
            }
        }
        guard kept == live, seen == live &+ dead else { throw fail("it says \(live) live and \(dead) deleted entries but holds \(kept) and \(seen - kept)") }
    }

    /// The listpack items of `node` (entries that share its first entry's id as key), as Redis would
    /// have appended them one by one.
    static func items(_ node: ArraySlice<RDBStreamEntry>) -> [[UInt8]] {
        let first = node[node.startIndex]
        let masterFields = names(first)
        var items = master(first, count: node.count)
        for entry in node { items += self.entry(entry, key: first.id, masterFields: masterFields) }
        return items
    }

    /// The master entry: the live count, no deleted ones, the first entry's fields, 0.
    private static func master(_ first: RDBStreamEntry, count: Int) -> [[UInt8]] {
        let fields = names(first)
        return [text(Int64(count)), text(0), text(Int64(fields.count))] + fields + [text(0)]
    }

    private static func entry(_ entry: RDBStreamEntry, key: RDBStreamID, masterFields: [[UInt8]]) -> [[UInt8]] {
        let fieldNames = names(entry)
        let same = fieldNames == masterFields
        var items = [text(same ? sameFields : 0), text(Int64(bitPattern: entry.id.ms &- key.ms)), text(Int64(bitPattern: entry.id.seq &- key.seq))]
        if same {
            items += stride(from: 1, to: entry.fields.count, by: 2).map { entry.fields[$0] }
            items.append(text(Int64(3 + fieldNames.count)))
        } else {
            items.append(text(Int64(fieldNames.count)))
            items += entry.fields
            items.append(text(Int64(3 + 1 + entry.fields.count)))
        }
        return items
    }

    private static func names(_ entry: RDBStreamEntry) -> [[UInt8]] {
        stride(from: 0, to: entry.fields.count, by: 2).map { entry.fields[$0] }
    }

    /// Where Redis starts a new node: before an entry that would take the node to `maxBytes` (its
    /// listpack's bytes plus the entry's fields and values), or once it holds `maxEntries`.
    static func split(_ entries: [RDBStreamEntry], maxBytes: Int, maxEntries: Int) -> [ArraySlice<RDBStreamEntry>] {
        var nodes: [ArraySlice<RDBStreamEntry>] = []
        var start = 0, bytes = 0, masterFields: [[UInt8]] = []
        func size(_ items: [[UInt8]]) -> Int { items.reduce(0) { $0 + Listpack.entrySize($1) } }
        for (i, entry) in entries.enumerated() {
            let payload = entry.fields.reduce(0) { $0 + $1.count }
            if i > start && (bytes + payload >= maxBytes || (maxEntries > 0 && i - start >= maxEntries)) {
                nodes.append(entries[start..<i])
                start = i
            }
            // The node's listpack bytes with this entry appended: its count grows by one.
            if i == start {
                masterFields = names(entry)
                bytes = 7 + size(master(entry, count: 1))
            } else {
                bytes += Listpack.entrySize(text(Int64(i - start + 1))) - Listpack.entrySize(text(Int64(i - start)))
            }
            bytes += size(self.entry(entry, key: entries[start].id, masterFields: masterFields))
        }
        if start < entries.count { nodes.append(entries[start...]) }
        return nodes
    }

    private static func text(_ n: Int64) -> [UInt8] { Array(String(n).utf8) }
}

extension RDBReader {
    /// A stream (types 15, 19 and 21): its nodes, its length and ids, then its consumer groups, read
    /// past and counted.
    mutating func stream(type: UInt8) throws(RDBError) -> RDBStream {
        var entries: [RDBStreamEntry] = []
        for _ in 0..<(try count()) {
            let at = offset
            let key = try string()
            guard key.count == 16 else { throw RDBError(offset: at, reason: "a stream node key of \(key.count) bytes, not 16") }
            let master = RDBStreamID(ms: PackedEncodings.bigEndian(key, 0, 8), seq: PackedEncodings.bigEndian(key, 8, 8))
            let base = offset
            try StreamNode.read(try PackedEncodings.listpack(try string(), base: base), master: master, base: base, into: &entries)
        }
        let at = offset
        let length = try length().value
        guard length == UInt64(entries.count) else { throw RDBError(offset: at, reason: "a stream of length \(length) holding \(entries.count) entries") }
        let last = RDBStreamID(ms: try self.length().value, seq: try self.length().value)
        // The first id, the largest deleted id and the count of entries ever added (types 19 and 21).
        if type >= RDBType.streamListpacks2 { for _ in 0..<5 { _ = try self.length() } }
        let groups = try count()
        for _ in 0..<groups { try skipStreamGroup(type: type) }
        return RDBStream(lastID: last, entries: entries, consumerGroups: groups)
    }
}

extension RDBWriter {
    /// A stream as Redis 7.0 writes it (type 19), with no consumer groups. The first id is the first
    /// entry's, the largest deleted id 0-0, and the entries ever added the entries held.
    mutating func stream(_ stream: RDBStream, limits: EncodingLimits) {
        let nodes = StreamNode.split(stream.entries, maxBytes: limits.streamNodeBytes, maxEntries: limits.streamNodeEntries)
        length(UInt64(nodes.count))
        for node in nodes {
            string(node[node.startIndex].id.bigEndianBytes)
            string(Listpack.encode(StreamNode.items(node)))
        }
        length(UInt64(stream.entries.count))
        length(stream.lastID.ms)
        length(stream.lastID.seq)
        let first = stream.entries.first?.id ?? RDBStreamID(ms: 0, seq: 0)
        length(first.ms)
        length(first.seq)
        length(0)
        length(0)
        length(UInt64(stream.entries.count))
        length(0)
    }
}
