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

    public var description: String {
        switch self {
        case .server(let status, let message): "server error \(status): \(message)"
        case .connection(let what): "connection error: \(what)"
        case .protocolViolation(let what): "protocol error: \(what)"
        case .storage(let error): "storage error: \(error)"
        case .ring(let error): "ring error: \(error)"
        case .notADataDirectory(let why): "not a ShmKV data directory: \(why)"
        }
    }
}

// The protocol's value types, so that `import ShmKV` is enough to use the client.
public typealias KeyValue = Wire.KeyValue
public typealias PutCondition = Wire.PutCondition
public typealias Status = Wire.Status
public typealias StatEntry = Wire.StatEntry
public typealias Request = Wire.Request
public typealias Reply = Wire.Reply
public typealias ReplyBody = Wire.ReplyBody
public typealias ScanQuery = Wire.ScanQuery
public typealias ScanMode = Wire.ScanMode

// The change-stream types, shared by `LocalStore.changes` and `Client.watch`.
public typealias ChangeEvent = NotifyRing.RingEvent
public typealias Change = NotifyRing.RingChange
public typealias ChangeKind = NotifyRing.ChangeKind
public typealias Resync = NotifyRing.RingResync
public typealias LMDBError = LMDB.LMDBError
public typealias RingError = NotifyRing.RingError
