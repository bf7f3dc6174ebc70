import LMDB
import Locks
import Logging
import NotifyRing
import Reactor

/// What only the holder of the writer role touches (`ExclusiveRole<WriterRole>` hands it to the thread
/// that holds the role, and to no other): the batch being committed, its outcomes and changes, the LMDB
/// write transaction reused from batch to batch, the ring's publisher, the change log WATCH reads, and
/// what the writer knows of the map. Its work is in `WriterRole+Commit` and `WriterRole+Storage`.
final class WriterRole {
    let store: Store
    let configuration: ServerConfiguration
    let stats: ServerStats
    let logger: Logger
    let mapGate: MapGate
    let notifications: KeyspaceNotifications
    /// The batcher's queue (a batch is taken from it) and its reactors (woken after a publish).
    let queue: Locked<WriteQueue>
    let reactors: Locked<[ReactorThread]>
    let publisher: RingPublisher
    /// Reused per batch.
    var changes = ChangeList()
    /// The object of each batch's write transaction, begun again for the next one.
    var transaction: WriteTransaction?
    /// The batch being committed, its outcomes, and the operations of it that failed alone (by index)
    /// on an earlier attempt.
    var batch: [WriteTicket] = []
    var outcomes: [WriteOutcome] = []
    var failedAlone: [(index: Int, outcome: WriteOutcome)] = []
    /// Outcomes on their way to each reactor, by `ReactorThread.index`.
    var completions: [[WriteCompletion]] = []
    /// Recent changes by sequence, for EXEC's WATCH check.
    let changeLog = ChangeLog()
    /// Whether some key has a deadline (as of the last commit); read at start from the environment.
    var keysHaveDeadlines: Bool
    /// The map size now (grown by `growMap`); read at start from the environment.
    var mapSize: Int
    /// Bytes of the data file whose blocks are reserved (volatile mode: see `reserveSpace`).
    var reservedBytes = 0
    /// Whether deleted collections' elements wait in `__reclaim` (as of the last commit).
    var elementsToReclaim: Bool
    /// Redis's encoding thresholds (CONFIG SET), read at the start of each batch.
    let collectionLimits: Locked<CollectionLimits>
    /// Whether the daemon is a replica (no expiry), and its links (their offsets are committed here).
    let replication: ReplicationState
    /// Clients blocked on keys (BLPOP…), and those answered by the current batch or timer, with their outcomes.
    let blocked: BlockedClients
    var answeredWaiters: [(WriteTicket, WriteOutcome)] = []
    /// Wakes the writer thread (a new blocked client's deadline may be the earliest).
    let doorbell: EventFD

    init(store: Store, publisher: RingPublisher, configuration: ServerConfiguration, stats: ServerStats, logger: Logger,
         mapGate: MapGate, notifications: KeyspaceNotifications, collectionLimits: Locked<CollectionLimits>, replication: ReplicationState,
         queue: Locked<WriteQueue>, reactors: Locked<[ReactorThread]>, doorbell: EventFD) {
        self.collectionLimits = collectionLimits
        self.replication = replication
        self.doorbell = doorbell
        blocked = BlockedClients(stats: stats)
        self.store = store
        self.publisher = publisher
        self.configuration = configuration
        self.stats = stats
        self.logger = logger
        self.mapGate = mapGate
        self.notifications = notifications
        self.queue = queue
        self.reactors = reactors
        mapSize = (try? store.environment.info().mapSize) ?? configuration.mapSize
        keysHaveDeadlines = store.databases.expires.map { (try? store.environment.stat($0).entries) ?? 1 > 0 } ?? false
        elementsToReclaim = store.databases.reclaim.map { (try? store.environment.stat($0).entries) ?? 1 > 0 } ?? false
    }

    /// Commits batch after batch until nothing is queued (the writer thread's turn; the combining
    /// reactor commits one batch at a time instead, `WriteBatcher.combine`).
    func commitQueued(local: inout [WriteCompletion]) {
        while takeBatch() { commit(combiner: nil, local: &local) }
    }

    /// Moves up to the batch caps (operations and bytes) from the front of the queue into `batch`;
    /// false if nothing was queued. `stopAtScripts` (a combining reactor, when it is the only one): the
    /// batch ends before a script, which the writer thread runs, so that a long script never holds the
    /// only reactor's connections (the order of the queue is kept: what follows the script waits for it).
    func takeBatch(stopAtScripts: Bool = false) -> Bool {
        batch.removeAll(keepingCapacity: true)
        let maxOperations = configuration.batchMaxOperations, maxBytes = configuration.batchMaxBytes
        queue.withLock { q in
            var bytes = 0
            var n = 0
            while n < q.tickets.count, n < maxOperations {
                if stopAtScripts && q.tickets[n].operation.runsScript { break }
                bytes += q.tickets[n].byteCount
                n += 1
                if bytes >= maxBytes { break }
            }
            if n == q.tickets.count {
                // All of it (the usual case): the arrays trade places, no ticket is copied.
                swap(&q.tickets, &batch)
            } else {
                batch.append(contentsOf: q.tickets[0..<n])
                q.tickets.removeFirst(n)
            }
        }
        return !batch.isEmpty
    }

    /// Hands the batch's outcomes back: those of `combiner`'s connections into `local`, the others to
    /// their reactors, one hand-off (and at most one wake-up) per reactor.
    func deliver(combiner: ReactorThread?, local: inout [WriteCompletion]) {
        // By index, field by field: copying whole tickets would retain their operations' bytes too.
        for i in batch.indices {
            // Parked among the blocked clients: answered later, by the batch that serves it.
            if case .blocked = outcomes[i] { continue }
            route(WriteCompletion(outcome: outcomes[i], route: batch[i].route, connection: batch[i].connection,
                                  byteCount: batch[i].byteCount, arenaChunk: batch[i].arenaChunk), combiner: combiner, local: &local)
        }
        deliverAnswered(combiner: combiner, local: &local)
    }

    /// Puts an outcome on its way: into `local` for the combiner's own connections, else into its
    /// reactor's hand-off list (posted by `deliverAnswered`).
    func route(_ completion: WriteCompletion, combiner: ReactorThread?, local: inout [WriteCompletion]) {
        let reactor = completion.connection._withUnsafeGuaranteedRef { $0.reactor }
        if reactor === combiner { local.append(completion) } else { completions[reactor.index].append(completion) }
    }
}
