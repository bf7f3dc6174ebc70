/// Native request opcodes.
public enum Opcode: UInt8, Sendable, CaseIterable {
    /// Echoes its payload; answers even before AUTH.
    case ping = 0x01
    /// One key's value, or NOT_FOUND.
    case get = 0x02
    /// Several keys' values from one read snapshot, a presence flag each.
    case mget = 0x03
    /// Stores a value, with a condition in the flags byte.
    case put = 0x04
    /// Deletes a key; the reply says whether it existed.
    case delete = 0x05
    /// Stores several pairs in one transaction: all or none.
    case mput = 0x06
    /// One page of keys and values by prefix or range, in key order.
    case scan = 0x07
    /// Adds a signed 64-bit delta to a decimal value (absent counts as 0).
    case incrBy = 0x08
    /// The daemon's statistics as name/value pairs.
    case stats = 0x09
    /// Streams change events from the notification ring (the connection then carries events).
    case watch = 0x0A
    /// Authenticates the connection as a user (empty name: `default`) with a password.
    case auth = 0x0B
    /// How long a key has left: its deadline and the milliseconds remaining, or NOT_FOUND.
    case ttl = 0x0C
    /// Sets a key's deadline (relative or absolute, flags) or removes it; answers 1 if done, 0 for no
    /// key (or, removing, a key without a deadline).
    case expire = 0x0D
    /// Streams messages published to channels and patterns (the connection then carries events).
    case subscribe = 0x0E
    /// Posts a message to a channel, in order with the connection's writes; answers the receivers the
    /// daemon counts.
    case publish = 0x0F
    /// Applies a list of operations, each under an optional condition, in one LMDB transaction: all or
    /// none; CONDITION_FAILED names the operation whose condition did not hold.
    case transaction = 0x10
    /// Runs a RESP command of the daemon's table (a read or a write of its data) and answers its reply
    /// as RESP2 bytes: every command Redis clients have, over the native protocol.
    case call = 0x11
}

/// Reply status, shared by server and client.
public enum Status: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Done; the body is the result.
    case ok = 0
    /// The key is absent (GET); the body is empty.
    case notFound = 1
    /// A PUT's if-absent / if-present condition did not hold; for TXN, the body is the u32 index of the
    /// operation whose condition did not hold.
    case conditionFailed = 2
    /// The body does not parse, or a field is out of range.
    case badRequest = 3
    /// An opcode this server does not know.
    case unknownOpcode = 4
    /// Empty key, or longer than the store's maximum (511 bytes).
    case invalidKey = 5
    /// A value longer than the daemon's `limits.maxValueSize`.
    case valueTooLarge = 6
    /// A frame longer than the daemon's `limits.maxFrameSize`; the connection is closed after it.
    case frameTooLarge = 7
    /// INCRBY on a value that is not a decimal 64-bit integer.
    case notInteger = 8
    /// INCRBY would overflow a signed 64-bit integer.
    case overflow = 9
    /// LMDB refused the operation; the message says why.
    case storageError = 10
    /// The daemon is stopping; nothing of the request was done.
    case shuttingDown = 11
    /// `limits.maxClients` connections are open; in the server hello, then closed.
    case tooManyClients = 12
    /// The client's hello asks for a protocol version this server does not speak.
    case unsupportedVersion = 13
    /// A fault in the daemon; the message says what. Report it.
    case internalError = 14
    /// The daemon requires AUTH first (RESP: NOAUTH).
    case authRequired = 15
    /// Wrong user name or password (RESP: WRONGPASS).
    case authFailed = 16
    /// The user may not run this request or touch this key (RESP: NOPERM).
    case permissionDenied = 17
    /// Protected mode: a remote peer of a daemon without a password (RESP: DENIED); in the server hello.
    case denied = 18
    /// Cluster mode: another node owns the key's hash slot; the message is Redis's redirection,
    /// `MOVED <slot> <host>:<port>` (RESP `-MOVED`). Nothing was done.
    case moved = 19
    /// Cluster mode: the request's keys hash to different slots (RESP `-CROSSSLOT`). Nothing was done.
    case crossSlot = 20
    /// The key holds another type than the request works on (a collection where a string was asked
    /// for: RESP `-WRONGTYPE`). Nothing was done.
    case wrongType = 21

    /// Whether the reply body is an error message (u16 length + UTF-8) rather than a result.
    public var carriesMessage: Bool {
        switch self {
        case .ok, .notFound, .conditionFailed: false
        default: true
        }
    }

    /// The status's name as PROTOCOL.md spells it (`NOT_FOUND`).
    public var description: String {
        switch self {
        case .ok: "OK"
        case .notFound: "NOT_FOUND"
        case .conditionFailed: "CONDITION_FAILED"
        case .badRequest: "BAD_REQUEST"
        case .unknownOpcode: "UNKNOWN_OPCODE"
        case .invalidKey: "INVALID_KEY"
        case .valueTooLarge: "VALUE_TOO_LARGE"
        case .frameTooLarge: "FRAME_TOO_LARGE"
        case .notInteger: "NOT_INTEGER"
        case .overflow: "OVERFLOW"
        case .storageError: "STORAGE_ERROR"
        case .shuttingDown: "SHUTTING_DOWN"
        case .tooManyClients: "TOO_MANY_CLIENTS"
        case .unsupportedVersion: "UNSUPPORTED_VERSION"
        case .internalError: "INTERNAL_ERROR"
        case .authRequired: "AUTH_REQUIRED"
        case .authFailed: "AUTH_FAILED"
        case .permissionDenied: "PERMISSION_DENIED"
        case .denied: "DENIED"
        case .moved: "MOVED"
        case .crossSlot: "CROSSSLOT"
        case .wrongType: "WRONGTYPE"
        }
    }
}

/// PUT's condition, carried in the frame's flags byte.
public enum PutCondition: UInt8, Sendable {
    /// Store whether or not the key exists.
    case always = 0
    /// Store only if the key is absent (like Redis `SET NX`).
    case ifAbsent = 1
    /// Store only if the key is present (like Redis `SET XX`).
    case ifPresent = 2
}

/// What a PUT does to the key's deadline; carried in PUT's flags (bit 2: keep, bit 3: a TTL follows
/// the value as u64 milliseconds).
public enum PutExpiry: Sendable, Equatable {
    /// The key has no deadline afterwards (as Redis's SET).
    case persistent
    /// The key keeps the deadline it had (SET … KEEPTTL).
    case keep
    /// The key is due this many milliseconds after the write is applied (at least 1).
    case after(milliseconds: UInt64)

    static let keepFlag: UInt8 = 0x04
    static let ttlFlag: UInt8 = 0x08
}

/// How EXPIRE's time is meant; carried in its flags byte.
public enum ExpireMode: UInt8, Sendable {
    /// Milliseconds from now.
    case relative = 0
    /// Wall-clock milliseconds since the Unix epoch.
    case absolute = 1
    /// Remove the deadline (the time field is ignored).
    case persist = 2
}

/// SCAN's mode, carried in the frame's flags byte.
public enum ScanMode: UInt8, Sendable {
    /// Keys that start with the first key field.
    case prefix = 0
    /// Keys with first ≤ key < second (second empty: no upper bound).
    case range = 1
}
