import Wire

/// The common hash, set and sorted-set commands as typed operations: each is a CALL of the RESP command
/// whose RESP2 reply is read into a Swift value. A Redis error reply (WRONGTYPE, a bad argument) throws
/// `.server`: `.wrongType` for WRONGTYPE, `.badRequest` for the others, with Redis's text. Any other
/// command runs with `call`.
extension NativeOperation {
    /// CALL `words`, its reply read by `read` (nil: a reply of a shape the command never gives).
    static func command(_ words: [[UInt8]], _ read: @escaping @Sendable (RESPReply) -> Result?) -> Self {
        let name = String(decoding: words[0], as: UTF8.self)
        return Self(.call(arguments: words)) { reply throws(ShmKVError) in
            guard case .resp(let r) = reply.body else { throw unexpected(name) }
            if case .error(let line) = r { throw .server(line.hasPrefix("WRONGTYPE") ? .wrongType : .badRequest, line) }
            guard let result = read(r) else { throw unexpected(name) }
            return result
        }
    }
}

private extension RESPReply {
    var integer: Int64? { if case .integer(let n) = self { n } else { nil } }
    /// A bulk string, or nil for RESP2's null.
    var bulk: [UInt8]?? {
        switch self {
        case .bulk(let b): .some(b)
        case .null: .some(nil)
        default: nil
        }
    }
    var array: [RESPReply]? { if case .array(let items) = self { items } else { nil } }
    var strings: [[UInt8]]? { array?.compactMap { if case .bulk(let b) = $0 { b } else { nil } } }
    /// A score as Redis sends it in RESP2 (a bulk string, `inf` included).
    var score: Double? { if case .bulk(let b) = self { Double(String(decoding: b, as: UTF8.self)) } else { nil } }
}

private func words(_ name: String, _ key: [UInt8], _ rest: [[UInt8]] = []) -> [[UInt8]] { [Array(name.utf8), key] + rest }
private func text(_ value: Double) -> [UInt8] { Array((value.isInfinite ? (value < 0 ? "-inf" : "+inf") : "\(value)").utf8) }

extension NativeOperation where Result == Int64 {
    /// HSET: the fields that are new.
    public static func hset(_ key: [UInt8], _ fields: [(field: [UInt8], value: [UInt8])]) -> Self {
        command(words("HSET", key, fields.flatMap { [$0.field, $0.value] })) { $0.integer }
    }
    /// HDEL: the fields deleted.
    public static func hdel(_ key: [UInt8], _ fields: [[UInt8]]) -> Self { command(words("HDEL", key, fields)) { $0.integer } }
    /// HINCRBY: the new value.
    public static func hincrBy(_ key: [UInt8], _ field: [UInt8], _ delta: Int64) -> Self {
        command(words("HINCRBY", key, [field, Array(String(delta).utf8)])) { $0.integer }
    }
    /// HLEN: the fields of a hash (0 when absent).
    public static func hlen(_ key: [UInt8]) -> Self { command(words("HLEN", key)) { $0.integer } }
    /// SCARD: the members of a set.
    public static func scard(_ key: [UInt8]) -> Self { command(words("SCARD", key)) { $0.integer } }
    /// ZCARD: the members of a sorted set.
    public static func zcard(_ key: [UInt8]) -> Self { command(words("ZCARD", key)) { $0.integer } }
    /// SADD: the members that are new.
    public static func sadd(_ key: [UInt8], _ members: [[UInt8]]) -> Self { command(words("SADD", key, members)) { $0.integer } }
    /// SREM: the members removed.
    public static func srem(_ key: [UInt8], _ members: [[UInt8]]) -> Self { command(words("SREM", key, members)) { $0.integer } }
    /// ZADD: the members that are new.
    public static func zadd(_ key: [UInt8], _ members: [(score: Double, member: [UInt8])]) -> Self {
        command(words("ZADD", key, members.flatMap { [text($0.score), $0.member] })) { $0.integer }
    }
    /// ZREM: the members removed.
    public static func zrem(_ key: [UInt8], _ members: [[UInt8]]) -> Self { command(words("ZREM", key, members)) { $0.integer } }
}

extension NativeOperation where Result == [UInt8]? {
    /// HGET: a field's value, or nil.
    public static func hget(_ key: [UInt8], _ field: [UInt8]) -> Self { command(words("HGET", key, [field])) { $0.bulk } }
}

extension NativeOperation where Result == [[UInt8]: [UInt8]] {
    /// HGETALL: every field and value.
    public static func hgetAll(_ key: [UInt8]) -> Self {
        command(words("HGETALL", key)) { reply in
            guard let items = reply.strings, items.count % 2 == 0 else { return nil }
            return Dictionary(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }, uniquingKeysWith: { a, _ in a })
        }
    }
}

