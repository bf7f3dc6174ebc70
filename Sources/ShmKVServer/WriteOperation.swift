import LMDB
import NotifyRing
import StoreLayout
import Wire

/// A condition on a key's current deadline (EXPIRE's NX, XX, GT, LT).
enum ExpireCondition: Sendable, Equatable {
    case always
    /// Only if the key has no deadline.
    case noDeadline
    /// Only if it has one.
    case hasDeadline
    /// Only if the new deadline is later (a key without one counts as never due: fails).
    case later
    /// Only if the new deadline is earlier (a key without one counts as never due: succeeds).
    case earlier
    /// Only if the key has a deadline and the new one is earlier (XX LT).
    case earlierWithDeadline
}

/// The bytes of a queued write in its reactor's `WriteArena` (`WriteOperation.stored`).
struct ArenaBytes: @unchecked Sendable {
    // Invariant: the bytes stay where they are, unchanged, until the write's outcome is back on the
    // reactor that stored them (`WriteArena`): the committing thread only reads them before that.
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer
}

/// The bytes of a queued write in one array of its own, the key then the value
/// (`WriteOperation.owned`: a write queued inside MULTI waits for EXEC, not for its batch).
struct OwnedBytes: Sendable {
    let storage: [UInt8]
    let keyCount: Int

    /// Lays out `byteCount` bytes, the first `keyCount` the key, as `fill` writes them.
    init(byteCount: Int, keyCount: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        storage = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = byteCount
        }
        self.keyCount = keyCount
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[..<keyCount]), UnsafeRawBufferPointer(rebasing: all[keyCount...]))
        }
    }
}

/// A write waiting for the writer role. Owns copies of its bytes (the input buffer moves on): in its
/// reactor's `WriteArena` (no allocation), or, queued inside MULTI, in an array.
/// Deadlines are absolute: relative times are resolved when the request is parsed.
enum WriteOperation: Sendable {
    /// A write whose bytes are in the submitting reactor's arena (the ticket carries the chunk to
    /// release).
    case stored(ArenaBytes, StoredWrite)
    /// The same write with bytes of its own.
    case owned(OwnedBytes, StoredWrite)
    /// Deletes every key of the selected database (RESP `FLUSHDB`).
    case clear
    /// Deletes every key of every database (RESP `FLUSHALL`).
    case clearAll
    /// SWAPDB: the two numbered databases trade their keys.
    case swapDatabases(UInt8, UInt8)
    /// EXEC's MULTI block or a native TXN: steps run together inside the batch's transaction if the
    /// block's condition holds.
    case transaction(ExecBlock)
    /// SAVE: nothing to apply; the writer syncs the environment to disk after the batch commits.
    case save
    /// Ends the wait of RESP client `client`'s blocked command (CLIENT UNBLOCK, or its connection went):
    /// the writer answers it (`BlockedClients`); this operation's outcome is 1 if there was one, else 0.
    case unblock(client: UInt32, UnblockReason)
    /// EVAL and its family: a Lua script run inside the batch's transaction (`ScriptEngine`).
    case script(ScriptInvocation)
    /// SCRIPT LOAD and FLUSH (the interpreter is the writer's).
    case scriptAdmin(ScriptAdmin)
    /// A replication link's full sync: staging, adopting, discarding (`ReplicationOperation`).
    case replication(ReplicationOperation)

    /// A script, alone or in a MULTI block, or a library's code (FUNCTION LOAD): it may run for long, so
    /// only the writer thread runs it, never a reactor combining writes (whose connections, SCRIPT KILL
    /// among them, would wait on it).
    var runsScript: Bool {
        switch self {
        case .script, .scriptAdmin, .replication(.adopt): true
        case .transaction(let block): block.steps.contains { if case .write(.script, _) = $0 { true } else { false } }
        default: false
        }
    }

    /// Payload bytes, for the batch byte cap.
    var byteCount: Int {
        switch self {
        case .stored(let bytes, let write): bytes.key.count + bytes.value.count + write.extraBytes
        case .owned(let bytes, let write): bytes.storage.count + write.extraBytes
        case .transaction(let block):
            block.steps.reduce(block.condition.byteCount) { total, step in if case .write(let op, _) = step { total + op.byteCount } else { total + 16 } }
        case .clear, .clearAll, .swapDatabases, .save, .unblock: 0
        case .script(let invocation): invocation.byteCount
        case .scriptAdmin(let admin): admin.byteCount
        case .replication(let operation): operation.byteCount
        }
    }

