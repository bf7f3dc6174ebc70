import Wire

/// Every RESP command ShmKV answers: the one list of command names in the daemon. Adding a command is
/// an entry here and its handler in the family's file (`RESPStringCommands`, `RESPKeyCommands`,
/// `RESPServerCommands`, `RESPConnectionCommands`, `RESPPubSubCommands`).
enum CommandTable {
    static let all: [Command] = numbered([
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
        // Hashes
        Command("hset", arity: -4, [.write, .denyOOM, .fast], keys: .single, .hash, "Sets fields of a hash; answers how many are new.",
                .write(HashCommands.hset)),
        Command("hmset", arity: -4, [.write, .denyOOM, .fast], keys: .single, .hash, "Sets fields of a hash (answers OK).",
                .write(HashCommands.hset)),
        Command("hsetnx", arity: 4, [.write, .denyOOM, .fast], keys: .single, .hash, "Sets a field only if it does not exist.",
                .write(HashCommands.hsetnx)),
        Command("hget", arity: 3, [.readonly, .fast], keys: .single, .hash, "Returns a field's value.",
                .keyspace(HashCommands.hget)),
        Command("hmget", arity: -3, [.readonly, .fast], keys: .single, .hash, "Returns the values of several fields.",
                .keyspace(HashCommands.hmget)),
        Command("hgetall", arity: 2, [.readonly], keys: .single, .hash, "Returns every field and value.",
                .keyspace(HashCommands.hgetall)),
        Command("hkeys", arity: 2, [.readonly], keys: .single, .hash, "Returns every field.",
                .keyspace(HashCommands.hkeys)),
        Command("hvals", arity: 2, [.readonly], keys: .single, .hash, "Returns every value.",
                .keyspace(HashCommands.hvals)),
        Command("hlen", arity: 2, [.readonly, .fast], keys: .single, .hash, "Returns the number of fields.",
                .keyspace(HashCommands.hlen)),
        Command("hstrlen", arity: 3, [.readonly, .fast], keys: .single, .hash, "Returns the length of a field's value.",
                .keyspace(HashCommands.hstrlen)),
        Command("hexists", arity: 3, [.readonly, .fast], keys: .single, .hash, "Says whether a field exists.",
                .keyspace(HashCommands.hexists)),
        Command("hdel", arity: -3, [.write, .fast], keys: .single, .hash, "Deletes fields; the key goes with the last one.",
                .write(HashCommands.hdel)),
        Command("hincrby", arity: 4, [.write, .denyOOM, .fast], keys: .single, .hash, "Adds an integer to a field's value.",
                .write(HashCommands.hincrby)),
        Command("hincrbyfloat", arity: 4, [.write, .denyOOM, .fast], keys: .single, .hash, "Adds a floating-point number to a field's value.",
                .write(HashCommands.hincrbyfloat)),
        Command("hrandfield", arity: -2, [.readonly], keys: .single, .hash, "Returns random fields (COUNT, WITHVALUES).",
                .keyspace(HashCommands.hrandfield)),
        Command("hscan", arity: -3, [.readonly], keys: .single, .hash, "Iterates over fields and values (cursor, MATCH, COUNT, NOVALUES).",
                .keyspace(HashCommands.hscan)),
        // Sets
        Command("sadd", arity: -3, [.write, .denyOOM, .fast], keys: .single, .set, "Adds members to a set; answers how many are new.",
                .write(SetCommands.sadd)),
        Command("srem", arity: -3, [.write, .fast], keys: .single, .set, "Removes members; the key goes with the last one.",
                .write(SetCommands.srem)),
        Command("smembers", arity: 2, [.readonly], keys: .single, .set, "Returns every member.",
                .keyspace(SetCommands.smembers)),
        Command("sismember", arity: 3, [.readonly, .fast], keys: .single, .set, "Says whether a member is in a set.",
                .keyspace(SetCommands.sismember)),
        Command("smismember", arity: -3, [.readonly, .fast], keys: .single, .set, "Says for each member whether it is in a set.",
                .keyspace(SetCommands.smismember)),
        Command("scard", arity: 2, [.readonly, .fast], keys: .single, .set, "Returns the number of members.",
                .keyspace(SetCommands.scard)),
        Command("spop", arity: -2, [.write, .fast], keys: .single, .set, "Removes and returns random members (COUNT).",
                .write(SetCommands.spop)),
        Command("srandmember", arity: -2, [.readonly], keys: .single, .set, "Returns random members (COUNT; negative: repeats allowed).",
                .keyspace(SetCommands.srandmember)),
        Command("smove", arity: 4, [.write, .fast], keys: .two, .set, "Moves a member from one set to another.",
                .write(SetCommands.smove)),
        Command("sinter", arity: -2, [.readonly], keys: .all, .set, "Returns the intersection of sets.",
                .keyspace(SetCommands.sinter)),
        Command("sintercard", arity: -3, [.readonly], keys: .numbered(at: 1), .set, "Counts the intersection of sets (LIMIT).",
                .keyspace(SetCommands.sintercard)),
        Command("sinterstore", arity: -3, [.write, .denyOOM], keys: .all, .set, "Stores the intersection of sets.",
                .write(SetCommands.store)),
        Command("sunion", arity: -2, [.readonly], keys: .all, .set, "Returns the union of sets.",
                .keyspace(SetCommands.sunion)),
        Command("sunionstore", arity: -3, [.write, .denyOOM], keys: .all, .set, "Stores the union of sets.",
                .write(SetCommands.store)),
        Command("sdiff", arity: -2, [.readonly], keys: .all, .set, "Returns the members of the first set not in the others.",
                .keyspace(SetCommands.sdiff)),
        Command("sdiffstore", arity: -3, [.write, .denyOOM], keys: .all, .set, "Stores the difference of sets.",
                .write(SetCommands.store)),
        Command("sscan", arity: -3, [.readonly], keys: .single, .set, "Iterates over members (cursor, MATCH, COUNT).",
                .keyspace(SetCommands.sscan)),
        // Sorted sets
        Command("zadd", arity: -4, [.write, .denyOOM, .fast], keys: .single, .sortedSet, "Adds members with scores (NX, XX, GT, LT, CH, INCR).",
                .write(SortedSetCommands.zadd)),
        Command("zincrby", arity: 4, [.write, .denyOOM, .fast], keys: .single, .sortedSet, "Adds to a member's score.",
                .write(SortedSetCommands.zincrby)),
        Command("zrem", arity: -3, [.write, .fast], keys: .single, .sortedSet, "Removes members; the key goes with the last one.",
                .write(SortedSetCommands.zrem)),
        Command("zremrangebyrank", arity: 4, [.write], keys: .single, .sortedSet, "Removes the members of a range of ranks.",
                .write(SortedSetCommands.zremrange)),
        Command("zremrangebyscore", arity: 4, [.write], keys: .single, .sortedSet, "Removes the members of a range of scores.",
                .write(SortedSetCommands.zremrange)),
        Command("zremrangebylex", arity: 4, [.write], keys: .single, .sortedSet, "Removes the members of a range of members.",
                .write(SortedSetCommands.zremrange)),
        Command("zscore", arity: 3, [.readonly, .fast], keys: .single, .sortedSet, "Returns a member's score.",
                .keyspace(SortedSetCommands.zscore)),
        Command("zmscore", arity: -3, [.readonly, .fast], keys: .single, .sortedSet, "Returns the scores of several members.",
                .keyspace(SortedSetCommands.zmscore)),
        Command("zcard", arity: 2, [.readonly, .fast], keys: .single, .sortedSet, "Returns the number of members.",
                .keyspace(SortedSetCommands.zcard)),
        Command("zcount", arity: 4, [.readonly, .fast], keys: .single, .sortedSet, "Counts the members of a range of scores.",
                .keyspace(SortedSetCommands.zcount)),
        Command("zlexcount", arity: 4, [.readonly, .fast], keys: .single, .sortedSet, "Counts the members of a range of members.",
                .keyspace(SortedSetCommands.zcount)),
        Command("zrank", arity: -3, [.readonly, .fast], keys: .single, .sortedSet, "Returns a member's rank (WITHSCORE).",
                .keyspace(SortedSetCommands.zrank)),
        Command("zrevrank", arity: -3, [.readonly, .fast], keys: .single, .sortedSet, "Returns a member's rank, highest first (WITHSCORE).",
                .keyspace(SortedSetCommands.zrank)),
        Command("zrange", arity: -4, [.readonly], keys: .single, .sortedSet, "Returns a range by rank, score or member (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES).",
                .keyspace(SortedSetCommands.zrange(form: .auto, reverse: nil))),
        Command("zrangestore", arity: -5, [.write, .denyOOM], keys: .two, .sortedSet, "Stores a range of a sorted set.",
                .write(SortedSetCommands.zrangestore)),
        Command("zrevrange", arity: -4, [.readonly], keys: .single, .sortedSet, "Returns a range by rank, highest first.",
                .keyspace(SortedSetCommands.zrange(form: .rank, reverse: true))),
        Command("zrangebyscore", arity: -4, [.readonly], keys: .single, .sortedSet, "Returns a range by score.",
                .keyspace(SortedSetCommands.zrange(form: .score, reverse: false))),
        Command("zrevrangebyscore", arity: -4, [.readonly], keys: .single, .sortedSet, "Returns a range by score, highest first.",
                .keyspace(SortedSetCommands.zrange(form: .score, reverse: true))),
        Command("zrangebylex", arity: -4, [.readonly], keys: .single, .sortedSet, "Returns a range by member.",
                .keyspace(SortedSetCommands.zrange(form: .lex, reverse: false))),
        Command("zrevrangebylex", arity: -4, [.readonly], keys: .single, .sortedSet, "Returns a range by member, highest first.",
                .keyspace(SortedSetCommands.zrange(form: .lex, reverse: true))),
        Command("zpopmin", arity: -2, [.write, .fast], keys: .single, .sortedSet, "Removes and returns the lowest-scored members.",
                .write(SortedSetCommands.zpop)),
        Command("zpopmax", arity: -2, [.write, .fast], keys: .single, .sortedSet, "Removes and returns the highest-scored members.",
                .write(SortedSetCommands.zpop)),
        Command("zmpop", arity: -4, [.write], keys: .numbered(at: 1), .sortedSet, "Pops from the first non-empty sorted set (MIN|MAX, COUNT).",
                .write(SortedSetCommands.zmpop)),
        Command("zrandmember", arity: -2, [.readonly], keys: .single, .sortedSet, "Returns random members (COUNT, WITHSCORES).",
                .keyspace(SortedSetCommands.zrandmember)),
        Command("zunion", arity: -3, [.readonly], keys: .numbered(at: 1), .sortedSet, "Returns the union of sorted sets (WEIGHTS, AGGREGATE, WITHSCORES).",
                .keyspace(SortedSetAlgebra.read)),
        Command("zinter", arity: -3, [.readonly], keys: .numbered(at: 1), .sortedSet, "Returns the intersection of sorted sets (WEIGHTS, AGGREGATE, WITHSCORES).",
                .keyspace(SortedSetAlgebra.read)),
        Command("zdiff", arity: -3, [.readonly], keys: .numbered(at: 1), .sortedSet, "Returns the members of the first sorted set not in the others (WITHSCORES).",
                .keyspace(SortedSetAlgebra.read)),
        Command("zintercard", arity: -3, [.readonly], keys: .numbered(at: 1), .sortedSet, "Counts the intersection of sorted sets (LIMIT).",
                .keyspace(SortedSetAlgebra.intercard)),
        Command("zunionstore", arity: -4, [.write, .denyOOM], keys: .destinationThenNumbered, .sortedSet, "Stores the union of sorted sets.",
                .write(SortedSetAlgebra.store)),
        Command("zinterstore", arity: -4, [.write, .denyOOM], keys: .destinationThenNumbered, .sortedSet, "Stores the intersection of sorted sets.",
                .write(SortedSetAlgebra.store)),
        Command("zdiffstore", arity: -4, [.write, .denyOOM], keys: .destinationThenNumbered, .sortedSet, "Stores the difference of sorted sets.",
                .write(SortedSetAlgebra.store)),
        Command("zscan", arity: -3, [.readonly], keys: .single, .sortedSet, "Iterates over members and scores (cursor, MATCH, COUNT).",
                .keyspace(SortedSetCommands.zscan)),
        // Keys
        Command("type", arity: 2, [.readonly, .fast], keys: .single, .generic, "Returns the type of a key: string or none.",
                .keyspace(KeyCommands.type)),
        Command("rename", arity: 3, [.write], keys: .two, .generic, "Renames a key, with its deadline, replacing the target.",
                .write(KeyCommands.rename(onlyIfAbsent: false))),
        Command("renamenx", arity: 3, [.write, .fast], keys: .two, .generic, "Renames a key only if the new name does not exist.",
                .write(KeyCommands.rename(onlyIfAbsent: true))),
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
        Command("config", arity: -2, [.admin, .hasSubcommands], .server, "CONFIG GET: returns configuration parameters.", subcommands: ["GET", "SET", "RESETSTAT", "REWRITE", "HELP"],
                .immediate(ConfigCommands.config)),
        Command("command", arity: -1, [.loading, .stale, .hasSubcommands], .server, "Returns details about the commands (COUNT, DOCS, INFO, LIST).", subcommands: ["COUNT", "DOCS", "INFO", "LIST"],
                .immediate(ServerCommands.command)),
        Command("hello", arity: -1, [.noScript, .fast, .allowedBeforeAuth], .connection, "Handshakes with the server (protocol 2 or 3, AUTH, SETNAME).",
                .immediate(ConnectionCommands.hello)),
        Command("client", arity: -2, [.hasSubcommands], .connection, "CLIENT SETNAME, GETNAME, SETINFO, ID, LIST, INFO, REPLY, TRACKING, CACHING, GETREDIR, TRACKINGINFO.", subcommands: ["CACHING", "GETNAME", "GETREDIR", "ID", "INFO", "LIST", "REPLY", "SETINFO", "SETNAME", "TRACKING", "TRACKINGINFO"],
                .immediate(ConnectionCommands.client)),
        Command("select", arity: 2, [.fast], .connection, "Selects a numbered database (0 to databases-1).",
                .immediate(ConnectionCommands.select)),
        Command("auth", arity: -2, [.noScript, .fast, .allowedBeforeAuth], .connection, "Authenticates the connection: AUTH [username] password.",
                .immediate(ConnectionCommands.auth)),
        Command("acl", arity: -2, [.noScript, .loading, .stale, .hasSubcommands], .server, "ACL WHOAMI and ACL LIST (users are configured in auth.users).",
                .immediate(ServerCommands.acl)),
        Command("quit", arity: -1, [.fast, .allowedBeforeAuth, .allowedWhileSubscribed, .controlsTransaction], .connection, "Closes the connection.",
                .immediate(ConnectionCommands.quit)),
        Command("reset", arity: 1, [.fast, .allowedWhileSubscribed, .controlsTransaction], .connection, "Resets the connection: RESP2, no name, no subscriptions.",
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
        Command("lastsave", arity: 1, [.admin, .loading, .stale, .fast], .server, "Returns when the store last reached the disk (Unix seconds).",
                .immediate(ServerCommands.lastSave)),
        Command("save", arity: 1, [.admin, .noScript, .noMulti], .server, "Commits what is queued and syncs the store to disk.",
                .write { _ in .operation(.save) }),
        Command("wait", arity: 3, [.noScript], .server, "Waits for replicas: a single node has none, answers 0.",
                .immediate(ServerCommands.wait)),
        Command("waitaof", arity: 4, [.noScript], .server, "Waits for writes on disk: [1, 0] in the durable mode.",
                .immediate(ServerCommands.waitAOF)),
        Command("function", arity: -2, [.noScript, .hasSubcommands], .server, "FUNCTION FLUSH and LIST (ShmKV has no functions).",
                .immediate(ServerCommands.function)),
        // Transactions
        Command("multi", arity: 1, [.noScript, .loading, .stale, .fast, .controlsTransaction], .transactions, "Starts a transaction.",
                .immediate(TransactionCommands.multi)),
        Command("exec", arity: 1, [.noScript, .loading, .stale, .controlsTransaction], .transactions, "Runs the queued commands as one atomic unit.",
                .immediate(TransactionCommands.exec)),
        Command("discard", arity: 1, [.noScript, .loading, .stale, .fast, .controlsTransaction], .transactions, "Drops the queued commands.",
                .immediate(TransactionCommands.discard)),
        Command("watch", arity: -2, [.noScript, .loading, .stale, .fast, .controlsTransaction], keys: .all, .transactions, "Makes EXEC fail if a key changes first.",
                .immediate(TransactionCommands.watch)),
        Command("unwatch", arity: 1, [.noScript, .loading, .stale, .fast], .transactions, "Forgets the watched keys.",
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
    ])

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
