import LMDB
import NotifyRing
import Wire

/// Errors of the client library, typed so a caller can match what went wrong.
public enum ShmKVError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The server answered with an error status (the message is the server's).
    case server(Status, String)
    /// The connection could not be made, or broke (the text names the call and the reason).
    case connection(String)
    /// The server's bytes did not follow the protocol.
    case protocolViolation(String)
    /// LMDB refused a local read (`LocalStore`); the case says which `MDB_*` error.
    case storage(LMDBError)
    /// The notification ring could not be opened or read.
    case ring(RingError)
    /// The directory is not a ShmKV data directory (no `kv` database, or no ring recorded yet).
    case notADataDirectory(String)
    /// A file operation of a backup or restore failed, or was refused (the text says which and why).
    case file(String)

    /// One line for logs and command-line errors.
    public var description: String {
        switch self {
        case .server(let status, let message): "server error \(status): \(message)"
        case .connection(let what): "connection error: \(what)"
        case .protocolViolation(let what): "protocol error: \(what)"
        case .storage(let error): "storage error: \(error)"
        case .ring(let error): "ring error: \(error)"
        case .notADataDirectory(let why): "not a ShmKV data directory: \(why)"
        case .file(let why): "file error: \(why)"
        }
    }
}

// The protocol's value types, so that `import ShmKV` is enough to use the client.
/// A key and its value (owned copies).
public typealias KeyValue = Wire.KeyValue
/// When a PUT stores: always, only if the key is absent, only if present.
public typealias PutCondition = Wire.PutCondition
/// A reply's status code (the protocol's table in docs/PROTOCOL.md).
public typealias Status = Wire.Status
/// One STATS counter: a name and a signed 64-bit value.
public typealias StatEntry = Wire.StatEntry
/// A native request, owned (what `Client` encodes).
public typealias Request = Wire.Request
/// A decoded native reply: status, request id and body.
public typealias Reply = Wire.Reply
/// What a reply carries, by request kind.
public typealias ReplyBody = Wire.ReplyBody
/// A SCAN page request: prefix or range, limit, and where to continue.
public typealias ScanQuery = Wire.ScanQuery
/// Whether a SCAN walks a prefix or a range.
public typealias ScanMode = Wire.ScanMode
/// A RESP2 reply: what `Client.call` answers.
public typealias RESPReply = Wire.RESPReply

// The change-stream types, shared by `LocalStore.changes` and `Client.watch`.
/// One event of a change stream: a change, or a resync naming what was missed. (The ring also carries
/// messages; change streams leave them out.)
public enum ChangeEvent: Sendable, Hashable {
    /// A key changed.
    case change(Change)
    /// Changes were missed; reread what you care about.
    case resync(Resync)

    /// The change-stream event a ring event is; nil for a message.
    init?(_ event: RingEvent) {
        switch event {
        case .change(let change): self = .change(change)
        case .resync(let resync): self = .resync(resync)
        case .message: return nil
        }
    }
}
/// A committed change: kind, sequence, LMDB transaction id and key (no value: read it if needed).
public typealias Change = NotifyRing.RingChange
/// put, delete or clear.
public typealias ChangeKind = NotifyRing.ChangeKind
/// Changes were missed (lapped, a gap, a new daemon epoch): reread what you care about.
public typealias Resync = NotifyRing.RingResync
/// How long a key has left (`Client.ttl`, `AsyncClient.ttl`, `LocalStore.ttl`).
public typealias TimeToLive = Wire.TimeToLive
/// What a PUT does to the key's deadline.
public typealias PutExpiry = Wire.PutExpiry
/// How EXPIRE's time is meant: relative, absolute, or remove the deadline.
public typealias ExpireMode = Wire.ExpireMode
/// One operation of `Client.transaction(_:)`.
public typealias TransactionOperation = Wire.TransactionOperation
/// An operation's condition in `Client.transaction(_:)`.
public typealias TransactionCondition = Wire.TransactionCondition
/// What `Client.transaction(_:)` came to.
public typealias TransactionResult = Wire.TransactionResult

extension ShmKVError {
    /// For a cluster node's `MOVED` reply (status `.moved`, message `MOVED <slot> <host>:<port>`, as
    /// Redis Cluster words it): the slot and the address of the node that owns it; nil for any other
    /// error. `Client` reports the redirection and does not follow it; the `shmkv` CLI follows it once.
    public var redirection: (slot: Int, host: String, port: Int)? {
        guard case .server(.moved, let message) = self else { return nil }
        let words = message.split(separator: " ")
        guard words.count == 3, words[0] == "MOVED", let slot = Int(words[1]), let colon = words[2].lastIndex(of: ":"),
              let port = Int(words[2][words[2].index(after: colon)...]) else { return nil }
        return (slot, String(words[2][..<colon]), port)
    }
}

extension TimeToLive {
    /// The answer to a TTL request (one of `Client.pipeline`'s replies); an error reply throws `.server`.
    public init(reply: Reply) throws(ShmKVError) {
        if reply.status == .notFound { self = .missing; return }
        if case .message(let message) = reply.body { throw .server(reply.status, message) }
        guard case .ttl(let deadline, let remaining) = reply.body else {
            throw .protocolViolation("unexpected reply body to TTL")
        }
        self = deadline < 0 ? .persistent : .expires(deadline: deadline, remaining: remaining)
    }
}

extension TransactionResult {
    /// The result of a TXN reply (an error status has already thrown).
    init(reply: Reply) throws(ShmKVError) {
        switch reply.body {
        case .results(let results): self = .committed(results)
        case .failedCondition(let index): self = .conditionFailed(index: Int(index))
        default: throw .protocolViolation("unexpected reply body to TXN")
        }
    }
}

/// LMDB's errors, one case per `MDB_*` code (in `ShmKVError.storage`).
public typealias LMDBError = LMDB.LMDBError
/// The ring file's errors (in `ShmKVError.ring`).
public typealias RingError = NotifyRing.RingError
