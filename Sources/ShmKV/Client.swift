import Locks
import Wire

/// A connection to `shmkvd` over its Unix socket or TCP, speaking the native protocol.
///
/// Synchronous: each call sends its request and waits for the reply. Thread-safe: calls from several
/// threads are serialised on the one connection (use one `Client` per thread for parallelism). A reply
/// to a write means the write is committed.
public final class Client: Sendable {
    private struct State: ~Copyable {
        var socket: ClientSocket?
        var nextID: UInt32 = 1
    }

    private let state: Locked<State>
    /// Where this client is connected.
    public let address: ServerAddress
    /// Who it authenticates as (also on the connections `watch` opens).
    let credentials: Credentials?

    /// Connects, performs the handshake and, with `credentials`, authenticates (a wrong password throws
    /// `.server(.authFailed, …)`).
    /// - Parameter timeoutSeconds: send/receive timeout; 0 waits forever.
    public init(address: ServerAddress, timeoutSeconds: Int = 0, credentials: Credentials? = nil) throws(ShmKVError) {
        self.address = address
        self.credentials = credentials
        state = Locked(State(socket: try ClientSocket.open(address: address, timeoutSeconds: timeoutSeconds,
                                                          credentials: credentials)))
    }

    /// Connects to the daemon's Unix socket.
    public convenience init(socketPath: String, timeoutSeconds: Int = 0, credentials: Credentials? = nil) throws(ShmKVError) {
        try self.init(address: .unix(path: socketPath), timeoutSeconds: timeoutSeconds, credentials: credentials)
    }

    /// Connects over TCP.
    public convenience init(host: String, port: Int, timeoutSeconds: Int = 0, credentials: Credentials? = nil) throws(ShmKVError) {
        try self.init(address: .tcp(host: host, port: port), timeoutSeconds: timeoutSeconds, credentials: credentials)
    }

    /// Closes the connection; later calls throw `.connection`.
    public func close() {
        state.withLock { $0.socket = nil }
    }

    /// Sends `requests` in one write and reads their replies, in order (pipelining). Error statuses are
    /// returned as replies, not thrown; connection and protocol failures throw.
    public func pipeline(_ requests: [Request]) throws(ShmKVError) -> [Reply] {
        try state.withLock { state throws(ShmKVError) -> [Reply] in
            guard state.socket != nil else { throw ShmKVError.connection("the client is closed") }
            var bytes: [UInt8] = []
            var ids: [UInt32] = []
            for request in requests {
                let id = state.nextID
                state.nextID = state.nextID &+ 1
                ids.append(id)
                request.encode(requestID: id, into: &bytes)
            }
            do throws(ShmKVError) {
                try state.socket!.send(bytes)
                var replies: [Reply] = []
                replies.reserveCapacity(requests.count)
                for (request, id) in zip(requests, ids) {
                    let reply = try state.socket!.readReply(answering: request.opcode)
                    guard reply.requestID == id else {
                        throw ShmKVError.protocolViolation("reply for request \(reply.requestID) arrived where \(id) was expected")
                    }
                    replies.append(reply)
                }
                return replies
            } catch {
                // The stream's position is unknown now: this connection cannot be used again.
                state.socket = nil
                throw error
            }
        }
    }

    /// Runs one operation: its request, and its reply read as the operation says (an error status
    /// throws `.server`).
    public func execute<Result>(_ operation: NativeOperation<Result>) throws(ShmKVError) -> Result {
        try operation.result(of: try pipeline([operation.request])[0])
    }

    /// Round trip with an optional payload echoed back.
    @discardableResult
    public func ping(_ payload: [UInt8] = []) throws(ShmKVError) -> [UInt8] { try execute(.ping(payload)) }

    /// The value under `key`, or `nil`.
    public func get(_ key: [UInt8]) throws(ShmKVError) -> [UInt8]? { try execute(.get(key)) }

    /// Values for `keys` in order, `nil` where absent, from one snapshot.
    public func mget(_ keys: [[UInt8]]) throws(ShmKVError) -> [[UInt8]?] { try execute(.mget(keys)) }

    /// Stores `value` under `key` if `condition` holds. Returns whether it was stored (`false`: the
    /// condition failed). Returns after the write committed. `expiry` decides the key's deadline: none
    /// (the default, as Redis's SET), the one it had, or a time to live.
    @discardableResult
    public func put(_ key: [UInt8], _ value: [UInt8], condition: PutCondition = .always,
                    expiry: PutExpiry = .persistent) throws(ShmKVError) -> Bool {
        try execute(.put(key, value, condition: condition, expiry: expiry))
    }

    /// How long `key` has left: `.missing`, `.persistent` or `.expires(deadline:remaining:)`.
    public func ttl(_ key: [UInt8]) throws(ShmKVError) -> TimeToLive { try execute(.ttl(key)) }

    /// Gives `key` a deadline `milliseconds` from now (`mode` `.absolute`: at that Unix time in
    /// milliseconds); a time not in the future deletes it. Whether the key existed.
    @discardableResult
    public func expire(_ key: [UInt8], milliseconds: Int64, mode: ExpireMode = .relative) throws(ShmKVError) -> Bool {
        try execute(.expire(key, milliseconds: milliseconds, mode: mode))
    }

