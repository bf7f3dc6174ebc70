import LMDB
import NotifyRing
import Reactor
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// One client connection inside the daemon: protocol detection, the native handshake, request
/// execution, and the ordering rule — replies leave in request order, and a request that is not a
/// write waits until every earlier write of this connection has committed.
final class ServerConnection: Connection {
    enum Phase {
        /// Nothing read yet: the first byte picks the protocol.
        case detecting
        /// Native magic seen; waiting for the whole hello.
        case nativeHello
        case native
        /// RESP2 or RESP3 (Redis clients).
        case resp
        /// Over the client limit: answer the first bytes with an error and close.
        case rejected
        case finished
    }

    unowned let reactor: ReactorThread
    let context: ServerContext
    var phase: Phase
    /// Writes handed to the writer whose outcomes have not come back.
    var pendingWrites = 0
    /// Parsing stopped at a request that must wait for `pendingWrites` to reach zero.
    var waitingForWrites = false
    /// RESP state (see RESPConnection.swift).
    var resp = RESPState()
    /// The decoder's reused argument ranges and inline scratch (apart from `resp`, so both can be
    /// passed `inout` at once).
    var respArguments: [Range<Int>] = []
    var respScratch: [UInt8] = []
    /// The connection's own cursor in the notification ring while it follows changes: a native WATCH,
    /// or RESP pub/sub (keyspace notifications). `pumpRing` moves its events into the output.
    private(set) var ringSubscriber: RingSubscriber?
    /// Set once the connection sent WATCH: it then carries change events for keys with `prefix`.
    private var watch: (prefix: [UInt8], requestID: UInt32)?

    /// Event bytes queued beyond which a follower is not given more until its client reads (the ring,
    /// not the daemon's memory, holds the backlog; a client too slow for it is lapped and told so).
    private static let ringOutputCap = 256 * 1024

    init(fd: Int32, reactor: ReactorThread, rejected: Bool) {
        self.reactor = reactor
        context = reactor.context
        phase = rejected ? .rejected : .detecting
        super.init(fd: fd, loop: reactor.loop)
        maxPendingOutput = context.configuration.maxOutputBuffer
        maxInput = context.configuration.maxFrameSize + 64 * 1024
    }

    override func didClose() {
        endRESP()
        stopFollowingRing()
        phase = .finished
        reactor.connectionClosed(self)
    }

    override func peerClosedWriting() {
        // Everything the client sent is still executed and answered (a client may half-close and wait
        // for its answers); the socket closes when that is done.
        peerGone = true
        setReadingPaused(true)
        if pendingWrites > 0 || parseIncomplete { detach() }
        finishIfPeerGone()
        if closeAfterFlush && pendingOutput == 0 { close() }
    }

    override func outputDrained() {
        if ringSubscriber != nil && !isClosed { processLater() }
    }

    override func outputFailed() -> Bool {
        // The client is gone, but requests it sent before going are still carried out.
        peerGone = true
        let working = pendingWrites > 0 || parseIncomplete
        if working { detach() }
        return working
    }

    /// The client sent EOF (or can no longer be written to).
    var peerGone = false
    /// Parsing stopped with whole requests left in the input (fairness cap or waiting for writes).
    var parseIncomplete = false

    /// With the peer gone, close once nothing received is left to do.
    func finishIfPeerGone() {
        if peerGone && pendingWrites == 0 && !parseIncomplete { closeAfterFlush = true }
    }

    override func process() {
        while input.readableCount > 0 && !isClosed {
            switch phase {
            case .detecting:
                if input.readable[0] == Native.magicByte {
                    phase = .nativeHello
                } else {
                    phase = .resp
                    startRESP()
                }
            case .resp:
                processRESP()
                finishIfPeerGone()
                pumpRing()
                return
            case .rejected:
                if input.readable[0] == Native.magicByte {
                    output.append(contentsOf: Native.serverHello(status: .tooManyClients, maxFrameSize: 0))
                    refuse(resp: nil)
                } else {
                    refuse(resp: "-ERR max number of clients reached\r\n")
                }
                return
            case .nativeHello:
                let version: UInt8?
                do { version = try Native.parseClientHello(input.readable) } catch {
                    ServerStats.add(context.stats.protocolErrors)
                    refuse(resp: nil)
                    return
                }
                guard let version else { return }
                consumeInput(Native.clientHelloSize)
                guard version == Native.version else {
                    output.append(contentsOf: Native.serverHello(status: .unsupportedVersion, maxFrameSize: context.configuration.maxFrameSize))
                    refuse(resp: nil)
                    return
                }
                output.append(contentsOf: Native.serverHello(status: .ok, maxFrameSize: context.configuration.maxFrameSize))
                phase = .native
            case .native:
                processNative()
                finishIfPeerGone()
                pumpRing()
                return
            case .finished:
                consumeInput(input.readableCount)
                return
            }
        }
    }

