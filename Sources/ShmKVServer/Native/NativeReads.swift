import LMDB
import NotifyRing
import Posix
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The native protocol's reads on the reactor's snapshot (GET, MGET, SCAN, STATS) and WATCH streams.
extension NativeSession {
    // MARK: Watch

    func startWatch(prefix: UnsafeRawBufferPointer, from: UInt64, id: UInt32) {
        if prefix.count > StoreLayout.maxKeySize {
            return ReplyWriter.error(.invalidKey, "prefix of \(prefix.count) bytes exceeds the maximum of \(StoreLayout.maxKeySize) bytes",
                                     requestID: id, into: &output)
        }
        let subscriber: RingSubscriber
        do {
            subscriber = try connection.startFollowingRing(from: from == 0 ? .now : .sequence(from))
        } catch {
            return ReplyWriter.error(.internalError, "cannot open the notification ring: \(error)", requestID: id, into: &output)
        }
        watch = (Array(prefix), id)
        let start = Native.beginFrame(code: Status.ok.rawValue, requestID: id, into: &output)
        output.appendLE(subscriber.epoch)
        output.appendLE(subscriber.nextSequence)
        Native.endFrame(at: start, in: &output)
    }

    /// SUBSCRIBE: follows the ring from now, counted among PUBLISH's receivers.
    func startSubscription(channels: [[UInt8]], patterns: [[UInt8]], id: UInt32) {
        let subscriber: RingSubscriber
        do { subscriber = try connection.startFollowingRing(from: .now) } catch {
            return ReplyWriter.error(.internalError, "cannot open the notification ring: \(error)", requestID: id, into: &output)
        }
        let set = Set(channels)
        var globs: [GlobPattern] = []
        for pattern in patterns where !globs.contains(where: { $0.pattern == pattern }) { globs.append(GlobPattern(pattern)) }
        subscription = (set, globs, id)
        context.subscriptions.update(channels: Array(set), patterns: globs, delta: 1)
        let start = Native.beginFrame(code: Status.ok.rawValue, requestID: id, into: &output)
        output.appendLE(subscriber.epoch)
        output.appendLE(subscriber.nextSequence)
        Native.endFrame(at: start, in: &output)
    }

    /// The session ends with its connection: its subscriptions stop counting.
    func end() {
        guard let subscription else { return }
        context.subscriptions.update(channels: Array(subscription.channels), patterns: subscription.patterns, delta: -1)
        self.subscription = nil
    }

    /// One event frame for a watching or subscribed connection: a WATCH sees changes under its prefix
    /// (clears and resyncs always); a SUBSCRIBE sees messages of its channels, one per matching pattern
    /// too (as Redis delivers), and resyncs.
    func writeWatchEvent(_ event: RingEvent) {
        if let subscription {
            switch event {
            case .message(let m):
                m.channel.withUnsafeBytes { channel in
                    m.payload.withUnsafeBytes { payload in
                        let none = UnsafeRawBufferPointer(start: nil, count: 0)
                        if subscription.channels.contains(m.channel) {
                            WatchEvent.writeMessage(sequence: m.sequence, channel: channel, payload: payload, pattern: none,
                                                    requestID: subscription.requestID, into: &output)
                        }
                        for glob in subscription.patterns where glob.matches(channel) {
                            glob.pattern.withUnsafeBytes { pattern in
                                WatchEvent.writeMessage(sequence: m.sequence, channel: channel, payload: payload, pattern: pattern,
                                                        requestID: subscription.requestID, into: &output)
                            }
                        }
                    }
                }
            case .change:
                return
            case .resync(let resync):
                writeResync(resync, requestID: subscription.requestID)
            }
            return
        }
        guard let watch else { return }
        switch event {
        case .change(let change):
            // The native protocol works in database 0.
            guard change.database == 0 || change.database == RingLayout.allDatabases,
                  change.key.starts(with: watch.prefix) || change.kind == .clear else { return }
            change.key.withUnsafeBytes { key in
                WatchEvent.writeChange(type: change.kind.rawValue, sequence: change.sequence,
                                       transactionID: change.transactionID, key: key,
                                       requestID: watch.requestID, into: &output)
            }
        case .message:
            return
        case .resync(let resync):
            writeResync(resync, requestID: watch.requestID)
        }
    }

    private func writeResync(_ resync: RingResync, requestID: UInt32) {
        let reason: UInt8 = switch resync.reason { case .lapped: 1; case .gap: 2; case .newEpoch: 3 }
        WatchEvent.writeResync(reason: reason, missedFrom: resync.missed.lowerBound,
                               missedUpTo: resync.missed.upperBound, requestID: requestID, into: &output)
    }

