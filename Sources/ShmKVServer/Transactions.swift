import LMDB
import NotifyRing
import StoreLayout
import Wire

/// One queued command of a MULTI block. Dispatch decided where it runs when it was queued.
enum TransactionStep: Sendable {
    /// A write, with the shape its reply takes.
    case write(WriteOperation, RESPReplyShape)
    /// A command that reads the keyspace: the writer runs its handler at EXEC, the same handler as
    /// outside MULTI, on the transaction (so it sees the block's earlier writes).
    case keyspace(KeyspaceHandler, OwnedArguments)
    /// A command about the connection or the server: runs on the reactor once EXEC's outcome is back,
    /// its reply in its place in EXEC's array.
    case onReactor(commandIndex: Int, OwnedArguments)
    /// A result known when it was queued (a write's argument error: as in Redis, EXEC replies it in
    /// the command's place).
    case result(CommandResult)
}

/// A block of steps the writer runs as one unit of its batch (no other write interleaves, no reader
/// sees part of it), if its condition holds: a MULTI block at EXEC, or a native TXN.
struct ExecBlock: Sendable {
    let steps: [TransactionStep]
    let condition: BlockCondition
    let client: CallingClient
    let context: ServerContext
}

/// What decides whether a block runs.
enum BlockCondition: Sendable {
    /// MULTI/EXEC: unless a watched key changed since it was watched (EXEC then answers a null array);
    /// each step then fails alone, as in Redis.
    case unchanged([WatchedKey])
    /// A native TXN: only if every step's check holds, judged against the keys as the earlier steps
    /// leave them, and every INCRBY applies — all or none, a refusal naming the step. One check per
    /// step; each step writes one key (`ConditionalTransaction.swift`).
    case checks([StepCheck])

    /// Bytes the batch byte cap counts beside the steps' (the values TXN compares with).
    var byteCount: Int {
        guard case .checks(let checks) = self else { return 0 }
        return checks.reduce(0) { total, check in if case .equals(let expected) = check { total + expected.count + 8 } else { total + 8 } }
    }
}

/// What one step of an executed transaction came to.
enum StepResult: Sendable, Equatable {
    case write(WriteOutcome, RESPReplyShape)
    case result(CommandResult)
    /// Still to run, on the reactor (`TransactionStep.onReactor`).
    case onReactor(commandIndex: Int, OwnedArguments)
}

/// A key a connection WATCHes: the first ring sequence its snapshot had not seen, and whether the key
/// lived then (a live key whose deadline passes before EXEC counts as changed, as in Redis).
struct WatchedKey: Sendable {
    let key: [UInt8]
    /// The numbered database it was watched in.
    let database: UInt8
    let sequence: UInt64
    let wasLive: Bool
}

/// The writer's memory of recent changes for WATCH: the last `capacity` change records as (sequence,
/// key hash), in a fixed ring of its own. EXEC asks whether a watched key changed at or after the
/// sequence it was watched at; a WATCH older than what is kept counts as changed (EXEC fails rather
/// than miss a change). Used only with the writer role held.
final class ChangeLog {
    private var sequences: [UInt64]
    private var hashes: [UInt64]
    /// Whether the change deleted a key past its deadline (`expired`).
    private var expiries: [Bool]
    /// The database of each change (what a clear cleared).
    private var databases: [UInt8]
    /// Whether the clear was a SWAPDB's (the database took another's keys).
    private var swaps: [Bool]
    private var next = 0
    private var count = 0
    /// Hash of a clear (FLUSHDB): every watched key changed.
    static let everyKey: UInt64 = 0

    init(capacity: Int = 1 << 16) {
        sequences = Array(repeating: 0, count: capacity)
        hashes = Array(repeating: 0, count: capacity)
        expiries = Array(repeating: false, count: capacity)
        databases = Array(repeating: 0, count: capacity)
        swaps = Array(repeating: false, count: capacity)
    }

    /// FNV-1a of the database and the key, never 0 (which stands for a clear).
    static func hash(_ key: some Sequence<UInt8>, database: UInt8) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        h = (h ^ UInt64(database)) &* 0x100_0000_01b3
        for byte in key { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h == everyKey ? 1 : h
    }

    /// Notes a published change.
    func record(sequence: UInt64, kind: ChangeKind, event: KeyEvent, flags: ChangeFlags, key: UnsafeRawBufferPointer, database: UInt8) {
        sequences[next] = sequence
        hashes[next] = kind == .clear ? ChangeLog.everyKey : ChangeLog.hash(key, database: database)
        expiries[next] = event == .expired
        databases[next] = database
        swaps[next] = kind == .clear && flags.contains(.swapped)
        next = (next + 1) % sequences.count
        count = min(count + 1, sequences.count)
    }

