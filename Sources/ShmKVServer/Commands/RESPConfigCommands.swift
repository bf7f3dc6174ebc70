import Reactor
import Wire

/// CONFIG GET, SET, RESETSTAT and HELP.
enum ConfigCommands {
    /// The parameters CONFIG GET reports, in Redis's names (what redis-benchmark, clients and tools ask),
    /// with the configuration key that sets each (nil: fixed in ShmKV).
    private static func configParameters(_ session: RESPSession) -> [(name: String, value: String, key: String?)] {
        let c = session.context.configuration
        var port = "0", bind = ""
        if let listen = c.listen, case .tcp(let host, let p)? = Endpoint.parseHostPort(listen) { port = String(p); bind = host }
        let limits = session.context.batcher.collectionLimits.withLock { $0 }
        let thresholds = CollectionLimits.parameters.enumerated().flatMap { i, p in
            [p.name] + (p.alias.map { [$0] } ?? [])
        }.map { name in
            (name, String(limits[CollectionLimits.parameters.firstIndex { $0.name == name || $0.alias == name }!]), String?.none)
        }
        let busy = String(session.context.scripts.shared.threshold.load(ordering: .relaxed))
        let replication = session.context.batcher.replication
        let readOnly = replication.readOnly.load(ordering: .relaxed) ? "yes" : "no"
        let stale = replication.serveStaleData.load(ordering: .relaxed) ? "yes" : "no"
        return thresholds + [
            ("busy-reply-threshold", busy, nil), ("lua-time-limit", busy, nil),
            ("save", "", nil), ("appendonly", "no", nil), ("databases", String(session.context.store.databaseCount), "databases"), ("maxmemory", "0", nil),
            ("maxmemory-policy", "noeviction", nil), ("maxclients", String(c.maxClients), "limits.maxClients"),
            ("timeout", String(c.idleTimeout), "limits.idleTimeout"), ("port", port, "listen"), ("bind", bind, "listen"),
            ("unixsocket", c.socketPath ?? "", "socket"), ("proto-max-bulk-len", String(c.respMaxBulkLength), "resp.maxBulkLength"),
            ("notify-keyspace-events", session.context.notifications.classes.description, "resp.notifyKeyspaceEvents"),
            ("appendfsync", c.durability == .durable ? "always" : "no", "storage.durability"),
            ("replica-read-only", readOnly, "replication.readOnly"), ("slave-read-only", readOnly, "replication.readOnly"),
            ("replica-serve-stale-data", stale, "replication.serveStaleData"), ("slave-serve-stale-data", stale, "replication.serveStaleData"),
            ("masteruser", c.replicationPrimaryUser, "replication.primaryUser"),
            ("cluster-enabled", session.context.cluster == nil ? "no" : "yes", "cluster.enabled"), ("dir", session.context.store.directory, "dataDir"),
        ]
    }

    static func config(_ session: RESPSession, _ args: RESPArguments) {
        if args.is(1, "GET") {
            guard args.count >= 3 else { session.wrongArity(args, "config|get"); return }
            var found: [(String, String)] = []
            for i in 2..<args.count {
                let asked = args.string(i)
                // As Redis 7: a plain name is answered under the name as given, a glob under each match.
                if !asked.contains(where: { "*?[\\".contains($0) }) {
                    if let p = configParameters(session).first(where: { $0.name == asked.lowercased() }), !found.contains(where: { $0.0.lowercased() == p.name }) {
                        found.append((asked, p.value))
                    }
                    continue
                }
                let pattern = GlobPattern(Array(asked.lowercased().utf8))
                for p in configParameters(session) where pattern.matches(Array(p.name.utf8)) && !found.contains(where: { $0.0.lowercased() == p.name }) {
                    found.append((p.name, p.value))
                }
            }
            RESPWriter.map(found.count, resp3: session.resp3, into: &session.output)
            for (name, value) in found {
                RESPWriter.bulk(name, into: &session.output)
                RESPWriter.bulk(value, into: &session.output)
            }
        } else if args.is(1, "SET") {
            configSet(session, args)
        } else if args.is(1, "RESETSTAT") {
            guard args.count == 2 else { session.wrongArity(args, "config|resetstat"); return }
            session.context.resetStatistics()
            RESPWriter.ok(into: &session.output)
        } else if args.is(1, "REWRITE") {
            RESPWriter.error("ERR CONFIG REWRITE is not supported by ShmKV: the configuration is Config/shmkvd.yaml, SHMKV_* variables and flags, read at start", into: &session.output)
        } else if args.is(1, "HELP") {
            session.helpReply([
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.", "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.", "RESETSTAT",
                "    Reset statistics reported by the INFO command.", "REWRITE", "    Rewrite the configuration file.",
                "HELP", "    Prints this help.",
            ])
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try CONFIG HELP.", into: &session.output)
        }
    }

