import LMDB
import Posix
import Reactor
import StoreLayout
#if canImport(Glibc)
import Glibc
#endif

/// A replica's link to one primary, living on a reactor: it connects (never blocking the loop), gives
/// each connection a `ReplicaSession`, connects again a second after a failure — once every write of
/// the old connection has committed, so that PSYNC asks for exactly the byte after the last one
/// applied — sends REPLCONF ACK every second, and drops a connection its primary left silent for
/// `timeoutSeconds` (Redis's repl-timeout).
final class ReplicaLink {
    let index: Int
    let primary: Endpoint
    let password: String?
    let user: String
    let listeningPort: Int
    unowned let reactor: ReactorThread
    var context: ServerContext { reactor.context }
    private var connection: ServerConnection?
    private var session: ReplicaSession?
    private var stopped = false
    /// The connections of the links this one replaces (REPLICAOF, a failover in a cluster): the first
    /// connect waits until their writes have all committed.
    var predecessors: [ServerConnection] = []
    /// The database the stream had selected at the resume point (from `__meta` at start).
    private(set) var resumeDatabase = 0
    static let timeoutSeconds = 60
    /// The cluster shard's slots this link follows (nil: a single primary, the whole dataset); its
    /// full sync replaces only these. The follower updates them as the cluster's slots move.
    var slots: SlotSet? {
        didSet { state { [slots] in $0.slots = slots } }
    }
    /// The cluster follower this link is part of, told when the link fails (the topology may have
    /// changed), and whose claims filter the stream (`MigrationClaims`).
    weak var follower: ClusterFollower?

    init(index: Int, primary: Endpoint, slots: SlotSet? = nil, password: String?, user: String, listeningPort: Int, reactor: ReactorThread) {
        self.index = index
        self.slots = slots
        self.primary = primary
        self.password = password
        self.user = user
        self.listeningPort = listeningPort
        self.reactor = reactor
    }

    var status: LinkStatus { context.batcher.replication.status(index) ?? LinkStatus(primary: primary) }

    func state(_ body: (inout LinkStatus) -> Void) { context.batcher.replication.update(index, body) }

    /// Starts following: a connection now, or once the link it replaces has committed its writes.
    func start() {
        var status = LinkStatus(primary: primary)
        status.downSince = MonotonicClock.seconds()
        status.slots = slots
        context.batcher.replication.links.withLock { links in
            while links.count <= index { links.append(LinkStatus(primary: primary, retired: true)) }
            // The writes of the link this one replaces may still commit: their marks name the
            // history they belong to, so the index keeps it until `loadResumePoint` reads the
            // committed mark.
            status.replicationID = links[index].replicationID
            status.appliedOffset = links[index].appliedOffset
            status.receivedOffset = links[index].receivedOffset
            links[index] = status
        }
        if predecessors.isEmpty { connect() }
        tick()
    }

    /// Where the last committed write of the stream ended (`__meta`), as the first resume point.
    private func loadResumePoint() {
        let store = context.store
        let key = StoreLayout.MetaKey.replication(link: index)
        guard let mark = try? store.environment.read({ txn in try txn.get(store.meta, key: key).map { Array($0) } }),
              let mark = ReplicationMark(mark) else {
            // No mark (none yet, or deleted when the dataset departed from the primary's): a full sync.
            state {
                $0.replicationID = "?"
                $0.appliedOffset = -1
                $0.receivedOffset = -1
            }
            return
        }
        state {
            $0.replicationID = mark.replicationID
            $0.appliedOffset = mark.offset
            $0.receivedOffset = mark.offset
        }
        resumeDatabase = mark.database
    }

    /// Stops following (REPLICAOF NO ONE, another primary, or shutdown); the connection it had, whose
    /// writes may still be with the writer.
    func stop() -> ServerConnection? {
        stopped = true
        connection?.close()
        return connection
    }

    /// PSYNC's arguments: the id followed and the offset after the last byte applied, or `? -1`.
    func resumePoint() -> (String, Int64) {
        let status = self.status
        guard status.replicationID != "?", status.appliedOffset >= 0 else { return ("?", -1) }
        return (status.replicationID, status.appliedOffset + 1)
    }

