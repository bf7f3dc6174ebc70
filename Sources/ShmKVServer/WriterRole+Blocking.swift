import LMDB
import NotifyRing
import Posix

/// What one attempt at a batch did to blocked clients; applied to `BlockedClients` only once the
/// batch has committed (an attempt that is run again starts a new pass).
struct BlockingPass {
    /// Clients that were waiting before the batch and are answered by it, with their outcomes.
    var answered: [(serial: UInt64, outcome: WriteOutcome)] = []
    /// Operations of this batch that blocked and are still waiting, in order.
    var parked: [(index: Int, request: BlockRequest)] = []
    /// The first change not yet looked at for keys that became serveable.
    var mark = 0

    func isAnswered(_ serial: UInt64) -> Bool { answered.contains { $0.serial == serial } }
}

/// Serving blocked clients inside the batch (Redis's `handleClientsBlockedOnKeys`, run after each
/// command): after every operation, each key it stored is looked up among the waiting clients, and
/// those waiting on it are served in the order they blocked, each pop applied in the same transaction.
extension WriterRole {
    /// Serves the clients waiting on keys the changes since `pass.mark` stored (a served client's own
    /// push — BLMOVE — may serve more). Leaves `keys` with the database it had.
    func serveReady(_ keys: inout KeyspaceWriter, _ pass: inout BlockingPass, _ batch: [WriteTicket],
                    _ outcomes: inout [WriteOutcome]) throws {
        guard !blocked.isEmpty || !pass.parked.isEmpty else {
            pass.mark = keys.changes.count
            return
        }
        let selected = keys.database, origin = keys.origin, mode = keys.blocking
        defer {
            keys.origin = origin
            keys.blocking = mode
        }
        while pass.mark < keys.changes.count {
            let change = keys.changes.entries[pass.mark]
            pass.mark += 1
            guard change.kind == .put else { continue }
            let key = keys.changes.withBytes(of: change) { key, _ in Array(key) }
            let waiting = blocked.queue(change.database, key).filter { !pass.isAnswered($0) }
            for serial in waiting {
                guard let ticket = blocked.waiters[serial]?.ticket else { continue }
                if let outcome = try serve(ticket, on: key, &keys) { pass.answered.append((serial, outcome)) }
            }
            var i = 0
            while i < pass.parked.count {
                let (index, request) = pass.parked[i]
                guard batch[index].database == change.database, request.keys.contains(key),
                      let outcome = try serve(batch[index], on: key, &keys) else {
                    i += 1
                    continue
                }
                outcomes[index] = outcome
                pass.parked.remove(at: i)
            }
        }
        try keys.select(selected)
    }

    /// Runs a blocked client's command again for `key`; nil while it still finds nothing to pop there.
    private func serve(_ ticket: WriteTicket, on key: [UInt8], _ keys: inout KeyspaceWriter) throws -> WriteOutcome? {
        try keys.select(Int(ticket.database))
        keys.origin = ticket.origin
        keys.blocking = .serving(key)
        let outcome = try ticket.operation.apply(&keys)
        if case .result(.block) = outcome { return nil }
        return outcome
    }

    /// CLIENT UNBLOCK, or a blocked client's connection gone: its command is answered now (as a timeout,
    /// or `-UNBLOCKED`). The outcome of the unblocking operation: 1 if the client was blocked.
    func unblock(client: UInt32, _ reason: UnblockReason, _ pass: inout BlockingPass, _ batch: [WriteTicket],
                 _ outcomes: inout [WriteOutcome]) -> WriteOutcome {
        if let at = pass.parked.firstIndex(where: { batch[$0.index].origin == client }) {
            let (index, request) = pass.parked.remove(at: at)
            outcomes[index] = .result(reason.result(request))
            return .integer(1)
        }
        guard let serial = blocked.serial(ofClient: client), !pass.isAnswered(serial), let waiter = blocked.waiters[serial] else {
            return .integer(0)
        }
        pass.answered.append((serial, .result(reason.result(waiter.request))))
        return .integer(1)
    }

    /// After the batch committed: clients it answered leave the registry (their replies go with the
    /// batch's), and its operations still blocked join it. Their outcome slots say `blocked`: no reply
    /// goes back for them now.
    func finishBlocking(_ pass: BlockingPass) {
        for (serial, outcome) in pass.answered {
            guard let waiter = blocked.remove(serial) else { continue }
            answeredWaiters.append((waiter.ticket, outcome))
        }
        var wakeWriter = false
        for (index, request) in pass.parked {
            blocked.park(batch[index], request)
            outcomes[index] = .blocked
            if request.deadline != 0 { wakeWriter = true }
        }
        // The writer thread sleeps until the earliest deadline: it must see a new one.
        if wakeWriter { doorbell.signal() }
    }

    /// Answers, as timed out, the blocked clients whose deadline has passed (the writer thread, on its
    /// timer); the time until the next deadline, in milliseconds (nil: none).
    func expireBlocked() -> Int? {
        guard !blocked.isEmpty else { return nil }
        let now = MonotonicClock.milliseconds()
        for serial in blocked.due(at: now) {
            guard let waiter = blocked.remove(serial) else { continue }
            answeredWaiters.append((waiter.ticket, .result(waiter.request.timeoutResult)))
        }
        var none: [WriteCompletion] = []
        deliverAnswered(combiner: nil, local: &none)
        return blocked.nextDeadline.map { max(0, $0 - now) }
    }

    /// Sends the outcomes of answered blocked clients to their reactors (the combiner's into `local`),
    /// with every other outcome gathered for a reactor: one hand-off (and at most one wake-up) per reactor.
    func deliverAnswered(combiner: ReactorThread?, local: inout [WriteCompletion]) {
        for (ticket, outcome) in answeredWaiters {
            route(WriteCompletion(outcome: outcome, route: ticket.route, connection: ticket.connection,
                                  byteCount: ticket.byteCount, arenaChunk: ticket.arenaChunk), combiner: combiner, local: &local)
        }
        answeredWaiters.removeAll(keepingCapacity: true)
        for index in completions.indices where !completions[index].isEmpty {
            completions[index].first!.connection._withUnsafeGuaranteedRef { $0.reactor }.post(completions[index])
            completions[index].removeAll(keepingCapacity: true)
        }
    }
}
