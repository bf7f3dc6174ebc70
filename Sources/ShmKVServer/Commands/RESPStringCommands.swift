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
            try c.keys.withValue(c.args[i]) { value in
                if let value { c.reply.bulk(value) } else { c.reply.null() }
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
/// GETSET, GETDEL, MSET, MSETNX, INCR/DECR(BY), INCRBYFLOAT, APPEND, SETRANGE.
extension RESPSession {
    /// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL].
    func set(_ args: RESPArguments) -> Bool {
        guard let options = StringOptions(args, from: 3, for: .set) else { return replyError(RESPError.syntax.message) }
        let deadline: DeadlineChange
        switch options.deadline(args, command: "set") {
        case .success(let d): deadline = d
        case .failure(let error): return replyError(error.message)
        }
        if let problem = keyProblem(args[1]) ?? valueProblem(args[2]) { return replyError(problem) }
        return enqueuePut(args, key: 1, value: 2, condition: options.condition, returnOld: options.returnOld, deadline: deadline)
    }

    func setNX(_ args: RESPArguments) -> Bool {
        if let problem = keyProblem(args[1]) ?? valueProblem(args[2]) { return replyError(problem) }
        return enqueuePut(args, key: 1, value: 2, condition: .ifAbsent, .storedAsInteger)
    }

    /// GETSET: SET … GET without options (the deadline goes, as with SET).
    func getSet(_ args: RESPArguments) -> Bool {
        if let problem = keyProblem(args[1]) ?? valueProblem(args[2]) { return replyError(problem) }
        return enqueuePut(args, key: 1, value: 2, condition: .always, returnOld: true, deadline: .remove)
    }

    /// SETRANGE key offset value: Redis's checks in Redis's order (the size check only for a non-empty
    /// value; ShmKV's limit is `limits.maxValueSize`).
    func setRange(_ args: RESPArguments) -> Bool {
        guard let offset = args.integer(2) else { return replyError("ERR value is not an integer or out of range") }
        guard offset >= 0 else { return replyError("ERR offset is out of range") }
        let max = context.configuration.maxValueSize
        if !args[3].isEmpty, offset > Int64(max - args[3].count) {
            return replyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        }
        if let problem = keyProblem(args[1]) { return replyError(problem) }
        return enqueue(.setRange(offset: Int(offset), maxValueSize: max), key: args[1], value: args[3])
    }

    /// INCRBYFLOAT key increment: long double arithmetic and formatting as Redis (`RedisFloat`).
    func incrByFloat(_ args: RESPArguments) -> Bool {
        guard let increment = RedisFloat.parse(args[2]) else { return replyError("ERR value is not a valid float") }
        if let problem = keyProblem(args[1]) { return replyError(problem) }
        return enqueue(.incrByFloat(increment), key: args[1])
    }

    func getDel(_ args: RESPArguments) -> Bool {
        if let problem = keyProblem(args[1]) { return replyError(problem) }
        return enqueue(.getDelete, key: args[1])
    }

    /// MSET and MSETNX: key value pairs, all or none.
    func mset(_ args: RESPArguments, onlyIfNoneExist: Bool) -> Bool {
        let n = args.count
        guard n % 2 == 1 else { return wrongArity(args) }
        var size = 0
        for i in stride(from: 1, to: n, by: 2) {
            if let problem = keyProblem(args[i]) ?? valueProblem(args[i + 1]) { return replyError(problem) }
            size += PackedWriter.size(key: args[i]) + PackedWriter.size(value: args[i + 1])
        }
        return enqueue(.mput(count: n / 2, onlyIfNoneExist: onlyIfNoneExist), byteCount: size, keyCount: size) { buffer in
            var packed = PackedWriter(buffer)
            for i in stride(from: 1, to: n, by: 2) {
                packed.key(args[i])
                packed.value(args[i + 1])
            }
        }
    }

    /// INCRBY and DECRBY: the delta is the second argument.
    func incrBy(_ args: RESPArguments, negated: Bool) -> Bool {
        guard let delta = args.integer(2) else { return replyError("ERR value is not an integer or out of range") }
        guard negated else { return incrBy(args[1], delta) }
        guard delta != Int64.min else { return replyError("ERR decrement would overflow") }
        return incrBy(args[1], -delta)
    }

    func incrBy(_ key: UnsafeRawBufferPointer, _ delta: Int64) -> Bool {
        if let problem = keyProblem(key) { return replyError(problem) }
        return enqueue(.incrBy(delta), key: key)
    }

    func append(_ args: RESPArguments) -> Bool {
        if let problem = keyProblem(args[1]) ?? valueProblem(args[2]) { return replyError(problem) }
        return enqueue(.append(maxValueSize: context.configuration.maxValueSize), key: args[1], value: args[2])
    }
}