    /// Whether the resume point is still to be read from the store (before the first connection).
    private var resumePointLoaded = false

    private func connect() {
        guard !stopped else { return }
        if !resumePointLoaded {
            loadResumePoint()
            resumePointLoaded = true
        }
        state {
            $0.phase = .connecting
            $0.syncReceived = 0
        }
        do {
            let descriptor = try Socket.connect(to: primary)
            let connection = ServerConnection(link: self, descriptor: descriptor, reactor: reactor)
            try connection.start()
            reactor.connections[ObjectIdentifier(connection)] = connection
            context.stats.connectionsCurrent.add(1, ordering: .relaxed)
            self.connection = connection
            guard case .replica(let session) = connection.session else { return }
            self.session = session
            state { $0.phase = .handshake; $0.lastIO = MonotonicClock.seconds() }
            session.begin()
            connection.flush()
        } catch {
            failed("connecting to \(primary): \(error)")
        }
    }

    /// Every second: an ACK while the stream flows, a silent primary dropped, a failed link retried
    /// once its last writes have committed.
    private func tick() {
        reactor.loop.schedule(afterMilliseconds: 1000) { [weak self] in
            guard let self, !self.stopped else { return }
            self.housekeeping()
            self.tick()
        }
    }

    private func housekeeping() {
        if let connection, !connection.isClosed {
            if MonotonicClock.seconds() - status.lastIO > Self.timeoutSeconds {
                failed("the primary sent nothing for \(Self.timeoutSeconds) s")
                connection.close()
            } else {
                session?.sendAck()
            }
            return
        }
        // Connect again once the old connection's writes are all committed.
        if let connection, connection.pendingWrites > 0 { return }
        if predecessors.contains(where: { $0.pendingWrites > 0 }) { return }
        predecessors = []
        if let old = connection, let cursor = old.streamCursor {
            state { $0.appliedOffset = cursor.processed; $0.receivedOffset = cursor.processed }
            resumeDatabase = Int(old.database)
        }
        connection = nil
        session = nil
        connect()
    }

    /// The primary sent something.
    func heard() { state { $0.lastIO = MonotonicClock.seconds() } }

    /// The connection failed (it is closed by the caller): INFO says why, the next tick reconnects.
    func failed(_ reason: String) {
        context.logger.warning("replication link to \(primary): \(reason)")
        state {
            // One line for INFO: a line break of a peer's text becomes a space.
            $0.lastError = String(reason.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
            $0.phase = .connecting
            if $0.downSince == nil { $0.downSince = MonotonicClock.seconds() }
        }
        follower?.linkTroubled()
    }

    /// The connection closed, for whatever reason (the next tick connects again).
    func disconnected() {
        state {
            if $0.lastError.isEmpty && $0.phase != .connected { $0.lastError = "the connection to the primary closed (phase: \($0.phase.rawValue))" }
            $0.phase = .connecting
            if $0.downSince == nil { $0.downSince = MonotonicClock.seconds() }
        }
        follower?.linkTroubled()
    }

    /// After a turn of the stream: offsets, and an ACK if the primary asked for one.
    func streamed(_ session: ReplicaSession) {
        guard let cursor = session.connection.streamCursor else { return }
        let idle = session.connection.pendingWrites == 0
        state {
            $0.receivedOffset = cursor.processed + cursor.held
            $0.lastIO = MonotonicClock.seconds()
            if idle {
                $0.appliedOffset = cursor.processed
                $0.caughtUpAt = MonotonicClock.seconds()
            }
        }
        if session.ackRequested {
            session.ackRequested = false
            session.sendAck()
        }
    }

    /// A write of the stream committed: the offset of its end is applied.
    func applied(_ offset: Int64) {
        state {
            $0.appliedOffset = max($0.appliedOffset, offset)
            if $0.appliedOffset >= $0.receivedOffset { $0.caughtUpAt = MonotonicClock.seconds() }
        }
    }
}
