import Posix
import Reactor
import Wire

/// What a reactor's link is asked to do (REPLICAOF, or the configuration at start), posted to reactor 0.
enum ReplicationRequest: Sendable {
    case follow(Endpoint, password: String?, user: String)
    /// A whole Redis Cluster, discovered from one of its nodes.
    case followCluster(Endpoint, password: String?, user: String)
    case stop
}

/// REPLICAOF (and SLAVEOF), ROLE, REPLCONF, and INFO's replication section.
enum ReplicationCommands {
    /// REPLICAOF host port | NO ONE: follows another primary (the dataset is replaced by its full sync,
    /// unless it shares the history followed so far) or stops following (the data stays, writable).
    static func replicaOf(_ session: RESPSession, _ args: RESPArguments) {
        let context = session.context
        if context.cluster != nil { return RESPWriter.error("ERR REPLICAOF not allowed in cluster mode.", into: &session.output) }
        let state = context.batcher.replication
        if args.is(1, "NO") && args.is(2, "ONE") {
            if state.isReplica.load(ordering: .relaxed) {
                context.logger.notice("REPLICAOF NO ONE: no longer a replica; the dataset stays, writable")
                context.post(.stop)
            }
            return RESPWriter.ok(into: &session.output)
        }
        guard let port = args.integer(2), (0...65535).contains(port) else {
            return RESPWriter.error("ERR Invalid master port", into: &session.output)
        }
        let endpoint = Endpoint.tcp(host: args.string(1), port: Int(port))
        if state.isReplica.load(ordering: .relaxed), state.cluster.withLock({ $0 == nil }), state.status(0)?.primary == endpoint {
            return RESPWriter.simple("OK Already connected to specified master", into: &session.output)
        }
        let configuration = context.configuration
        let password: String?
        do {
            password = configuration.replicationPrimaryAuthFile.isEmpty ? nil
                : try Authenticator.readPassword(configuration.replicationPrimaryAuthFile, for: "replication.primaryAuthFile")
        } catch {
            return RESPWriter.error("ERR \(error)", into: &session.output)
        }
        context.logger.notice("REPLICAOF \(endpoint): following it")
        context.post(.follow(endpoint, password: password, user: configuration.replicationPrimaryUser))
        RESPWriter.ok(into: &session.output)
    }

    /// ROLE: ["master", offset, []] or ["slave", host, port, state, offset].
    static func role(_ session: RESPSession, _ args: RESPArguments) {
        let state = session.context.batcher.replication
        guard state.isReplica.load(ordering: .relaxed), let link = state.activeLinks.first?.status else {
            RESPWriter.array(3, into: &session.output)
            RESPWriter.bulk("master", into: &session.output)
            RESPWriter.integer(0, into: &session.output)
            RESPWriter.array(0, into: &session.output)
            return
        }
        let (host, port) = hostAndPort(link.primary)
        RESPWriter.array(5, into: &session.output)
        RESPWriter.bulk("slave", into: &session.output)
        RESPWriter.bulk(host, into: &session.output)
        RESPWriter.integer(port, into: &session.output)
        RESPWriter.bulk(link.phase == .connecting ? "connect" : link.phase.rawValue, into: &session.output)
        RESPWriter.integer(link.phase == .connected ? Int(link.appliedOffset) : -1, into: &session.output)
    }

    /// REPLCONF: on the primary's link, GETACK asks for an ACK (sent after the turn); from anyone else
    /// the options a replica announces are acknowledged (ShmKV serves no replicas of its own).
    static func replconf(_ session: RESPSession, _ args: RESPArguments) {
        if args.is(1, "GETACK"), case .replica(let replica) = session.connection.session {
            replica.ackRequested = true
            return
        }
        if args.is(1, "ACK") { return }
        guard args.count % 2 == 1 else { return RESPWriter.error(RESPError.syntax.message, into: &session.output) }
        RESPWriter.ok(into: &session.output)
    }

    static func hostAndPort(_ endpoint: Endpoint) -> (String, Int) {
        switch endpoint {
        case .tcp(let host, let port): (host, port)
        case .unix(let path): (path, 0)
        }
    }

