import Locks
import Posix
import Reactor
import Synchronization
import Wire

/// Spreading connections over the loops. The listeners are watched by every loop (EPOLLEXCLUSIVE), and
/// a loop woken for them accepts all that wait: a client that opens its connections at once (a pool,
/// redis-benchmark's 50) could land them all on one loop and leave the others idle. So each accepted
/// connection goes to the loop serving the fewest, handed over through that loop's `adopted` queue.
extension ReactorThread {
    /// Places a connection `here` accepted on the loop of `reactors` with the fewest connections (`here`
    /// when it is one of those).
    /// A loop running a script (a read-only one of its own, or a batch with a script in it that it
    /// commits) is passed over while another can take it, so that a new connection can always reach a
    /// running script (SCRIPT KILL, SHUTDOWN NOSAVE).
    static func place(_ descriptor: consuming Descriptor, acceptedBy here: ReactorThread, among reactors: [ReactorThread]) {
        let combining = here.context.scripts.activity.isRunningScript ? here.context.batcher.combiningReactor.load(ordering: .relaxed) : -1
        func isScripting(_ reactor: ReactorThread) -> Bool { reactor.index == combining || reactor.scripts.activity.isRunningScript }
        var target = here
        var fewest = isScripting(here) ? Int.max : here.connectionCount.load(ordering: .relaxed)
        for reactor in reactors where !isScripting(reactor) {
            let count = reactor.connectionCount.load(ordering: .relaxed)
            if count < fewest {
                target = reactor
                fewest = count
            }
        }
        target.connectionCount.add(1, ordering: .relaxed)
        if target === here {
            here.accept(descriptor)
        } else {
            target.adopt(descriptor)
        }
    }

    /// Leaves a connection for this loop (any thread); closed at once if the loop has stopped.
    private func adopt(_ descriptor: consuming Descriptor) {
        let fd = descriptor.relinquish()
        let queued = adopted.withLock { queue in
            guard queue != nil else { return false }
            queue!.append(fd)
            return true
        }
        if queued {
            loop.wake()
        } else {
            Descriptor(adopting: fd).close()
            connectionCount.subtract(1, ordering: .relaxed)
        }
    }

    /// Starts the connections other loops left for this one (on its thread, when woken).
    func acceptAdopted() {
        let fds = adopted.withLock { queue -> [Int32] in
            guard let list = queue, !list.isEmpty else { return [] }
            queue = []
            return list
        }
        for fd in fds { accept(Descriptor(adopting: fd)) }
    }

    /// At the loop's end: connections still queued for it are closed, and later ones refused.
    func closeAdopted() {
        let fds = adopted.withLock { queue -> [Int32] in
            defer { queue = nil }
            return queue ?? []
        }
        for fd in fds { Descriptor(adopting: fd).close() }
        connectionCount.subtract(fds.count, ordering: .relaxed)
    }

    /// Starts serving a connection on this loop (its thread), placed here by `place`.
    func accept(_ descriptor: consuming Descriptor) {
        let stats = context.stats
        let current = stats.connectionsCurrent.add(1, ordering: .relaxed).newValue
        ServerStats.add(stats.connectionsTotal)
        let config = context.configuration
        var refusal: Status? = nil
        if current > config.maxClients {
            refusal = .tooManyClients
            ServerStats.add(stats.connectionsRejected)
        } else if !config.auth.isRequired && !config.auth.allowUnauthenticatedRemote && !Socket.peerIsLoopback(descriptor.rawValue) {
            // Protected mode's second line: a remote peer reached a daemon without a password (the
            // listener is loopback, so something forwarded it here).
            refusal = .denied
            ServerStats.add(stats.connectionsRejected)
        }
        let connection = ServerConnection(descriptor: descriptor, reactor: self, refusal: refusal)
        do {
            try connection.start()
            connections[ObjectIdentifier(connection)] = connection
        } catch {
            context.logger.warning("could not register connection: \(error)")
            connection.close()
        }
    }
}