    /// Whether `key` may have changed at or after `sequence` (`.changed` when that is older than what
    /// is kept). A clear counts only for a key that lived when it was watched (Redis's FLUSHDB touches
    /// the watched keys that exist; one that did not live then and still does not is untouched), and so
    /// does the deletion of a key already past its deadline when it was watched (Redis: "logically no
    /// change"). A SWAPDB into the key's database that did not touch a key living there is
    /// `.swappedIn`: it counts if the database it took holds the key (the caller looks).
    func changed(_ key: [UInt8], database: UInt8, since sequence: UInt64, wasLive: Bool) -> WatchVerdict {
        if count == sequences.count && sequences[next] >= sequence { return .changed }
        let hash = ChangeLog.hash(key, database: database)
        var verdict = WatchVerdict.unchanged
        var i = next
        for _ in 0..<count {
            i = (i + sequences.count - 1) % sequences.count
            guard sequences[i] >= sequence else { break }
            if hashes[i] == hash && (wasLive || !expiries[i]) { return .changed }
            guard hashes[i] == ChangeLog.everyKey, databases[i] == database || databases[i] == RingLayout.allDatabases else { continue }
            if wasLive { return .changed }
            if swaps[i] { verdict = .swappedIn }
        }
        return verdict
    }
}

/// What the change log says of a watched key.
enum WatchVerdict {
    case unchanged, changed
    /// A SWAPDB gave the key's database another's keys: changed if the key is there now.
    case swappedIn
}

extension KeyspaceWriter {
    /// Runs `block` if its condition holds: `.transaction(results)`, a result per step; otherwise
    /// `.transaction(nil)` for a MULTI block whose watched key changed (committed and published (`log`),
    /// changed earlier in this batch, or past its deadline now) and the refusal of a TXN whose check
    /// failed. A TXN's step that fails after its checks passed throws (`StepDisagreedWithCheck`).
    mutating func execute(_ block: ExecBlock, log: ChangeLog) throws -> WriteOutcome {
        switch block.condition {
        case .unchanged(let watched):
            if try anyChanged(watched, log: log) { return .transaction(nil) }
        case .checks(let checks):
            if let refusal = try refusal(block.steps, checks) { return refusal }
        }
        let results = try run(block)
        if case .checks = block.condition, let index = results.firstIndex(where: { $0.conditionalValue == nil }) {
            throw StepDisagreedWithCheck(index: index)
        }
        return .transaction(results)
    }

    /// Whether a watched key changed since it was watched. A SWAPDB touches the key if its database
    /// held it before the swap (`wasLive`) or holds it after, unless it came in past its deadline (as
    /// Redis's `touchAllWatchedKeysInDb`).
    private mutating func anyChanged(_ watched: [WatchedKey], log: ChangeLog) throws -> Bool {
        for w in watched {
            var verdict = log.changed(w.key, database: w.database, since: w.sequence, wasLive: w.wasLive)
            if verdict == .changed { return true }
            for change in changes.entries where change.kind != .message && (change.database == w.database || change.database == RingLayout.allDatabases) {
                if change.kind == .clear {
                    if w.wasLive { return true }
                    if change.flags.contains(.swapped) { verdict = .swappedIn }
                } else if (w.wasLive || change.event != .expired) && changes.key(of: change, equals: w.key) { return true }
            }
            try select(Int(w.database))
            let deadline = try deadline(w.key)
            if w.wasLive, let deadline, Deadline.hasPassed(deadline, now: now) { return true }
            if verdict == .swappedIn, deadline.map({ !Deadline.hasPassed($0, now: now) }) ?? true, try exists(w.key) { return true }
        }
        return false
    }

    /// Every step in order, each failing alone.
    private mutating func run(_ block: ExecBlock) throws -> [StepResult] {
        var results: [StepResult] = []
        results.reserveCapacity(block.steps.count)
        let builder = ResultBuilder()
        for step in block.steps {
            switch step {
            case .write(let operation, let shape): results.append(.write(try operation.apply(&self), shape))
            case .keyspace(let handle, let arguments):
                do {
                    try withUnsafeMutablePointer(to: &self) { writer in
                        try arguments.withArguments { args in
                            try handle(CommandCall(args: args, keys: Keyspace(.writer(writer)), reply: ReplySink(.build(builder)),
                                                   client: block.client, context: block.context))
                        }
                    }
                    results.append(.result(builder.takeLast()))
                } catch is WrongTypeError {
                    // Handlers check types before they answer anything: the builder holds nothing of it.
                    results.append(.result(.error(WrongTypeError.message)))
                }
            case .onReactor(let index, let arguments):
                // A SELECT queued in MULTI changes the database of the steps after it (the reactor
                // runs it too, for its reply and the connection's database after EXEC).
                if CommandTable.all[index].name == "select", let database = arguments.withArguments({ $0.count == 2 ? $0.integer(1) : nil }),
                   database >= 0, database < block.context.store.databaseCount, block.context.cluster == nil || database == 0 {
                    try select(Int(database))
                }
                results.append(.onReactor(commandIndex: index, arguments))
            case .result(let result): results.append(.result(result))
            }
        }
        return results
    }
}