    /// Keys the operation may write (each dirties at most a path of B-tree pages); FLUSHDB counts 1,
    /// its cost is the free list, which the writer bounds by the store's size.
    var keysWritten: Int {
        switch self {
        case .stored(_, let write), .owned(_, let write): write.keysWritten
        case .transaction(let block):
            // A read deletes each key it finds past its deadline: count its arguments.
            block.steps.reduce(0) { total, step in
                switch step {
                case .write(let op, _): total + op.keysWritten
                case .keyspace(_, let arguments): total + arguments.count
                case .onReactor, .result: total
                }
            }
        case .save, .unblock: 0
        // FUNCTION LOAD keeps the library's code in one `__meta` record.
        case .scriptAdmin: 1
        case .clear, .clearAll, .swapDatabases: 1
        // What each command it calls writes is reserved as it goes (`ScriptCalls`): its keys here.
        case .script(let invocation): invocation.keys.count + 1
        case .replication(let operation): operation.keysWritten
        }
    }

    /// A PUBLISH's channel, message and receivers, for the writer's batches of messages only (which
    /// need no transaction); false for any other operation.
    func withMessage(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Int) -> Void) -> Bool {
        switch self {
        case .stored(let bytes, .publish(let receivers)): body(bytes.key, bytes.value, receivers)
        case .owned(let bytes, .publish(let receivers)): bytes.withBytes { body($0, $1, receivers) }
        default: return false
        }
        return true
    }

    var isMessage: Bool {
        switch self {
        case .stored(_, .publish), .owned(_, .publish): true
        default: false
        }
    }
}

/// What a write came to, known only after its batch committed.
enum WriteOutcome: Sendable, Equatable {
    case stored
    case deleted(existed: Bool)
    case integer(Int64)
    /// A previous value (or nil): GETDEL, and SET … GET (`stored` says whether the SET happened).
    case previous([UInt8]?, stored: Bool)
    case conditionFailed
    case failed(Status, String)
    /// A block's results in step order, or nil when a watched key had changed (nothing ran).
    case transaction([StepResult]?)
    /// A native TXN's step `at` found its condition false: nothing was applied.
    case conditionFailedAt(Int)
    /// A command's own reply (`StoredWrite.command`).
    case result(CommandResult)
    /// The command blocked: its ticket now waits among the blocked clients, and no reply goes back yet.
    case blocked
}

extension WriteOperation {
    /// Applies the operation through `keys` (in the batch's transaction), which records the changes it
    /// made. Every check comes before the first change: a logical refusal is returned as an outcome and
    /// has changed nothing (but the expiry of a key past its deadline, which any access does). LMDB
    /// errors throw; the writer then aborts the batch and runs it again without this operation.
    func apply(_ keys: inout KeyspaceWriter) throws -> WriteOutcome {
        switch self {
        case .stored(let bytes, let write):
            return try write.applyChecked(bytes.key, bytes.value, &keys)
        case .owned(let bytes, let write):
            return try bytes.withBytes { try write.applyChecked($0, $1, &keys) }
        case .clear:
            try keys.clear()
            return .stored
        case .clearAll:
            try keys.clearAll()
            return .stored
        case .swapDatabases(let a, let b):
            try keys.swapDatabases(Int(a), Int(b))
            return .stored
        case .transaction(let block):
            guard let log = keys.log else { preconditionFailure("the writer gives every batch its change log") }
            return try keys.execute(block, log: log)
        case .save:
            keys.syncRequested = true
            return .stored
        case .unblock:
            // The writer role answers it itself (`WriterRole.unblock`): it needs the blocked clients.
            return .integer(0)
        case .script(let invocation):
            return .result(try invocation.context.scripts.execute(invocation, &keys))
        case .scriptAdmin(let admin):
            return .result(try admin.apply(&keys))
        case .replication(let operation):
            return try operation.apply(&keys)
        }
    }
}
