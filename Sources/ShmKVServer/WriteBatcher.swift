import LMDB
import Locks
import Logging
import NotifyRing
import Posix
import Reactor
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A write, the connection it came from and the route its reply takes.
struct WriteTicket: @unchecked Sendable {
    // Invariant: `connection` is only carried by the writer thread, which reads nothing of it but its
    // immutable `reactor`; it is used again only on that reactor's thread, which owns it.
    let operation: WriteOperation
    let route: ReplyRoute
    let connection: ServerConnection
    /// The operation's payload bytes, counted once (batch caps, the connection's query buffer).
    let byteCount: Int
    /// The RESP client id of the connection (0 for native), carried by its changes' ring records.
    let origin: UInt32

    init(operation: WriteOperation, route: ReplyRoute, connection: ServerConnection, origin: UInt32) {
        self.origin = origin
        self.operation = operation
        self.route = route
        self.connection = connection
        byteCount = operation.byteCount
    }
}

/// An outcome on its way back to the reactor that owns the connection.
struct WriteCompletion: @unchecked Sendable {
    // Invariant: as for `WriteTicket`.
    let outcome: WriteOutcome
    let route: ReplyRoute
    let connection: ServerConnection
    let byteCount: Int
}

/// The writer thread with group commit: it drains everything queued into one LMDB write transaction,
/// applies each operation in a nested transaction so that one failing operation fails alone, commits
/// once, and only then hands each outcome back to its reactor. A reply therefore always means committed.
///
/// Each batch also numbers its changes (one per key changed, consecutive), stores the last number in
/// `__meta` in the same transaction, and after the commit publishes one ring record per change and
/// wakes the ring's waiters.
final class WriteBatcher: Sendable {
    private struct Queue {
        var tickets: [WriteTicket] = []
        var closed = false
    }

    private let queue = Locked(Queue())
    private let doorbell: EventFD
    let store: Store
    let configuration: ServerConfiguration
    let stats: ServerStats
    let logger: Logger
    // Invariant: used only on the writer thread (inside `run()`).
    private nonisolated(unsafe) let publisher: RingPublisher
    // Invariant: as for `publisher`; reused per batch.
    private nonisolated(unsafe) var changes: ChangeList = []
    /// Every reactor: woken after a publish when some of its connections follow the ring, and while the
    /// map grows (so that each ends its read transaction promptly).
    let reactors = Locked<[ReactorThread]>([])
    let mapGate: MapGate
    /// `notify-keyspace-events`: shared with the RESP sessions, read once per batch here (`n`).
    let notifications: KeyspaceNotifications
    /// Recent changes by sequence, for EXEC's WATCH check.
    // Invariant: used only on the writer thread.
    private nonisolated(unsafe) let changeLog = ChangeLog()
    /// Whether some key has a deadline (as of the last commit); read at start from the environment.
    // Invariant: used only on the writer thread.
    private nonisolated(unsafe) var keysHaveDeadlines: Bool
    /// How often the writer looks for keys past their deadline (Redis: 10 times a second).
    static let expiryInterval = 100
    /// Keys deleted in one pass at most; a full pass is followed by another at once.
    static let expiryPassLimit = 1000
    /// The map size now (grown by `growMap`); read at start from the environment.
    // Invariant: used only on the writer thread.
    nonisolated(unsafe) var mapSize: Int

    init(store: Store, publisher: RingPublisher, configuration: ServerConfiguration, stats: ServerStats,
         logger: Logger, mapGate: MapGate) throws(SystemError) {
        self.mapGate = mapGate
        mapSize = (try? store.environment.info().mapSize) ?? configuration.mapSize
        keysHaveDeadlines = store.databases.expires.map { (try? store.environment.stat($0).entries) ?? 1 > 0 } ?? false
        self.publisher = publisher
        self.store = store
        self.configuration = configuration
        self.stats = stats
        self.logger = logger
        // Validated with the configuration; the fallback is never taken.
        notifications = KeyspaceNotifications(KeyspaceEventClasses(configuration.respNotifyKeyspaceEvents) ?? .all)
        doorbell = try EventFD()
    }