    /// Sends an optional RESP error line, then closes once the output is out.
    func refuse(resp line: String?) {
        if let line { output.append(contentsOf: Array(line.utf8)) }
        phase = .finished
        consumeInput(input.readableCount)
        closeAfterFlush = true
        setReadingPaused(true)
    }

    // MARK: Native requests

    /// Fairness, for both protocols' request loops: after `maxRequestsPerEvent` requests in one turn,
    /// let other connections run and come back on the next loop iteration.
    func turnIsOver(afterHandling handled: Int) -> Bool {
        guard handled == context.configuration.maxRequestsPerEvent else { return false }
        if input.readableCount > 0 {
            parseIncomplete = true
            processLater()
        }
        return true
    }

    private func processNative() {
        var handled = 0
        parseIncomplete = false
        while !isClosed && phase == .native && !waitingForWrites {
            if turnIsOver(afterHandling: handled) { return }
            let decoded: FrameDecodeResult
            do {
                decoded = try Native.decodeFrame(input.readable, maxFrameSize: context.configuration.maxFrameSize)
            } catch {
                // The stream cannot be framed any more: answer (in order) and close.
                guard pendingWrites == 0 else { return waitForWrites() }
                ServerStats.add(context.stats.protocolErrors)
                let status: Status = if case .frameTooLarge = error { .frameTooLarge } else { .badRequest }
                ReplyWriter.error(status, error.description, requestID: 0, into: &output)
                refuse(resp: nil)
                return
            }
            guard case .frame(let header, let body, let consumed) = decoded else { return }
            handled += 1
            guard handle(header: header, body: body) else { return waitForWrites() }
            consumeInput(consumed)
            ServerStats.add(context.stats.commandsProcessed)
        }
    }

    func waitForWrites() {
        waitingForWrites = true
        parseIncomplete = true
        setReadingPaused(true)
    }

    /// Executes or queues one request. Returns `false` if it must wait for earlier writes (nothing was
    /// consumed or answered then).
    private func handle(header: FrameHeader, body: UnsafeRawBufferPointer) -> Bool {
        let request: RequestView
        do {
            request = try RequestView(header: header, body: body)
        } catch {
            guard pendingWrites == 0 else { return false }
            ServerStats.add(context.stats.protocolErrors)
            let status: Status = if case .unknownOpcode = error { .unknownOpcode } else { .badRequest }
            ReplyWriter.error(status, error.description, requestID: header.requestID, into: &output)
            return true
        }
        let id = header.requestID
        if watch != nil {
            switch request {
            case .ping: break
            default:
                ReplyWriter.error(.badRequest, "this connection is watching: only PING is accepted (close it to stop watching)",
                                  requestID: id, into: &output)
                return true
            }
        }
        switch request {
        case .watch(let prefix, let from):
            guard pendingWrites == 0 else { return false }
            startWatch(prefix: prefix, from: from, id: id)
            return true
        case .put(let key, let value, let condition):
            if let refusal = checkKey(key) ?? checkValue(value) { return answer(refusal, id) }
            return enqueue(.put(key: Array(key), value: Array(value), condition: condition), id)
        case .delete(let key):
            if let refusal = checkKey(key) { return answer(refusal, id) }
            return enqueue(.delete(key: Array(key)), id)
        case .incrBy(let key, let delta):
            if let refusal = checkKey(key) { return answer(refusal, id) }
            return enqueue(.incrBy(key: Array(key), delta: delta), id)
        case .mput(let pairs):
            var owned: [KeyValue] = []
            owned.reserveCapacity(pairs.count)
            for (key, value) in pairs {
                if let refusal = checkKey(key) ?? checkValue(value) { return answer(refusal, id) }
                owned.append(KeyValue(key: Array(key), value: Array(value)))
            }
            return enqueue(.mput(owned), id)
        default:
            guard pendingWrites == 0 else { return false }
            executeRead(request, id)
            return true
        }
    }

    /// Replies with an error at once, if that keeps replies in order.
    private func answer(_ refusal: (Status, String), _ id: UInt32) -> Bool {
        guard pendingWrites == 0 else { return false }
        ReplyWriter.error(refusal.0, refusal.1, requestID: id, into: &output)
        return true
    }

    private func enqueue(_ operation: WriteOperation, _ id: UInt32) -> Bool {
        let ticket = WriteTicket(operation: operation, requestID: id, connection: self, reactor: reactor)
        if context.batcher.submit(ticket) {
            pendingWrites += 1
            return true
        }
        return answer((.shuttingDown, "the server is shutting down"), id)
    }