extension NativeOperation where Result == Bool {
    /// SISMEMBER.
    public static func sismember(_ key: [UInt8], _ member: [UInt8]) -> Self {
        command(words("SISMEMBER", key, [member])) { $0.integer.map { $0 == 1 } }
    }
}

extension NativeOperation where Result == [[UInt8]] {
    /// SMEMBERS: every member (in no particular order).
    public static func smembers(_ key: [UInt8]) -> Self { command(words("SMEMBERS", key)) { $0.strings } }
}

extension NativeOperation where Result == Double? {
    /// ZSCORE: a member's score, or nil.
    public static func zscore(_ key: [UInt8], _ member: [UInt8]) -> Self {
        command(words("ZSCORE", key, [member])) { reply in
            if case .null = reply { return .some(nil) }
            return reply.score.map { .some($0) }
        }
    }
}

extension NativeOperation where Result == Double {
    /// ZINCRBY: the new score.
    public static func zincrBy(_ key: [UInt8], _ member: [UInt8], _ delta: Double) -> Self {
        command(words("ZINCRBY", key, [text(delta), member])) { $0.score }
    }
}

extension NativeOperation where Result == Int64? {
    /// ZRANK (ZREVRANK with `reverse`): a member's rank, or nil.
    public static func zrank(_ key: [UInt8], _ member: [UInt8], reverse: Bool = false) -> Self {
        command(words(reverse ? "ZREVRANK" : "ZRANK", key, [member])) { reply in
            if case .null = reply { return .some(nil) }
            return reply.integer.map { .some($0) }
        }
    }
}

extension NativeOperation where Result == [(member: [UInt8], score: Double)] {
    /// ZRANGE key start stop [REV] WITHSCORES: members by rank, with their scores.
    public static func zrange(_ key: [UInt8], _ start: Int, _ stop: Int, reverse: Bool = false) -> Self {
        command(words("ZRANGE", key, [Array(String(start).utf8), Array(String(stop).utf8)] + (reverse ? [Array("REV".utf8)] : []) + [Array("WITHSCORES".utf8)])) {
            scored($0)
        }
    }
    /// ZRANGE key min max BYSCORE [LIMIT offset count] WITHSCORES, with Redis's bounds (`(1.5`, `-inf`).
    public static func zrangeByScore(_ key: [UInt8], min: String, max: String, offset: Int = 0, count: Int = -1) -> Self {
        command(words("ZRANGE", key, [min, max, "BYSCORE", "LIMIT", String(offset), String(count), "WITHSCORES"].map { Array($0.utf8) })) {
            scored($0)
        }
    }

    private static func scored(_ reply: RESPReply) -> Result? {
        guard let items = reply.array, items.count % 2 == 0 else { return nil }
        var pairs: Result = []
        for i in stride(from: 0, to: items.count, by: 2) {
            guard case .bulk(let member) = items[i], let score = items[i + 1].score else { return nil }
            pairs.append((member, score))
        }
        return pairs
    }
}

extension NativeOperation where Result == Int64 {
    /// LPUSH (or RPUSH, `atHead` false): the list's new length.
    public static func push(_ key: [UInt8], _ items: [[UInt8]], atHead: Bool) -> Self {
        command(words(atHead ? "LPUSH" : "RPUSH", key, items)) { $0.integer }
    }
    /// LLEN: the list's length (0 when absent).
    public static func llen(_ key: [UInt8]) -> Self { command(words("LLEN", key)) { $0.integer } }
}

extension NativeOperation where Result == [[UInt8]] {
    /// LRANGE: the items `start…stop`.
    public static func lrange(_ key: [UInt8], _ start: Int, _ stop: Int) -> Self {
        command(words("LRANGE", key, [Array(String(start).utf8), Array(String(stop).utf8)])) { $0.strings }
    }
}

extension NativeOperation where Result == (key: [UInt8], values: [[UInt8]])? {
    /// LMPOP: up to `count` items from the head (or tail) of the first non-empty list among `keys`, or nil.
    public static func lmpop(_ keys: [[UInt8]], fromHead: Bool, count: Int) -> Self {
        let words = [Array("LMPOP".utf8), Array(String(keys.count).utf8)] + keys
            + [Array((fromHead ? "LEFT" : "RIGHT").utf8), Array("COUNT".utf8), Array(String(count).utf8)]
        return command(words) { reply in
            if case .null = reply { return .some(nil) }
            guard let pair = reply.array, pair.count == 2, case .bulk(let key) = pair[0], let values = pair[1].strings else { return nil }
            return .some((key, values))
        }
    }
}
