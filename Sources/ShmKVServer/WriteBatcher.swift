import LMDB
import Locks
import Logging
import NotifyRing
import Posix
import Reactor
import StoreLayout
import Synchronization
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A write, the connection it came from and the route its reply takes.
struct WriteTicket: @unchecked Sendable {
    // Invariant: `connection` is only carried by the writer thread, which reads nothing of it but its
    // immutable `reactor`; it is used again only on that reactor's thread, which owns it. It holds one
    // reference, taken when the ticket is made and given back by `ReactorThread.complete` (or by
    // `ServerConnection.submit` for a ticket the queue refused): the ticket and its completion are
    // copied from array to array without touching the reference count.
    let operation: WriteOperation
    let route: ReplyRoute
    let connection: Unmanaged<ServerConnection>
    /// The operation's payload bytes, counted once (batch caps, the connection's query buffer).
    let byteCount: Int
    /// The RESP client id of the connection (0 for native), carried by its changes' ring records.
    let origin: UInt32
    /// The chunk of the connection's reactor's `WriteArena` holding the operation's bytes (-1: none).
    let arenaChunk: Int32
    /// The numbered database the connection had selected.
    let database: UInt8
    /// A command of a primary's stream (`ServerConnection.streamCursor`): the link, and the offset of
    /// the command's last byte, which the batch records with its effect (-1: not one).
    let replicationLink: Int16
    let replicationOffset: Int64
    /// Whether a blocking command of it may block (a RESP client's own command; not EXEC's block, nor
    /// a native CALL).
    var mayBlock: Bool {
        guard !route.call else { return false }
        if case .transaction = operation { return false }
        return true
    }

    init(operation: WriteOperation, route: ReplyRoute, connection: ServerConnection, origin: UInt32, arenaChunk: Int32) {
        self.origin = origin
        database = connection.database
        self.arenaChunk = arenaChunk
        self.operation = operation
        self.route = route
        self.connection = Unmanaged.passRetained(connection)
        byteCount = operation.byteCount
        if let cursor = connection.streamCursor {
            replicationLink = Int16(cursor.link)
            replicationOffset = cursor.processed + Int64(cursor.requestBytes)
        } else {
            replicationLink = -1
            replicationOffset = -1
        }
    }
}

/// An outcome on its way back to the reactor that owns the connection.
struct WriteCompletion: @unchecked Sendable {
    // Invariant: as for `WriteTicket`.
    let outcome: WriteOutcome
    let route: ReplyRoute
    /// The ticket's reference (see `WriteTicket.connection`).
    let connection: Unmanaged<ServerConnection>
    let byteCount: Int
    /// Released on the reactor when the outcome arrives (see `WriteTicket.arenaChunk`).
    let arenaChunk: Int32
}

/// The write path: group commit by flat combining. Whichever thread has writes queued takes the writer
/// role if it is free — a reactor at the end of its loop iteration, or the writer thread for its timed
/// work — and commits everything queued, from every reactor, in one LMDB write transaction; a thread
/// that finds the role taken leaves its writes to the holder, which looks at the queue again each time
/// it gives the role back. So a write at low load is committed by the thread that parsed it, with no
/// wake-up, and at high load the writes of all reactors still share commits. That is volatile mode;
/// in the synced modes (durable, fast) only the writer thread commits, woken by the first write queued
/// (see `submit`).
///
/// Operations check their conditions and limits before they change anything, so they run directly in
/// the batch's transaction; an LMDB error inside one aborts the transaction and the batch runs again
/// without it, so one failing operation still fails alone. A reply always means committed: outcomes go
/// back after the commit, those of the combining reactor's own connections directly, the others in one
/// hand-off per reactor per batch.
///
/// Each batch also numbers its changes (one per key changed, consecutive), stores the last number in
/// `__meta` in the same transaction, and after the commit publishes one ring record per change and
/// wakes the ring's waiters.
final class WriteBatcher: Sendable {
    private let queue = Locked(WriteQueue())
    /// Whether scripts wait for the writer thread rather than run on a combining reactor: with one
    /// reactor, whose connections (SCRIPT KILL among them) would wait on a long script. With more, a
    /// script runs where its batch is committed, like any write, and the others serve BUSY and KILL.
    let scriptsOnWriterThread = Atomic<Bool>(true)
    /// The reactor committing a batch now (-1: none, or the writer thread).
    let combiningReactor = Atomic<Int>(-1)
    /// Held by the thread that commits; what only that thread may touch is its state (`WriterRole`).
    private let role: ExclusiveRole<WriterRole>
    /// Wakes the writer thread: for writes in the synced modes, and at close.
    private let doorbell: EventFD
    let store: Store
    let configuration: ServerConfiguration
    let stats: ServerStats
    let logger: Logger
    /// Every reactor: woken after a publish when some of its connections follow the ring, and while the
    /// map grows (so that each ends its read transaction promptly).
    let reactors = Locked<[ReactorThread]>([])
    let mapGate: MapGate
    /// `notify-keyspace-events`: shared with the RESP sessions, read once per batch by the role (`n`).
    let notifications: KeyspaceNotifications
    /// Redis's encoding thresholds for collections (CONFIG SET hash-max-listpack-entries…), read by the
    /// role at the start of each batch.
    let collectionLimits = Locked(CollectionLimits())
    /// The replication role and links, read by the role at the start of each batch (a replica expires
    /// nothing) and when it records a link's offset.
    let replication: ReplicationState
    /// Element records of deleted collections removed in one reclaim pass at most.
    static let reclaimPassLimit = 5000
    /// How often the writer looks for keys past their deadline (Redis: 10 times a second).
    static let expiryInterval = 100
    /// The longest the writer thread sleeps, in milliseconds, while a blocked client has a deadline.
    static let blockedCheckInterval = 100
    /// Keys deleted in one pass at most; a full pass is followed by another at once.
    static let expiryPassLimit = 1000