    private func checkKey(_ key: UnsafeRawBufferPointer) -> (Status, String)? {
        if key.isEmpty { return (.invalidKey, "key must not be empty") }
        if key.count > Limits.maxKeySize {
            return (.invalidKey, "key of \(key.count) bytes exceeds the maximum of \(Limits.maxKeySize) bytes")
        }
        return nil
    }

    private func checkValue(_ value: UnsafeRawBufferPointer) -> (Status, String)? {
        let max = context.configuration.maxValueSize
        return value.count > max ? (.valueTooLarge, "value of \(value.count) bytes exceeds the maximum of \(max) bytes") : nil
    }

    /// Called on this connection's reactor thread when the writer finished one of its writes.
    func complete(_ outcome: WriteOutcome, requestID: UInt32) {
        pendingWrites -= 1
        if resp.registered {
            completeRESP(outcome)
        } else {
            completeNative(outcome, requestID: requestID)
        }
        guard pendingWrites == 0 else { return }
        if waitingForWrites {
            waitingForWrites = false
            if !peerGone { setReadingPaused(false) }
            process()
        }
        finishIfPeerGone()
    }

    private func completeNative(_ outcome: WriteOutcome, requestID: UInt32) {
        switch outcome {
        case .stored: ReplyWriter.status(.ok, requestID: requestID, into: &output)
        case .deleted(let existed): ReplyWriter.deleted(existed, requestID: requestID, into: &output)
        case .integer(let n): ReplyWriter.integer(n, requestID: requestID, into: &output)
        case .conditionFailed: ReplyWriter.status(.conditionFailed, requestID: requestID, into: &output)
        case .failed(let status, let message): ReplyWriter.error(status, message, requestID: requestID, into: &output)
        case .previous(let value?, _): value.withUnsafeBytes { ReplyWriter.value($0, requestID: requestID, into: &output) }
        case .previous(nil, _): ReplyWriter.status(.notFound, requestID: requestID, into: &output)
        }
    }

    // MARK: Watch

    private func startWatch(prefix: UnsafeRawBufferPointer, from: UInt64, id: UInt32) {
        if prefix.count > Limits.maxKeySize {
            return ReplyWriter.error(.invalidKey, "prefix of \(prefix.count) bytes exceeds the maximum of \(Limits.maxKeySize) bytes",
                                     requestID: id, into: &output)
        }
        let subscriber: RingSubscriber
        do {
            subscriber = try startFollowingRing(from: from == 0 ? .now : .sequence(from))
        } catch {
            return ReplyWriter.error(.internalError, "cannot open the notification ring: \(error)", requestID: id, into: &output)
        }
        watch = (Array(prefix), id)
        let start = Native.beginFrame(code: Status.ok.rawValue, requestID: id, into: &output)
        output.appendLE(subscriber.epoch)
        output.appendLE(subscriber.nextSequence)
        Native.endFrame(at: start, in: &output)
    }

    /// Opens this connection's ring cursor and has the reactor wake it after each publish. The
    /// reactor counts it first, so no publish after the cursor's start can go without a wake-up.
    func startFollowingRing(from start: RingSubscriber.Start) throws(RingError) -> RingSubscriber {
        reactor.addRingFollower(self)
        do {
            // Replacement checks are for readers that outlive a daemon; this one dies with it.
            let subscriber = try RingSubscriber(path: context.ring.path, start: start, replacementCheckMilliseconds: 0)
            ringSubscriber = subscriber
            return subscriber
        } catch {
            reactor.removeRingFollower(self)
            throw error
        }
    }

    func stopFollowingRing() {
        guard ringSubscriber != nil else { return }
        ringSubscriber = nil
        reactor.removeRingFollower(self)
    }

    /// Moves ready ring events into the output, up to the cap, encoded for the connection's protocol;
    /// called after each publish (by the reactor), after input, and when the output has drained.
    func pumpRing() {
        guard let subscriber = ringSubscriber, !isClosed, !outputBroken else { return }
        while pendingOutput < ServerConnection.ringOutputCap, let event = subscriber.poll() {
            if resp.registered { publishKeyspaceEvent(event) } else { writeWatchEvent(event) }
        }
    }

    /// One WATCH event frame (changes outside the prefix are skipped; clears and resyncs never are).
    private func writeWatchEvent(_ event: RingEvent) {
        guard let watch else { return }
        switch event {
        case .change(let change):
            guard change.key.starts(with: watch.prefix) || change.kind == .clear else { return }
            change.key.withUnsafeBytes { key in
                WatchEvent.writeChange(type: UInt8(change.kind.rawValue), sequence: change.sequence,
                                       transactionID: change.transactionID, key: key,
                                       requestID: watch.requestID, into: &output)
            }
        case .resync(let resync):
            let reason: UInt8 = switch resync.reason { case .lapped: 1; case .gap: 2; case .newEpoch: 3 }
            WatchEvent.writeResync(reason: reason, missedFrom: resync.missed.lowerBound,
                                   missedUpTo: resync.missed.upperBound, requestID: watch.requestID, into: &output)
        }
    }

