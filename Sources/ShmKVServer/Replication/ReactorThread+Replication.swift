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
            let predecessor = replicaLink?.stop()
            replicaLink = nil
            switch request {
            case .follow(let primary, let password, let user):
                state.isReplica.store(true, ordering: .relaxed)
                let link = ReplicaLink(index: 0, primary: primary, password: password, user: user,
                                       listeningPort: state.listeningPort.load(ordering: .relaxed), reactor: self)
                link.predecessor = predecessor
                replicaLink = link
                link.start()
            case .stop:
                state.isReplica.store(false, ordering: .relaxed)
                state.marksMayBeStale.store(true, ordering: .relaxed)
            }
        }
    }
}
