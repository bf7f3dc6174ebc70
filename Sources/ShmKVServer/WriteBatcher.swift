import LMDB
import Logging
import Reactor
import Synchronization
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A write and where its outcome must go.
struct WriteTicket: @unchecked Sendable {
    // Invariant: `connection` is only carried by the writer thread, never touched there; it is used
    // again only on `reactor`'s thread, which owns it.
    let operation: WriteOperation
    let requestID: UInt32
    let connection: ServerConnection
    let reactor: ReactorThread
}

/// An outcome on its way back to the reactor that owns the connection.
struct WriteCompletion: @unchecked Sendable {
    // Invariant: as for `WriteTicket`.
    let outcome: WriteOutcome
    let requestID: UInt32
    let connection: ServerConnection
}

/// The writer thread with group commit: it drains everything queued into one LMDB write transaction,
/// applies each operation in a nested transaction so that one failing operation fails alone, commits
/// once, and only then hands each outcome back to its reactor. A reply therefore always means committed.
final class WriteBatcher: Sendable {
    private struct Queue {
        var tickets: [WriteTicket] = []
        var closed = false
    }

    private let queue = Mutex(Queue())
    private let doorbell: EventFD
    private let store: Store
    private let configuration: ServerConfiguration
    private let stats: ServerStats
    private let logger: Logger

    init(store: Store, configuration: ServerConfiguration, stats: ServerStats, logger: Logger) throws(SystemError) {
        self.store = store
        self.configuration = configuration
        self.stats = stats
        self.logger = logger
        doorbell = try EventFD()
    }

    /// Queues a write; `false` once the batcher is closed (the daemon is stopping).
    func submit(_ ticket: WriteTicket) -> Bool {
        let accepted = queue.withLock { q in
            if q.closed { return false }
            q.tickets.append(ticket)
            return true
        }
        if accepted { doorbell.signal() }
        return accepted
    }

    /// Refuses new writes; `run()` commits what is queued and returns.
    func close() {
        queue.withLock { $0.closed = true }
        doorbell.signal()
    }

    /// The writer thread's body.
    func run() {
        var lastReaderCheck = monotonicSeconds()
        var lastSync = lastReaderCheck
        var batch: [WriteTicket] = []
        var outcomes: [WriteOutcome] = []
        while true {
            doorbell.wait(timeoutMilliseconds: 1000)
            var closed = false
            repeat {
                batch.removeAll(keepingCapacity: true)
                closed = queue.withLock { q in
                    take(from: &q.tickets, into: &batch)
                    return q.closed
                }
                if !batch.isEmpty { commit(batch, outcomes: &outcomes) }
            } while !batch.isEmpty
            let now = monotonicSeconds()
            if now - lastReaderCheck >= configuration.readerCheckInterval {
                lastReaderCheck = now
                checkReaders()
            }
            if configuration.durability == .volatile, now - lastSync >= configuration.syncInterval {
                lastSync = now
                do { try store.environment.sync(force: true) } catch { logger.error("mdb_env_sync failed: \(error)") }
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
            bytes += queue[n].operation.byteCount
            n += 1
            if bytes >= configuration.batchMaxBytes { break }
        }
        batch.append(contentsOf: queue[0..<n])
        queue.removeFirst(n)
    }

    private func commit(_ batch: [WriteTicket], outcomes: inout [WriteOutcome]) {
        outcomes.removeAll(keepingCapacity: true)
        do {
            let txn = try store.environment.beginWrite()
            for ticket in batch {
                outcomes.append(applyAlone(ticket.operation, in: txn))
            }
            try txn.commit()
            let written = outcomes.count { if case .failed = $0 { false } else { true } }
            ServerStats.add(stats.writesCommitted, written)
            ServerStats.add(stats.writesFailed, outcomes.count - written)
            ServerStats.add(stats.batchesCommitted)
            if batch.count > stats.largestBatch.load(ordering: .relaxed) {
                stats.largestBatch.store(batch.count, ordering: .relaxed)
            }
        } catch {
            // Nothing of this batch is on disk: every operation in it fails, none is acknowledged.
            logger.error("write batch of \(batch.count) failed: \(error)")
            ServerStats.add(stats.writesFailed, batch.count)
            outcomes = Array(repeating: .failed(.storageError, "commit failed: \(error)"), count: batch.count)
        }
        deliver(batch, outcomes)
    }

    private func applyAlone(_ operation: WriteOperation, in txn: WriteTransaction) -> WriteOutcome {
        do {
            let child = try txn.child()
            do {
                let outcome = try operation.apply(in: child, keyspace: store.keyspace)
                try child.commit()
                return outcome
            } catch {
                child.abort()
                throw error
            }
        } catch {
            return .failed(.storageError, "\(error)")
        }
    }

    /// Hands outcomes to their reactors, one wake-up per reactor per batch.
    private func deliver(_ batch: [WriteTicket], _ outcomes: [WriteOutcome]) {
        var byReactor: [ObjectIdentifier: (ReactorThread, [WriteCompletion])] = [:]
        for (ticket, outcome) in zip(batch, outcomes) {
            let id = ObjectIdentifier(ticket.reactor)
            let completion = WriteCompletion(outcome: outcome, requestID: ticket.requestID, connection: ticket.connection)
            if byReactor[id] == nil { byReactor[id] = (ticket.reactor, []) }
            byReactor[id]!.1.append(completion)
        }
        for (reactor, completions) in byReactor.values { reactor.post(completions) }
    }

    private func checkReaders() {
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

func monotonicSeconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec
}
