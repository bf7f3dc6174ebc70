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
/// (daemon or LocalStore) sees part of it. Reads inside a transaction run there too, seeing its writes,
/// through the same handlers as outside (`CommandHandler.keyspace`); commands about the connection or
/// the server run on the reactor when EXEC's outcome is back.
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

    /// EXEC: submitted to the writer like a write (dispatch runs it after the connection's earlier
    /// writes); its reply is the steps' results, or a null array when a watched key changed.
    func exec(_ args: RESPArguments) {
        guard let queued = transaction else { return RESPWriter.error("ERR EXEC without MULTI", into: &output) }
        transaction = nil
        let watches = watched
        watched.removeAll()
        if queued.failed {
            return RESPWriter.error("EXECABORT Transaction discarded because of previous errors.", into: &output)
        }
        _ = submit(.transaction(ExecBlock(steps: queued.steps, condition: .unchanged(watches), client: callingClient, context: context)))
    }

    /// WATCH key…: notes for each key the first ring sequence this connection's snapshot has not seen
    /// (`__meta`'s last sequence + 1, read from the same snapshot) and whether the key lives.
    func watch(_ args: RESPArguments) {
        guard transaction == nil else { return RESPWriter.error("ERR WATCH inside MULTI is not allowed", into: &output) }
        read { keys in
            let last = try keys.transaction.get(self.context.store.meta, key: StoreLayout.MetaKey.lastSequence)
                .flatMap(MetaValue.decimal) ?? 0
            for i in 1..<args.count where !self.watched.contains(where: { $0.key.elementsEqual(args[i]) }) {
                let live = StoreLayout.check(key: args[i]) == nil ? try keys.contains(args[i]) : false
                self.watched.append(WatchedKey(key: args.bytes(i), sequence: last + 1, wasLive: live))
            }
            RESPWriter.ok(into: &self.output)
        }
    }

    func unwatch(_ args: RESPArguments) {
        watched.removeAll()
        RESPWriter.ok(into: &output)
    }

    /// A command sent inside MULTI: refused ones flag the transaction (EXECABORT later); every other is
    /// queued (+QUEUED) where it will run — a write's operation for the writer, a keyspace command's
    /// handler for the writer, anything else for this reactor after EXEC — as Redis queues everything
    /// but its `no_multi` commands.
    func queue(_ command: Command?, _ args: RESPArguments, _ admission: Admission) -> Bool {
        guard connection.pendingWrites == 0 else { return false }
        guard admission == .run, let command, !command.flags.contains(.noMulti) else {
            transaction?.failed = true
            let error = admission == .run ? "ERR Command not allowed inside a transaction" : admissionError(admission, args)
            RESPWriter.error(error, into: &output)
            return true
        }
        switch command.handler {
        case .write(let handle):
            return queued(handle(WriteCall(args: args, context: context)).transactionStep(args))
        case .keyspace(let handle):
            return queued(.keyspace(handle, OwnedArguments(args)))
        case .immediate:
            return queued(.onReactor(commandIndex: command.index, OwnedArguments(args)))
        }
    }

    /// Adds a step and answers +QUEUED.
    func queued(_ step: TransactionStep) -> Bool {
        transaction?.steps.append(step)
        RESPWriter.simple("QUEUED", into: &output)
        return true
    }
}