    /// Queues a write; `false` once the batcher is closed (the daemon is stopping). The writer's
    /// doorbell rings only when the queue goes from empty to non-empty: the writer takes everything
    /// queued each time it looks, so a non-empty queue already has a wake-up coming.
    func submit(_ ticket: WriteTicket) -> Bool {
        var ring = false
        let accepted = queue.withLock { q in
            if q.closed { return false }
            ring = q.tickets.isEmpty
            q.tickets.append(ticket)
            return true
        }
        if ring { doorbell.signal() }
        return accepted
    }

    /// Tells the writer the reactors it wakes: after a publish (those with ring followers) and while the
    /// map grows.
    func setReactors(_ reactors: [ReactorThread]) {
        self.reactors.withLock { $0 = reactors }
    }

    /// Refuses new writes; `run()` commits what is queued and returns.
    func close() {
        queue.withLock { $0.closed = true }
        doorbell.signal()
    }

    /// The writer thread's body.
    func run() {
        var lastReaderCheck = MonotonicClock.seconds()
        var lastSync = lastReaderCheck
        var batch: [WriteTicket] = []
        var outcomes: [WriteOutcome] = []
        var nextExpiryPass = 0
        while true {
            // While keys have deadlines the writer looks for due ones every `expiryInterval`.
            let expiryDue = keysHaveDeadlines ? max(0, nextExpiryPass - MonotonicClock.milliseconds()) : 1000
            doorbell.wait(timeoutMilliseconds: Int32(min(1000, expiryDue)))
            var closed = false
            repeat {
                batch.removeAll(keepingCapacity: true)
                closed = queue.withLock { q in
                    take(from: &q.tickets, into: &batch)
                    return q.closed
                }
                if !batch.isEmpty { commit(batch, outcomes: &outcomes) }
            } while !batch.isEmpty
            if keysHaveDeadlines, MonotonicClock.milliseconds() >= nextExpiryPass {
                // A full pass may leave more due keys: look again at once rather than after the interval.
                let full = expireDueKeys()
                nextExpiryPass = MonotonicClock.milliseconds() + (full ? 0 : WriteBatcher.expiryInterval)
            }
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

    /// Moves up to the batch caps (operations and bytes) from the front of `queue` into `batch`.
    private func take(from queue: inout [WriteTicket], into batch: inout [WriteTicket]) {
        var bytes = 0
        var n = 0
        while n < queue.count, n < configuration.batchMaxOperations {
            bytes += queue[n].byteCount
            n += 1
            if bytes >= configuration.batchMaxBytes { break }
        }
        batch.append(contentsOf: queue[0..<n])
        queue.removeFirst(n)
    }

    private func commit(_ batch: [WriteTicket], outcomes: inout [WriteOutcome]) {
        // A full map aborts the batch, grows the map and runs the batch again: no request fails for a
        // full map while the disk has room (and the map may grow).
        while !commitOnce(batch, outcomes: &outcomes) {}
        growMapIfNearlyFull()
    }

    /// One attempt; false if the map was full and has been grown, so the batch must be run again.
    private func commitOnce(_ batch: [WriteTicket], outcomes: inout [WriteOutcome]) -> Bool {
        outcomes.removeAll(keepingCapacity: true)
        changes.removeAll(keepingCapacity: true)
        if batch.allSatisfy({ if case .publish = $0.operation { true } else { false } }) {
            // Only messages: no LMDB transaction at all, straight onto the ring.
            for ticket in batch {
                guard case .publish(let channel, let payload, let receivers) = ticket.operation else { continue }
                changes.append(Change(kind: .message, event: .none, flags: [], key: channel, payload: payload))
                outcomes.append(.integer(Int64(receivers)))
            }
            ServerStats.add(stats.batchesCommitted)
            publishChanges(transactionID: 0)
            deliver(batch, outcomes)
            return true
        }
        var transactionID: UInt64 = 0
        // Aborted before the map may grow: a resize needs every transaction of this process ended.
        var begun: WriteTransaction?
        let now = WallClock.milliseconds()
        do {
            let txn = try store.environment.beginWrite()
            begun = txn
            var keys = try KeyspaceWriter(txn, store.databases, now: now)
            keys.log = changeLog
            keys.reportsCreation = notifications.classes.contains(.new)
            // The batch's change list moves in and back out: no copy. (On an error it stays in `keys`
            // and is dropped with it: nothing of the batch is published.)
            swap(&changes, &keys.changes)
            for ticket in batch {
                keys.origin = ticket.origin
                guard let outcome = applyAlone(ticket.operation, in: txn, keys: &keys) else {
                    txn.abort()
                    if growMap() { return false }
                    // The map cannot grow (storage.maxMapSize): the batch fails, nothing of it is written.
                    throw LMDBError.mapFull
                }
                outcomes.append(outcome)
            }
            swap(&changes, &keys.changes)
            let changedKeys = changes.contains { $0.kind != .message }
            if changedKeys {
                try recordLastSequence(in: txn)
                transactionID = UInt64(txn.id)
                try txn.commit()
            } else {
                // Nothing but messages (or nothing at all): LMDB holds nothing new, so there is nothing
                // to commit or sync; the messages' sequence numbers are not stored (they are not changes).
                txn.abort()
            }
            if changedKeys && configuration.durability != .volatile { stats.lastSave.store(Int(now / 1000), ordering: .relaxed) }
            if keys.syncRequested { syncForSave(batch, &outcomes) }
            let written = outcomes.count { if case .failed = $0 { false } else { true } }
            ServerStats.add(stats.writesCommitted, written)
            ServerStats.add(stats.writesFailed, outcomes.count - written)
            ServerStats.add(stats.batchesCommitted)
            if batch.count > stats.largestBatch.load(ordering: .relaxed) {
                stats.largestBatch.store(batch.count, ordering: .relaxed)
            }
        } catch {
            begun?.abort()
            // Full only at the very end (the sequence number in __meta): grow and run the batch again.
            if case LMDBError.mapFull = error, outcomes.count == batch.count, growMap() { return false }
            // Nothing of this batch is on disk: every operation in it fails, none is acknowledged.
            logger.error("write batch of \(batch.count) failed: \(error)")
            ServerStats.add(stats.writesFailed, batch.count)
            outcomes = Array(repeating: .failed(.storageError, "commit failed: \(describe(error))"), count: batch.count)
            changes.removeAll(keepingCapacity: true)
        }
        publishChanges(transactionID: transactionID)
        deliver(batch, outcomes)
        return true
    }

    /// Stores the sequence number the batch's last change will carry, in the batch's transaction; and
    /// notes whether keys have deadlines now (so that the writer knows to look for due ones).
    private func recordLastSequence(in txn: WriteTransaction) throws {
        if !changes.isEmpty {
            let last = publisher.nextSequence + UInt64(changes.count) - 1
            try txn.put(store.meta, key: StoreLayout.MetaKey.lastSequence, value: MetaValue.decimal(last))
        }
        if let expires = store.databases.expires { keysHaveDeadlines = try txn.stat(expires).entries > 0 }
    }

    /// One pass of active expiry: deletes up to `expiryPassLimit` keys whose deadline has passed, in one
    /// batch of its own, each published as `expired`. True if the pass was full (more may be due).
    private func expireDueKeys() -> Bool {
        changes.removeAll(keepingCapacity: true)
        var expired = 0
        var transactionID: UInt64 = 0
        do {
            let txn = try store.environment.beginWrite()
            do {
                var keys = try KeyspaceWriter(txn, store.databases, now: WallClock.milliseconds())
                expired = try keys.expireDue(limit: WriteBatcher.expiryPassLimit)
                swap(&changes, &keys.changes)
                try recordLastSequence(in: txn)
                transactionID = UInt64(txn.id)
                try txn.commit()
            } catch {
                txn.abort()
                throw error
            }
        } catch {
            // A full map or disk: the keys stay (reads already treat them as gone) and the next pass retries.
            logger.error("active expiry failed: \(error)")
            changes.removeAll(keepingCapacity: true)
            return false
        }
        publishChanges(transactionID: transactionID)
        return expired == WriteBatcher.expiryPassLimit
    }

    /// Publishes one ring record per change of the batch just committed and wakes subscribers: those
    /// on the futex (LocalStore, `shmkv watch`) and reactors with watching connections.
    private func publishChanges(transactionID: UInt64) {
        guard !changes.isEmpty else { return }
        for change in changes {
            do {
                if change.kind == .message {
                    try change.key.withUnsafeBytes { channel in
                        try change.payload.withUnsafeBytes { payload in
                            _ = try Result { () throws(RingError) in try publisher.publishMessage(channel: channel, payload: payload) }.get()
                        }
                    }
                } else {
                    let sequence = try publisher.publish(change.kind, event: change.event, flags: change.flags, key: change.key,
                                                         transactionID: transactionID, origin: change.origin)
                    changeLog.record(sequence: sequence, kind: change.kind, event: change.event, key: change.key)
                }
            } catch {
                // Keys are at most 511 bytes, so this cannot happen; subscribers would see a gap.
                logger.error("ring publish failed: \(error)")
            }
        }
        publisher.wakeSubscribers()
        ServerStats.add(stats.expiredKeys, changes.count { $0.event == .expired })
        // Released after the records are in the ring: a reactor that reads it knows them published.
        stats.ringNextSequence.store(Int(publisher.nextSequence), ordering: .releasing)
        for reactor in reactors.withLock({ $0 }) where reactor.followsRing {
            reactor.loop.wake()
        }
    }

    /// Applies one operation in a child transaction: it fails alone, and the changes it listed are
    /// dropped with it. Nil when the map was full: the batch is to be run again in a larger map.
    private func applyAlone(_ operation: WriteOperation, in txn: WriteTransaction, keys: inout KeyspaceWriter) -> WriteOutcome? {
        // A message touches no database: nothing to roll back, no child transaction needed.
        if case .publish = operation { return try? operation.apply(&keys) }
        let mark = keys.changes.count
        defer { keys.transaction = txn }
        do {
            let child = try txn.child()
            keys.transaction = child
            do {
                let outcome = try operation.apply(&keys)
                try child.commit()
                return outcome
            } catch {
                child.abort()
                throw error
            }
        } catch {
            keys.changes.removeSubrange(mark...)
            if let rollback = error as? Rollback { return rollback.outcome }
            if case LMDBError.mapFull = error { return nil }
            return .failed(.storageError, "\(error)")
        }
    }

    /// SAVE: flushes the environment to disk before the batch's replies go out; a failure fails the SAVEs.
    private func syncForSave(_ batch: [WriteTicket], _ outcomes: inout [WriteOutcome]) {
        do {
            try store.environment.sync(force: true)
            stats.lastSave.store(Int(WallClock.milliseconds() / 1000), ordering: .relaxed)
        } catch {
            logger.error("SAVE: mdb_env_sync failed: \(error)")
            for (i, ticket) in batch.enumerated() {
                if case .save = ticket.operation { outcomes[i] = .failed(.storageError, "SAVE failed: \(error)") }
            }
        }
    }

    /// Hands outcomes to their reactors, one wake-up per reactor per batch.
    private func deliver(_ batch: [WriteTicket], _ outcomes: [WriteOutcome]) {
        var byReactor: [ObjectIdentifier: (ReactorThread, [WriteCompletion])] = [:]
        for (ticket, outcome) in zip(batch, outcomes) {
            let reactor = ticket.connection.reactor
            let id = ObjectIdentifier(reactor)
            let completion = WriteCompletion(outcome: outcome, route: ticket.route, connection: ticket.connection,
                                             byteCount: ticket.byteCount)
            if byReactor[id] == nil { byReactor[id] = (reactor, []) }
            byReactor[id]!.1.append(completion)
        }
        for (reactor, completions) in byReactor.values { reactor.post(completions) }
    }

}
