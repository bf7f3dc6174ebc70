import LMDB
import NotifyRing
import StoreLayout
import Wire

/// A reply computed by the writer role (a read inside a transaction), encoded by the reactor.
enum Answer: Sendable, Equatable {
    case bulk([UInt8]?)
    case integer(Int64)
    case status(String)
    case array([Answer])
}

/// A read run by the writer role inside EXEC, so that it sees the transaction's earlier writes.
enum ReadStep: Sendable {
    case get([UInt8])
    case mget([[UInt8]])
    /// EXISTS and TOUCH: how many of the keys live.
    case exists([[UInt8]])
    case strlen([UInt8])
    case getRange([UInt8], start: Int64, end: Int64)
    case ttl([UInt8], milliseconds: Bool, absolute: Bool)
    case dbsize
}

/// One queued command of a MULTI block.
enum TransactionStep: Sendable {
    /// A write, with the shape its reply takes.
    case write(WriteOperation, RESPReplyShape)
    case read(ReadStep)
    /// An answer known when it was queued (PING, ECHO).
    case answer(Answer)
    /// An error found when it was queued but, as in Redis, replied in its place by EXEC (SET's options).
    case error(String)
}

/// What one step of an executed transaction came to.
enum StepResult: Sendable, Equatable {
    case write(WriteOutcome, RESPReplyShape)
    case answer(Answer)
    case error(String)
}

/// A key a connection WATCHes: the first ring sequence its snapshot had not seen, and whether the key
/// lived then (a live key whose deadline passes before EXEC counts as changed, as in Redis).
struct WatchedKey: Sendable {
    let key: [UInt8]
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
    private var next = 0
    private var count = 0
    /// Hash of a clear (FLUSHDB): every watched key changed.
    static let everyKey: UInt64 = 0

    init(capacity: Int = 1 << 16) {
        sequences = Array(repeating: 0, count: capacity)
        hashes = Array(repeating: 0, count: capacity)
        expiries = Array(repeating: false, count: capacity)
    }

    /// FNV-1a, never 0 (which stands for a clear).
    static func hash(_ key: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h == everyKey ? 1 : h
    }

    /// Notes a published change.
    func record(sequence: UInt64, kind: ChangeKind, event: KeyEvent, key: UnsafeRawBufferPointer) {
        sequences[next] = sequence
        hashes[next] = kind == .clear ? ChangeLog.everyKey : ChangeLog.hash(key)
        expiries[next] = event == .expired
        next = (next + 1) % sequences.count
        count = min(count + 1, sequences.count)
    }

    /// Whether `key` may have changed at or after `sequence` (true when that is older than what is kept).
    /// A clear counts only for a key that lived when it was watched (Redis's FLUSHDB touches the
    /// watched keys that exist; one that did not live then and still does not is untouched), and so
    /// does the deletion of a key already past its deadline when it was watched (Redis: "logically no
    /// change").
    func changed(_ key: [UInt8], since sequence: UInt64, wasLive: Bool) -> Bool {
        if count == sequences.count && sequences[next] >= sequence { return true }
        let hash = ChangeLog.hash(key)
        var i = next
        for _ in 0..<count {
            i = (i + sequences.count - 1) % sequences.count
            guard sequences[i] >= sequence else { return false }
            if (hashes[i] == hash && (wasLive || !expiries[i])) || (wasLive && hashes[i] == ChangeLog.everyKey) { return true }
        }
        return false
    }
}

extension KeyspaceWriter {
    /// EXEC: nil (the reply is a null array) if a watched key changed since it was watched — committed
    /// and published (`log`), changed earlier in this batch, or past its deadline now; otherwise every
    /// step in order, each failing alone.
    mutating func execute(_ steps: [TransactionStep], watched: [WatchedKey], log: ChangeLog) throws -> [StepResult]? {
        for w in watched {
            if log.changed(w.key, since: w.sequence, wasLive: w.wasLive) { return nil }
            for change in changes.entries where change.kind != .message {
                if change.kind == .clear ? w.wasLive
                    : (w.wasLive || change.event != .expired) && changes.key(of: change, equals: w.key) { return nil }
            }
            if w.wasLive, let deadline = try deadline(w.key), Deadline.hasPassed(deadline, now: now) { return nil }
        }
        var results: [StepResult] = []
        results.reserveCapacity(steps.count)
        for step in steps {
            switch step {
            case .write(let operation, let shape): results.append(.write(try operation.apply(&self), shape))
            case .read(let read): results.append(.answer(try run(read)))
            case .answer(let answer): results.append(.answer(answer))
            case .error(let message): results.append(.error(message))
            }
        }
        return results
    }

    private mutating func run(_ read: ReadStep) throws -> Answer {
        switch read {
        case .get(let key): return .bulk(try value(key))
        case .mget(let keys): return .array(try keys.map { .bulk(try value($0)) })
        case .exists(let keys):
            var n: Int64 = 0
            for key in keys where try exists(key) { n += 1 }
            return .integer(n)
        case .strlen(let key): return .integer(Int64(try value(key)?.count ?? 0))
        case .getRange(let key, let start, let end):
            let bytes = try value(key) ?? []
            return .bulk(RESPSession.redisRange(start: start, end: end, length: bytes.count).map { Array(bytes[$0]) } ?? [])
        case .ttl(let key, let milliseconds, let absolute):
            guard try exists(key) else { return .integer(-2) }
            guard let deadline = try deadline(key) else { return .integer(-1) }
            let left = max(0, absolute ? deadline : deadline - now)
            return .integer(milliseconds ? left : Deadline.roundedSeconds(left))
        case .dbsize:
            return .integer(Int64(try KeyspaceReader(transaction, databases, clock: { now }).count()))
        }
    }
}
