import Locks
import Wire

/// An async/await client for servers in Swift concurrency (Vapor, Hummingbird, a plain async `main`):
/// a pool of native-protocol connections, each shared by any number of concurrent calls, which it
/// pipelines (calls made while one is being sent go out together in the next write; replies are matched
/// by request id). A call never blocks a cooperative thread waiting for its reply; it gives up with
/// `CancellationError` when its task is cancelled, and with `.connection` after `timeoutSeconds`.
///
/// Connections are made on first use and made again after one fails (a failed connection fails the
/// calls waiting on it; later calls use a new one). Each call goes to the connection with the fewest
/// calls waiting. A reply to a write means the write is committed.
public final class AsyncClient: Sendable {
    /// Where the connections go.
    public let address: ServerAddress
    /// Who they authenticate as.
    public let credentials: Credentials?
    /// How long a call waits for its reply (0: for ever); also bounds connecting and sending.
    public let timeoutSeconds: Int
    /// One place in the pool; its lock is held while it connects, so one slot makes one connection
    /// however many calls find it empty at once.
    private let slots: [Locked<PipelinedConnection?>]
    private let closed = Locked(false)

    /// A pool of `connections` (at least 1) to `address`. Nothing is connected until the first call.
    public init(address: ServerAddress, connections: Int = 4, timeoutSeconds: Int = 30, credentials: Credentials? = nil) {
        self.address = address
        self.credentials = credentials
        self.timeoutSeconds = timeoutSeconds
        slots = (0..<max(1, connections)).map { _ in Locked(nil) }
    }

    deinit { close() }

    /// Closes every connection; waiting and later calls fail with `.connection`.
    public func close() {
        closed.withLock { $0 = true }
        for slot in slots { slot.withLock { $0?.close() } }
    }

    /// The open connection with the fewest waiting calls, connecting an empty or failed slot first.
    private func connection() throws(ShmKVError) -> PipelinedConnection {
        if closed.withLock({ $0 }) { throw .connection("the client is closed") }
        var best: PipelinedConnection?
        for slot in slots {
            guard let open = slot.withLock({ $0?.isOpen == true ? $0 : nil }) else {
                // Connect this slot, under its lock: concurrent callers wait for this one connection.
                // Connecting blocks for one round trip (hello, and AUTH with credentials).
                return try slot.withLock { current throws(ShmKVError) -> PipelinedConnection in
                    if let current, current.isOpen { return current }
                    let fresh = try PipelinedConnection(address: address, timeoutSeconds: timeoutSeconds, credentials: credentials)
                    current = fresh
                    return fresh
                }
            }
            if best == nil || open.pendingCount < best!.pendingCount { best = open }
        }
        return best!
    }

    /// Runs one operation, pipelined with the other calls on its connection: its request, and its reply
    /// read as the operation says (an error status throws `.server`; a cancelled task ends the call
    /// with `CancellationError`).
    public func execute<Result>(_ operation: NativeOperation<Result>) async throws -> Result {
        try operation.result(of: try await connection().call(operation.request))
    }

    /// Round trip with an optional payload echoed back.
    @discardableResult
    public func ping(_ payload: [UInt8] = []) async throws -> [UInt8] { try await execute(.ping(payload)) }

    /// The value under `key`, or `nil`.
    public func get(_ key: [UInt8]) async throws -> [UInt8]? { try await execute(.get(key)) }

    /// Values for `keys` in order, `nil` where absent, from one snapshot.
    public func mget(_ keys: [[UInt8]]) async throws -> [[UInt8]?] { try await execute(.mget(keys)) }

    /// Stores `value` under `key` if `condition` holds; whether it was stored. Returns after the commit.
    /// `expiry` decides the key's deadline: none (the default, as Redis's SET), the one it had, or a
    /// time to live.
    @discardableResult
    public func put(_ key: [UInt8], _ value: [UInt8], condition: PutCondition = .always,
                    expiry: PutExpiry = .persistent) async throws -> Bool {
        try await execute(.put(key, value, condition: condition, expiry: expiry))
    }

    /// How long `key` has left: `.missing`, `.persistent` or `.expires(deadline:remaining:)`.
    public func ttl(_ key: [UInt8]) async throws -> TimeToLive { try await execute(.ttl(key)) }

    /// Gives `key` a deadline `milliseconds` from now (`mode` `.absolute`: at that Unix time in
    /// milliseconds); a time not in the future deletes it. Whether the key existed.
    @discardableResult
    public func expire(_ key: [UInt8], milliseconds: Int64, mode: ExpireMode = .relative) async throws -> Bool {
        try await execute(.expire(key, milliseconds: milliseconds, mode: mode))
    }

    /// Takes `key`'s deadline away; whether it had one.
    @discardableResult
    public func persist(_ key: [UInt8]) async throws -> Bool { try await execute(.expire(key, milliseconds: 0, mode: .persist)) }