    init(store: Store, publisher: sending RingPublisher, configuration: ServerConfiguration, stats: ServerStats,
         logger: Logger, mapGate: MapGate) throws(SystemError) {
        self.mapGate = mapGate
        self.store = store
        self.configuration = configuration
        self.stats = stats
        self.logger = logger
        // Validated with the configuration; the fallback is never taken.
        notifications = KeyspaceNotifications(KeyspaceEventClasses(configuration.respNotifyKeyspaceEvents) ?? .all)
        doorbell = try EventFD()
        let replication = ReplicationState(configuration: configuration)
        self.replication = replication
        role = ExclusiveRole(WriterRole(store: store, publisher: publisher, configuration: configuration, stats: stats, logger: logger,
                                        mapGate: mapGate, notifications: notifications, collectionLimits: collectionLimits, replication: replication,
                                        queue: queue, reactors: reactors, doorbell: doorbell))
    }

    /// Queues a write; `false` once the batcher is closed (the daemon is stopping). In volatile mode the
    /// caller's reactor commits it (or leaves it to the role's holder) at the end of its loop iteration:
    /// `combine`. In the synced modes the writer thread commits: a commit there waits for the disk
    /// (hundreds of µs), and a reactor waiting for it would read none of its connections meanwhile, so
    /// fewer writes would share each sync; the wake-up the thread costs is small beside it. The writer's
    /// doorbell rings only when the queue goes from empty to non-empty: the writer takes everything
    /// queued each time it looks, so a non-empty queue already has a wake-up coming.
    func submit(_ ticket: consuming WriteTicket) -> Bool {
        var ring = false
        let script = scriptsOnWriterThread.load(ordering: .relaxed) && ticket.operation.runsScript
        // Moved, not copied, into the queue (a copy would retain every array the operation holds).
        var pending = Optional(ticket)
        let accepted = queue.withLock { q in
            if q.closed { return false }
            // With one reactor a script waits for the writer thread even in volatile mode (`WriterRole.takeBatch`).
            ring = (q.tickets.isEmpty && !reactorsCommit) || (script && reactorsCommit)
            q.tickets.append(pending.take()!)
            return true
        }
        if ring { doorbell.signal() }
        return accepted
    }

    /// Whether reactors commit writes themselves (volatile mode) rather than leave them to the writer thread.
    var reactorsCommit: Bool { configuration.durability == .volatile }

    /// Tells the batcher the reactors it delivers to and wakes (before any of them runs).
    func setReactors(_ reactors: [ReactorThread]) {
        scriptsOnWriterThread.store(reactors.count < 2, ordering: .relaxed)
        self.reactors.withLock { $0 = reactors }
        role.withRole { $0.completions = Array(repeating: [], count: (reactors.map(\.index).max() ?? -1) + 1) }
    }

    /// Refuses new writes; `run()` commits what is queued and returns.
    func close() {
        queue.withLock { $0.closed = true }
        doorbell.signal()
    }

