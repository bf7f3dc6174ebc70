import Wire

/// Every RESP command ShmKV answers: the one list of command names in the daemon. Adding a command is
/// an entry here and its handler in the family's file (`RESPStringCommands`, `RESPKeyCommands`,
/// `RESPServerCommands`, `RESPConnectionCommands`, `RESPPubSubCommands`).
enum CommandTable {
    static let all: [Command] = numbered(strings + collections + lists + scripting)

    /// Strings, keys, the server, connections, transactions and pub/sub.
    private static let strings: [Command] = [
        // Strings
        Command("get", arity: 2, [.readonly, .fast], keys: .single, .string, "Returns the string value of a key.",
                .keyspace(StringCommands.get)),
        Command("set", arity: -3, [.write, .denyOOM], keys: .single, .string, "Sets the string value of a key (NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL).",
                .write(StringCommands.set)),
        Command("setnx", arity: 3, [.write, .denyOOM, .fast], keys: .single, .string, "Sets the value of a key only when it does not exist.",
                .write(StringCommands.setNX)),
        Command("setex", arity: 4, [.write, .denyOOM], keys: .single, .string, "Sets a value and its time to live in seconds.",
                .write(StringCommands.setEx(seconds: true))),
        Command("psetex", arity: 4, [.write, .denyOOM], keys: .single, .string, "Sets a value and its time to live in milliseconds.",
                .write(StringCommands.setEx(seconds: false))),
        Command("getex", arity: -2, [.write, .fast], keys: .single, .string, "Returns a value and changes its expiry (EX, PX, EXAT, PXAT, PERSIST).",
                .write(StringCommands.getEx)),
        Command("getdel", arity: 2, [.write, .fast], keys: .single, .string, "Returns the value of a key and deletes it.",
                .write(StringCommands.getDel)),
        Command("mget", arity: -2, [.readonly, .fast], keys: .all, .string, "Returns the values of several keys.",
                .keyspace(StringCommands.mget)),
        Command("mset", arity: -3, [.write, .denyOOM], keys: .pairs, .string, "Sets several keys in one atomic batch.",
                .write(StringCommands.mset(onlyIfNoneExist: false))),
        Command("msetnx", arity: -3, [.write, .denyOOM], keys: .pairs, .string, "Sets several keys only if none of them exists.",
                .write(StringCommands.mset(onlyIfNoneExist: true))),
        Command("incr", arity: 2, [.write, .denyOOM, .fast], keys: .single, .string, "Increments the integer value of a key by one.",
                .write(StringCommands.incrBy(1))),
        Command("incrby", arity: 3, [.write, .denyOOM, .fast], keys: .single, .string, "Increments the integer value of a key by a number.",
                .write(StringCommands.incrBy(nil))),
        Command("decr", arity: 2, [.write, .denyOOM, .fast], keys: .single, .string, "Decrements the integer value of a key by one.",
                .write(StringCommands.incrBy(-1))),
        Command("decrby", arity: 3, [.write, .denyOOM, .fast], keys: .single, .string, "Decrements the integer value of a key by a number.",
                .write(StringCommands.incrBy(nil, negated: true))),
        Command("strlen", arity: 2, [.readonly, .fast], keys: .single, .string, "Returns the length of a string value.",
                .keyspace(StringCommands.strlen)),
        Command("append", arity: 3, [.write, .denyOOM, .fast], keys: .single, .string, "Appends to the value of a key.",
                .write(StringCommands.append)),
        Command("getrange", arity: 4, [.readonly], keys: .single, .string, "Returns a substring of a value.", aliases: ["substr"],
                .keyspace(StringCommands.getRange)),
        Command("getset", arity: 3, [.write, .denyOOM, .fast], keys: .single, .string, "Sets a key's value and returns the old one (the deadline goes).",
                .write(StringCommands.getSet)),
        Command("setrange", arity: 4, [.write, .denyOOM], keys: .single, .string, "Overwrites part of a value from an offset (zero padding).",
                .write(StringCommands.setRange)),
        Command("incrbyfloat", arity: 3, [.write, .denyOOM, .fast], keys: .single, .string, "Adds a floating-point number to a value (long double, as Redis).",
                .write(StringCommands.incrByFloat)),
        Command("lcs", arity: -3, [.readonly], keys: .two, .string, "Finds the longest common subsequence of two values (LEN, IDX, MINMATCHLEN, WITHMATCHLEN).",
                .keyspace(StringCommands.lcs)),
        // Keys
        Command("type", arity: 2, [.readonly, .fast], keys: .single, .generic, "Returns the type of a key: string or none.",
                .keyspace(KeyCommands.type)),
        Command("rename", arity: 3, [.write], keys: .two, .generic, "Renames a key, with its deadline, replacing the target.",
                .write(KeyCommands.rename(onlyIfAbsent: false))),
        Command("renamenx", arity: 3, [.write, .fast], keys: .two, .generic, "Renames a key only if the new name does not exist.",
                .write(KeyCommands.rename(onlyIfAbsent: true))),
        Command("dump", arity: 2, [.readonly], keys: .single, .generic, "Returns a key's value serialized as Redis's DUMP payload.",
                .keyspace(DumpCommands.dump)),
        Command("restore", arity: -4, [.write, .denyOOM], keys: .single, .generic,
                "Creates a key from a DUMP payload (REPLACE, ABSTTL, IDLETIME, FREQ).", .write(DumpCommands.restore)),
        Command("restore-asking", arity: -4, [.write, .denyOOM], keys: .single, .server,
                "Cluster: RESTORE of a key a slot migration moves (what a target shard's replication stream carries).",
                .write(DumpCommands.restore)),
        Command("copy", arity: -3, [.write, .denyOOM], keys: .two, .generic, "Copies a value of any type and its deadline to another key (DB, REPLACE).",
                .write(KeyCommands.copy)),
        Command("randomkey", arity: 1, [.readonly, .touchesAllKeys], .generic, "Returns a key chosen at random (not uniformly).",
                .keyspace(KeyCommands.randomKey)),
        Command("object", arity: -2, [.readonly, .hasSubcommands], keys: .afterSubcommand, .generic, "OBJECT ENCODING, FREQ, IDLETIME, REFCOUNT of a key.", subcommands: ["ENCODING", "FREQ", "IDLETIME", "REFCOUNT", "HELP"],
                .keyspace(KeyCommands.object)),
        Command("memory", arity: -2, [.readonly, .hasSubcommands], keys: .afterSubcommand, .server, "MEMORY USAGE: the bytes a key takes in LMDB.", subcommands: ["USAGE", "HELP"],
                .keyspace(KeyCommands.memory)),
        Command("move", arity: 3, [.write, .fast], keys: .single, .generic, "Moves a key to another numbered database.",
                .write(KeyCommands.move)),
        Command("swapdb", arity: 3, [.write, .fast, .touchesAllKeys], .server, "Swaps two numbered databases (one commit; readers see both or neither).",
                .write(KeyCommands.swapdb)),
        Command("del", arity: -2, [.write], keys: .all, .generic, "Deletes one or more keys.",
                .write(KeyCommands.del)),
        Command("unlink", arity: -2, [.write, .fast], keys: .all, .generic, "Deletes one or more keys (as DEL).",
                .write(KeyCommands.del)),
        Command("exists", arity: -2, [.readonly, .fast], keys: .all, .generic, "Counts how many of the keys exist.",
                .keyspace(KeyCommands.exists)),
        Command("expire", arity: -3, [.write, .fast], keys: .single, .generic, "Sets a key's time to live in seconds (NX, XX, GT, LT).",
                .write(KeyCommands.expire(seconds: true, absolute: false))),
        Command("pexpire", arity: -3, [.write, .fast], keys: .single, .generic, "Sets a key's time to live in milliseconds (NX, XX, GT, LT).",
                .write(KeyCommands.expire(seconds: false, absolute: false))),
        Command("expireat", arity: -3, [.write, .fast], keys: .single, .generic, "Sets a key's expiry as a Unix time in seconds (NX, XX, GT, LT).",
                .write(KeyCommands.expire(seconds: true, absolute: true))),
        Command("pexpireat", arity: -3, [.write, .fast], keys: .single, .generic, "Sets a key's expiry as a Unix time in milliseconds (NX, XX, GT, LT).",
                .write(KeyCommands.expire(seconds: false, absolute: true))),
        Command("persist", arity: 2, [.write, .fast], keys: .single, .generic, "Removes a key's expiry.",
                .write(KeyCommands.persist)),
        Command("ttl", arity: 2, [.readonly, .fast], keys: .single, .generic, "Returns a key's time to live in seconds.",
                .keyspace(KeyCommands.ttl(milliseconds: false, absolute: false))),
        Command("pttl", arity: 2, [.readonly, .fast], keys: .single, .generic, "Returns a key's time to live in milliseconds.",
                .keyspace(KeyCommands.ttl(milliseconds: true, absolute: false))),
        Command("expiretime", arity: 2, [.readonly, .fast], keys: .single, .generic, "Returns a key's expiry as a Unix time in seconds.",
                .keyspace(KeyCommands.ttl(milliseconds: false, absolute: true))),
        Command("pexpiretime", arity: 2, [.readonly, .fast], keys: .single, .generic, "Returns a key's expiry as a Unix time in milliseconds.",
                .keyspace(KeyCommands.ttl(milliseconds: true, absolute: true))),
        Command("touch", arity: -2, [.readonly, .fast], keys: .all, .generic, "Counts how many of the keys exist (no access times are kept).",
                .keyspace(KeyCommands.exists)),
        Command("scan", arity: -2, [.readonly], .generic, "Iterates over keys (cursor, MATCH, COUNT).",
                .keyspace(KeyCommands.scan)),
        Command("keys", arity: 2, [.readonly], .generic, "Returns every key that matches a pattern.",
                .keyspace(KeyCommands.keys)),
        Command("dbsize", arity: 1, [.readonly, .fast], .server, "Returns the number of keys.",
                .keyspace(KeyCommands.dbsize)),
        Command("flushdb", arity: -1, [.write, .admin, .touchesAllKeys], .server, "Deletes every key of the selected database (if resp.allowFlush permits).",
                .write(KeyCommands.flush)),
        Command("flushall", arity: -1, [.write, .admin, .touchesAllKeys], .server, "Deletes every key (if resp.allowFlush permits).",
                .write(KeyCommands.flush)),
        // Connection
        Command("ping", arity: -1, [.fast, .allowedBeforeAuth, .allowedWhileSubscribed], .connection, "Returns PONG, or the argument.",
                .immediate(ConnectionCommands.ping)),
        Command("echo", arity: 2, [.fast], .connection, "Returns the argument.",
                .immediate(ConnectionCommands.echo)),
        // Server
        Command("info", arity: -1, [.loading, .stale, .readsStatistics], .server, "Returns information and statistics about the server.",
                .immediate(ServerCommands.info)),
        Command("config", arity: -2, [.admin, .loading, .stale, .hasSubcommands], .server, "CONFIG GET: returns configuration parameters.", subcommands: ["GET", "SET", "RESETSTAT", "REWRITE", "HELP"],
                .immediate(ConfigCommands.config)),
        Command("command", arity: -1, [.loading, .stale, .hasSubcommands], .server, "Returns details about the commands (COUNT, DOCS, GETKEYS, INFO, LIST).", subcommands: ["COUNT", "DOCS", "GETKEYS", "INFO", "LIST"],
                .immediate(ServerCommands.command)),
        Command("hello", arity: -1, [.noScript, .fast, .allowedBeforeAuth, .allowBusy], .connection, "Handshakes with the server (protocol 2 or 3, AUTH, SETNAME).",
                .immediate(ConnectionCommands.hello)),
        Command("client", arity: -2, [.hasSubcommands], .connection, "CLIENT SETNAME, GETNAME, SETINFO, ID, LIST, INFO, REPLY, TRACKING, CACHING, GETREDIR, TRACKINGINFO, UNBLOCK.", subcommands: ["CACHING", "GETNAME", "GETREDIR", "ID", "INFO", "LIST", "REPLY", "SETINFO", "SETNAME", "TRACKING", "TRACKINGINFO", "UNBLOCK"],
                .immediate(ConnectionCommands.client)),
        Command("select", arity: 2, [.fast], .connection, "Selects a numbered database (0 to databases-1).",
                .immediate(ConnectionCommands.select)),
        Command("auth", arity: -2, [.noScript, .fast, .allowedBeforeAuth, .allowBusy], .connection, "Authenticates the connection: AUTH [username] password.",
                .immediate(ConnectionCommands.auth)),
        Command("acl", arity: -2, [.noScript, .loading, .stale, .hasSubcommands], .server, "ACL WHOAMI and ACL LIST (users are configured in auth.users).",
                .immediate(ServerCommands.acl)),
        Command("quit", arity: -1, [.fast, .allowedBeforeAuth, .allowedWhileSubscribed, .controlsTransaction, .allowBusy], .connection, "Closes the connection.",
                .immediate(ConnectionCommands.quit)),
        Command("reset", arity: 1, [.fast, .allowedWhileSubscribed, .controlsTransaction, .allowBusy], .connection, "Resets the connection: RESP2, no name, no subscriptions.",
                .immediate(ConnectionCommands.reset)),
        Command("time", arity: 1, [.fast], .server, "Returns the server time.",
                .immediate(ServerCommands.time)),
        Command("cluster", arity: -2, [.hasSubcommands], .server, "CLUSTER SLOTS, SHARDS, NODES, INFO, KEYSLOT, MYID (static slot map).", subcommands: ["COUNTKEYSINSLOT", "GETKEYSINSLOT", "INFO", "KEYSLOT", "MYID", "NODES", "SHARDS", "SLOTS"],
                .immediate(ClusterCommands.cluster)),
        Command("readonly", arity: 1, [.fast, .loading, .stale], .connection, "Cluster: reads on this connection (every node is a master).",
                .immediate(ClusterCommands.clusterConnectionMode)),
        Command("readwrite", arity: 1, [.fast, .loading, .stale], .connection, "Cluster: back from READONLY.",
                .immediate(ClusterCommands.clusterConnectionMode)),
        Command("asking", arity: 1, [.fast], .connection, "Cluster: the next command follows an ASK redirection.",
                .immediate(ClusterCommands.clusterConnectionMode)),
        Command("replicaof", arity: 3, [.admin, .noScript, .stale], .server, "Follows a Redis or Valkey primary as a replica (REPLICAOF host port), or stops (NO ONE).",
                .immediate(ReplicationCommands.replicaOf)),
        Command("slaveof", arity: 3, [.admin, .noScript, .stale], .server, "REPLICAOF's old name.",
                .immediate(ReplicationCommands.replicaOf)),
        Command("role", arity: 1, [.noScript, .loading, .stale, .fast], .server, "The replication role: master, or slave with its primary, link state and offset.",
                .immediate(ReplicationCommands.role)),
        Command("replconf", arity: -1, [.admin, .noScript, .loading, .stale, .allowBusy], .server, "Replication's own messages (GETACK from a primary).",
                .immediate(ReplicationCommands.replconf)),
        Command("lastsave", arity: 1, [.admin, .loading, .stale, .fast], .server, "Returns when the store last reached the disk (Unix seconds).",
                .immediate(ServerCommands.lastSave)),
        Command("save", arity: 1, [.admin, .noScript, .noMulti], .server, "Commits what is queued and syncs the store to disk.",
                .write { _ in .operation(.save) }),
        Command("wait", arity: 3, [.noScript], .server, "Waits for replicas: a single node has none, answers 0.",
                .immediate(ServerCommands.wait)),
        Command("waitaof", arity: 4, [.noScript], .server, "Waits for writes on disk: [1, 0] in the durable mode.",
                .immediate(ServerCommands.waitAOF)),
        Command("shutdown", arity: -1, [.admin, .noScript, .loading, .stale, .noMulti, .allowBusy], .server,
                "Stops the daemon as SIGTERM does (if resp.allowShutdown permits); NOSAVE also stops a busy script.",
                .immediate(ServerCommands.shutdown)),
        // Transactions
        Command("multi", arity: 1, [.noScript, .loading, .stale, .fast, .controlsTransaction, .allowBusy], .transactions, "Starts a transaction.",
                .immediate(TransactionCommands.multi)),
        Command("exec", arity: 1, [.noScript, .loading, .stale, .controlsTransaction], .transactions, "Runs the queued commands as one atomic unit.",
                .immediate(TransactionCommands.exec)),
        Command("discard", arity: 1, [.noScript, .loading, .stale, .fast, .controlsTransaction, .allowBusy], .transactions, "Drops the queued commands.",
                .immediate(TransactionCommands.discard)),
        Command("watch", arity: -2, [.noScript, .loading, .stale, .fast, .controlsTransaction, .allowBusy], keys: .all, .transactions, "Makes EXEC fail if a key changes first.",
                .immediate(TransactionCommands.watch)),
        Command("unwatch", arity: 1, [.noScript, .loading, .stale, .fast, .allowBusy], .transactions, "Forgets the watched keys.",
                .immediate(TransactionCommands.unwatch)),
        // Pub/Sub
        Command("subscribe", arity: -2, [.pubsub, .fast, .allowedWhileSubscribed], .pubsub, "Listens to channels (PUBLISH messages and keyspace notifications).",
                .immediate { PubSubCommands.subscribe($0, $1, patterns: false) }),
        Command("psubscribe", arity: -2, [.pubsub, .fast, .allowedWhileSubscribed], .pubsub, "Listens to channel patterns.",
                .immediate { PubSubCommands.subscribe($0, $1, patterns: true) }),
        Command("publish", arity: 3, [.pubsub, .loading, .stale, .fast, .publishes], .pubsub, "Posts a message to a channel (on the ring: local readers get it too).",
                .write(PubSubCommands.publish)),
        Command("pubsub", arity: -2, [.pubsub, .loading, .stale, .hasSubcommands], .pubsub, "PUBSUB CHANNELS, NUMSUB, NUMPAT (the daemon's subscribers).", subcommands: ["CHANNELS", "NUMPAT", "NUMSUB"],
                .immediate(PubSubCommands.pubsub)),
        Command("unsubscribe", arity: -1, [.pubsub, .fast, .allowedWhileSubscribed], .pubsub, "Stops listening to channels.",
                .immediate { PubSubCommands.unsubscribe($0, $1, patterns: false) }),
        Command("punsubscribe", arity: -1, [.pubsub, .fast, .allowedWhileSubscribed], .pubsub, "Stops listening to channel patterns.",
                .immediate { PubSubCommands.unsubscribe($0, $1, patterns: true) }),
    ]

