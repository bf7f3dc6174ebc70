import LMDB
import StoreLayout
import Wire

/// The key commands: DEL, UNLINK, EXISTS, SCAN, KEYS, DBSIZE, FLUSHDB, FLUSHALL, RENAME, RENAMENX, COPY
/// (TYPE, RANDOMKEY, OBJECT and MEMORY are in `RESPObjectCommands`).
extension RESPSession {
    /// DEL and UNLINK: keys LMDB cannot hold do not exist, so they are not counted.
    func del(_ args: RESPArguments) -> Bool {
        if args.count == 2 {
            guard StoreLayout.check(key: args[1]) == nil else { return reply(.integer(0)) }
            return enqueue(.delete(counted: true), key: args[1])
        }
        var count = 0, size = 0
        for i in 1..<args.count where StoreLayout.check(key: args[i]) == nil {
            count += 1
            size += PackedWriter.size(key: args[i])
        }
        return enqueue(.deleteMany(count: count), byteCount: size, keyCount: size) { buffer in
            var packed = PackedWriter(buffer)
            for i in 1..<args.count where StoreLayout.check(key: args[i]) == nil { packed.key(args[i]) }
        }
    }

    func exists(_ args: RESPArguments) {
        read { keys in
            var count = 0
            for i in 1..<args.count where self.keyProblem(args[i]) == nil {
                if try keys.contains(args[i]) { count += 1 }
            }
            RESPWriter.integer(count, into: &self.output)
        }
    }

    func dbsize(_ args: RESPArguments) {
        read { keys in RESPWriter.integer(try keys.count(), into: &self.output) }
    }

    func keys(_ args: RESPArguments) {
        let pattern = GlobPattern(args.bytes(1))
        let restricted = !connection.isUnrestricted
        read { reader in
            var keys: [[UInt8]] = []
            try reader.forEach(prefix: pattern.literalPrefix) { key, _ in
                if pattern.matches(key) && (restricted ? self.connection.mayList(key) : true) { keys.append(Array(key)) }
                return .proceed
            }
            RESPWriter.array(keys.count, into: &self.output)
            for key in keys { RESPWriter.bulk(key, into: &self.output) }
        }
    }

    /// SCAN cursor [MATCH pattern] [COUNT n] [TYPE string]: walks keys in byte order; a cursor stands
    /// for "after this key" (kept in the daemon's cursor table).
    func scan(_ args: RESPArguments) {
        let n = args.count
        guard let cursor = RedisInteger.parseCursor(args[1]) else { RESPWriter.error("ERR invalid cursor", into: &output); return }
        var pattern: GlobPattern? = nil
        var count = 10
        var typeFilter: String? = nil
        var i = 2
        while i < n {
            guard i + 1 < n else { RESPWriter.error("ERR syntax error", into: &output); return }
            if args.is(i, "MATCH") { pattern = GlobPattern(args.bytes(i + 1)) }
            else if args.is(i, "COUNT") {
                guard let c = args.integer(i + 1) else { RESPWriter.error("ERR value is not an integer or out of range", into: &output); return }
                guard c >= 1 else { RESPWriter.error("ERR syntax error", into: &output); return }
                count = Int(min(c, 100_000))
            } else if args.is(i, "TYPE") { typeFilter = args.string(i + 1).lowercased() }
            else { RESPWriter.error("ERR syntax error", into: &output); return }
            i += 2
        }
        var after: [UInt8]? = nil
        if cursor != 0 {
            guard let key = context.resp.cursor(cursor) else {
                RESPWriter.error("ERR invalid or expired SCAN cursor \(cursor) (cursors are kept for the last \(RESPRegistry.maxCursors) scans)", into: &output)
                return
            }
            after = key
        }
        let prefix = pattern?.literalPrefix ?? []
        let restricted = !connection.isUnrestricted
        read { reader in
            var keys: [[UInt8]] = []
            var examined = 0
            var last: [UInt8]? = nil
            var more = false
            if typeFilter == nil || typeFilter == "string" {
                try reader.forEach(prefix: prefix, after: after) { key, _ in
                    if examined == count { more = true; return .stop }
                    examined += 1
                    last = Array(key)
                    if (pattern?.matches(key) ?? true) && (restricted ? self.connection.mayList(key) : true) { keys.append(Array(key)) }
                    return .proceed
                }
            }
            let next: UInt64 = more ? self.context.resp.saveCursor(after: last!) : 0
            RESPWriter.array(2, into: &self.output)
            RESPWriter.bulk(String(next), into: &self.output)
            RESPWriter.array(keys.count, into: &self.output)
            for key in keys { RESPWriter.bulk(key, into: &self.output) }
        }
    }

    /// FLUSHDB and FLUSHALL [ASYNC|SYNC], if `resp.allowFlush` permits.
    func flush(_ args: RESPArguments) -> Bool {
        let n = args.count
        guard n <= 2 else { return replyError("ERR syntax error") }
        if n == 2 && !args.is(1, "ASYNC") && !args.is(1, "SYNC") { return replyError("ERR syntax error") }
        guard context.configuration.flushAllowed else {
            return replyError("ERR \(args.string(0).uppercased()) is disabled on this server (resp.allowFlush)")
        }
        return enqueue(.clear)
    }

    /// RENAME and RENAMENX: the writer moves the value and its deadline (`KeyspaceWriter.rename`).
    func rename(_ args: RESPArguments, onlyIfAbsent: Bool) -> Bool {
        if let problem = keyProblem(args[1]) ?? keyProblem(args[2]) {
            // A key LMDB cannot hold does not exist.
            return replyError(keyProblem(args[1]) != nil ? "ERR no such key" : problem)
        }
        return enqueue(.rename(onlyIfAbsent: onlyIfAbsent), key: args[1], value: args[2])
    }

    /// COPY source destination [DB index] [REPLACE]: one database, so DB takes only 0.
    func copy(_ args: RESPArguments) -> Bool {
        var replace = false
        var i = 3
        while i < args.count {
            if args.is(i, "REPLACE") {
                replace = true
            } else if args.is(i, "DB") && i + 1 < args.count {
                guard let db = args.integer(i + 1), let index = Int32(exactly: db) else {
                    return replyError("ERR value is not an integer or out of range")
                }
                guard index == 0 else { return replyError("ERR DB index is out of range") }
                i += 1
            } else {
                return replyError("ERR syntax error")
            }
            i += 1
        }
        if args[1].elementsEqual(args[2]) { return replyError("ERR source and destination objects are the same") }
        if keyProblem(args[1]) != nil { return reply(.integer(0)) }
        if let problem = keyProblem(args[2]) { return replyError(problem) }
        return enqueue(.copy(replace: replace), key: args[1], value: args[2])
    }
}
