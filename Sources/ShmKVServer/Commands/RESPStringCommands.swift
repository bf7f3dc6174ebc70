import LMDB
import StoreLayout
import Wire

/// The string commands that read: GET, MGET, STRLEN, GETRANGE/SUBSTR (LCS has a file of its own).
/// Arity is checked before a handler runs (`CommandTable`).
enum StringCommands {
    static func get(_ c: CommandCall) throws {
        try c.keys.withValue(c.args[1]) { value in
            if let value { c.reply.bulk(value) } else { c.reply.null() }
        }
    }

    static func mget(_ c: CommandCall) throws {
        c.reply.array(c.args.count - 1)
        for i in 1..<c.args.count {
            do {
                try c.keys.withValue(c.args[i]) { value in
                    if let value { c.reply.bulk(value) } else { c.reply.null() }
                }
            } catch is WrongTypeError {
                // MGET answers nil for a key of another type, as Redis.
                c.reply.null()
            }
        }
    }

    static func strlen(_ c: CommandCall) throws {
        c.reply.integer(try c.keys.withValue(c.args[1]) { $0?.count ?? 0 })
    }

    /// GETRANGE (and its old name SUBSTR).
    static func getRange(_ c: CommandCall) throws {
        guard let start = c.args.integer(2), let end = c.args.integer(3) else {
            return c.reply.error("ERR value is not an integer or out of range")
        }
        try c.keys.withValue(c.args[1]) { value in
            let bytes = value ?? UnsafeRawBufferPointer(start: nil, count: 0)
            if let range = redisRange(start: start, end: end, length: bytes.count) {
                c.reply.bulk(UnsafeRawBufferPointer(rebasing: bytes[range]))
            } else {
                c.reply.bulk([UInt8]())
            }
        }
    }

    /// Redis's GETRANGE arithmetic: negative offsets count from the end; out-of-range is clamped.
    static func redisRange(start: Int64, end: Int64, length: Int) -> Range<Int>? {
        if start < 0 && end < 0 && start > end { return nil }
        let len = Int64(length)
        var s = start < 0 ? len + start : start
        var e = end < 0 ? len + end : end
        if s < 0 { s = 0 }
        if e < 0 { e = 0 }
        if e >= len { e = len - 1 }
        if s > e || len == 0 { return nil }
        return Int(s)..<Int(e + 1)
    }
}

/// The string commands that write: SET (its expiry options are parsed by `StringOptions`), SETNX,
/// GETSET, GETDEL, MSET, MSETNX, INCR/DECR(BY), INCRBYFLOAT, APPEND, SETRANGE. Each says what it asks
/// for (`WritePlan`); dispatch carries it out.
extension StringCommands {
    /// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL].
    static func set(_ c: WriteCall) -> WritePlan {
        guard let options = StringOptions(c.args, from: 3, for: .set) else { return .error(.syntax) }
        let deadline: DeadlineChange
        switch options.deadline(c.args, command: "set", now: c.clock) {
        case .success(let d): deadline = d
        case .failure(let error): return .error(error)
        }
        if let problem = c.keyProblem(1) ?? c.valueProblem(2) { return .error(problem) }
        return .write(.put(condition: options.condition, returnOld: options.returnOld, deadline: deadline), .keyValue(1, 2))
    }

    static func setNX(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? c.valueProblem(2) { return .error(problem) }
        return .write(.put(condition: .ifAbsent, returnOld: false, deadline: .remove), .keyValue(1, 2), .storedAsInteger)
    }

    /// GETSET: SET … GET without options (the deadline goes, as with SET).
    static func getSet(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? c.valueProblem(2) { return .error(problem) }
        return .write(.put(condition: .always, returnOld: true, deadline: .remove), .keyValue(1, 2))
    }

    /// SETRANGE key offset value: Redis's checks in Redis's order (the size check only for a non-empty
    /// value; ShmKV's limit is `limits.maxValueSize`).
    static func setRange(_ c: WriteCall) -> WritePlan {
        guard let offset = c.args.integer(2) else { return .error(.notInteger) }
        guard offset >= 0 else { return .error("ERR offset is out of range") }
        let max = c.context.configuration.maxValueSize
        if !c.args[3].isEmpty, offset > Int64(max - c.args[3].count) {
            return .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .write(.setRange(offset: Int(offset), maxValueSize: max), .keyValue(1, 3))
    }

    /// INCRBYFLOAT key increment: long double arithmetic and formatting as Redis (`RedisFloat`).
    static func incrByFloat(_ c: WriteCall) -> WritePlan {
        guard let increment = RedisFloat.parse(c.args[2]) else {
            // Redis looks at the key's type before it reads the increment: WRONGTYPE comes first.
            return .read { c in
                _ = try c.keys.withValue(c.args[1]) { _ in 0 }
                c.reply.error("ERR value is not a valid float")
            }
        }
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .write(.incrByFloat(increment), .key(1))
    }

    static func getDel(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) { return .error(problem) }
        return .write(.getDelete, .key(1))
    }

    /// MSET and MSETNX: key value pairs, all or none.
    static func mset(onlyIfNoneExist: Bool) -> WriteHandler {
        { c in
            guard c.args.count % 2 == 1 else { return c.wrongArity }
            for i in stride(from: 1, to: c.args.count, by: 2) {
                if let problem = c.keyProblem(i) ?? c.valueProblem(i + 1) { return .error(problem) }
            }
            return .write(.mput(count: c.args.count / 2, onlyIfNoneExist: onlyIfNoneExist), .packedPairs(from: 1))
        }
    }

    /// INCR, DECR (`delta` 1 or -1), INCRBY and DECRBY (nil: the second argument, `negated` for DECRBY).
    static func incrBy(_ delta: Int64?, negated: Bool = false) -> WriteHandler {
        { c in
            var change: Int64
            if let delta {
                change = delta
            } else {
                guard let n = c.args.integer(2) else { return .error(.notInteger) }
                change = n
            }
            if negated {
                guard change != Int64.min else { return .error("ERR decrement would overflow") }
                change = -change
            }
            if let problem = c.keyProblem(1) { return .error(problem) }
            return .write(.incrBy(change), .key(1))
        }
    }

    static func append(_ c: WriteCall) -> WritePlan {
        if let problem = c.keyProblem(1) ?? c.valueProblem(2) { return .error(problem) }
        return .write(.append(maxValueSize: c.context.configuration.maxValueSize), .keyValue(1, 2))
    }
}