    /// Takes `key`'s deadline away; whether it had one.
    @discardableResult
    public func persist(_ key: [UInt8]) throws(ShmKVError) -> Bool { try execute(.expire(key, milliseconds: 0, mode: .persist)) }

    /// Removes `key`; returns whether it existed.
    @discardableResult
    public func delete(_ key: [UInt8]) throws(ShmKVError) -> Bool { try execute(.delete(key)) }

    /// Stores all pairs in one transaction: all or none.
    public func mput(_ pairs: [KeyValue]) throws(ShmKVError) { try execute(.mput(pairs)) }

    /// Applies `operations` in one LMDB transaction, each only if its condition holds against the store
    /// as the earlier ones left it: all of them (`.committed`, a result each) or, when a condition
    /// fails, none (`.conditionFailed(index:)`). A non-integer value or an overflow in an `incrBy`
    /// throws `.server` and applies nothing either.
    @discardableResult
    public func transaction(_ operations: [TransactionOperation]) throws(ShmKVError) -> TransactionResult {
        try execute(.transaction(operations))
    }

    /// Adds `delta` to the decimal integer under `key` (absent: 0) and returns the result.
    @discardableResult
    public func incr(_ key: [UInt8], by delta: Int64 = 1) throws(ShmKVError) -> Int64 { try execute(.incr(key, by: delta)) }

    /// The server's counters, in its order.
    public func stats() throws(ShmKVError) -> [StatEntry] { try execute(.stats) }

    /// Runs a RESP command of the daemon's table (name first) over this connection; its RESP2 reply.
    public func call(_ arguments: [[UInt8]]) throws(ShmKVError) -> RESPReply { try execute(.call(arguments)) }

    /// `call` with UTF-8 words: `client.call("INCRBY", "counter", "5")`.
    public func call(_ words: String...) throws(ShmKVError) -> RESPReply { try execute(.call(words.map { Array($0.utf8) })) }

    /// One page of a scan; continue with `query.after` set to the last key while `more` is true.
    public func scanPage(_ query: ScanQuery) throws(ShmKVError) -> (entries: [KeyValue], more: Bool) {
        let page = try execute(.scanPage(query))
        return (page.entries, page.more)
    }

    /// Every entry whose key starts with `prefix`, fetched page by page as the sequence is iterated.
    public func scan(prefix: [UInt8], pageSize: UInt32 = 0) -> ScanSequence {
        ScanSequence(client: self, query: ScanQuery(mode: .prefix, start: prefix, limit: pageSize))
    }

    /// Every entry with `lower <= key < upper` (`upper` nil: to the end), fetched page by page.
    public func scan(from lower: [UInt8], to upper: [UInt8]?, pageSize: UInt32 = 0) -> ScanSequence {
        ScanSequence(client: self, query: ScanQuery(mode: .range, start: lower, end: upper ?? [], limit: pageSize))
    }
}

extension Client {
    /// `get` for a UTF-8 key.
    public func get(_ key: String) throws(ShmKVError) -> [UInt8]? { try get(Array(key.utf8)) }
    /// `put` for UTF-8 key and value.
    @discardableResult
    public func put(_ key: String, _ value: String, condition: PutCondition = .always) throws(ShmKVError) -> Bool {
        try put(Array(key.utf8), Array(value.utf8), condition: condition)
    }
    /// `delete` for a UTF-8 key.
    @discardableResult
    public func delete(_ key: String) throws(ShmKVError) -> Bool { try delete(Array(key.utf8)) }
}

/// Entries of a scan, fetched from the server one page at a time while iterated:
/// `for try await entry in client.scan(prefix: p) { … }`.
public struct ScanSequence: AsyncSequence, Sendable {
    /// Each element is one key and its value, in key order.
    public typealias Element = KeyValue
    let client: Client
    let query: ScanQuery

    /// Holds one page of entries; asks the server for the next page (one round trip) when it runs out.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let client: Client
        var pager: ScanPager

        /// The next entry; nil after the last page. Throws `ShmKVError` from the page request.
        public mutating func next() async throws -> KeyValue? {
            let client = self.client
            return try await pager.next { query throws(ShmKVError) in try client.scanPage(query) }
        }
    }

    /// An iterator from the sequence's query; each iterator scans anew.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(client: client, pager: ScanPager(query: query)) }
}

/// Walks a scan page by page: the state both scan sequences share.
struct ScanPager: Sendable {
    var query: ScanQuery
    private var page: [KeyValue] = []
    private var index = 0
    private var done = false

    init(query: ScanQuery) { self.query = query }

    /// The next entry, fetching the next page with `fetch` when this one is used up; nil after the last.
    mutating func next(_ fetch: (ScanQuery) async throws -> (entries: [KeyValue], more: Bool)) async throws -> KeyValue? {
        while index == page.count {
            if done { return nil }
            let (entries, more) = try await fetch(query)
            page = entries
            index = 0
            done = !more || entries.isEmpty
            if let last = entries.last { query.after = last.key }
        }
        defer { index += 1 }
        return page[index]
    }
}
