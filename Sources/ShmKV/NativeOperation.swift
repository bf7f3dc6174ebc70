import Wire

/// One operation of the native protocol, described once: the request it sends and how its reply becomes
/// a result (as valkey-swift describes each command). `Client.execute` and `AsyncClient.execute` run the
/// same values, so each operation's encoding and decoding are written here and nowhere else; the
/// clients' named methods (`get`, `put`, …) are one line each.
///
/// Errors follow one convention in the library: everything the server, the connection or a reply says
/// is a `ShmKVError` (an error status is `.server(status, message)`); an async call also ends with
/// `CancellationError` when its task is cancelled, and with nothing else.
public struct NativeOperation<Result: Sendable>: Sendable {
    /// The request sent.
    public let request: Request
    private let decode: @Sendable (Reply) throws(ShmKVError) -> Result

    /// An operation sending `request`, whose reply (an error status has already thrown) `decode` reads.
    public init(_ request: Request, decode: @escaping @Sendable (Reply) throws(ShmKVError) -> Result) {
        self.request = request
        self.decode = decode
    }

    /// The result `reply` carries; an error status throws `.server`.
    public func result(of reply: Reply) throws(ShmKVError) -> Result {
        if case .message(let message) = reply.body { throw .server(reply.status, message) }
        return try decode(reply)
    }

    static func unexpected(_ name: String) -> ShmKVError { .protocolViolation("unexpected reply body to \(name)") }
}

extension NativeOperation where Result == [UInt8] {
    /// Round trip; the payload echoed back.
    public static func ping(_ payload: [UInt8] = []) -> Self {
        Self(.ping(payload: payload)) { reply throws(ShmKVError) in
            guard case .payload(let p) = reply.body else { throw unexpected("PING") }
            return p
        }
    }
}

extension NativeOperation where Result == [UInt8]? {
    /// The value under `key`, or nil.
    public static func get(_ key: [UInt8]) -> Self {
        Self(.get(key: key)) { reply throws(ShmKVError) in
            if reply.status == .notFound { return nil }
            guard case .value(let v) = reply.body else { throw unexpected("GET") }
            return v
        }
    }
}

extension NativeOperation where Result == [[UInt8]?] {
    /// Values for `keys` in order, nil where absent, from one snapshot.
    public static func mget(_ keys: [[UInt8]]) -> Self {
        Self(.mget(keys: keys)) { reply throws(ShmKVError) in
            guard case .values(let v) = reply.body else { throw unexpected("MGET") }
            return v
        }
    }
}

extension NativeOperation where Result == Bool {
    /// Stores `value` under `key` if `condition` holds; whether it was stored (false: the condition
    /// failed). `expiry`: no deadline (as Redis's SET), the one the key had, or a time to live.
    public static func put(_ key: [UInt8], _ value: [UInt8], condition: PutCondition = .always, expiry: PutExpiry = .persistent) -> Self {
        Self(.put(key: key, value: value, condition: condition, expiry: expiry)) { reply throws(ShmKVError) in reply.status == .ok }
    }

    /// Gives `key` a deadline `milliseconds` from now (`.absolute`: at that Unix time in milliseconds;
    /// `.persist`: none); a time not in the future deletes it. Whether the key existed (`.persist`:
    /// whether it had a deadline).
    public static func expire(_ key: [UInt8], milliseconds: Int64, mode: ExpireMode = .relative) -> Self {
        Self(.expire(key: key, milliseconds: milliseconds, mode: mode)) { reply throws(ShmKVError) in
            guard case .integer(let n) = reply.body else { throw unexpected("EXPIRE") }
            return n == 1
        }
    }

    /// Removes `key`; whether it existed.
    public static func delete(_ key: [UInt8]) -> Self {
        Self(.delete(key: key)) { reply throws(ShmKVError) in
            guard case .deleted(let d) = reply.body else { throw unexpected("DELETE") }
            return d
        }
    }
}

extension NativeOperation where Result == Void {
    /// Stores all pairs in one transaction: all or none.
    public static func mput(_ pairs: [KeyValue]) -> Self {
        Self(.mput(pairs)) { _ throws(ShmKVError) in }
    }
}

extension NativeOperation where Result == TimeToLive {
    /// How long `key` has left.
    public static func ttl(_ key: [UInt8]) -> Self {
        Self(.ttl(key: key)) { reply throws(ShmKVError) in try TimeToLive(reply: reply) }
    }
}

extension NativeOperation where Result == TransactionResult {
    /// Writes under conditions, all or none (see `Client.transaction(_:)`).
    public static func transaction(_ operations: [TransactionOperation]) -> Self {
        Self(.transaction(operations)) { reply throws(ShmKVError) in try TransactionResult(reply: reply) }
    }
}

extension NativeOperation where Result == Int64 {
    /// Adds `delta` to the decimal integer under `key` (absent: 0); the result.
    public static func incr(_ key: [UInt8], by delta: Int64 = 1) -> Self {
        Self(.incrBy(key: key, delta: delta)) { reply throws(ShmKVError) in
            guard case .integer(let n) = reply.body else { throw unexpected("INCRBY") }
            return n
        }
    }
}

extension NativeOperation where Result == Int {
    /// Posts `payload` to `channel`; the receivers the daemon counts.
    public static func publish(_ channel: [UInt8], _ payload: [UInt8]) -> Self {
        Self(.publish(channel: channel, payload: payload)) { reply throws(ShmKVError) in
            guard case .integer(let n) = reply.body else { throw unexpected("PUBLISH") }
            return Int(n)
        }
    }
}

extension NativeOperation where Result == [StatEntry] {
    /// The server's counters, in its order.
    public static var stats: Self {
        Self(.stats) { reply throws(ShmKVError) in
            guard case .stats(let s) = reply.body else { throw unexpected("STATS") }
            return s
        }
    }
}

extension NativeOperation where Result == ScanPage {
    /// One page of a scan; continue with `query.after` set to the last key while `more` is true.
    public static func scanPage(_ query: ScanQuery) -> Self {
        Self(.scan(query)) { reply throws(ShmKVError) in
            guard case .scanPage(let entries, let more) = reply.body else { throw unexpected("SCAN") }
            return ScanPage(entries: entries, more: more)
        }
    }
}

extension NativeOperation where Result == RESPReply {
    /// Any RESP command of the daemon's table that reads or writes its data (SET, INCR, LCS, SCAN…),
    /// run as over RESP; its RESP2 reply. Redis's error replies (`ERR …`, `NOPERM …`) are results, not
    /// thrown.
    public static func call(_ arguments: [[UInt8]]) -> Self {
        Self(.call(arguments: arguments)) { reply throws(ShmKVError) in
            guard case .resp(let r) = reply.body else { throw unexpected("CALL") }
            return r
        }
    }
}

/// One page of a scan: its entries in key order, and whether more follow.
public struct ScanPage: Sendable, Equatable {
    public var entries: [KeyValue]
    public var more: Bool
}
