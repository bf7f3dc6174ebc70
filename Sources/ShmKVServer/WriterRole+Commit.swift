import LMDB
import Logging
import NotifyRing
import Posix
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The writer role's work on one batch: apply every operation in one write transaction, commit,
/// publish, deliver. Everything here runs with the role held.
extension WriterRole {
    /// Commits `batch` and delivers its outcomes (see `deliver`). A full map grows the map and runs
    /// the batch again: no request fails for a full map while the disk has room (and the map may grow).
    /// An LMDB error inside one operation fails that operation alone: the batch runs again without it.
    func commit(combiner: ReactorThread?, local: inout [WriteCompletion]) {
        failedAlone.removeAll(keepingCapacity: true)
        while !commitOnce(combiner: combiner) {}
        growMapIfNearlyFull()
        deliver(combiner: combiner, local: &local)
    }

    /// One attempt; false if it must run again (the map was grown, or an operation failed alone).
    private func commitOnce(combiner: ReactorThread?) -> Bool {
        outcomes.removeAll(keepingCapacity: true)
        changes.removeAll()
        if batch.allSatisfy({ $0.operation.isMessage }) {
            // Only messages: no LMDB transaction at all, straight onto the ring.
            for ticket in batch {
                _ = ticket.operation.withMessage { channel, payload, receivers in
                    changes.append(kind: .message, event: .none, key: channel, payload: payload)
                    outcomes.append(.integer(Int64(receivers)))
                }
            }
            ServerStats.add(stats.batchesCommitted)
            publishChanges(transactionID: 0, combiner: combiner)
            return true
        }
        var batchKeys = 0, batchBytes = 0
        if store.writesInPlace {
            for ticket in batch {
                batchKeys += ticket.operation.keysWritten
                batchBytes += ticket.byteCount
            }
            guard reserveSpace(keys: batchKeys, bytes: batchBytes) else {
                failBatch(LMDBError.system(ENOSPC))
                return true
            }
        }
        var transactionID: UInt64 = 0
        // Aborted before the map may grow: a resize needs every transaction of this process ended.
        var begun: WriteTransaction?
        let now = WallClock.milliseconds()
        // The operation being applied, while one is (an error outside one is the batch's).
        var current: Int? = nil
        var syncRequested = false
        do {
            let txn = try beginWrite()
            begun = txn
            var keys = try KeyspaceWriter(txn, store.catalog, swapped: store.swapped.load(ordering: .acquiring), now: now)
            keys.log = changeLog
            keys.reportsCreation = notifications.classes.contains(.new)
            keys.limits = collectionLimits.withLock { $0 }
            keys.space = spaceBudget(keys: batchKeys, bytes: batchBytes)
            keys.expiryDisabled = replication.isReplica.load(ordering: .relaxed)
            // The batch's change list moves in and back out: no copy. (On an error it stays in `keys`
            // and is dropped with it: nothing of the batch is published.)
            swap(&changes, &keys.changes)
            var skip = failedAlone.makeIterator()
            var nextSkipped = skip.next()
            // A local reference to the batch: its operations are applied in place, not copied out of
            // the batcher's property one by one.
            let batch = self.batch
            var blocking = BlockingPass()
            for index in batch.indices {
                if let skipped = nextSkipped, skipped.index == index {
                    outcomes.append(skipped.outcome)
                    nextSkipped = skip.next()
                    continue
                }
                current = index
                keys.origin = batch[index].origin
                try keys.select(Int(batch[index].database))
                if case .unblock(let client, let reason) = batch[index].operation {
                    let outcome = unblock(client: client, reason, &blocking, batch, &outcomes)
                    outcomes.append(outcome)
                    continue
                }
                keys.blocking = batch[index].mayBlock ? .may : .never
                let outcome = try batch[index].operation.apply(&keys)
                if case .result(.block(let request)) = outcome { blocking.parked.append((index, request)) }
                outcomes.append(outcome)
                // Redis serves the clients blocked on keys a command made serveable before the next command.
                try serveReady(&keys, &blocking, batch, &outcomes)
            }
            current = nil
            try keys.recordReplicationOffsets(batch, state: replication)
            // Before the commit: a reader whose snapshot holds the swap must resolve databases through
            // the map.
            if keys.mapChanged { store.swapped.store(true, ordering: .releasing) }
            swap(&changes, &keys.changes)
            syncRequested = keys.syncRequested
            let changedKeys = changes.entries.contains { $0.kind != .message }
            if changedKeys && !keys.expiryDisabled && replication.marksMayBeStale.load(ordering: .relaxed) {
                // The dataset now departs from any primary's: no resuming from the old marks.
                for link in 0..<StoreLayout.maxReplicationLinks {
                    _ = try StoreLayout.MetaKey.replication(link: link).withUnsafeBytes { try txn.delete(store.meta, key: $0) }
                }
                replication.marksMayBeStale.store(false, ordering: .relaxed)
            }
            if changedKeys || keys.metaChanged {
                try recordLastSequence(in: txn)
                transactionID = UInt64(txn.id)
                try txn.commit()
                finishBlocking(blocking)
            } else if !blocking.parked.isEmpty || !blocking.answered.isEmpty {
                // Blocked without a change (nothing to pop), or unblocked: nothing to commit.
                txn.abort()
                finishBlocking(blocking)
            } else {
                // Nothing but messages (or nothing at all): LMDB holds nothing new, so there is nothing
                // to commit or sync; the messages' sequence numbers are not stored (they are not changes).
                txn.abort()
            }
            if changedKeys && configuration.durability != .volatile { stats.lastSave.store(Int(now / 1000), ordering: .relaxed) }
            if syncRequested { syncForSave() }
            let written = outcomes.count { if case .failed = $0 { false } else { true } }
            ServerStats.add(stats.writesCommitted, written)
            ServerStats.add(stats.writesFailed, outcomes.count - written)
            ServerStats.add(stats.batchesCommitted)
            if batch.count > stats.largestBatch.load(ordering: .relaxed) {
                stats.largestBatch.store(batch.count, ordering: .relaxed)
            }
        } catch {
            begun?.abort()
            changes.removeAll()
            // A full map: grow it and run the batch again. If it cannot grow (storage.maxMapSize), the
            // batch fails as a whole, below: every operation of it would need room.
            let mapFull = if case LMDBError.mapFull = error { true } else { false }
            if mapFull, growMap() { return false }
            if let current, !mapFull {
                // One operation met an error of LMDB's: it fails alone, the batch runs again without it.
                if error is ScriptStoppedForShutdown { logger.notice("\(error)") } else { logger.error("a write failed alone in its batch: \(error)") }
                failedAlone.append((current, .failed(.storageError, "\(describe(error))")))
                failedAlone.sort { $0.index < $1.index }
                return false
            }
            failBatch(error)
        }
        publishChanges(transactionID: transactionID, combiner: combiner)
        return true
    }