    /// INFO's replication section, Redis's fields and ShmKV's lag.
    static func infoFields(_ context: ServerContext) -> [(String, String)] {
        let state = context.batcher.replication
        let active = state.activeLinks
        guard state.isReplica.load(ordering: .relaxed), let link = active.first?.status else {
            return [("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
                    ("master_replid", String(repeating: "0", count: 40)), ("master_repl_offset", "0")]
        }
        let now = MonotonicClock.seconds()
        let (host, port) = hostAndPort(link.primary)
        var fields: [(String, String)] = [
            ("role", "slave"), ("master_host", host), ("master_port", String(port)),
            ("master_link_status", active.allSatisfy { $0.status.phase == .connected } ? "up" : "down"),
            ("master_last_io_seconds_ago", link.phase == .connecting ? "-1" : String(now - link.lastIO)),
            ("master_sync_in_progress", link.phase == .sync ? "1" : "0"),
            ("slave_read_repl_offset", String(link.receivedOffset)), ("slave_repl_offset", String(link.appliedOffset)),
        ]
        if link.phase == .sync {
            fields += [("master_sync_total_bytes", String(link.syncSize ?? -1)), ("master_sync_read_bytes", String(link.syncReceived)),
                       ("master_sync_left_bytes", String(link.syncSize.map { $0 - link.syncReceived } ?? -1)),
                       ("master_sync_keys", String(link.syncKeys))]
        }
        if let since = link.downSince { fields.append(("master_link_down_since_seconds", String(now - since))) }
        fields += [
            ("slave_read_only", state.readOnly.load(ordering: .relaxed) ? "1" : "0"), ("replica_announced", "1"),
            ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
            ("master_replid", link.replicationID == "?" ? String(repeating: "0", count: 40) : link.replicationID),
            ("master_repl_offset", String(max(link.appliedOffset, 0))),
            ("shmkv_replication_lag_bytes", String(link.lagBytes)), ("shmkv_replication_lag_seconds", String(link.lagSeconds(now: now))),
            ("shmkv_full_syncs", String(link.fullSyncs)), ("shmkv_partial_syncs", String(link.partialSyncs)),
            ("shmkv_sync_refused_keys", String(link.refusedKeys)),
            ("shmkv_replicated_commands_failed", String(link.failedCommands)),
        ]
        // Both are one line (`noteFailure`, `ReplicaLink.failed`): INFO's format holds.
        if !link.lastFailure.isEmpty { fields.append(("shmkv_replicated_last_failure", link.lastFailure)) }
        if !link.lastError.isEmpty { fields.append(("shmkv_link_last_error", link.lastError)) }
        if let cluster = state.cluster.withLock({ $0 }) { fields += clusterFields(cluster, active, now: now) }
        return fields
    }

    /// A cluster follower's lines: the seed, the shards, and one line per link (Redis has no such
    /// lines: a redis-server replica follows one primary).
    static func clusterFields(_ cluster: ClusterStatus, _ links: [(index: Int, status: LinkStatus)], now: Int) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("shmkv_cluster_seed", cluster.seed.description), ("shmkv_cluster_shards", String(cluster.shards)),
            ("shmkv_cluster_links_up", String(links.filter { $0.status.phase == .connected }.count)),
            ("shmkv_cluster_discoveries", String(cluster.discoveries)),
            ("shmkv_cluster_migrating_keys", String(cluster.claims)), ("shmkv_cluster_migrated_deletes_dropped", String(cluster.droppedDeletes)),
        ]
        if !cluster.lastError.isEmpty { fields.append(("shmkv_cluster_last_error", cluster.lastError)) }
        for (index, link) in links {
            let (host, port) = hostAndPort(link.primary)
            fields.append(("shmkv_link\(index)", "host=\(host),port=\(port),slots=\(link.slots?.text ?? "all"),status=\(link.phase == .connected ? "up" : link.phase.rawValue)"
                + ",replid=\(link.replicationID),offset=\(link.appliedOffset),lag_bytes=\(link.lagBytes),lag_seconds=\(link.lagSeconds(now: now))"
                + ",full_syncs=\(link.fullSyncs),partial_syncs=\(link.partialSyncs),failed_commands=\(link.failedCommands)"))
        }
        return fields
    }
}