    /// Gives each entry its position (the index of its statistics); runs once, inside `all`'s lazy
    /// initialisation, so before any thread can see an entry.
    /// Every native opcode, described as the RESP entries above are (docs/PROTOCOL.md lists them):
    /// one access check, one subscribed-mode rule and one slot check read both.
    static let native: [NativeCommand] = [
        NativeCommand(.ping, "ping", [.fast, .allowedBeforeAuth, .allowedWhileSubscribed], .connection, "Echoes its payload."),
        NativeCommand(.get, "get", [.readonly, .fast], .string, "One key's value, or NOT_FOUND."),
        NativeCommand(.mget, "mget", [.readonly, .fast], .string, "Several keys' values from one snapshot."),
        NativeCommand(.put, "put", [.write, .denyOOM], .string, "Stores a value under a condition, with a deadline or keeping it."),
        NativeCommand(.delete, "delete", [.write, .fast], .generic, "Deletes a key; says whether it existed."),
        NativeCommand(.mput, "mput", [.write, .denyOOM], .string, "Stores several pairs, all or none."),
        NativeCommand(.scan, "scan", [.readonly], .generic, "One page of keys and values by prefix or range."),
        NativeCommand(.incrBy, "incrby", [.write, .denyOOM, .fast], .string, "Adds a delta to a decimal value."),
        NativeCommand(.stats, "stats", [.readsStatistics], .server, "The daemon's statistics."),
        NativeCommand(.watch, "watch", [.readonly], .generic, "Streams the changes of keys under a prefix."),
        NativeCommand(.auth, "auth", [.fast, .allowedBeforeAuth], .connection, "Authenticates the connection."),
        NativeCommand(.ttl, "ttl", [.readonly, .fast], .generic, "A key's deadline and the milliseconds left."),
        NativeCommand(.expire, "expire", [.write, .fast], .generic, "Sets or removes a key's deadline."),
        NativeCommand(.subscribe, "subscribe", [.pubsub], .pubsub, "Streams the messages of channels and patterns."),
        NativeCommand(.publish, "publish", [.pubsub, .fast, .publishes], .pubsub, "Posts a message on the ring."),
        NativeCommand(.transaction, "txn", [.write, .denyOOM], .transactions, "Writes under conditions, all or none."),
        // Its command is checked against its own entry above (permissions, keys, arity, slots).
        NativeCommand(.call, "call", [], .generic, "Runs a RESP command of the table; answers its RESP2 reply."),
    ]

