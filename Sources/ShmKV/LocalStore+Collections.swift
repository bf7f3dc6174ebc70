import LMDB
import StoreLayout
import Wire

/// Hashes, sets and sorted sets read in place from a snapshot: no copy, no socket. Every view is valid
/// only inside the closure that lends it (and the snapshot it came from); keys past their deadline read
/// as absent. A key of another type throws `ShmKVError.server(.wrongType, …)`, as the daemon answers.
extension LocalStore.Snapshot {
    /// The type of `key` (`.string`, `.hash`, `.set`, `.zset`), or nil when it does not live.
    public func type(of key: [UInt8]) throws -> KeyType? {
        try key.withUnsafeBytes { try keys.type(of: $0) }
    }

    /// Calls `body` with the hash `key` holds, or nil.
    public func withHash<R>(_ key: [UInt8], _ body: (LocalStore.Hash?) throws -> R) throws -> R {
        try withCollection(key, .hash) { try body($0.map(LocalStore.Hash.init)) }
    }

    /// Calls `body` with the set `key` holds, or nil.
    public func withSet<R>(_ key: [UInt8], _ body: (LocalStore.Set?) throws -> R) throws -> R {
        try withCollection(key, .set) { try body($0.map(LocalStore.Set.init)) }
    }

    /// Calls `body` with the sorted set `key` holds, or nil.
    public func withSortedSet<R>(_ key: [UInt8], _ body: (LocalStore.SortedSet?) throws -> R) throws -> R {
        try withCollection(key, .zset) { try body($0.map(LocalStore.SortedSet.init)) }
    }

    func withCollection<R>(_ key: [UInt8], _ type: KeyType, _ body: (CollectionView?) throws -> R) throws -> R {
        do {
            return try key.withUnsafeBytes { try keys.withCollection($0, as: type, body) }
        } catch is WrongTypeError {
            throw ShmKVError.server(.wrongType, WrongTypeError.message)
        }
    }
}

extension LocalStore {
    /// A hash in place: a field by name, and every field in the hash's order.
    public struct Hash {
        let view: CollectionView
        /// Fields.
        public var count: Int { view.count }
        /// Calls `body` with the value of `field` in place, or nil.
        public func withField<R>(_ field: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            try field.withUnsafeBytes { try view.withField($0, body) }
        }
        /// A copy of the value of `field`, or nil.
        public func field(_ field: [UInt8]) throws -> [UInt8]? { try withField(field) { $0.map { Array($0) } } }
        /// Each field and value in place, until `body` says `.stop`.
        public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> IterationControl) throws {
            try view.forEachField(body)
        }
        /// Copies of every field and value (HGETALL).
        public func all() throws -> [(field: [UInt8], value: [UInt8])] {
            var pairs: [(field: [UInt8], value: [UInt8])] = []
            try forEach { pairs.append((Array($0), Array($1))); return .proceed }
            return pairs
        }
    }

    /// A set in place: membership, and every member.
    public struct Set {
        let view: CollectionView
        /// Members.
        public var count: Int { view.count }
        /// Whether `member` is in the set.
        public func contains(_ member: [UInt8]) throws -> Bool { try member.withUnsafeBytes { try view.contains($0) } }
        /// Each member in place, until `body` says `.stop`.
        public func forEach(_ body: (UnsafeRawBufferPointer) throws -> IterationControl) throws { try view.forEachMember(body) }
        /// Copies of every member (SMEMBERS).
        public func members() throws -> [[UInt8]] {
            var all: [[UInt8]] = []
            try forEach { all.append(Array($0)); return .proceed }
            return all
        }
    }

    /// A sorted set in place: a member's score and rank, and ranges by rank, score or member.
    public struct SortedSet {
        let view: CollectionView
        /// Members.
        public var count: Int { view.count }
        /// The score of `member`, or nil (ZSCORE).
        public func score(of member: [UInt8]) throws -> Double? { try member.withUnsafeBytes { try view.score(of: $0) } }
        /// The rank of `member`, lowest score first (or highest, `reverse`), or nil (ZRANK, ZREVRANK).
        public func rank(of member: [UInt8], reverse: Bool = false) throws -> Int? {
            guard try score(of: member) != nil else { return nil }
            var rank = 0
            try view.forEachInOrder(reverse: reverse) { m, _ in
                if m.elementsEqual(member) { return .stop }
                rank += 1
                return .proceed
            }
            return rank
        }
        /// Each member and score of `range` in place, in order (or `reverse`), after `offset` matches and
        /// at most `limit` (negative: all) for ranges by score or member, as ZRANGE's LIMIT.
        public func forEach(in range: SortedSetRange, reverse: Bool = false, offset: Int = 0, limit: Int = -1,
                            _ body: (UnsafeRawBufferPointer, Double) throws -> IterationControl) throws {
            try range.forEach(in: view, reverse: reverse, offset: offset, limit: limit, body)
        }
        /// Copies of the members and scores of `range` (ZRANGE … WITHSCORES).
        public func range(_ range: SortedSetRange, reverse: Bool = false, offset: Int = 0, limit: Int = -1) throws -> [(member: [UInt8], score: Double)] {
            var found: [(member: [UInt8], score: Double)] = []
            try forEach(in: range, reverse: reverse, offset: offset, limit: limit) { found.append((Array($0), $1)); return .proceed }
            return found
        }
    }
}

/// One-shot typed reads, each on a snapshot of its own.
extension LocalStore {
    /// The type of `key`, or nil.
    public func type(of key: [UInt8]) throws -> KeyType? { try read { try $0.type(of: key) } }
    /// A copy of a hash's field (HGET).
    public func hashField(_ key: [UInt8], _ field: [UInt8]) throws -> [UInt8]? { try read { try $0.withHash(key) { try $0?.field(field) } } }
    /// Whether `member` is in the set `key` (SISMEMBER).
    public func isMember(_ key: [UInt8], _ member: [UInt8]) throws -> Bool { try read { try $0.withSet(key) { try $0?.contains(member) ?? false } } }
    /// The score of `member` in the sorted set `key` (ZSCORE).
    public func score(_ key: [UInt8], _ member: [UInt8]) throws -> Double? { try read { try $0.withSortedSet(key) { try $0?.score(of: member) } } }
    /// Copies of a range of the sorted set `key` (ZRANGE).
    public func range(_ key: [UInt8], _ range: SortedSetRange, reverse: Bool = false, offset: Int = 0, limit: Int = -1) throws -> [(member: [UInt8], score: Double)] {
        try read { try $0.withSortedSet(key) { try $0?.range(range, reverse: reverse, offset: offset, limit: limit) ?? [] } }
    }
}

