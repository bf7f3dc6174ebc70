import LMDB
import NotifyRing
import Reactor
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The commands ShmKV answers over RESP, for COMMAND, COMMAND COUNT/INFO/DOCS/LIST: name, arity
/// (negative: at least), flags, first key, last key, key step, group and summary.
struct RESPCommandInfo {
    let name: String
    let arity: Int
    let flags: [String]
    let firstKey: Int, lastKey: Int, step: Int
    let group: String
    let summary: String

    static let all: [RESPCommandInfo] = [
        .init(name: "get", arity: 2, flags: ["readonly", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the string value of a key."),
        .init(name: "set", arity: -3, flags: ["write", "denyoom"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Sets the string value of a key (NX, XX, GET; no expiry)."),
        .init(name: "setnx", arity: 3, flags: ["write", "denyoom", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Sets the value of a key only when it does not exist."),
        .init(name: "getdel", arity: 2, flags: ["write", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the value of a key and deletes it."),
        .init(name: "del", arity: -2, flags: ["write"], firstKey: 1, lastKey: -1, step: 1, group: "generic", summary: "Deletes one or more keys."),
        .init(name: "unlink", arity: -2, flags: ["write", "fast"], firstKey: 1, lastKey: -1, step: 1, group: "generic", summary: "Deletes one or more keys (as DEL)."),
        .init(name: "exists", arity: -2, flags: ["readonly", "fast"], firstKey: 1, lastKey: -1, step: 1, group: "generic", summary: "Counts how many of the keys exist."),
        .init(name: "mget", arity: -2, flags: ["readonly", "fast"], firstKey: 1, lastKey: -1, step: 1, group: "string", summary: "Returns the values of several keys."),
        .init(name: "mset", arity: -3, flags: ["write", "denyoom"], firstKey: 1, lastKey: -1, step: 2, group: "string", summary: "Sets several keys in one atomic batch."),
        .init(name: "msetnx", arity: -3, flags: ["write", "denyoom"], firstKey: 1, lastKey: -1, step: 2, group: "string", summary: "Sets several keys only if none of them exists."),
        .init(name: "incr", arity: 2, flags: ["write", "denyoom", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Increments the integer value of a key by one."),
        .init(name: "incrby", arity: 3, flags: ["write", "denyoom", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Increments the integer value of a key by a number."),
        .init(name: "decr", arity: 2, flags: ["write", "denyoom", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Decrements the integer value of a key by one."),
        .init(name: "decrby", arity: 3, flags: ["write", "denyoom", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Decrements the integer value of a key by a number."),
        .init(name: "strlen", arity: 2, flags: ["readonly", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns the length of a string value."),
        .init(name: "append", arity: 3, flags: ["write", "denyoom", "fast"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Appends to the value of a key."),
        .init(name: "getrange", arity: 4, flags: ["readonly"], firstKey: 1, lastKey: 1, step: 1, group: "string", summary: "Returns a substring of a value."),
        .init(name: "scan", arity: -2, flags: ["readonly"], firstKey: 0, lastKey: 0, step: 0, group: "generic", summary: "Iterates over keys (cursor, MATCH, COUNT)."),
        .init(name: "keys", arity: 2, flags: ["readonly"], firstKey: 0, lastKey: 0, step: 0, group: "generic", summary: "Returns every key that matches a pattern."),
        .init(name: "dbsize", arity: 1, flags: ["readonly", "fast"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "Returns the number of keys."),
        .init(name: "flushdb", arity: -1, flags: ["write", "admin"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "Deletes every key (if resp.allowFlush permits)."),
        .init(name: "flushall", arity: -1, flags: ["write", "admin"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "Deletes every key (if resp.allowFlush permits)."),
        .init(name: "ping", arity: -1, flags: ["fast"], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "Returns PONG, or the argument."),
        .init(name: "echo", arity: 2, flags: ["fast"], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "Returns the argument."),
        .init(name: "info", arity: -1, flags: ["loading", "stale"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "Returns information and statistics about the server."),
        .init(name: "config", arity: -2, flags: ["admin"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "CONFIG GET: returns configuration parameters."),
        .init(name: "command", arity: -1, flags: ["loading", "stale"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "Returns details about the commands (COUNT, DOCS, INFO, LIST)."),
        .init(name: "hello", arity: -1, flags: ["noscript", "fast"], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "Handshakes with the server (protocol 2 or 3, AUTH, SETNAME)."),
        .init(name: "client", arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "CLIENT SETNAME, GETNAME, SETINFO, ID, LIST, INFO."),
        .init(name: "select", arity: 2, flags: ["fast"], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "Selects database 0 (the only one)."),
        .init(name: "auth", arity: -2, flags: ["noscript", "fast"], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "Authenticates the connection: AUTH [username] password."),
        .init(name: "acl", arity: -2, flags: ["noscript", "loading", "stale"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "ACL WHOAMI and ACL LIST (users are configured in auth.users)."),
        .init(name: "quit", arity: -1, flags: ["fast"], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "Closes the connection."),
        .init(name: "reset", arity: 1, flags: ["fast"], firstKey: 0, lastKey: 0, step: 0, group: "connection", summary: "Resets the connection: RESP2, no name, no subscriptions."),
        .init(name: "time", arity: 1, flags: ["fast"], firstKey: 0, lastKey: 0, step: 0, group: "server", summary: "Returns the server time."),
        .init(name: "subscribe", arity: -2, flags: ["pubsub", "fast"], firstKey: 0, lastKey: 0, step: 0, group: "pubsub", summary: "Listens to keyspace notification channels."),
        .init(name: "psubscribe", arity: -2, flags: ["pubsub", "fast"], firstKey: 0, lastKey: 0, step: 0, group: "pubsub", summary: "Listens to keyspace notification channel patterns."),
        .init(name: "unsubscribe", arity: -1, flags: ["pubsub", "fast"], firstKey: 0, lastKey: 0, step: 0, group: "pubsub", summary: "Stops listening to channels."),
        .init(name: "punsubscribe", arity: -1, flags: ["pubsub", "fast"], firstKey: 0, lastKey: 0, step: 0, group: "pubsub", summary: "Stops listening to channel patterns."),
    ]

    static func named(_ name: String) -> RESPCommandInfo? { all.first { $0.name == name.lowercased() } }

    /// What a user needs to run the command: read for read-only and pub/sub commands and INFO, write
    /// for writes, admin for admin commands (FLUSHDB needs both write and admin); nothing for the rest.
    var permission: Permissions {
        var needed: Permissions = []
        if flags.contains("readonly") || flags.contains("pubsub") || name == "info" { needed.insert(.read) }
        if flags.contains("write") { needed.insert(.write) }
        if flags.contains("admin") { needed.insert(.admin) }
        return needed
    }
}

/// Configuration parameters CONFIG GET reports, in Redis's names (what redis-benchmark and clients ask).
extension ServerConnection {
    private var configParameters: [(String, String)] {
        let c = context.configuration
        var port = "0", bind = ""
        if let listen = c.listen, case .tcp(let host, let p)? = Endpoint.parseHostPort(listen) { port = String(p); bind = host }
        return [
            ("save", ""), ("appendonly", "no"), ("databases", "1"), ("maxmemory", "0"), ("maxmemory-policy", "noeviction"),
            ("maxclients", String(c.maxClients)), ("timeout", "0"), ("port", port), ("bind", bind),
            ("unixsocket", c.socketPath ?? ""), ("proto-max-bulk-len", String(c.respMaxBulkLength)),
            ("notify-keyspace-events", "KEA"), ("appendfsync", c.durability == .durable ? "always" : "no"),
            ("cluster-enabled", "no"), ("dir", c.dataDirectory),
        ]
    }

    // MARK: Commands that run on the reactor

    func executeRESP(_ args: RESPArguments) {
        let n = args.count
        let resp3 = resp.resp3
        if args.is(0, "PING") {
            guard n <= 2 else { _ = wrongArity(args); return }
            if resp.subscriptionCount > 0 && !resp3 {
                RESPWriter.array(2, into: &output)
                RESPWriter.bulk("pong", into: &output)
                if n == 2 { RESPWriter.bulk(args[1], into: &output) } else { RESPWriter.bulk([UInt8](), into: &output) }
            } else if n == 2 {
                RESPWriter.bulk(args[1], into: &output)
            } else {
                RESPWriter.simple("PONG", into: &output)
            }
        } else if args.is(0, "ECHO") {
            guard n == 2 else { _ = wrongArity(args); return }
            RESPWriter.bulk(args[1], into: &output)
        } else if args.is(0, "MGET") {
            guard n >= 2 else { _ = wrongArity(args); return }
            _ = read { txn in
                RESPWriter.array(n - 1, into: &self.output)
                for i in 1..<n {
                    guard self.keyProblem(args[i]) == nil else { RESPWriter.null(resp3: resp3, into: &self.output); continue }
                    try txn.withValue(self.context.store.keyspace, key: args[i]) { value in
                        if let value { RESPWriter.bulk(value, into: &self.output) } else { RESPWriter.null(resp3: resp3, into: &self.output) }
                    }
                }
            }
        } else if args.is(0, "EXISTS") {
            guard n >= 2 else { _ = wrongArity(args); return }
            _ = read { txn in
                var count = 0
                for i in 1..<n where self.keyProblem(args[i]) == nil {
                    if try txn.withValue(self.context.store.keyspace, key: args[i], { $0 != nil }) { count += 1 }
                }
                RESPWriter.integer(count, into: &self.output)
            }
        } else if args.is(0, "STRLEN") {
            guard n == 2 else { _ = wrongArity(args); return }
            _ = read { txn in
                let length = self.keyProblem(args[1]) != nil ? 0
                    : try txn.withValue(self.context.store.keyspace, key: args[1]) { $0?.count ?? 0 }
                RESPWriter.integer(length, into: &self.output)
            }
        } else if args.is(0, "GETRANGE") || args.is(0, "SUBSTR") {
            guard n == 4 else { _ = wrongArity(args); return }
            guard let start = args.integer(2), let end = args.integer(3) else {
                _ = replyError("ERR value is not an integer or out of range")
                return
            }
            _ = read { txn in
                guard self.keyProblem(args[1]) == nil else { return RESPWriter.bulk([UInt8](), into: &self.output) }
                try txn.withValue(self.context.store.keyspace, key: args[1]) { value in
                    let bytes = value ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    if let range = ServerConnection.redisRange(start: start, end: end, length: bytes.count) {
                        RESPWriter.bulk(UnsafeRawBufferPointer(rebasing: bytes[range]), into: &self.output)
                    } else {
                        RESPWriter.bulk([UInt8](), into: &self.output)
                    }
                }
            }
        } else if args.is(0, "DBSIZE") {
            guard n == 1 else { _ = wrongArity(args); return }
            _ = read { txn in RESPWriter.integer(try txn.stat(self.context.store.keyspace).entries, into: &self.output) }
        } else if args.is(0, "KEYS") {
            guard n == 2 else { _ = wrongArity(args); return }
            let pattern = GlobPattern(args.bytes(1))
            let restricted = !isUnrestricted
            _ = read { txn in
                var keys: [[UInt8]] = []
                try txn.forEach(self.context.store.keyspace, prefix: pattern.literalPrefix) { key, _ in
                    if pattern.matches(key) && (restricted ? self.mayList(key) : true) { keys.append(Array(key)) }
                    return .proceed
                }
                RESPWriter.array(keys.count, into: &self.output)
                for key in keys { RESPWriter.bulk(key, into: &self.output) }
            }
        } else if args.is(0, "SCAN") {
            scan(args)
        } else if args.is(0, "INFO") {
            RESPWriter.verbatim(info(args), resp3: resp3, into: &output)
        } else if args.is(0, "CONFIG") {
            guard n >= 2 else { _ = wrongArity(args); return }
            config(args)
        } else if args.is(0, "COMMAND") {
            command(args)
        } else if args.is(0, "HELLO") {
            hello(args)
        } else if args.is(0, "CLIENT") {
            guard n >= 2 else { _ = wrongArity(args); return }
            client(args)
        } else if args.is(0, "SELECT") {
            guard n == 2 else { _ = wrongArity(args); return }
            guard let index = args.integer(1) else { _ = replyError("ERR value is not an integer or out of range"); return }
            // Redis reads the index as a C int (getIntFromObjectOrReply).
            guard let _ = Int32(exactly: index) else {
                _ = replyError("ERR value is out of range, value must between -2147483648 and 2147483647")
                return
            }
            if index == 0 { RESPWriter.ok(into: &output) } else { RESPWriter.error("ERR DB index is out of range", into: &output) }
        } else if args.is(0, "AUTH") {
            guard n >= 2 else { _ = wrongArity(args); return }
            guard n <= 3 else { RESPWriter.error("ERR syntax error", into: &output); return }
            if n == 2 && !context.authenticator.isRequired {
                RESPWriter.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", into: &output)
            } else if let problem = authenticate(name: n == 3 ? args.string(1) : nil, password: args[n - 1]) {
                RESPWriter.error(problem, into: &output)
            } else {
                RESPWriter.ok(into: &output)
            }
        } else if args.is(0, "ACL") {
            guard n >= 2 else { _ = wrongArity(args); return }
            acl(args)
        } else if args.is(0, "QUIT") {
            RESPWriter.ok(into: &output)
            closeAfterFlush = true
            setReadingPaused(true)
        } else if args.is(0, "RESET") {
            resp.resp3 = false
            unsubscribeAll()
            context.resp.update(resp.clientID) { $0.name = ""; $0.protocolVersion = 2 }
            RESPWriter.simple("RESET", into: &output)
        } else if args.is(0, "TIME") {
            guard n == 1 else { _ = wrongArity(args); return }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            RESPWriter.array(2, into: &output)
            RESPWriter.bulk(String(ts.tv_sec), into: &output)
            RESPWriter.bulk(String(ts.tv_nsec / 1000), into: &output)
        } else if args.is(0, "SUBSCRIBE") || args.is(0, "PSUBSCRIBE") {
            guard n >= 2 else { _ = wrongArity(args); return }
            subscribe(args, patterns: args.is(0, "PSUBSCRIBE"))
        } else if args.is(0, "UNSUBSCRIBE") || args.is(0, "PUNSUBSCRIBE") {
            unsubscribe(args, patterns: args.is(0, "PUNSUBSCRIBE"))
        } else {
            var message = "ERR unknown command '\(args.string(0))', with args beginning with: "
            for i in 1..<min(n, 16) { message += "'\(args.string(i))' " }
            RESPWriter.error(message, into: &output)
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

    /// ACL WHOAMI and ACL LIST; users are configuration, so the rest of ACL is refused.
    private func acl(_ args: RESPArguments) {
        if args.is(1, "WHOAMI") {
            guard args.count == 2 else { _ = wrongArity(args); return }
            RESPWriter.bulk(user?.name ?? "default", into: &output)
        } else if args.is(1, "LIST") {
            guard args.count == 2 else { _ = wrongArity(args); return }
            let users = context.authenticator.all.sorted { $0.name < $1.name }
            RESPWriter.array(users.count, into: &output)
            for user in users { RESPWriter.bulk(user.aclLine, into: &output) }
        } else {
            RESPWriter.error("ERR ACL \(args.string(1).uppercased()) is not supported by ShmKV: users are configured in auth.users (see Config/shmkvd.yaml)", into: &output)
        }
    }

    /// SCAN cursor [MATCH pattern] [COUNT n] [TYPE string]: walks keys in byte order; a cursor stands
    /// for "after this key" (kept in the daemon's cursor table).
    private func scan(_ args: RESPArguments) {
        let n = args.count
        guard n >= 2 else { _ = wrongArity(args); return }
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
        let restricted = !isUnrestricted
        _ = read { txn in
            var keys: [[UInt8]] = []
            var examined = 0
            var last: [UInt8]? = nil
            var more = false
            if typeFilter == nil || typeFilter == "string" {
                try txn.forEach(self.context.store.keyspace, prefix: prefix, after: after) { key, _ in
                    if examined == count { more = true; return .stop }
                    examined += 1
                    last = Array(key)
                    if (pattern?.matches(key) ?? true) && (restricted ? self.mayList(key) : true) { keys.append(Array(key)) }
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

    private func info(_ args: RESPArguments) -> String {
        let c = context.configuration
        let s = context.stats
        let env = context.store.environment
        let info = try? env.info()
        let keys = (try? reactor.snapshot().stat(context.store.keyspace).entries) ?? 0
        let pageSize = (try? env.stat().pageSize) ?? 4096
        let used = ((info?.lastPage ?? 0) + 1) * pageSize
        var port = 0
        if let listen = c.listen, case .tcp(_, let p)? = Endpoint.parseHostPort(listen) { port = p }
        let sections: [(String, [(String, String)])] = [
            ("Server", [("redis_version", "7.2.0"), ("shmkv_version", "0.4.0"), ("redis_mode", "standalone"), ("os", "Linux"),
                        ("arch_bits", "64"), ("process_id", String(getpid())), ("tcp_port", String(port)),
                        ("uptime_in_seconds", String(s.uptimeSeconds)), ("uptime_in_days", String(s.uptimeSeconds / 86400)),
                        ("io_threads_active", String(context.reactorCount))]),
            ("Clients", [("connected_clients", String(s.connectionsCurrent.load(ordering: .relaxed))),
                         ("resp_clients", String(context.resp.count)), ("maxclients", String(c.maxClients)),
                         ("blocked_clients", "0")]),
            ("Memory", [("used_memory", String(used)), ("used_memory_human", humanBytes(used)),
                        ("used_memory_dataset", String(used)), ("lmdb_map_size", String(info?.mapSize ?? 0)),
                        ("lmdb_map_resizes", String(s.mapResizes.load(ordering: .relaxed))),
                        ("maxmemory", "0"), ("maxmemory_policy", "noeviction")]),
            ("Persistence", [("loading", "0"), ("shmkv_durability", c.durability.rawValue), ("aof_enabled", "0"),
                             ("rdb_changes_since_last_save", "0"), ("rdb_bgsave_in_progress", "0"),
                             ("lmdb_last_txn_id", String(info?.lastTransactionID ?? 0))]),
            ("Stats", [("total_connections_received", String(s.connectionsTotal.load(ordering: .relaxed))),
                       ("total_commands_processed", String(s.commandsProcessed.load(ordering: .relaxed))),
                       ("rejected_connections", String(s.connectionsRejected.load(ordering: .relaxed))),
                       ("total_writes_committed", String(s.writesCommitted.load(ordering: .relaxed))),
                       ("total_batches_committed", String(s.batchesCommitted.load(ordering: .relaxed))),
                       ("protocol_errors", String(s.protocolErrors.load(ordering: .relaxed))),
                       ("ring_next_sequence", String(s.ringNextSequence.load(ordering: .relaxed))),
                       ("client_query_buffer_limit_disconnections", String(s.queryLimitDisconnections.load(ordering: .relaxed))),
                       ("client_output_buffer_limit_disconnections", String(s.outputLimitDisconnections.load(ordering: .relaxed))),
                       ("idle_timeout_disconnections", String(s.idleDisconnections.load(ordering: .relaxed))),
                       ("auth_timeout_disconnections", String(s.authTimeoutDisconnections.load(ordering: .relaxed))),
                       ("acl_access_denied_auth", String(s.authFailures.load(ordering: .relaxed))),
                       ("expired_keys", "0"), ("evicted_keys", "0")]),
            ("Keyspace", keys > 0 ? [("db0", "keys=\(keys),expires=0,avg_ttl=0")] : []),
        ]
        var wanted = Set<String>()
        for i in 1..<args.count { wanted.insert(args.string(i).lowercased()) }
        let everything = wanted.isEmpty || wanted.contains("all") || wanted.contains("everything") || wanted.contains("default")
        var text = ""
        for (name, fields) in sections where everything || wanted.contains(name.lowercased()) {
            if !text.isEmpty { text += "\r\n" }
            text += "# \(name)\r\n"
            for (k, v) in fields { text += "\(k):\(v)\r\n" }
        }
        return text
    }

    private func humanBytes(_ n: Int) -> String {
        if n >= 1 << 30 { return "\(Double(n * 100 / (1 << 30)) / 100)G" }
        if n >= 1 << 20 { return "\(Double(n * 100 / (1 << 20)) / 100)M" }
        if n >= 1 << 10 { return "\(Double(n * 100 / (1 << 10)) / 100)K" }
        return "\(n)B"
    }

    private func config(_ args: RESPArguments) {
        if args.is(1, "GET") {
            guard args.count >= 3 else { _ = wrongArity(args); return }
            var found: [(String, String)] = []
            for i in 2..<args.count {
                let pattern = GlobPattern(Array(args.string(i).lowercased().utf8))
                for (name, value) in configParameters where pattern.matches(Array(name.utf8)) && !found.contains(where: { $0.0 == name }) {
                    found.append((name, value))
                }
            }
            RESPWriter.map(found.count, resp3: resp.resp3, into: &output)
            for (name, value) in found {
                RESPWriter.bulk(name, into: &output)
                RESPWriter.bulk(value, into: &output)
            }
        } else if args.is(1, "SET") {
            RESPWriter.error("ERR CONFIG SET is not supported by ShmKV: use Config/shmkvd.yaml, SHMKV_* variables or flags", into: &output)
        } else if args.is(1, "RESETSTAT") {
            RESPWriter.ok(into: &output)
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try CONFIG HELP.", into: &output)
        }
    }

    private func writeCommandInfo(_ c: RESPCommandInfo) {
        RESPWriter.array(10, into: &output)
        RESPWriter.bulk(c.name, into: &output)
        RESPWriter.integer(c.arity, into: &output)
        RESPWriter.set(c.flags.count, resp3: resp.resp3, into: &output)
        for f in c.flags { RESPWriter.simple(f, into: &output) }
        RESPWriter.integer(c.firstKey, into: &output)
        RESPWriter.integer(c.lastKey, into: &output)
        RESPWriter.integer(c.step, into: &output)
        RESPWriter.set(0, resp3: resp.resp3, into: &output)   // ACL categories
        RESPWriter.set(0, resp3: resp.resp3, into: &output)   // tips
        RESPWriter.array(0, into: &output)                    // key specs
        RESPWriter.array(0, into: &output)                    // subcommands
    }

    private func command(_ args: RESPArguments) {
        let all = RESPCommandInfo.all
        if args.count == 1 {
            RESPWriter.array(all.count, into: &output)
            for c in all { writeCommandInfo(c) }
        } else if args.is(1, "COUNT") {
            RESPWriter.integer(all.count, into: &output)
        } else if args.is(1, "LIST") {
            RESPWriter.array(all.count, into: &output)
            for c in all { RESPWriter.bulk(c.name, into: &output) }
        } else if args.is(1, "INFO") {
            let names = args.count > 2 ? (2..<args.count).map { args.string($0) } : all.map(\.name)
            RESPWriter.array(names.count, into: &output)
            for name in names {
                if let c = RESPCommandInfo.named(name) { writeCommandInfo(c) } else { RESPWriter.nullArray(resp3: resp.resp3, into: &output) }
            }
        } else if args.is(1, "DOCS") {
            let names = args.count > 2 ? (2..<args.count).map { args.string($0) } : all.map(\.name)
            let known = names.compactMap { RESPCommandInfo.named($0) }
            RESPWriter.map(known.count, resp3: resp.resp3, into: &output)
            for c in known {
                RESPWriter.bulk(c.name, into: &output)
                RESPWriter.map(3, resp3: resp.resp3, into: &output)
                RESPWriter.bulk("summary", into: &output)
                RESPWriter.bulk(c.summary, into: &output)
                RESPWriter.bulk("since", into: &output)
                RESPWriter.bulk("1.0.0", into: &output)
                RESPWriter.bulk("group", into: &output)
                RESPWriter.bulk(c.group, into: &output)
            }
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try COMMAND HELP.", into: &output)
        }
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    private func hello(_ args: RESPArguments) {
        var version = resp.resp3 ? 3 : 2
        var i = 1
        if args.count > 1 {
            guard let v = args.integer(1) else {
                RESPWriter.error("ERR Protocol version is not an integer or out of range", into: &output)
                return
            }
            guard v == 2 || v == 3 else { RESPWriter.error("NOPROTO unsupported protocol version", into: &output); return }
            version = Int(v)
            i = 2
        }
        var name: String? = nil
        while i < args.count {
            if args.is(i, "AUTH"), i + 2 < args.count {
                if let problem = authenticate(name: args.string(i + 1), password: args[i + 2]) {
                    RESPWriter.error(problem, into: &output)
                    return
                }
                i += 3
            } else if args.is(i, "SETNAME"), i + 1 < args.count {
                let candidate = args.string(i + 1)
                guard validClientName(candidate) else {
                    RESPWriter.error("ERR Client names cannot contain spaces, newlines or special characters.", into: &output)
                    return
                }
                name = candidate
                i += 2
            } else {
                RESPWriter.error("ERR Syntax error in HELLO option '\(args.string(i))'", into: &output)
                return
            }
        }
        guard user != nil else {
            RESPWriter.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time", into: &output)
            return
        }
        resp.resp3 = version == 3
        context.resp.update(resp.clientID) { info in
            info.protocolVersion = version
            if let name { info.name = name }
        }
        RESPWriter.map(7, resp3: resp.resp3, into: &output)
        RESPWriter.bulk("server", into: &output); RESPWriter.bulk("redis", into: &output)
        RESPWriter.bulk("version", into: &output); RESPWriter.bulk("7.2.0", into: &output)
        RESPWriter.bulk("proto", into: &output); RESPWriter.integer(version, into: &output)
        RESPWriter.bulk("id", into: &output); RESPWriter.integer(resp.clientID, into: &output)
        RESPWriter.bulk("mode", into: &output); RESPWriter.bulk("standalone", into: &output)
        RESPWriter.bulk("role", into: &output); RESPWriter.bulk("master", into: &output)
        RESPWriter.bulk("modules", into: &output); RESPWriter.array(0, into: &output)
    }

    private func validClientName(_ name: String) -> Bool {
        name.utf8.allSatisfy { $0 > 32 && $0 < 127 }
    }

    private func clientLine(_ c: ClientInfo) -> String {
        "id=\(c.id) addr=\(c.address) laddr=? fd=0 name=\(c.name) age=\(max(0, monotonicSeconds() - c.connectedAt)) db=0 "
            + "sub=0 psub=0 multi=-1 resp=\(c.protocolVersion) lib-name=\(c.libraryName) lib-ver=\(c.libraryVersion) cmd=\(c.lastCommand)\n"
    }

    private func client(_ args: RESPArguments) {
        context.resp.update(resp.clientID) { $0.lastCommand = "client|" + (args.count > 1 ? args.string(1).lowercased() : "") }
        if args.is(1, "SETNAME") {
            guard args.count == 3 else { _ = wrongArity(args); return }
            let name = args.string(2)
            guard validClientName(name) || name.isEmpty else {
                RESPWriter.error("ERR Client names cannot contain spaces, newlines or special characters.", into: &output)
                return
            }
            context.resp.update(resp.clientID) { $0.name = name }
            RESPWriter.ok(into: &output)
        } else if args.is(1, "GETNAME") {
            let name = context.resp.info(resp.clientID)?.name ?? ""
            if name.isEmpty { RESPWriter.null(resp3: resp.resp3, into: &output) } else { RESPWriter.bulk(name, into: &output) }
        } else if args.is(1, "SETINFO") {
            guard args.count == 4 else { _ = wrongArity(args); return }
            let value = args.string(3)
            if args.is(2, "LIB-NAME") { context.resp.update(resp.clientID) { $0.libraryName = value } }
            else if args.is(2, "LIB-VER") { context.resp.update(resp.clientID) { $0.libraryVersion = value } }
            else { RESPWriter.error("ERR Unrecognized option '\(args.string(2))'", into: &output); return }
            RESPWriter.ok(into: &output)
        } else if args.is(1, "ID") {
            RESPWriter.integer(resp.clientID, into: &output)
        } else if args.is(1, "LIST") {
            RESPWriter.verbatim(context.resp.all.map(clientLine).joined(), resp3: resp.resp3, into: &output)
        } else if args.is(1, "INFO") {
            let line = context.resp.info(resp.clientID).map(clientLine) ?? ""
            RESPWriter.verbatim(line, resp3: resp.resp3, into: &output)
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.count > 1 ? args.string(1) : "")'. Try CLIENT HELP.", into: &output)
        }
    }
}