    /// Nothing of this batch is on disk: every operation in it fails, none is acknowledged.
    private func failBatch(_ error: any Error) {
        logger.error("write batch of \(batch.count) failed: \(error)")
        ServerStats.add(stats.writesFailed, batch.count)
        outcomes.removeAll(keepingCapacity: true)
        outcomes.append(contentsOf: repeatElement(.failed(.storageError, "commit failed: \(describe(error))"), count: batch.count))
        changes.removeAll()
    }

    /// The write transaction of the next batch, in the object the last batch used (none allocated per batch).
    private func beginWrite() throws(LMDBError) -> WriteTransaction {
        guard let transaction else {
            let fresh = try store.environment.beginWrite()
            transaction = fresh
            return fresh
        }
        try transaction.restart()
        return transaction
    }

    /// Stores the sequence number the batch's last change will carry, in the batch's transaction; and
    /// notes whether keys have deadlines now (so that the writer knows to look for due ones).
    func recordLastSequence(in txn: WriteTransaction) throws {
        if !changes.isEmpty {
            let last = publisher.nextSequence + UInt64(changes.count) - 1
            try StoreLayout.MetaKey.lastSequence.withUnsafeBytes { key in
                try MetaValue.withDecimal(last) { try txn.put(store.meta, key: key, value: $0) }
            }
        }
        if let expires = store.databases.expires { keysHaveDeadlines = try txn.stat(expires).entries > 0 }
        if let reclaim = store.databases.reclaim { elementsToReclaim = try txn.stat(reclaim).entries > 0 }
    }