    /// The native entries by opcode value (a look-up per request without hashing).
    private static let nativeByOpcode: [NativeCommand?] = {
        var entries = [NativeCommand?](repeating: nil, count: 256)
        for command in native {
            precondition(entries[Int(command.opcode.rawValue)] == nil, "command table: opcode \(command.opcode) is listed twice")
            entries[Int(command.opcode.rawValue)] = command
        }
        precondition(Opcode.allCases.allSatisfy { entries[Int($0.rawValue)] != nil }, "command table: an opcode has no entry")
        return entries
    }()

    /// The entry for a native request's opcode byte, or nil for an opcode this version does not know.
    static func native(code: UInt8) -> NativeCommand? { nativeByOpcode[Int(code)] }

    private static func numbered(_ commands: [Command]) -> [Command] {
        for (i, command) in commands.enumerated() { command.index = i }
        return commands
    }

    /// Open addressing over `1 << slotBits` slots (linear probing), each holding an index into `all`
    /// and the name it stands for; -1 is empty. Built once; more than four times as many slots as names.
    private static let slotBits = 10
    // The entries are also kept unmanaged beside their names: `all` holds them for the process's life,
    // so a request's look-up takes no reference.
    private static let slots: [(name: CommandName, entry: Unmanaged<Command>)?] = {
        var slots = [(name: CommandName, entry: Unmanaged<Command>)?](repeating: nil, count: 1 << slotBits)
        for (i, command) in all.enumerated() {
            for name in [command.name] + command.aliases {
                guard let key = CommandName(name) else { preconditionFailure("command table: \(name) is too long") }
                var slot = key.slot(bits: slotBits)
                while let taken = slots[slot] {
                    precondition(taken.name != key, "command table: \(name) is listed twice")
                    slot = (slot + 1) & (slots.count - 1)
                }
                slots[slot] = (key, Unmanaged.passUnretained(all[i]))
            }
        }
        return slots
    }()

    /// The entry for a name, or nil.
    private static func find(_ key: CommandName) -> Unmanaged<Command>? {
        var slot = key.slot(bits: slotBits)
        while let entry = slots[slot] {
            if entry.name == key { return entry.entry }
            slot = (slot + 1) & (slots.count - 1)
        }
        return nil
    }

    /// The entry for a request's command name (any case), or nil for an unknown command. A hash and
    /// a probe or two; no allocation, no reference taken (the table lives as long as the process: use
    /// the entry with `_withUnsafeGuaranteedRef`).
    static func lookup(_ name: UnsafeRawBufferPointer) -> Unmanaged<Command>? {
        guard let key = CommandName(name) else { return nil }
        return find(key)
    }

    /// The entry for a name given as text (COMMAND INFO, DOCS).
    static func named(_ name: String) -> Command? {
        guard let key = CommandName(name) else { return nil }
        return find(key)?.takeUnretainedValue()
    }
}
