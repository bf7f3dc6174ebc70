import LMDB
import StoreLayout
import Wire

/// A MULTI block being queued.
struct QueuedTransaction {
    var steps: [TransactionStep] = []
    /// A command was refused while queueing (unknown, wrong arity, not allowed): EXEC answers EXECABORT.
    var failed = false
}

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH with Redis's semantics. Queued commands run at EXEC on the
/// writer thread as one unit of the batch's LMDB transaction: no other write interleaves, and no reader
/// (daemon or LocalStore) sees part of it. Reads inside a transaction run there too, seeing its writes.
extension RESPSession {
    func multi(_ args: RESPArguments) {
        guard transaction == nil else { return RESPWriter.error("ERR MULTI calls can not be nested", into: &output) }
        transaction = QueuedTransaction()
        RESPWriter.ok(into: &output)
    }

    func discard(_ args: RESPArguments) {
        guard transaction != nil else { return RESPWriter.error("ERR DISCARD without MULTI", into: &output) }
        transaction = nil
        watched.removeAll()
        RESPWriter.ok(into: &output)
    }

    /// EXEC: queued for the writer like a write (so it follows the connection's earlier writes); its
    /// reply is the steps' results, or a null array when a watched key changed.
    func exec(_ args: RESPArguments) -> Bool {
        guard let queued = transaction else { return replyError("ERR EXEC without MULTI") }
        guard connection.pendingWrites == 0 else { return false }
        transaction = nil
        let watches = watched
        watched.removeAll()
        if queued.failed {
            RESPWriter.error("EXECABORT Transaction discarded because of previous errors.", into: &output)
            return true
        }
        return enqueue(.transaction(queued.steps, watched: watches))
    }

    /// WATCH key…: notes for each key the first ring sequence this connection's snapshot has not seen
    /// (`__meta`'s last sequence + 1, read from the same snapshot) and whether the key lives.
    func watch(_ args: RESPArguments) {
        guard transaction == nil else { return RESPWriter.error("ERR WATCH inside MULTI is not allowed", into: &output) }
        read { keys in
            let last = try keys.transaction.get(self.context.store.meta, key: StoreLayout.MetaKey.lastSequence)
                .flatMap(MetaValue.decimal) ?? 0
            for i in 1..<args.count where !self.watched.contains(where: { $0.key.elementsEqual(args[i]) }) {
                let live = self.keyProblem(args[i]) == nil ? try keys.contains(args[i]) : false
                self.watched.append(WatchedKey(key: args.bytes(i), sequence: last + 1, wasLive: live))
            }
            RESPWriter.ok(into: &self.output)
        }
    }

    func unwatch(_ args: RESPArguments) {
        watched.removeAll()
        RESPWriter.ok(into: &output)
    }

    /// A command sent inside MULTI: refused ones flag the transaction (EXECABORT later), writes and the
    /// reads that can run on the writer are queued (+QUEUED), other immediate commands are refused.
    func queue(_ command: Command?, _ args: RESPArguments, _ admission: Admission) -> Bool {
        guard connection.pendingWrites == 0 else { return false }
        guard admission == .run, let command else {
            transaction?.failed = true
            RESPWriter.error(admissionError(admission, args), into: &output)
            return true
        }
        switch command.handler {
        case .write(let handle):
            queueing = true
            defer { queueing = false }
            return handle(self, args)
        case .immediate:
            guard let step = command.step else {
                transaction?.failed = true
                RESPWriter.error("ERR Command not allowed inside a transaction", into: &output)
                return true
            }
            return queued(step(args))
        }
    }

    /// Adds a step and answers +QUEUED.
    func queued(_ step: TransactionStep) -> Bool {
        transaction?.steps.append(step)
        RESPWriter.simple("QUEUED", into: &output)
        return true
    }
}

/// The steps of the read commands that may be queued in MULTI (referenced by `CommandTable`). A key
/// LMDB cannot hold is absent, as outside a transaction.
enum TransactionSteps {
    private static func valid(_ args: RESPArguments, _ i: Int) -> Bool { StoreLayout.check(key: args[i]) == nil }

    static func get(_ args: RESPArguments) -> TransactionStep {
        valid(args, 1) ? .read(.get(args.bytes(1))) : .answer(.bulk(nil))
    }

    static func mget(_ args: RESPArguments) -> TransactionStep {
        guard (1..<args.count).allSatisfy({ valid(args, $0) }) else {
            return .answer(.array((1..<args.count).map { _ in .bulk(nil) }))
        }
        return .read(.mget((1..<args.count).map { args.bytes($0) }))
    }

    static func exists(_ args: RESPArguments) -> TransactionStep {
        .read(.exists((1..<args.count).filter { valid(args, $0) }.map { args.bytes($0) }))
    }

    static func strlen(_ args: RESPArguments) -> TransactionStep {
        valid(args, 1) ? .read(.strlen(args.bytes(1))) : .answer(.integer(0))
    }

    static func getRange(_ args: RESPArguments) -> TransactionStep {
        guard let start = args.integer(2), let end = args.integer(3) else { return .error("ERR value is not an integer or out of range") }
        return valid(args, 1) ? .read(.getRange(args.bytes(1), start: start, end: end)) : .answer(.bulk([]))
    }

    static func ttl(milliseconds: Bool, absolute: Bool) -> @Sendable (RESPArguments) -> TransactionStep {
        { args in valid(args, 1) ? .read(.ttl(args.bytes(1), milliseconds: milliseconds, absolute: absolute)) : .answer(.integer(-2)) }
    }

    static func ping(_ args: RESPArguments) -> TransactionStep {
        args.count == 1 ? .answer(.status("PONG")) : .answer(.bulk(args.bytes(1)))
    }
}
