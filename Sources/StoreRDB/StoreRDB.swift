import RDB
import StoreLayout

/// A value of the keyspace that Redis's RDB format has no form for here (a stream: its entries and
/// consumer groups are not written yet).
public struct NotInRDB: Error, Equatable, CustomStringConvertible {
    public let type: KeyType
    public var description: String { "a \(type.name) cannot be written as RDB by ShmKV yet" }
}

extension RDBValue {
    /// The value a collection holds, copied out of the store: a list in order, a sorted set by score,
    /// a set's and a hash's elements in the store's order.
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
        case .string, .stream:
            throw NotInRDB(type: view.type)
        }
    }
}

extension KeyspaceReader {
    /// The live `key`'s value as RDB holds it, or nil when it does not live.
    /// - Throws: `NotInRDB` for a stream.
    public func rdbValue(of key: UnsafeRawBufferPointer) throws -> RDBValue? {
        if let string = try withValue(key, { $0.map { Array($0) } }) { return .string(string) }
        return try withCollection(key) { view in try view.map { try RDBValue($0) } }
    }
}
