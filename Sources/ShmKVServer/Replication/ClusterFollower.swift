import RDB
import LMDB
import Posix
import Reactor
import StoreLayout

/// A replica of a whole Redis Cluster (`replication.cluster`), on reactor 0: asks a node for CLUSTER
/// SLOTS (the seed first, then any node it has learnt of), opens one `ReplicaLink` per shard's primary,
/// each with its own offset and its own slots, and asks again every few seconds and whenever a link
/// fails, so that it follows what changes: a failover (the shard's link moves to the new primary,
/// which continues the old one's history with a partial resync), a shard added (a new link, a full
/// sync of its slots), slots moved (the keys come through the streams; the links' slots follow), a
/// shard gone (its link stops). A shard's full sync replaces only its slots.
final class ClusterFollower {
    let seed: Endpoint
    let password: String?
    let user: String
    unowned let reactor: ReactorThread
    var context: ServerContext { reactor.context }
    /// The links, by index (the index names the link's mark in `__meta` and its staging sets).
    private(set) var links: [Int: ReplicaLink] = [:]
    let claims = MigrationClaims()
    /// Nodes to ask, the seed first; which is next.
    private var nodes: [Endpoint]
    private var nextNode = 0
    private var probe: ClusterProbe?
    private var lastProbe = 0
    /// A link failed: ask for the topology at the next tick.
    private var troubled = false
    private var stopped = false
    /// The connections of the links this follower replaces (REPLICAOF).
    var predecessors: [ServerConnection] = []
    /// What the last discovery found, for INFO and the log (logged when it changes).
    private var lastOutcome = ""
    static let probeSeconds = 5

    init(seed: Endpoint, password: String?, user: String, reactor: ReactorThread) {
        self.seed = seed
        self.password = password
        self.user = user
        self.reactor = reactor
        nodes = [seed]
    }

    func start() {
        context.batcher.replication.cluster.withLock { $0 = ClusterStatus(seed: seed) }
        discover()
        tick()
    }

    /// Stops every link; their connections, whose writes may still be with the writer.
    func stop() -> [ServerConnection] {
        stopped = true
        probe?.cancel()
        probe = nil
        let connections = links.values.compactMap { $0.stop() } + predecessors
        links = [:]
        return connections
    }

    /// A link failed or closed: the topology may have changed (a failover), ask soon.
    func linkTroubled() { if !stopped { troubled = true } }

    private func tick() {
        reactor.loop.schedule(afterMilliseconds: 1000) { [weak self] in
            guard let self, !self.stopped else { return }
            let now = MonotonicClock.seconds()
            if let probe = self.probe, now - probe.started >= Self.probeSeconds {
                probe.cancel()
                self.probe = nil
                self.discovered(.failure(ReplicationError("\(probe.node) did not answer CLUSTER SLOTS within \(Self.probeSeconds) s")), from: probe.node)
            }
            let (claimed, dropped) = (self.claims.count, self.claims.dropped)
            self.context.batcher.replication.cluster.withLock { $0?.claims = claimed; $0?.droppedDeletes = dropped }
            if self.probe == nil && (self.troubled || now - self.lastProbe >= Self.probeSeconds) { self.discover() }
            self.tick()
        }
    }

    /// Asks the next node for CLUSTER SLOTS.
    private func discover() {
        guard probe == nil, !stopped else { return }
        troubled = false
        lastProbe = MonotonicClock.seconds()
        let node = nodes[nextNode % nodes.count]
        do {
            probe = try ClusterProbe(node: node, password: password, user: user, loop: reactor.loop) { [weak self] result in
                guard let self else { return }
                self.probe = nil
                self.discovered(result, from: node)
            }
        } catch {
            discovered(.failure(ReplicationError("connecting to \(node): \(error)")), from: node)
        }
    }

