import Wire

/// The common hash, set and sorted-set commands (`NativeOperation+Collections`); any other with `call`.
extension AsyncClient {
    /// Sets fields of a hash; the number that are new.
    @discardableResult
    public func hset(_ key: [UInt8], _ fields: [(field: [UInt8], value: [UInt8])]) async throws -> Int64 { try await execute(.hset(key, fields)) }
    /// A hash field's value, or nil.
    public func hget(_ key: [UInt8], _ field: [UInt8]) async throws -> [UInt8]? { try await execute(.hget(key, field)) }
    /// Every field and value of a hash.
    public func hgetAll(_ key: [UInt8]) async throws -> [[UInt8]: [UInt8]] { try await execute(.hgetAll(key)) }
    /// Deletes fields; the number deleted.
    @discardableResult
    public func hdel(_ key: [UInt8], _ fields: [[UInt8]]) async throws -> Int64 { try await execute(.hdel(key, fields)) }
    /// Adds to a field's integer; the new value.
    @discardableResult
    public func hincrBy(_ key: [UInt8], _ field: [UInt8], _ delta: Int64) async throws -> Int64 { try await execute(.hincrBy(key, field, delta)) }
    /// The fields of a hash.
    public func hlen(_ key: [UInt8]) async throws -> Int64 { try await execute(.hlen(key)) }
    /// Adds members to a set; the number that are new.
    @discardableResult
    public func sadd(_ key: [UInt8], _ members: [[UInt8]]) async throws -> Int64 { try await execute(.sadd(key, members)) }
    /// Removes members; the number removed.
    @discardableResult
    public func srem(_ key: [UInt8], _ members: [[UInt8]]) async throws -> Int64 { try await execute(.srem(key, members)) }
    /// Every member of a set.
    public func smembers(_ key: [UInt8]) async throws -> [[UInt8]] { try await execute(.smembers(key)) }
    /// Whether a member is in a set.
    public func sismember(_ key: [UInt8], _ member: [UInt8]) async throws -> Bool { try await execute(.sismember(key, member)) }
    /// The members of a set.
    public func scard(_ key: [UInt8]) async throws -> Int64 { try await execute(.scard(key)) }
    /// Adds members with scores; the number that are new.
    @discardableResult
    public func zadd(_ key: [UInt8], _ members: [(score: Double, member: [UInt8])]) async throws -> Int64 { try await execute(.zadd(key, members)) }
    /// Removes members; the number removed.
    @discardableResult
    public func zrem(_ key: [UInt8], _ members: [[UInt8]]) async throws -> Int64 { try await execute(.zrem(key, members)) }
    /// A member's score, or nil.
    public func zscore(_ key: [UInt8], _ member: [UInt8]) async throws -> Double? { try await execute(.zscore(key, member)) }
    /// Adds to a member's score; the new score.
    @discardableResult
    public func zincrBy(_ key: [UInt8], _ member: [UInt8], _ delta: Double) async throws -> Double { try await execute(.zincrBy(key, member, delta)) }
    /// A member's rank (lowest score first, or highest with `reverse`), or nil.
    public func zrank(_ key: [UInt8], _ member: [UInt8], reverse: Bool = false) async throws -> Int64? { try await execute(.zrank(key, member, reverse: reverse)) }
    /// The members of a sorted set.
    public func zcard(_ key: [UInt8]) async throws -> Int64 { try await execute(.zcard(key)) }
    /// Members by rank, with their scores.
    public func zrange(_ key: [UInt8], _ start: Int, _ stop: Int, reverse: Bool = false) async throws -> [(member: [UInt8], score: Double)] { try await execute(.zrange(key, start, stop, reverse: reverse)) }
    /// Members by score (Redis's bounds: `(1.5`, `-inf`), with their scores.
    public func zrangeByScore(_ key: [UInt8], min: String, max: String, offset: Int = 0, count: Int = -1) async throws -> [(member: [UInt8], score: Double)] { try await execute(.zrangeByScore(key, min: min, max: max, offset: offset, count: count)) }
}
