import LMDB
import Posix
import Reactor
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The server commands: INFO, COMMAND, TIME, ACL, LASTSAVE, WAIT, WAITAOF, FUNCTION (SAVE is a write in
/// the table; CONFIG is in `RESPConfigCommands`). Each runs on the reactor with the session that asked.
enum ServerCommands {
    static func time(_ session: RESPSession, _ args: RESPArguments) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        RESPWriter.array(2, into: &session.output)
        RESPWriter.bulk(String(ts.tv_sec), into: &session.output)
        RESPWriter.bulk(String(ts.tv_nsec / 1000), into: &session.output)
    }

    static func lastSave(_ session: RESPSession, _ args: RESPArguments) {
        RESPWriter.integer(session.context.stats.lastSave.load(ordering: .relaxed), into: &session.output)
    }

    /// WAIT numreplicas timeout: a single node has no replicas to wait for, and a reply already means
    /// committed, so it answers 0 at once (Redis would block until the timeout when asked for replicas).
    static func wait(_ session: RESPSession, _ args: RESPArguments) {
        guard args.integer(1) != nil else { return RESPWriter.error("ERR value is not an integer or out of range", into: &session.output) }
        guard let timeout = args.integer(2) else { return RESPWriter.error("ERR timeout is not an integer or out of range", into: &session.output) }
        guard timeout >= 0 else { return RESPWriter.error("ERR timeout is negative", into: &session.output) }
        RESPWriter.integer(0, into: &session.output)
    }

    /// WAITAOF numlocal numreplicas timeout (Redis 7.2): [local copies, replicas] that have the
    /// connection's writes on disk. In the durable mode every acknowledged write is synced: [1, 0]. In the
    /// others asking for a local copy is Redis's error for a server without an fsync'd append-only file.
    static func waitAOF(_ session: RESPSession, _ args: RESPArguments) {
        guard let local = args.integer(1), args.integer(2) != nil else {
            return RESPWriter.error("ERR value is not an integer or out of range", into: &session.output)
        }
        guard let timeout = args.integer(3) else { return RESPWriter.error("ERR timeout is not an integer or out of range", into: &session.output) }
        guard timeout >= 0 else { return RESPWriter.error("ERR timeout is negative", into: &session.output) }
        let durable = session.context.configuration.durability == .durable
        if local > 0 && !durable {
            return RESPWriter.error("ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.", into: &session.output)
        }
        RESPWriter.array(2, into: &session.output)
        RESPWriter.integer(durable ? 1 : 0, into: &session.output)
        RESPWriter.integer(0, into: &session.output)
    }

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], with Redis 7.0's checks: the daemon stops as for
    /// SIGTERM (every acknowledged write is in the store already, so SAVE adds nothing), and the
    /// connection ends without a reply, as when redis-server exits. While a script is busy only NOSAVE
    /// is allowed; it stops the script and undoes its writes. There is never a shutdown to ABORT.
    static func shutdown(_ session: RESPSession, _ args: RESPArguments) {
        var nosave = false, save = false, abort = false
        for i in 1..<args.count {
            if args.is(i, "NOSAVE") { nosave = true }
            else if args.is(i, "SAVE") { save = true }
            else if args.is(i, "ABORT") { abort = true }
            else if !args.is(i, "NOW") && !args.is(i, "FORCE") { return RESPWriter.error(RESPError.syntax.message, into: &session.output) }
        }
        if (abort && args.count > 2) || (nosave && save) { return RESPWriter.error(RESPError.syntax.message, into: &session.output) }
        if abort { return RESPWriter.error("ERR No shutdown in progress.", into: &session.output) }
        let scripts = session.context.scripts
        if !nosave, let busy = scripts.busyReply { return RESPWriter.error(busy, into: &session.output) }
        guard session.context.configuration.shutdownAllowed else {
            return RESPWriter.error("ERR SHUTDOWN is disabled on this server (resp.allowShutdown)", into: &session.output)
        }
        session.context.logger.warning("User requested shutdown...")
        scripts.shared.stopForShutdown(now: nosave)
        session.connection.closeAfterFlush()
        session.context.shutdown?()
    }

    /// ACL WHOAMI and ACL LIST; users are configuration, so the rest of ACL is refused.
    static func acl(_ session: RESPSession, _ args: RESPArguments) {
        if args.is(1, "WHOAMI") {
            guard args.count == 2 else { session.wrongArity(args); return }
            RESPWriter.bulk(session.connection.user?.name ?? "default", into: &session.output)
        } else if args.is(1, "LIST") {
            guard args.count == 2 else { session.wrongArity(args); return }
            let users = session.context.authenticator.all.sorted { $0.name < $1.name }
            RESPWriter.array(users.count, into: &session.output)
            for user in users { RESPWriter.bulk(user.aclLine, into: &session.output) }
        } else {
            RESPWriter.error("ERR ACL \(args.string(1).uppercased()) is not supported by ShmKV: users are configured in auth.users (see Config/shmkvd.yaml)", into: &session.output)
        }
    }

    static func info(_ session: RESPSession, _ args: RESPArguments) {
        RESPWriter.verbatim(infoText(session, args), resp3: session.resp3, into: &session.output)
    }

    private static func infoText(_ session: RESPSession, _ args: RESPArguments) -> String {
        let c = session.context.configuration
        let s = session.context.stats
        let env = session.context.store.environment
        let info = try? env.info()
        // One line per numbered database that holds keys.
        var keyspace: [(String, String)] = []
        for database in 0..<session.context.store.databaseCount {
            guard let reader = try? session.connection.reactor.keyspace(database: UInt8(database)),
                  let keys = try? reader.count(), keys > 0 else { continue }
            let expires = (try? reader.countWithDeadlines()) ?? 0
            keyspace.append(("db\(database)", "keys=\(keys),expires=\(expires),avg_ttl=0"))
        }
        let pageSize = (try? env.stat().pageSize) ?? 4096
        let used = ((info?.lastPage ?? 0) + 1) * pageSize
        var port = 0
        if let listen = c.listen, case .tcp(_, let p)? = Endpoint.parseHostPort(listen) { port = p }
        let scripts = session.context.scripts
        let lua = scripts.memoryUsed.load(ordering: .relaxed), functionsMemory = scripts.functionsMemoryUsed.load(ordering: .relaxed)
        let (scriptCount, scriptBytes) = session.context.scripts.bodies.withLock { ($0.count, $0.values.reduce(0) { $0 + $1.count }) }
        let (libraryCount, functionCount) = session.context.scripts.libraries.withLock { ($0.libraries.count, $0.owners.count) }
        var wanted = Set<String>()
        for i in 1..<args.count { wanted.insert(args.string(i).lowercased()) }
        let all = wanted.contains("all") || wanted.contains("everything")
        let isDefault = wanted.isEmpty || wanted.contains("default")
        let sections: [(String, [(String, String)])] = [
            ("Server", [("redis_version", RESPSession.redisVersion), ("shmkv_version", "0.4.0"), ("redis_mode", session.context.cluster == nil ? "standalone" : "cluster"), ("os", "Linux"),
                        ("arch_bits", "64"), ("process_id", String(getpid())), ("tcp_port", String(port)),
                        ("shmkv_ring_epoch", String(session.context.ring.epoch)),
                        ("uptime_in_seconds", String(s.uptimeSeconds)), ("uptime_in_days", String(s.uptimeSeconds / 86400)),
                        ("io_threads_active", String(session.context.reactorCount))]),
            ("Clients", [("connected_clients", String(s.connectionsCurrent.load(ordering: .relaxed))),
                         ("resp_clients", String(session.context.resp.count)), ("maxclients", String(c.maxClients)),
                         ("blocked_clients", String(s.blockedClients.load(ordering: .relaxed)))]),
            ("Memory", [("used_memory", String(used)), ("used_memory_human", humanBytes(session, used)),
                        ("used_memory_dataset", String(used)), ("lmdb_map_size", String(info?.mapSize ?? 0)),
                        ("lmdb_map_resizes", String(s.mapResizes.load(ordering: .relaxed))),
                        ("used_memory_lua", String(lua)), ("used_memory_lua_human", humanBytes(session, lua)),
                        ("used_memory_scripts_eval", String(scriptBytes)), ("number_of_cached_scripts", String(scriptCount)),
                        ("number_of_functions", String(functionCount)), ("number_of_libraries", String(libraryCount)),
                        ("used_memory_vm_functions", String(functionsMemory)),
                        ("shmkv_used_memory_lua_reactors", String(scripts.readersMemory)),
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
                       ("expired_keys", String(s.expiredKeys.load(ordering: .relaxed))), ("evicted_keys", "0"),
                       ("total_error_replies", String(session.context.errors.total.load(ordering: .relaxed)))]),
            ("Replication", ReplicationCommands.infoFields(session.context)),
            ("CPU", cpuFields(session)),
            ("Commandstats", wanted.contains("commandstats") || all ? commandStatFields(session) : []),
            ("Cluster", [("cluster_enabled", session.context.cluster == nil ? "0" : "1")]),
            ("Errorstats", session.context.errors.all.map { ("errorstat_\($0.code)", "count=\($0.count)") }),
            ("Keyspace", keyspace),
        ]
        var text = ""
        // As Redis: no argument or `default` is every section but commandstats; `all`/`everything` all.
        for (name, fields) in sections where all || (isDefault && name != "Commandstats") || wanted.contains(name.lowercased()) {
            if !text.isEmpty { text += "\r\n" }
            text += "# \(name)\r\n"
            for (k, v) in fields { text += "\(k):\(v)\r\n" }
        }
        return text
    }

    /// Redis's CPU section: seconds with six decimals.
    private static func cpuFields(_ session: RESPSession) -> [(String, String)] {
        let cpu = ProcessCPU.usage()
        func text(_ seconds: Double) -> String {
            let micros = Int((seconds * 1_000_000).rounded())
            let fraction = String(micros % 1_000_000)
            return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
        }
        return [("used_cpu_sys", text(cpu.system)), ("used_cpu_user", text(cpu.user)),
                ("used_cpu_sys_children", "0.000000"), ("used_cpu_user_children", "0.000000")]
    }

    /// `cmdstat_get:calls=2,usec=15,usec_per_call=7.50,rejected_calls=0,failed_calls=0`, for commands
    /// called or rejected at least once, as Redis lists them.
    private static func commandStatFields(_ session: RESPSession) -> [(String, String)] {
        session.context.commandStatistics().filter { $0.calls + $0.rejected > 0 }.map { s in
            // usec_per_call with two decimals, rounded half up as printf's %.2f does for these values.
            let hundredths = s.calls == 0 ? 0 : (s.microseconds * 200 + s.calls) / (2 * s.calls)
            let cents = String(hundredths % 100)
            let perCall = "\(hundredths / 100)." + (cents.count == 1 ? "0" : "") + cents
            return ("cmdstat_\(s.name)",
                    "calls=\(s.calls),usec=\(s.microseconds),usec_per_call=\(perCall),rejected_calls=\(s.rejected),failed_calls=\(s.failed)")
        }
    }

    private static func humanBytes(_ session: RESPSession, _ n: Int) -> String {
        if n >= 1 << 30 { return "\(Double(n * 100 / (1 << 30)) / 100)G" }
        if n >= 1 << 20 { return "\(Double(n * 100 / (1 << 20)) / 100)M" }
        if n >= 1 << 10 { return "\(Double(n * 100 / (1 << 10)) / 100)K" }
        return "\(n)B"
    }

    private static func writeCommandInfo(_ session: RESPSession, _ c: Command) {
        RESPWriter.array(10, into: &session.output)
        RESPWriter.bulk(c.name, into: &session.output)
        RESPWriter.integer(c.arity, into: &session.output)
        // `allow_busy` comes last in Redis's order; on a container it belongs to some subcommands only.
        let flags = c.flags.redisFlagNames + (c.keys.movable ? ["movablekeys"] : [])
            + (c.flags.contains(.allowBusy) && !c.flags.contains(.hasSubcommands) ? ["allow_busy"] : [])
        RESPWriter.set(flags.count, resp3: session.resp3, into: &session.output)
        for f in flags { RESPWriter.simple(f, into: &session.output) }
        RESPWriter.integer(c.keys.first, into: &session.output)
        RESPWriter.integer(c.keys.last, into: &session.output)
        RESPWriter.integer(c.keys.step, into: &session.output)
        RESPWriter.set(0, resp3: session.resp3, into: &session.output)   // ACL categories
        RESPWriter.set(0, resp3: session.resp3, into: &session.output)   // tips
        RESPWriter.array(0, into: &session.output)                    // key specs
        RESPWriter.array(0, into: &session.output)                    // subcommands
    }

    /// COMMAND GETKEYS command [arg …]: the keys the table finds in the arguments.
    private static func getKeys(_ session: RESPSession, _ args: RESPArguments) {
        guard args.count >= 3 else { return session.wrongArity(args, "command|getkeys") }
        guard let command = CommandTable.named(args.string(2)) else {
            return RESPWriter.error("ERR Invalid command specified", into: &session.output)
        }
        let inner = RESPArguments(base: args.base, ranges: Array(args.ranges[2...]))
        let n = inner.count
        guard command.arity > 0 ? n == command.arity : n >= -command.arity else {
            return RESPWriter.error("ERR Invalid number of arguments specified for command", into: &session.output)
        }
        let indices = command.keys.indices(in: inner)
        guard !indices.isEmpty else { return RESPWriter.error("ERR The command has no key arguments", into: &session.output) }
        RESPWriter.array(indices.count, into: &session.output)
        for i in indices { RESPWriter.bulk(inner[i], into: &session.output) }
    }

    static func command(_ session: RESPSession, _ args: RESPArguments) {
        let all = CommandTable.all
        if args.count == 1 {
            RESPWriter.array(all.count, into: &session.output)
            for c in all { writeCommandInfo(session, c) }
        } else if args.is(1, "COUNT") {
            RESPWriter.integer(all.count, into: &session.output)
        } else if args.is(1, "LIST") {
            RESPWriter.array(all.count, into: &session.output)
            for c in all { RESPWriter.bulk(c.name, into: &session.output) }
        } else if args.is(1, "INFO") {
            let names = args.count > 2 ? (2..<args.count).map { args.string($0) } : all.map(\.name)
            RESPWriter.array(names.count, into: &session.output)
            for name in names {
                if let c = CommandTable.named(name) { writeCommandInfo(session, c) } else { RESPWriter.nullArray(resp3: session.resp3, into: &session.output) }
            }
        } else if args.is(1, "GETKEYS") {
            getKeys(session, args)
        } else if args.is(1, "DOCS") {
            let names = args.count > 2 ? (2..<args.count).map { args.string($0) } : all.map(\.name)
            let known = names.compactMap { CommandTable.named($0) }
            RESPWriter.map(known.count, resp3: session.resp3, into: &session.output)
            for c in known {
                RESPWriter.bulk(c.name, into: &session.output)
                RESPWriter.map(3, resp3: session.resp3, into: &session.output)
                RESPWriter.bulk("summary", into: &session.output)
                RESPWriter.bulk(c.summary, into: &session.output)
                RESPWriter.bulk("since", into: &session.output)
                RESPWriter.bulk("1.0.0", into: &session.output)
                RESPWriter.bulk("group", into: &session.output)
                RESPWriter.bulk(c.group.rawValue, into: &session.output)
            }
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try COMMAND HELP.", into: &session.output)
        }
    }
}