    // MARK: Reads

    func executeRead(_ request: RequestView, _ id: UInt32) {
        // A reply that fails half-way is cut back to here and replaced by the error.
        let replyStart = output.count
        do {
            let reader = try connection.reactor.keyspace()
            switch request {
            case .ping(let payload):
                ReplyWriter.payload(payload, requestID: id, into: &output)
            case .get(let key):
                if let refusal = checkKey(key) { return ReplyWriter.error(refusal.0, refusal.1, requestID: id, into: &output) }
                try reader.withValue(key) { value in
                    if let value { ReplyWriter.value(value, requestID: id, into: &output) }
                    else if try reader.collectionType(of: key) != nil {
                        // A hash, set or sorted set: GET reads strings only (RESP answers WRONGTYPE too).
                        ReplyWriter.error(.wrongType, WrongTypeError.message, requestID: id, into: &output)
                    } else { ReplyWriter.status(.notFound, requestID: id, into: &output) }
                }
            case .mget(let keys):
                for key in keys {
                    if let refusal = checkKey(key) { return ReplyWriter.error(refusal.0, refusal.1, requestID: id, into: &output) }
                }
                let start = Native.beginFrame(code: Status.ok.rawValue, requestID: id, into: &output)
                output.appendLE(UInt32(keys.count))
                for key in keys {
                    try reader.withValue(key) { value in
                        if let value { output.append(1); output.appendValue(value) } else { output.append(0) }
                    }
                }
                Native.endFrame(at: start, in: &output)
            case .ttl(let key):
                if let refusal = checkKey(key) { return ReplyWriter.error(refusal.0, refusal.1, requestID: id, into: &output) }
                guard try reader.contains(key) else { return ReplyWriter.status(.notFound, requestID: id, into: &output) }
                let deadline = try reader.deadline(of: key)
                Reply(status: .ok, requestID: id,
                      body: .ttl(deadline: deadline ?? -1, remaining: deadline.map { max(0, $0 - reader.now) } ?? -1)).encode(into: &output)
            case .scan(let query):
                try scan(query, reader: reader, id: id)
            case .stats:
                try writeStats(reader: reader, id: id)
            case .put, .delete, .mput, .incrBy, .watch, .auth, .expire, .subscribe, .publish, .transaction, .call:
                preconditionFailure("writes are queued, and WATCH and AUTH are handled apart, not executed here")
            }
        } catch {
            output.removeSubrange(replyStart...)
            ReplyWriter.error(.storageError, "\(error)", requestID: id, into: &output)
        }
    }

    private func scan(_ q: ScanQueryView, reader: KeyspaceReader, id: UInt32) throws {
        if q.start.count > StoreLayout.maxKeySize || q.end.count > StoreLayout.maxKeySize || q.after.count > StoreLayout.maxKeySize {
            return ReplyWriter.error(.invalidKey, "scan bounds must be at most \(StoreLayout.maxKeySize) bytes", requestID: id, into: &output)
        }
        let maxLimit = context.configuration.maxScanLimit
        let limit = q.limit == 0 ? maxLimit : min(Int(q.limit), maxLimit)
        // Keep a page well inside one frame even with large values.
        let byteBudget = context.configuration.maxFrameSize / 2
        let frame = Native.beginFrame(code: Status.ok.rawValue, requestID: id, into: &output)
        let countAt = output.count
        output.appendLE(UInt32(0))
        var count = 0
        var bytes = 0
        var more = false
        let after = q.after.isEmpty ? nil : Array(q.after)
        let restricted = !connection.isUnrestricted
        let visit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> IterationControl = { key, value in
            // A user limited to key prefixes sees only its own keys.
            if restricted && !self.connection.mayList(key) { return .proceed }
            if count == limit || (count > 0 && bytes + key.count + value.count > byteBudget) {
                more = true
                return .stop
            }
            self.output.appendKey(key)
            self.output.appendValue(value)
            count += 1
            bytes += key.count + value.count + 6
            return .proceed
        }
        switch q.mode {
        case .prefix:
            try reader.forEach(prefix: Array(q.start), after: after, visit)
        case .range:
            try reader.forEach(from: Array(q.start), to: q.end.isEmpty ? nil : Array(q.end), after: after, visit)
        }
        output.storeLE(UInt32(count), at: countAt)
        output.append(more ? 1 : 0)
        Native.endFrame(at: frame, in: &output)
    }