    /// One pass of reclaim: removes up to `reclaimPassLimit` element records of deleted collections, in
    /// a batch of its own (so a DEL of millions of elements never holds the writer for long).
    func reclaimDeletedElements() {
        do {
            _ = try batchOfItsOwn(keys: WriteBatcher.reclaimPassLimit, bytes: 0) { keys in
                try keys.reclaimElements(limit: WriteBatcher.reclaimPassLimit)
            }
        } catch {
            logger.error("reclaiming deleted collections' elements failed: \(error)")
        }
    }

    /// One pass of active expiry: deletes up to `expiryPassLimit` keys whose deadline has passed, in one
    /// batch of its own, each published as `expired`. True if the pass was full (more may be due).
    func expireDueKeys() -> Bool {
        // A replica's keys go when the primary's DEL arrives.
        if replication.isReplica.load(ordering: .relaxed) { return false }
        do {
            let expired = try batchOfItsOwn(keys: WriteBatcher.expiryPassLimit, bytes: 0) { keys in
                try keys.expireDue(limit: WriteBatcher.expiryPassLimit)
            }
            return expired == WriteBatcher.expiryPassLimit
        } catch {
            // A full map or disk: the keys stay (reads already treat them as gone) and the next pass retries.
            logger.error("active expiry failed: \(error)")
            return false
        }
    }

    /// Work that is not a queued write — active expiry, a command stream — as a batch of its own: space
    /// reserved for `keys` keys and `bytes` bytes, one write transaction for `body`, the last sequence
    /// recorded, one commit, and its changes published. An error (LMDB's, or no space) throws and leaves
    /// nothing stored or published.
    func batchOfItsOwn<R>(keys count: Int, bytes: Int, _ body: (inout KeyspaceWriter) throws -> R) throws -> R {
        changes.removeAll()
        guard reserveSpace(keys: count, bytes: bytes) else { throw LMDBError.system(ENOSPC) }
        let txn = try beginWrite()
        let result: R
        let transactionID: UInt64
        do {
            var keys = try KeyspaceWriter(txn, store.catalog, swapped: store.swapped.load(ordering: .acquiring), now: WallClock.milliseconds())
            keys.log = changeLog
            keys.reportsCreation = notifications.classes.contains(.new)
            keys.limits = collectionLimits.withLock { $0 }
            keys.space = spaceBudget(keys: count, bytes: bytes)
            result = try body(&keys)
            swap(&changes, &keys.changes)
            try recordLastSequence(in: txn)
            transactionID = UInt64(txn.id)
            try txn.commit()
        } catch {
            txn.abort()
            changes.removeAll()
            throw error
        }
        publishChanges(transactionID: transactionID, combiner: nil)
        return result
    }

    /// Publishes one ring record per change of the batch just committed and wakes subscribers: those
    /// on the futex (LocalStore, `shmkv watch`) and reactors with watching connections. (Role.)
    func publishChanges(transactionID: UInt64, combiner: ReactorThread?) {
        guard !changes.isEmpty else { return }
        for change in changes.entries {
            do {
                try changes.withBytes(of: change) { key, payload in
                    if change.kind == .message {
                        _ = try Result { () throws(RingError) in try publisher.publishMessage(channel: key, payload: payload) }.get()
                    } else {
                        let sequence = try Result { () throws(RingError) in
                            try publisher.publish(change.kind, event: change.event, flags: change.flags, key: key,
                                                  transactionID: transactionID, origin: change.origin, database: change.database)
                        }.get()
                        changeLog.record(sequence: sequence, kind: change.kind, event: change.event, flags: change.flags, key: key, database: change.database)
                    }
                }
            } catch {
                // Keys are at most 511 bytes, so this cannot happen; subscribers would see a gap.
                logger.error("ring publish failed: \(error)")
            }
        }
        publisher.wakeSubscribers()
        ServerStats.add(stats.expiredKeys, changes.entries.count { $0.event == .expired })
        // Released after the records are in the ring: a reactor that reads it knows them published.
        stats.ringNextSequence.store(Int(publisher.nextSequence), ordering: .releasing)
        // The combining reactor pumps its own followers when it delivers; the others are woken.
        for reactor in reactors.withLock({ $0 }) where reactor !== combiner && reactor.followsRing {
            reactor.loop.wake()
        }
    }

    /// SAVE: flushes the environment to disk before the batch's replies go out; a failure fails the SAVEs.
    func syncForSave() {
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
}