    /// Removes `key`; whether it existed.
    @discardableResult
    public func delete(_ key: [UInt8]) async throws -> Bool { try await execute(.delete(key)) }

    /// Stores all pairs in one transaction: all or none.
    public func mput(_ pairs: [KeyValue]) async throws { try await execute(.mput(pairs)) }

    /// Applies `operations` in one LMDB transaction, each only if its condition holds against the store
    /// as the earlier ones left it: all (`.committed`, a result each) or none
    /// (`.conditionFailed(index:)`); see `Client.transaction(_:)`.
    @discardableResult
    public func transaction(_ operations: [TransactionOperation]) async throws -> TransactionResult {
        try await execute(.transaction(operations))
    }

    /// Adds `delta` to the decimal integer under `key` (absent: 0); the result.
    @discardableResult
    public func incr(_ key: [UInt8], by delta: Int64 = 1) async throws -> Int64 { try await execute(.incr(key, by: delta)) }

    /// The server's counters, in its order.
    public func stats() async throws -> [StatEntry] { try await execute(.stats) }

    /// Runs a RESP command of the daemon's table (name first); its RESP2 reply.
    public func call(_ arguments: [[UInt8]]) async throws -> RESPReply { try await execute(.call(arguments)) }

    /// `call` with UTF-8 words.
    public func call(_ words: String...) async throws -> RESPReply { try await execute(.call(words.map { Array($0.utf8) })) }

    /// One page of a scan; continue with `query.after` set to the last key while `more` is true.
    public func scanPage(_ query: ScanQuery) async throws -> (entries: [KeyValue], more: Bool) {
        let page = try await execute(.scanPage(query))
        return (page.entries, page.more)
    }

    /// Every entry whose key starts with `prefix`, fetched a page at a time as it is iterated.
    public func scan(prefix: [UInt8], pageSize: UInt32 = 0) -> AsyncScanSequence {
        AsyncScanSequence(client: self, query: ScanQuery(mode: .prefix, start: prefix, limit: pageSize))
    }

    /// Every entry with `lower <= key < upper` (`upper` nil: to the end), a page at a time.
    public func scan(from lower: [UInt8], to upper: [UInt8]?, pageSize: UInt32 = 0) -> AsyncScanSequence {
        AsyncScanSequence(client: self, query: ScanQuery(mode: .range, start: lower, end: upper ?? [], limit: pageSize))
    }

    /// Changes to keys starting with `prefix`, as they are committed, on a connection of their own
    /// (from sequence `from` if the ring still holds it; 0: from now). Ends when the task is cancelled.
    public func changes(prefix: [UInt8] = [], from sequence: UInt64 = 0) throws(ShmKVError) -> ChangeStream {
        let client = try Client(address: address, timeoutSeconds: timeoutSeconds, credentials: credentials)
        defer { client.close() }
        return try client.watch(prefix: prefix, from: sequence).events
    }

    /// Messages published on `channels` and channel `patterns`, from now, on a connection of their own
    /// (counted in PUBLISH's answer). Ends when the task is cancelled.
    public func messages(channels: [[UInt8]], patterns: [[UInt8]] = []) throws(ShmKVError) -> MessageStream {
        let client = try Client(address: address, timeoutSeconds: timeoutSeconds, credentials: credentials)
        defer { client.close() }
        return try client.subscribe(channels: channels, patterns: patterns).messages
    }

    /// Posts `payload` to `channel`, in order with the writes pipelined before it on its connection;
    /// the receivers the daemon counts.
    @discardableResult
    public func publish(_ channel: [UInt8], _ payload: [UInt8]) async throws -> Int { try await execute(.publish(channel, payload)) }
}

extension AsyncClient {
    /// `get` for a UTF-8 key.
    public func get(_ key: String) async throws -> [UInt8]? { try await get(Array(key.utf8)) }
    /// `put` for UTF-8 text.
    @discardableResult
    public func put(_ key: String, _ value: String, condition: PutCondition = .always) async throws -> Bool {
        try await put(Array(key.utf8), Array(value.utf8), condition: condition)
    }
}

/// Entries of a scan through an `AsyncClient`, fetched a page at a time while iterated.
public struct AsyncScanSequence: AsyncSequence, Sendable {
    /// Each element is one key and its value, in key order.
    public typealias Element = KeyValue
    let client: AsyncClient
    let query: ScanQuery

    /// Holds one page; asks for the next (one round trip, pipelined with other calls) when it runs out.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let client: AsyncClient
        var pager: ScanPager

        /// The next entry; nil after the last page.
        public mutating func next() async throws -> KeyValue? {
            let client = self.client
            return try await pager.next { query in try await client.scanPage(query) }
        }
    }

    /// An iterator from the sequence's start; each iterator scans anew.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(client: client, pager: ScanPager(query: query)) }
}
