import Posix
import Wire

/// Redis Cluster's protocol over the static map: key checks in dispatch (`-MOVED`, `-CROSSSLOT`), CLUSTER
/// SLOTS, SHARDS, NODES, INFO, KEYSLOT, MYID, and READONLY/READWRITE/ASKING. Replies are laid out as Redis
/// 7.0 lays them out, so redis-cli -c, redis-benchmark --cluster and redis-py's RedisCluster work.
extension RESPSession {
    static let clusterDisabled = "ERR This instance has cluster support disabled"
}

/// CLUSTER and READONLY, READWRITE, ASKING.
enum ClusterCommands {
    /// READONLY, READWRITE and ASKING: OK on a cluster node (every node is a master: reads are served
    /// where the slot lives anyway).
    static func clusterConnectionMode(_ session: RESPSession, _ args: RESPArguments) {
        guard session.context.cluster != nil else { return RESPWriter.error(RESPSession.clusterDisabled, into: &session.output) }
        RESPWriter.ok(into: &session.output)
    }

    static func cluster(_ session: RESPSession, _ args: RESPArguments) {
        guard let cluster = session.context.cluster else { return RESPWriter.error(RESPSession.clusterDisabled, into: &session.output) }
        if args.is(1, "KEYSLOT") {
            guard args.count == 3 else { session.wrongArity(args, "cluster|keyslot"); return }
            RESPWriter.integer(ClusterMap.slot(args[2]), into: &session.output)
        } else if args.is(1, "MYID") {
            guard args.count == 2 else { session.wrongArity(args, "cluster|myid"); return }
            RESPWriter.bulk(cluster.myself.id, into: &session.output)
        } else if args.is(1, "SLOTS") {
            guard args.count == 2 else { session.wrongArity(args, "cluster|slots"); return }
            let ranges = cluster.slotRanges
            RESPWriter.array(ranges.count, into: &session.output)
            for (range, node) in ranges {
                RESPWriter.array(3, into: &session.output)
                RESPWriter.integer(range.lowerBound, into: &session.output)
                RESPWriter.integer(range.upperBound, into: &session.output)
                RESPWriter.array(4, into: &session.output)
                RESPWriter.bulk(node.host, into: &session.output)
                RESPWriter.integer(node.port, into: &session.output)
                RESPWriter.bulk(node.id, into: &session.output)
                RESPWriter.map(0, resp3: session.resp3, into: &session.output)
            }
        } else if args.is(1, "SHARDS") {
            guard args.count == 2 else { session.wrongArity(args, "cluster|shards"); return }
            clusterShards(session, cluster)
        } else if args.is(1, "NODES") {
            guard args.count == 2 else { session.wrongArity(args, "cluster|nodes"); return }
            let now = WallClock.milliseconds()
            let text = cluster.nodes.enumerated().map { index, node in
                let flags = index == cluster.me ? "myself,master" : "master"
                let slots = node.ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                return ([node.id, "\(node.host):\(node.port)@\(node.port + 10000)", flags, "-", "0",
                         index == cluster.me ? "0" : String(now), String(index + 1), "connected"] + slots).joined(separator: " ") + "\n"
            }.joined()
            RESPWriter.verbatim(text, resp3: session.resp3, into: &session.output)
        } else if args.is(1, "INFO") {
            guard args.count == 2 else { session.wrongArity(args, "cluster|info"); return }
            let fields = [("cluster_state", "ok"), ("cluster_slots_assigned", "16384"), ("cluster_slots_ok", "16384"),
                          ("cluster_slots_pfail", "0"), ("cluster_slots_fail", "0"), ("cluster_known_nodes", String(cluster.nodes.count)),
                          ("cluster_size", String(cluster.nodes.count)), ("cluster_current_epoch", String(cluster.nodes.count)),
                          ("cluster_my_epoch", String(cluster.me + 1)), ("cluster_stats_messages_sent", "0"),
                          ("cluster_stats_messages_received", "0"), ("total_cluster_links_buffer_limit_exceeded", "0")]
            RESPWriter.verbatim(fields.map { "\($0.0):\($0.1)\r\n" }.joined(), resp3: session.resp3, into: &session.output)
        } else if args.is(1, "COUNTKEYSINSLOT") || args.is(1, "GETKEYSINSLOT") {
            RESPWriter.error("ERR CLUSTER \(args.string(1).uppercased()) is not supported by ShmKV: keys are kept in key order, not by slot", into: &session.output)
        } else {
            RESPWriter.error("ERR unknown subcommand '\(args.string(1))'. Try CLUSTER HELP.", into: &session.output)
        }
    }

    /// CLUSTER SHARDS (Redis 7): one shard per node, its slot ranges as a flat list and the node itself.
    private static func clusterShards(_ session: RESPSession, _ cluster: ClusterMap) {
        RESPWriter.array(cluster.nodes.count, into: &session.output)
        for node in cluster.nodes {
            RESPWriter.map(2, resp3: session.resp3, into: &session.output)
            RESPWriter.bulk("slots", into: &session.output)
            RESPWriter.array(node.ranges.count * 2, into: &session.output)
            for range in node.ranges {
                RESPWriter.integer(range.lowerBound, into: &session.output)
                RESPWriter.integer(range.upperBound, into: &session.output)
            }
            RESPWriter.bulk("nodes", into: &session.output)
            RESPWriter.array(1, into: &session.output)
            RESPWriter.map(7, resp3: session.resp3, into: &session.output)
            RESPWriter.bulk("id", into: &session.output); RESPWriter.bulk(node.id, into: &session.output)
            RESPWriter.bulk("port", into: &session.output); RESPWriter.integer(node.port, into: &session.output)
            RESPWriter.bulk("ip", into: &session.output); RESPWriter.bulk(node.host, into: &session.output)
            RESPWriter.bulk("endpoint", into: &session.output); RESPWriter.bulk(node.host, into: &session.output)
            RESPWriter.bulk("role", into: &session.output); RESPWriter.bulk("master", into: &session.output)
            RESPWriter.bulk("replication-offset", into: &session.output); RESPWriter.integer(0, into: &session.output)
            RESPWriter.bulk("health", into: &session.output); RESPWriter.bulk("online", into: &session.output)
        }
    }
}