    private func writeStats(reader: KeyspaceReader, id: UInt32) throws {
        let env = context.store.environment
        let info = try env.info()
        let kvStat = try reader.transaction.stat(context.store.keyspace)
        let s = context.stats
        let durability: Int64 = switch context.configuration.durability { case .durable: 0; case .fast: 1; case .volatile: 2 }
        let entries: [(String, Int64)] = [
            ("keys", Int64(try reader.count())),
            ("keys_with_deadline", Int64(try reader.countWithDeadlines())),
            ("expired_keys", Int64(s.expiredKeys.load(ordering: .relaxed))),
            ("map_size", Int64(info.mapSize)),
            ("map_resizes", Int64(s.mapResizes.load(ordering: .relaxed))),
            ("map_used_bytes", Int64((info.lastPage + 1) * kvStat.pageSize)),
            ("page_size", Int64(kvStat.pageSize)),
            ("btree_depth", Int64(kvStat.depth)),
            ("last_txn_id", Int64(info.lastTransactionID)),
            ("max_readers", Int64(info.maxReaders)),
            ("readers_used", Int64(info.readersUsed)),
            ("stale_readers_cleared", Int64(s.staleReadersCleared.load(ordering: .relaxed))),
            ("connections_current", Int64(s.connectionsCurrent.load(ordering: .relaxed))),
            ("connections_total", Int64(s.connectionsTotal.load(ordering: .relaxed))),
            ("connections_rejected", Int64(s.connectionsRejected.load(ordering: .relaxed))),
            ("commands_processed", Int64(s.commandsProcessed.load(ordering: .relaxed))),
            ("protocol_errors", Int64(s.protocolErrors.load(ordering: .relaxed))),
            ("query_buffer_limit_disconnections", Int64(s.queryLimitDisconnections.load(ordering: .relaxed))),
            ("output_buffer_limit_disconnections", Int64(s.outputLimitDisconnections.load(ordering: .relaxed))),
            ("idle_timeout_disconnections", Int64(s.idleDisconnections.load(ordering: .relaxed))),
            ("auth_timeout_disconnections", Int64(s.authTimeoutDisconnections.load(ordering: .relaxed))),
            ("auth_failures", Int64(s.authFailures.load(ordering: .relaxed))),
            ("writes_committed", Int64(s.writesCommitted.load(ordering: .relaxed))),
            ("writes_failed", Int64(s.writesFailed.load(ordering: .relaxed))),
            ("batches_committed", Int64(s.batchesCommitted.load(ordering: .relaxed))),
            ("largest_batch", Int64(s.largestBatch.load(ordering: .relaxed))),
            ("reactor_threads", Int64(context.reactorCount)),
            ("durability", durability),
            ("max_key_size", Int64(StoreLayout.maxKeySize)),
            ("max_value_size", Int64(context.configuration.maxValueSize)),
            ("uptime_seconds", Int64(s.uptimeSeconds)),
            ("pid", Int64(getpid())),
            ("ring_epoch", Int64(bitPattern: context.ring.epoch)),
            ("ring_capacity", Int64(context.ring.capacity)),
            ("ring_next_sequence", Int64(s.ringNextSequence.load(ordering: .relaxed))),
        ] + replicationEntries()
        Reply(status: .ok, requestID: id, body: .stats(entries.map { StatEntry(name: $0.0, value: $0.1) })).encode(into: &output)
    }
    /// A replica's link in STATS: whether it is up, the offset applied, and how far behind it is.
    private func replicationEntries() -> [(String, Int64)] {
        let state = context.batcher.replication
        let links = state.activeLinks.map(\.status)
        guard state.isReplica.load(ordering: .relaxed), let first = links.first else { return [("replica", 0)] }
        // A cluster's links add up (up: every one; the offset: the first link's, as INFO's).
        let now = MonotonicClock.seconds()
        return [("replica", 1), ("replica_links", Int64(links.count)), ("replica_link_up", links.allSatisfy { $0.phase == .connected } ? 1 : 0),
                ("replica_offset", first.appliedOffset), ("replica_lag_bytes", links.reduce(0) { $0 + $1.lagBytes }),
                ("replica_lag_seconds", Int64(links.map { $0.lagSeconds(now: now) }.max() ?? 0)),
                ("replica_full_syncs", Int64(links.reduce(0) { $0 + $1.fullSyncs })), ("replica_partial_syncs", Int64(links.reduce(0) { $0 + $1.partialSyncs }))]
    }

}
