import Reactor
import Wire

/// CONFIG GET, SET, RESETSTAT and HELP, in Redis's words. The configuration is read at start
/// (Config/shmkvd.yaml, SHMKV_* variables, flags); of the parameters CONFIG GET reports only
/// `notify-keyspace-events` changes while the daemon runs. CONFIG SET of another reported parameter to
/// the value it already has succeeds (it changes nothing); to any other value it is an error that says
/// where the setting lives.
extension RESPSession {
    /// The parameters CONFIG GET reports, in Redis's names (what redis-benchmark, clients and tools ask),
    /// with the configuration key that sets each (nil: fixed in ShmKV).
    private var configParameters: [(name: String, value: String, key: String?)] {
        let c = context.configuration
        var port = "0", bind = ""
        if let listen = c.listen, case .tcp(let host, let p)? = Endpoint.parseHostPort(listen) { port = String(p); bind = host }
        return [
            ("save", "", nil), ("appendonly", "no", nil), ("databases", "1", nil), ("maxmemory", "0", nil),
            ("maxmemory-policy", "noeviction", nil), ("maxclients", String(c.maxClients), "limits.maxClients"),
            ("timeout", String(c.idleTimeout), "limits.idleTimeout"), ("port", port, "listen"), ("bind", bind, "listen"),
            ("unixsocket", c.socketPath ?? "", "socket"), ("proto-max-bulk-len", String(c.respMaxBulkLength), "resp.maxBulkLength"),
            ("notify-keyspace-events", context.notifications.classes.description, "resp.notifyKeyspaceEvents"),
            ("appendfsync", c.durability == .durable ? "always" : "no", "storage.durability"),
            ("cluster-enabled", context.cluster == nil ? "no" : "yes", "cluster.enabled"), ("dir", context.store.directory, "dataDir"),
        ]
    }

    func config(_ args: RESPArguments) {
        if args.is(1, "GET") {
            guard args.count >= 3 else { wrongArity(args, "config|get"); return }
            var found: [(String, String)] = []
            for i in 2..<args.count {
                let asked = args.string(i)
                // As Redis 7: a plain name is answered under the name as given, a glob under each match.
                if !asked.contains(where: { "*?[\\".contains($0) }) {
                    if let p = configParameters.first(where: { $0.name == asked.lowercased() }), !found.contains(where: { $0.0.lowercased() == p.name }) {
                        found.append((asked, p.value))
                    }
                    continue
                }
                let pattern = GlobPattern(Array(asked.lowercased().utf8))
                for p in configParameters where pattern.matches(Array(p.name.utf8)) && !found.contains(where: { $0.0.lowercased() == p.name }) {
                    found.append((p.name, p.value))
                }
            }
            RESPWriter.map(found.count, resp3: resp3, into: &output)
            for (name, value) in found {
                RESPWriter.bulk(name, into: &output)
                RESPWriter.bulk(value, into: &output)
            }
        } else if args.is(1, "SET") {
            configSet(args)
        } else if args.is(1, "RESETSTAT") {
            guard args.count == 2 else { wrongArity(args, "config|resetstat"); return }
            context.resetStatistics()
            RESPWriter.ok(into: &output)
        } else if args.is(1, "REWRITE") {
            RESPWriter.error("ERR CONFIG REWRITE is not supported by ShmKV: the configuration is Config/shmkvd.yaml, SHMKV_* variables and flags, read at start", into: &output)
        } else if args.is(1, "HELP") {
            helpReply([
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.", "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.", "RESETSTAT",
                "    Reset statistics reported by the INFO command.", "REWRITE", "    Rewrite the configuration file.",
                "HELP", "    Prints this help.",
            ])
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try CONFIG HELP.", into: &output)
        }
    }

    /// CONFIG SET name value [name value …]: all or nothing, as in Redis 7.
    private func configSet(_ args: RESPArguments) {
        guard args.count >= 4 else { wrongArity(args, "config|set"); return }
        guard args.count % 2 == 0 else { return RESPWriter.error("ERR syntax error", into: &output) }
        let parameters = configParameters
        var events: KeyspaceEventClasses? = nil
        var seen: [String] = []
        for i in stride(from: 2, to: args.count, by: 2) {
            let name = args.string(i).lowercased(), value = args.string(i + 1)
            let failed = "ERR CONFIG SET failed (possibly related to argument '\(name)') - "
            guard let parameter = parameters.first(where: { $0.name == name }) else {
                return RESPWriter.error("ERR Unknown option or number of arguments for CONFIG SET - '\(args.string(i))'", into: &output)
            }
            if seen.contains(name) { return RESPWriter.error(failed + "duplicate parameter", into: &output) }
            seen.append(name)
            if name == "notify-keyspace-events" {
                guard let classes = KeyspaceEventClasses(value) else {
                    return RESPWriter.error(failed + KeyspaceEventClasses.invalidMessage, into: &output)
                }
                events = classes
            } else if value != parameter.value {
                let why = parameter.key.map { "ShmKV reads it only at start: set \($0) in Config/shmkvd.yaml (or its SHMKV_* variable) and restart" }
                    ?? "ShmKV does not change it (always '\(parameter.value)')"
                return RESPWriter.error(failed + why, into: &output)
            }
        }
        if let events { context.notifications.set(events) }
        RESPWriter.ok(into: &output)
    }
}