    /// Called by `reactor` on its own thread with writes possibly queued: if the writer role is free,
    /// commits one batch of what is queued and returns true, with the outcomes for the reactor's own
    /// connections appended to `local` (the others are posted to their reactors). False when there was
    /// nothing to commit, or another thread holds the role (it commits what is queued before it lets go).
    func combine(on reactor: ReactorThread, local: inout [WriteCompletion]) -> Bool {
        guard reactorsCommit else { return false }
        while true {
            let took = role.withRoleIfFree { writer in
                guard writer.takeBatch(stopAtScripts: scriptsOnWriterThread.load(ordering: .relaxed)) else { return false }
                // While it runs a script, no new connection is placed on this reactor (`place`).
                combiningReactor.store(reactor.index, ordering: .relaxed)
                defer { combiningReactor.store(-1, ordering: .relaxed) }
                writer.commit(combiner: reactor, local: &local)
                return true
            }
            guard let took else { return false }
            if took { return true }
            // A write queued while the role was held with nothing to do would be left behind: look again
            // (not for a script first in line: the writer thread takes it).
            if queue.withLock({ $0.tickets.first.map { scriptsOnWriterThread.load(ordering: .relaxed) && $0.operation.runsScript } ?? true }) { return false }
        }
    }

    /// The writer thread's body: active expiry, reader checks and the volatile mode's periodic sync, on
    /// timers; at close it commits what is queued and returns.
    func run() {
        var lastReaderCheck = MonotonicClock.seconds()
        var lastSync = lastReaderCheck
        var nextExpiryPass = 0
        var none: [WriteCompletion] = []
        while true {
            // While keys have deadlines the writer looks for due ones every `expiryInterval`.
            let expiryDue = role.withRole { writer in
                let expiry = writer.elementsToReclaim ? 0 : writer.keysHaveDeadlines ? max(0, nextExpiryPass - MonotonicClock.milliseconds()) : 1000
                // Blocked clients past their deadline are answered here; the next deadline bounds the sleep,
                // and while any client waits the thread looks at least every `blockedCheckInterval`, so that
                // a deadline is never answered late by more than that whatever woke (or failed to wake) it.
                return min(expiry, writer.expireBlocked().map { min($0, WriteBatcher.blockedCheckInterval) } ?? 1000)
            }
            doorbell.wait(timeoutMilliseconds: Int32(min(1000, expiryDue)))
            let closed = queue.withLock { $0.closed }
            role.withRole { writer in
                writer.commitQueued(local: &none)
                if writer.keysHaveDeadlines, MonotonicClock.milliseconds() >= nextExpiryPass {
                    // A full pass may leave more due keys: look again at once rather than after the interval.
                    let full = writer.expireDueKeys()
                    nextExpiryPass = MonotonicClock.milliseconds() + (full ? 0 : WriteBatcher.expiryInterval)
                }
                // Deleted collections' elements go a pass at a time, between the clients' batches.
                if writer.elementsToReclaim { writer.reclaimDeletedElements() }
            }
            // As `combine`: writes queued while the role was held are committed before the thread waits.
            while !queue.withLock({ $0.tickets.isEmpty }),
                  role.withRoleIfFree({ $0.commitQueued(local: &none) }) != nil {}
            let now = MonotonicClock.seconds()
            if now - lastReaderCheck >= configuration.readerCheckInterval {
                lastReaderCheck = now
                checkReaders()
            }
            if configuration.durability == .volatile, now - lastSync >= configuration.syncInterval {
                lastSync = now
                do {
                    try store.environment.sync(force: true)
                    stats.lastSave.store(Int(WallClock.milliseconds() / 1000), ordering: .relaxed)
                } catch {
                    logger.error("mdb_env_sync failed: \(error)")
                }
            }
            if closed { break }
        }
        if configuration.durability != .durable {
            do { try store.environment.sync(force: true) } catch { logger.error("final mdb_env_sync failed: \(error)") }
        }
    }

    /// Runs `body` with the writer role held, for work outside batches of queued writes.
    func withRole<R>(_ body: (inout WriterRole) throws -> R) rethrows -> R { try role.withRole(body) }

    /// The ring's publisher, for the daemon's last words (removing the ring file at shutdown).
    var publisher: RingPublisher { role.withRole { $0.publisher } }

    /// Clears reader slots of processes that died holding them (LMDB's `mdb_reader_check`).
    func checkReaders() {
        do {
            let cleared = try store.environment.readerCheck()
            if cleared > 0 {
                ServerStats.add(stats.staleReadersCleared, cleared)
                logger.notice("cleared \(cleared) stale LMDB reader slot(s)")
            }
        } catch {
            logger.error("mdb_reader_check failed: \(error)")
        }
    }
}

/// The writes waiting for the writer role, from every reactor.
struct WriteQueue {
    var tickets: [WriteTicket] = []
    var closed = false
}