    // MARK: Reads

    private func executeRead(_ request: RequestView, _ id: UInt32) {
        // A reply that fails half-way is cut back to here and replaced by the error.
        let replyStart = output.count
        do {
            let txn = try reactor.snapshot()
            let kv = context.store.keyspace
            switch request {
            case .ping(let payload):
                ReplyWriter.payload(payload, requestID: id, into: &output)
            case .get(let key):
                if let refusal = checkKey(key) { return ReplyWriter.error(refusal.0, refusal.1, requestID: id, into: &output) }
                try txn.withValue(kv, key: key) { value in
                    if let value { ReplyWriter.value(value, requestID: id, into: &output) }
                    else { ReplyWriter.status(.notFound, requestID: id, into: &output) }
                }
            case .mget(let keys):
                for key in keys {
                    if let refusal = checkKey(key) { return ReplyWriter.error(refusal.0, refusal.1, requestID: id, into: &output) }
                }
                let start = Native.beginFrame(code: Status.ok.rawValue, requestID: id, into: &output)
                output.appendLE(UInt32(keys.count))
                for key in keys {
                    try txn.withValue(kv, key: key) { value in
                        if let value { output.append(1); output.appendValue(value) } else { output.append(0) }
                    }
                }
                Native.endFrame(at: start, in: &output)
            case .scan(let query):
                try scan(query, txn: txn, id: id)
            case .stats:
                try writeStats(txn: txn, id: id)
            case .put, .delete, .mput, .incrBy, .watch:
                preconditionFailure("writes are queued and WATCH is handled apart, not executed here")
            }
        } catch {
            output.removeSubrange(replyStart...)
            ReplyWriter.error(.storageError, "\(error)", requestID: id, into: &output)
        }
    }

    private func scan(_ q: ScanQueryView, txn: ReadTransaction, id: UInt32) throws {
        if q.start.count > Limits.maxKeySize || q.end.count > Limits.maxKeySize || q.after.count > Limits.maxKeySize {
            return ReplyWriter.error(.invalidKey, "scan bounds must be at most \(Limits.maxKeySize) bytes", requestID: id, into: &output)
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
        let visit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> IterationControl = { key, value in
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
            try txn.forEach(context.store.keyspace, prefix: Array(q.start), after: after, visit)
        case .range:
            try txn.forEach(context.store.keyspace, from: Array(q.start), to: q.end.isEmpty ? nil : Array(q.end), after: after, visit)
        }
        output.storeLE(UInt32(count), at: countAt)
        output.append(more ? 1 : 0)
        Native.endFrame(at: frame, in: &output)
    }

    private func writeStats(txn: ReadTransaction, id: UInt32) throws {
        let env = context.store.environment
        let info = try env.info()
        let kvStat = try txn.stat(context.store.keyspace)
        let s = context.stats
        let durability: Int64 = switch context.configuration.durability { case .durable: 0; case .fast: 1; case .volatile: 2 }
        let entries: [(String, Int64)] = [
            ("keys", Int64(kvStat.entries)),
            ("map_size", Int64(info.mapSize)),
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
            ("writes_committed", Int64(s.writesCommitted.load(ordering: .relaxed))),
            ("writes_failed", Int64(s.writesFailed.load(ordering: .relaxed))),
            ("batches_committed", Int64(s.batchesCommitted.load(ordering: .relaxed))),
            ("largest_batch", Int64(s.largestBatch.load(ordering: .relaxed))),
            ("reactor_threads", Int64(context.reactorCount)),
            ("durability", durability),
            ("max_key_size", Int64(Limits.maxKeySize)),
            ("max_value_size", Int64(context.configuration.maxValueSize)),
            ("uptime_seconds", Int64(s.uptimeSeconds)),
            ("pid", Int64(getpid())),
            ("ring_epoch", Int64(bitPattern: context.ring.epoch)),
            ("ring_capacity", Int64(context.ring.capacity)),
            ("ring_next_sequence", Int64(s.ringNextSequence.load(ordering: .relaxed))),
        ]
        Reply(status: .ok, requestID: id, body: .stats(entries.map { StatEntry(name: $0.0, value: $0.1) })).encode(into: &output)
    }
}

/// Fixed limits of the store.
public enum Limits {
    /// LMDB's key limit in Debian's build (`mdb_env_get_maxkeysize`).
    public static let maxKeySize = 511
}
