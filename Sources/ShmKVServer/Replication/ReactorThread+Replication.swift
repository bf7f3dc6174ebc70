import Locks

extension ReactorThread {
    /// Asks this loop to start or stop following a primary.
    func post(_ request: ReplicationRequest) {
        replicationRequests.withLock { $0.append(request) }
        loop.wake()
    }

    func applyReplicationRequests() {
        let requests = replicationRequests.withLock { taken in defer { taken.removeAll() }; return taken }
        let state = context.batcher.replication
        for request in requests {
            let predecessors = stopFollowing()
            switch request {
            case .follow(let primary, let password, let user):
                state.isReplica.store(true, ordering: .relaxed)
                let link = ReplicaLink(index: 0, primary: primary, password: password, user: user,
                                       listeningPort: state.listeningPort.load(ordering: .relaxed), reactor: self)
                link.predecessors = predecessors
                replicaLink = link
                link.start()
            case .followCluster(let seed, let password, let user):
                state.isReplica.store(true, ordering: .relaxed)
                let follower = ClusterFollower(seed: seed, password: password, user: user, reactor: self)
                follower.predecessors = predecessors
                clusterFollower = follower
                follower.start()
            case .stop:
                state.isReplica.store(false, ordering: .relaxed)
                state.marksMayBeStale.store(true, ordering: .relaxed)
            }
        }
    }

    /// Stops the link or the cluster follower there is; the connections whose writes may still be
    /// with the writer. The links' states are retired (INFO and ROLE no longer report them), not
    /// removed: the writes still to commit record their marks from them.
    func stopFollowing() -> [ServerConnection] {
        let connections = (replicaLink?.stop()).map { [$0] } ?? []
        let clusterConnections = clusterFollower?.stop() ?? []
        replicaLink = nil
        clusterFollower = nil
        let state = context.batcher.replication
        state.links.withLock { links in for i in links.indices { links[i].retired = true } }
        state.cluster.withLock { $0 = nil }
        return connections + clusterConnections
    }
}