    private func discovered(_ result: Result<[ClusterShard], ReplicationError>, from node: Endpoint) {
        guard !stopped else { return }
        switch result {
        case .failure(let error):
            // The next node is asked next time.
            nextNode += 1
            report("asking \(node) for the cluster's slots: \(error)", warning: true)
        case .success(let shards) where shards.isEmpty:
            nextNode += 1
            report("\(node) serves no slot (is it a cluster node?)", warning: true)
        case .success(let shards):
            for shard in shards { for endpoint in shard.nodes where !nodes.contains(endpoint) { nodes.append(endpoint) } }
            follow(shards)
            context.batcher.replication.cluster.withLock {
                $0?.shards = shards.count
                $0?.discoveries += 1
                $0?.lastError = ""
            }
        }
    }

    private func report(_ text: String, warning: Bool) {
        context.batcher.replication.cluster.withLock { $0?.lastError = warning ? text : "" }
        guard text != lastOutcome else { return }
        lastOutcome = text
        if warning { context.logger.warning("cluster replication: \(text)") } else { context.logger.notice("cluster replication: \(text)") }
    }

    /// Links for `shards`: kept, moved to a shard's new primary, opened, or retired.
    private func follow(_ shards: [ClusterShard]) {
        let current = links.isEmpty ? storedMarks() : links.map { ShardLink(index: $0.key, primary: $0.value.primary, slots: $0.value.slots ?? SlotSet()) }
        let plan = ClusterTopology.assign(shards, current: current, limit: StoreLayout.maxReplicationLinks)
        let state = context.batcher.replication
        for (index, shard) in plan.links {
            if let link = links[index], link.primary == shard.primary {
                if link.slots != shard.slots {
                    context.logger.notice("cluster replication: link \(index) (\(shard.primary)) now serves slots \(shard.slots.text)")
                    link.slots = shard.slots
                }
                continue
            }
            let old = links[index]
            if let old { context.logger.notice("cluster replication: slots \(shard.slots.text) moved from \(old.primary) to \(shard.primary) (a failover): link \(index) follows it") }
            else { context.logger.notice("cluster replication: link \(index) follows \(shard.primary), slots \(shard.slots.text)") }
            let link = ReplicaLink(index: index, primary: shard.primary, slots: shard.slots, password: password, user: user,
                                   listeningPort: state.listeningPort.load(ordering: .relaxed), reactor: reactor)
            link.follower = self
            link.predecessors = (old?.stop()).map { [$0] } ?? []
            // The first links wait for the writes of what this follower replaced (REPLICAOF).
            link.predecessors += predecessors
            links[index] = link
            link.start()
        }
        predecessors = []
        for index in plan.retired {
            guard let link = links.removeValue(forKey: index) else { continue }
            context.logger.notice("cluster replication: \(link.primary) serves no slot any more: link \(index) stops")
            _ = link.stop()
            state.update(index) { $0.retired = true }
        }
        if plan.unserved > 0 {
            report("\(plan.unserved) shards are not followed: at most \(StoreLayout.maxReplicationLinks) links", warning: true)
        } else {
            report("\(shards.count) shards: " + plan.links.map { "link \($0.index) \($0.shard.primary) slots \($0.shard.slots.text)" }.joined(separator: "; "), warning: false)
        }
        claims.update(links.map { ($0.key, $0.value.slots ?? SlotSet()) })
    }

    /// The links a previous run left marks of (so that a restart resumes each shard's stream).
    private func storedMarks() -> [ShardLink] {
        let store = context.store
        let marks = (try? store.environment.read { txn in
            try (0..<StoreLayout.maxReplicationLinks).compactMap { index -> ShardLink? in
                guard let bytes = try txn.get(store.meta, key: StoreLayout.MetaKey.replication(link: index)).map({ Array($0) }),
                      let mark = ReplicationMark(bytes), let primary = mark.primary else { return nil }
                return ShardLink(index: index, primary: primary, slots: mark.slots ?? SlotSet())
            }
        }) ?? []
        return marks
    }
}

/// What INFO tells of a cluster follower.
struct ClusterStatus: Sendable {
    var seed: Endpoint
    var shards = 0
    var discoveries = 0
    var lastError = ""
    /// Keys a slot migration's target restored that its source still holds (`MigrationClaims`), and
    /// the sources' DELs dropped for such keys.
    var claims = 0
    var droppedDeletes = 0
}
