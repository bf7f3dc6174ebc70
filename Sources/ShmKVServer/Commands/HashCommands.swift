import LMDB
import StoreLayout
import Wire

/// The hash commands that read: HGET, HMGET, HGETALL, HKEYS, HVALS, HLEN, HSTRLEN, HEXISTS, HRANDFIELD,
/// HSCAN. A key that holds another type answers WRONGTYPE (`withCollection(_:as:)` throws it before
/// anything is answered).
enum HashCommands {
    static func hget(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .hash) { hash in
            try field(hash, c.args[2]) { value in if let value { c.reply.bulk(value) } else { c.reply.null() } }
        }
    }

    static func hmget(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .hash) { hash in
            c.reply.array(c.args.count - 2)
            for i in 2..<c.args.count {
                try field(hash, c.args[i]) { value in if let value { c.reply.bulk(value) } else { c.reply.null() } }
            }
        }
    }

    static func hstrlen(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .hash) { hash in
            c.reply.integer(try field(hash, c.args[2]) { $0?.count ?? 0 })
        }
    }

    static func hexists(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .hash) { hash in
            c.reply.integer(try field(hash, c.args[2]) { $0 == nil ? 0 : 1 })
        }
    }

    static func hlen(_ c: CommandCall) throws {
        try c.keys.withCollection(c.args[1], as: .hash) { c.reply.integer($0?.count ?? 0) }
    }

    /// HGETALL (a map in RESP3), HKEYS, HVALS.
    static func hgetall(_ c: CommandCall) throws { try all(c, fields: true, values: true) }
    static func hkeys(_ c: CommandCall) throws { try all(c, fields: true, values: false) }
    static func hvals(_ c: CommandCall) throws { try all(c, fields: false, values: true) }

    private static func all(_ c: CommandCall, fields: Bool, values: Bool) throws {
        try c.keys.withCollection(c.args[1], as: .hash) { hash in
            let count = hash?.count ?? 0
            if fields && values { c.reply.map(count) } else { c.reply.array(count) }
            try hash?.forEachField { field, value in
                if fields { c.reply.bulk(field) }
                if values { c.reply.bulk(value) }
                return .proceed
            }
        }
    }

    /// HRANDFIELD key [count [WITHVALUES]].
    static func hrandfield(_ c: CommandCall) throws {
        try CollectionCommands.random(c, .hash, word: "WITHVALUES") { c.reply.bulk($0.value) }
    }

    /// Elements as HRANDFIELD and ZRANDMEMBER answer them: members alone, or with their values — flat in
    /// RESP2, a pair per element in RESP3.
    static func replyPairs(_ c: CommandCall, _ picked: [CollectionCommands.Element], withValues: Bool,
                           value: (CollectionCommands.Element) -> Void) {
        let nested = withValues && c.client.resp3
        c.reply.array(withValues && !nested ? picked.count * 2 : picked.count)
        for element in picked {
            if nested { c.reply.array(2) }
            c.reply.bulk(element.member)
            if withValues { value(element) }
        }
    }

    static func hscan(_ c: CommandCall) throws { try CollectionCommands.scan(c, .hash) }

    /// Calls `body` with the value of `field` in `hash` (nil: no such field, or no hash).
    private static func field<R>(_ hash: CollectionView?, _ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        guard let hash else { return try body(nil) }
        return try hash.withField(field, body)
    }
}

/// The hash commands that write: HSET, HMSET, HSETNX, HDEL, HINCRBY, HINCRBYFLOAT. Each handler checks
/// the arguments as Redis does before it looks at the key; the writer applies the rest.
extension HashCommands {
    /// HSET and HMSET: key field value [field value …].
    static func hset(_ c: WriteCall) -> WritePlan {
        guard c.args.count % 2 == 0 else { return c.wrongArity }
        if let problem = c.keyProblem(1) ?? (2..<c.args.count).lazy.compactMap(c.valueProblem).first { return .error(problem) }
        return .command(applySet, records: c.args.count)
    }

    private static func applySet(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        var hash = try keys.editOrCreate(args[1], as: .hash)
        hash.noteHashArguments(args, from: 2)
        var added = 0
        for i in stride(from: 2, to: args.count, by: 2) where try hash.setField(args[i], args[i + 1]) { added += 1 }
        try keys.save(&hash, event: .hset)
        return args.is(0, "HMSET") ? .status("OK") : .integer(Int64(added))
    }

    static func hsetnx(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? c.valueProblem(2) ?? c.valueProblem(3) { return .error(problem) }
        return .command(applySetNX, records: 3)
    }

    private static func applySetNX(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        var hash = try keys.editOrCreate(args[1], as: .hash)
        hash.noteHashArguments(args, from: 2)
        if try hash.withView({ try $0.withField(args[2]) { $0 != nil } }) {
            try keys.save(&hash, event: nil)
            return .integer(0)
        }
        _ = try hash.setField(args[2], args[3])
        try keys.save(&hash, event: .hset)
        return .integer(1)
    }

    /// HDEL key field [field …].
    static func hdel(_ c: WriteCall) -> WritePlan { CollectionCommands.remove(c) }

    static func hincrby(_ c: WriteCall) -> WritePlan {
        guard c.args.integer(3) != nil else { return .error(.notInteger) }
        if let problem = c.keyProblem(1) ?? c.valueProblem(2) { return .error(problem) }
        return .command(applyIncrBy, records: 3)
    }

    private static func applyIncrBy(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        let increment = args.integer(3)!
        var hash = try keys.editOrCreate(args[1], as: .hash)
        let old: Int64?? = try hash.withView { try $0.withField(args[2]) { $0.map { RedisInteger.parse($0) } } }
        if case .some(nil) = old { return .error("ERR hash value is not an integer") }
        let (sum, overflow) = (old.flatMap { $0 } ?? 0).addingReportingOverflow(increment)
        if overflow { return .error("ERR increment or decrement would overflow") }
        try MetaValue.withDecimal(sum) { _ = try hash.setField(args[2], $0) }
        try keys.save(&hash, event: .hincrby)
        return .integer(sum)
    }

    static func hincrbyfloat(_ c: WriteCall) -> WritePlan {
        guard let increment = RedisFloat.parse(c.args[3]) else { return .error("ERR value is not a valid float") }
        guard increment.isFinite else { return .error("ERR value is NaN or Infinity") }
        if let problem = c.keyProblem(1) ?? c.valueProblem(2) { return .error(problem) }
        return .command(applyIncrByFloat, records: 3)
    }

    private static func applyIncrByFloat(_ keys: inout KeyspaceWriter, _ args: RESPArguments) throws -> CommandResult {
        var hash = try keys.editOrCreate(args[1], as: .hash)
        let old: Float80?? = try hash.withView { try $0.withField(args[2]) { $0.map { RedisFloat.parse($0) } } }
        if case .some(nil) = old { return .error("ERR hash value is not a float") }
        let sum = (old.flatMap { $0 } ?? 0) + RedisFloat.parse(args[3])!
        guard sum.isFinite else { return .error("ERR increment would produce NaN or Infinity") }
        let text = RedisFloat.format(sum)
        try text.withUnsafeBytes { _ = try hash.setField(args[2], $0) }
        try keys.save(&hash, event: .hincrbyfloat)
        return .bulk(text)
    }
}