    /// CONFIG SET name value [name value …]: all or nothing, as in Redis 7.
    private static func configSet(_ session: RESPSession, _ args: RESPArguments) {
        guard args.count >= 4 else { session.wrongArity(args, "config|set"); return }
        guard args.count % 2 == 0 else { return RESPWriter.error("ERR syntax error", into: &session.output) }
        let parameters = configParameters(session)
        var events: KeyspaceEventClasses? = nil
        var limits = session.context.batcher.collectionLimits.withLock { $0 }
        var seen: [String] = []
        var busyThreshold: Int? = nil
        var replicaFlags: [(readOnly: Bool, value: Bool)] = []
        let replication = session.context.batcher.replication
        for i in stride(from: 2, to: args.count, by: 2) {
            let name = args.string(i).lowercased(), value = args.string(i + 1)
            let failed = "ERR CONFIG SET failed (possibly related to argument '\(name)') - "
            guard let parameter = parameters.first(where: { $0.name == name }) else {
                return RESPWriter.error("ERR Unknown option or number of arguments for CONFIG SET - '\(args.string(i))'", into: &session.output)
            }
            if seen.contains(name) { return RESPWriter.error(failed + "duplicate parameter", into: &session.output) }
            seen.append(name)
            if name == "notify-keyspace-events" {
                guard let classes = KeyspaceEventClasses(value) else {
                    return RESPWriter.error(failed + KeyspaceEventClasses.invalidMessage, into: &session.output)
                }
                events = classes
            } else if ["replica-read-only", "slave-read-only", "replica-serve-stale-data", "slave-serve-stale-data"].contains(name) {
                guard let flag = ["yes": true, "no": false][value.lowercased()] else {
                    return RESPWriter.error(failed + "argument must be 'yes' or 'no'", into: &session.output)
                }
                replicaFlags.append((name.hasSuffix("read-only"), flag))
            } else if name == "busy-reply-threshold" || name == "lua-time-limit" {
                switch CollectionLimits.parse(value, memory: false) {
                case .success(let n): busyThreshold = n
                case .failure(let refusal): return RESPWriter.error(failed + refusal.why, into: &session.output)
                }
            } else if let index = CollectionLimits.parameters.firstIndex(where: { $0.name == name || $0.alias == name }) {
                switch CollectionLimits.parse(value, memory: CollectionLimits.parameters[index].memory, signed: CollectionLimits.parameters[index].signed) {
                case .success(let n): limits[index] = n
                case .failure(let refusal): return RESPWriter.error(failed + refusal.why, into: &session.output)
                }
            } else if value != parameter.value {
                let why = parameter.key.map { "ShmKV reads it only at start: set \($0) in Config/shmkvd.yaml (or its SHMKV_* variable) and restart" }
                    ?? "ShmKV does not change it (always '\(parameter.value)')"
                return RESPWriter.error(failed + why, into: &session.output)
            }
        }
        if let events { session.context.notifications.set(events) }
        for (readOnly, value) in replicaFlags {
            if readOnly { replication.readOnly.store(value, ordering: .relaxed) } else { replication.serveStaleData.store(value, ordering: .relaxed) }
        }
        // Read by the next script as it starts.
        if let busyThreshold { session.context.scripts.shared.threshold.store(busyThreshold, ordering: .relaxed) }
        // Read by the writer at the start of each batch: writes queued before this one may still see the
        // old thresholds (they were sent before it).
        session.context.batcher.collectionLimits.withLock { $0 = limits }
        RESPWriter.ok(into: &session.output)
    }
}
