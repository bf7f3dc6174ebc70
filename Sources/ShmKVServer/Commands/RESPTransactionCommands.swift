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
    /// A command sent inside MULTI: refused ones flag the transaction (EXECABORT later); every other is
    /// queued (+QUEUED) where it will run — a write's operation for the writer, a keyspace command's
    /// handler for the writer, anything else for this reactor after EXEC — as Redis queues everything
    /// but its `no_multi` commands.
    func queue(_ command: Command?, _ args: RESPArguments, _ admission: Admission) -> Bool {
        guard connection.pendingWrites == 0 else { return false }
        guard admission == .run, let command, !command.flags.contains(.noMulti) else {
            transaction?.failed = true
            let error = admission == .run ? "ERR Command not allowed inside a transaction" : RESPSession.admissionError(admission, args)
            RESPWriter.error(error, into: &output)
            return true
        }
        switch command.handler {
        case .write(let handle):
            return queued(handle(WriteCall(args: args, context: context, database: connection.database, user: connection.isUnrestricted ? nil : connection.user,
                                           fromPrimary: connection.streamCursor != nil)).transactionStep(args))
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

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH (`controlsTransaction`: they run at once even inside MULTI).
enum TransactionCommands {
    static func multi(_ session: RESPSession, _ args: RESPArguments) {
        guard session.transaction == nil else { return RESPWriter.error("ERR MULTI calls can not be nested", into: &session.output) }
        session.transaction = QueuedTransaction()
        RESPWriter.ok(into: &session.output)
    }

    static func discard(_ session: RESPSession, _ args: RESPArguments) {
        guard session.transaction != nil else { return RESPWriter.error("ERR DISCARD without MULTI", into: &session.output) }
        session.transaction = nil
        session.watched.removeAll()
        RESPWriter.ok(into: &session.output)
    }

    /// EXEC: submitted to the writer like a write (dispatch runs it after the connection's earlier
    /// writes); its reply is the steps' results, or a null array when a watched key changed.
    static func exec(_ session: RESPSession, _ args: RESPArguments) {
        guard let queued = session.transaction else { return RESPWriter.error("ERR EXEC without MULTI", into: &session.output) }
        session.transaction = nil
        let watches = session.watched
        session.watched.removeAll()
        if queued.failed {
            return RESPWriter.error("EXECABORT Transaction discarded because of previous errors.", into: &session.output)
        }
        _ = session.submit(.transaction(ExecBlock(steps: queued.steps, condition: .unchanged(watches), client: session.callingClient, context: session.context)))
    }

    /// WATCH key…: notes for each key the first ring sequence this connection's snapshot has not seen
    /// (`__meta`'s last sequence + 1, read from the same snapshot) and whether the key lives.
    static func watch(_ session: RESPSession, _ args: RESPArguments) {
        guard session.transaction == nil else { return RESPWriter.error("ERR WATCH inside MULTI is not allowed", into: &session.output) }
        session.read { keys in
            let last = try keys.transaction.get(session.context.store.meta, key: StoreLayout.MetaKey.lastSequence)
                .flatMap(MetaValue.decimal) ?? 0
            for i in 1..<args.count where !session.watched.contains(where: { $0.key.elementsEqual(args[i]) && $0.database == session.connection.database }) {
                let live = StoreLayout.check(key: args[i]) == nil ? try keys.contains(args[i]) : false
                session.watched.append(WatchedKey(key: args.bytes(i), database: session.connection.database, sequence: last + 1, wasLive: live))
            }
            RESPWriter.ok(into: &session.output)
        }
    }

    static func unwatch(_ session: RESPSession, _ args: RESPArguments) {
        session.watched.removeAll()
        RESPWriter.ok(into: &session.output)
    }
}
