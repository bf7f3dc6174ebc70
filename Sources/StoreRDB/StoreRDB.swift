import RDB
import StoreLayout

extension RDBValue {
    /// The value a collection holds, copied out of the store: a list and a stream in order, a sorted
    /// set by score, a set's and a hash's elements in the store's order.
    public init(_ view: CollectionView) throws {
        switch view.type {
        case .list:
            var items: [[UInt8]] = []
            items.reserveCapacity(view.count)
            try view.forEachListItem { items.append(Array($0)); return .proceed }
            self = .list(items)
        case .set:
            var members: [[UInt8]] = []
            members.reserveCapacity(view.count)
            try view.forEachMember { members.append(Array($0)); return .proceed }
            self = .set(members)
        case .zset:
            var members: [ScoredMember] = []
            members.reserveCapacity(view.count)
            try view.forEachInOrder { members.append(ScoredMember(Array($0), $1)); return .proceed }
            self = .sortedSet(members)
        case .hash:
            var pairs: [FieldValue] = []
            pairs.reserveCapacity(view.count)
            try view.forEachField { pairs.append(FieldValue(Array($0), Array($1))); return .proceed }
            self = .hash(pairs)
        case .stream:
            self = .stream(try RDBStream(view))
        case .string:
            throw DamagedRecord("a string where a collection was expected")
        }
    }
}

extension KeyspaceReader {
    /// The live `key`'s value as RDB holds it, or nil when it does not live.
    public func rdbValue(of key: UnsafeRawBufferPointer) throws -> RDBValue? {
        if let string = try withValue(key, { $0.map { Array($0) } }) { return .string(string) }
        return try withCollection(key) { view in try view.map { try RDBValue($0) } }
    }
}

extension RDBStream {
    /// A stream as the store holds it: a list whose first item is the last id handed out (16 bytes,
    /// big-endian halves), then per entry its id and its fields and values packed (`PackedItems`).
    init(_ view: CollectionView) throws {
        var last: RDBStreamID?
        var entries: [RDBStreamEntry] = []
        entries.reserveCapacity(max(view.count - 1, 0))
        try view.forEachListItem { item in
            guard item.count >= 16 else { throw DamagedRecord("a stream item without an id") }
            let id = RDBStreamID(ms: UInt64(bigEndian: item.loadUnaligned(as: UInt64.self)),
                                 seq: UInt64(bigEndian: item.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            guard last != nil else {
                last = id
                return .proceed
            }
            var reader = PackedItems.Reader(UnsafeRawBufferPointer(rebasing: item[16...]))
            var fields: [[UInt8]] = []
            while let field = reader.item() { fields.append(Array(field)) }
            entries.append(RDBStreamEntry(id: id, fields: fields))
            return .proceed
        }
        guard let last else { throw DamagedRecord("a stream without its last id") }
        self.init(lastID: last, entries: entries)
    }
}
