import LMDB
import StoreLayout
import Wire

/// The key commands that read: EXISTS (and TOUCH), DBSIZE, KEYS, SCAN (TYPE, RANDOMKEY, OBJECT, MEMORY
/// are in `RESPObjectCommands`, TTL and its relatives in `RESPExpiryCommands`).
enum KeyCommands {
    static func exists(_ c: CommandCall) throws {
        var count = 0
        for i in 1..<c.args.count where try c.keys.contains(c.args[i]) { count += 1 }
        c.reply.integer(count)
    }

    static func dbsize(_ c: CommandCall) throws {
        c.reply.integer(try c.keys.count())
    }

    static func keys(_ c: CommandCall) throws {
        let pattern = GlobPattern(c.args.bytes(1))
        var keys: [[UInt8]] = []
        try c.keys.forEachKey(prefix: pattern.literalPrefix) { key, _ in
            if pattern.matches(key) && c.client.mayList(key) { keys.append(Array(key)) }
            return .proceed
        }
        c.reply.array(keys.count)
        for key in keys { c.reply.bulk(key) }
    }

    /// SCAN cursor [MATCH pattern] [COUNT n] [TYPE string]: walks keys in byte order; a cursor stands
    /// for "after this key" (kept in the daemon's cursor table).
    static func scan(_ c: CommandCall) throws {
        let args = c.args
        guard let cursor = RedisInteger.parseCursor(args[1]) else { return c.reply.error("ERR invalid cursor") }
        let options: CollectionCommands.ScanOptions
        switch CollectionCommands.ScanOptions.parse(args, from: 2, extra: .type) {
        case .failure(let error): return c.reply.error(error.message)
        case .success(let parsed): options = parsed
        }
        let (pattern, count, typeFilter) = (options.pattern, options.count, options.type)
        var after: [UInt8]? = nil
        if cursor != 0 {
            guard let key = c.context.resp.cursor(cursor) else {
                return c.reply.error("ERR invalid or expired SCAN cursor \(cursor) (cursors are kept for the last \(RESPRegistry.maxCursors) scans)")
            }
            after = key
        }
        var keys: [[UInt8]] = []
        var examined = 0
        var last: [UInt8]? = nil
        var more = false
        try c.keys.forEachKey(prefix: pattern?.literalPrefix ?? [], after: after) { key, type in
            if examined == count { more = true; return .stop }
            examined += 1
            last = Array(key)
            if (pattern?.matches(key) ?? true) && (typeFilter.map { $0 == type.name } ?? true) && c.client.mayList(key) {
                keys.append(Array(key))
            }
            return .proceed
        }
        let next: UInt64 = more ? c.context.resp.saveCursor(after: last!) : 0
        c.reply.array(2)
        c.reply.bulk(String(next))
        c.reply.array(keys.count)
        for key in keys { c.reply.bulk(key) }
    }
}

/// The key commands that write: DEL, UNLINK, FLUSHDB, FLUSHALL, RENAME, RENAMENX, COPY.
extension KeyCommands {
    /// DEL and UNLINK: keys LMDB cannot hold do not exist, so they are not counted.
    static func del(_ c: WriteCall) -> WritePlan {
        if c.args.count == 2 {
            guard c.keyProblem(1) == nil else { return .reply(.integer(0)) }
            return .write(.delete(counted: true), .key(1))
        }
        let count = (1..<c.args.count).reduce(0) { $0 + (c.keyProblem($1) == nil ? 1 : 0) }
        return .write(.deleteMany(count: count), .packedKeys(from: 1))
    }

    /// FLUSHDB and FLUSHALL [ASYNC|SYNC], if `resp.allowFlush` permits.
    static func flush(_ c: WriteCall) -> WritePlan {
        let n = c.args.count
        guard n <= 2 else { return .error(.syntax) }
        if n == 2 && !c.args.is(1, "ASYNC") && !c.args.is(1, "SYNC") { return .error(.syntax) }
        guard c.context.configuration.flushAllowed else {
            return .error("ERR \(c.args.string(0).uppercased()) is disabled on this server (resp.allowFlush)")
        }
        return .operation(c.args.is(0, "FLUSHALL") ? .clearAll : .clear)
    }

    /// MOVE key db: to another numbered database, if the key is not there already.
    static func move(_ c: WriteCall) -> WritePlan {
        if c.context.cluster != nil { return .error("ERR MOVE is not allowed in cluster mode") }
        guard let db = c.args.integer(2), let index = Int32(exactly: db) else { return .error(.notInteger) }
        guard index >= 0 && Int(index) < c.context.store.databaseCount else { return .error("ERR DB index is out of range") }
        if UInt8(index) == c.database { return .error("ERR source and destination objects are the same") }
        if c.keyProblem(1) != nil { return .reply(.integer(0)) }
        return .write(.move(to: UInt8(index)), .key(1))
    }

    /// SWAPDB index1 index2.
    static func swapdb(_ c: WriteCall) -> WritePlan {
        if c.context.cluster != nil { return .error("ERR SWAPDB is not allowed in cluster mode") }
        guard let a = c.args.integer(1), let first = Int32(exactly: a) else { return .error("ERR invalid first DB index") }
        guard let b = c.args.integer(2), let second = Int32(exactly: b) else { return .error("ERR invalid second DB index") }
        let count = c.context.store.databaseCount
        guard first >= 0, second >= 0, Int(first) < count, Int(second) < count else { return .error("ERR DB index is out of range") }
        return .operation(.swapDatabases(UInt8(first), UInt8(second)))
    }

    /// RENAME and RENAMENX: the writer moves the value and its deadline (`KeyspaceWriter.rename`).
    static func rename(onlyIfAbsent: Bool) -> WriteHandler {
        { c in
            // A key LMDB cannot hold does not exist.
            if c.keyProblem(1) != nil { return .error("ERR no such key") }
            if let problem = c.keyProblem(2) { return .error(problem) }
            return .write(.rename(onlyIfAbsent: onlyIfAbsent), .keyValue(1, 2))
        }
    }

    /// COPY source destination [DB index] [REPLACE].
    static func copy(_ c: WriteCall) -> WritePlan {
        let args = c.args
        var replace = false
        var target: UInt8? = nil
        var i = 3
        while i < args.count {
            if args.is(i, "REPLACE") {
                replace = true
            } else if args.is(i, "DB") && i + 1 < args.count {
                guard let db = args.integer(i + 1), let index = Int32(exactly: db) else { return .error(.notInteger) }
                guard index >= 0 && Int(index) < c.context.store.databaseCount else { return .error("ERR DB index is out of range") }
                target = UInt8(index)
                i += 1
            } else {
                return .error(.syntax)
            }
            i += 1
        }
        if c.context.cluster != nil && (target ?? 0) != 0 { return .error("ERR Copying to another database is not allowed in cluster mode") }
        if args[1].elementsEqual(args[2]) && (target ?? c.database) == c.database {
            return .error("ERR source and destination objects are the same")
        }
        if c.keyProblem(1) != nil { return .reply(.integer(0)) }
        if let problem = c.keyProblem(2) { return .error(problem) }
        return .write(.copy(replace: replace, database: target == c.database ? nil : target), .keyValue(1, 2))
    }
}
