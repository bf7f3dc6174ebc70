import Wire

/// The common hash, set and sorted-set commands (`NativeOperation+Collections`); any other with `call`.
extension Client {
    /// Sets fields of a hash; the number that are new.
    @discardableResult
    public func hset(_ key: [UInt8], _ fields: [(field: [UInt8], value: [UInt8])]) throws(ShmKVError) -> Int64 { try execute(.hset(key, fields)) }
    /// A hash field's value, or nil.
    public func hget(_ key: [UInt8], _ field: [UInt8]) throws(ShmKVError) -> [UInt8]? { try execute(.hget(key, field)) }
    /// Every field and value of a hash.
    public func hgetAll(_ key: [UInt8]) throws(ShmKVError) -> [[UInt8]: [UInt8]] { try execute(.hgetAll(key)) }
    /// Deletes fields; the number deleted.
    @discardableResult
    public func hdel(_ key: [UInt8], _ fields: [[UInt8]]) throws(ShmKVError) -> Int64 { try execute(.hdel(key, fields)) }
    /// Adds to a field's integer; the new value.
    @discardableResult
    public func hincrBy(_ key: [UInt8], _ field: [UInt8], _ delta: Int64) throws(ShmKVError) -> Int64 { try execute(.hincrBy(key, field, delta)) }
    /// The fields of a hash.
    public func hlen(_ key: [UInt8]) throws(ShmKVError) -> Int64 { try execute(.hlen(key)) }
    /// Adds members to a set; the number that are new.
    @discardableResult
    public func sadd(_ key: [UInt8], _ members: [[UInt8]]) throws(ShmKVError) -> Int64 { try execute(.sadd(key, members)) }
    /// Removes members; the number removed.
    @discardableResult
    public func srem(_ key: [UInt8], _ members: [[UInt8]]) throws(ShmKVError) -> Int64 { try execute(.srem(key, members)) }
    /// Every member of a set.
    public func smembers(_ key: [UInt8]) throws(ShmKVError) -> [[UInt8]] { try execute(.smembers(key)) }
    /// Whether a member is in a set.
    public func sismember(_ key: [UInt8], _ member: [UInt8]) throws(ShmKVError) -> Bool { try execute(.sismember(key, member)) }
    /// The members of a set.
    public func scard(_ key: [UInt8]) throws(ShmKVError) -> Int64 { try execute(.scard(key)) }
    /// Adds members with scores; the number that are new.
    @discardableResult
    public func zadd(_ key: [UInt8], _ members: [(score: Double, member: [UInt8])]) throws(ShmKVError) -> Int64 { try execute(.zadd(key, members)) }
    /// Removes members; the number removed.
    @discardableResult
    public func zrem(_ key: [UInt8], _ members: [[UInt8]]) throws(ShmKVError) -> Int64 { try execute(.zrem(key, members)) }
    /// A member's score, or nil.
    public func zscore(_ key: [UInt8], _ member: [UInt8]) throws(ShmKVError) -> Double? { try execute(.zscore(key, member)) }
    /// Adds to a member's score; the new score.
    @discardableResult
    public func zincrBy(_ key: [UInt8], _ member: [UInt8], _ delta: Double) throws(ShmKVError) -> Double { try execute(.zincrBy(key, member, delta)) }
    /// A member's rank (lowest score first, or highest with `reverse`), or nil.
    public func zrank(_ key: [UInt8], _ member: [UInt8], reverse: Bool = false) throws(ShmKVError) -> Int64? { try execute(.zrank(key, member, reverse: reverse)) }
    /// The members of a sorted set.
    public func zcard(_ key: [UInt8]) throws(ShmKVError) -> Int64 { try execute(.zcard(key)) }
    /// Members by rank, with their scores.
    public func zrange(_ key: [UInt8], _ start: Int, _ stop: Int, reverse: Bool = false) throws(ShmKVError) -> [(member: [UInt8], score: Double)] { try execute(.zrange(key, start, stop, reverse: reverse)) }
    /// Members by score (Redis's bounds: `(1.5`, `-inf`), with their scores.
    public func zrangeByScore(_ key: [UInt8], min: String, max: String, offset: Int = 0, count: Int = -1) throws(ShmKVError) -> [(member: [UInt8], score: Double)] { try execute(.zrangeByScore(key, min: min, max: max, offset: offset, count: count)) }
}

extension Client {
    /// LPUSH (or RPUSH): the new length.
    @discardableResult
    public func push(_ key: [UInt8], _ items: [[UInt8]], atHead: Bool = false) throws(ShmKVError) -> Int64 {
        try execute(.push(key, items, atHead: atHead))
    }
    /// LLEN.
    public func llen(_ key: [UInt8]) throws(ShmKVError) -> Int64 { try execute(.llen(key)) }
    /// LRANGE.
    public func lrange(_ key: [UInt8], _ start: Int, _ stop: Int) throws(ShmKVError) -> [[UInt8]] { try execute(.lrange(key, start, stop)) }
    /// LMPOP: up to `count` items of the first non-empty list among `keys`, or nil.
    public func lmpop(_ keys: [[UInt8]], fromHead: Bool = true, count: Int = 1) throws(ShmKVError) -> (key: [UInt8], values: [[UInt8]])? {
        try execute(.lmpop(keys, fromHead: fromHead, count: count))
    }
}
