/// One run of a command handler: its arguments, the keyspace it reads and the sink its reply goes to,
/// as dispatch chose them (see `Keyspace` and `ReplySink`), plus who asked. A handler written against this
/// runs unchanged on a reactor, on the writer inside EXEC, and (later) inside a script or from a
/// replication stream. Nothing in it is tied to the connection's thread.
struct CommandCall {
    let args: RESPArguments
    let keys: Keyspace
    let reply: ReplySink
    let client: CallingClient
    // Invariant: the server context lives as long as the process's server, longer than any request.
    unowned(unsafe) let context: ServerContext

    /// `set-max-intset-entries` now (Redis holds a computed set of integers as an intset up to it).
    var intsetLimit: Int { context.batcher.collectionLimits.withLock { $0.setMaxIntsetEntries } }
}

/// Who runs a command, as handlers need to know it.
struct CallingClient: Sendable {
    /// The RESP client id (0: none).
    let id: Int
    /// The user when it is limited to key prefixes (nil: any key may be listed).
    let keyFilter: User?
    /// Whether its replies are RESP3 (where Redis's reply differs in shape, not only in encoding: a
    /// pair per element of ZRANGE … WITHSCORES).
    var resp3 = false
    /// A script's `redis.call` (SORT then orders a set it would leave unordered, as Redis does).
    var fromScript = false

    /// Whether a key may appear in SCAN's or KEYS's results: a user limited to key prefixes does not
    /// learn the names of other keys.
    func mayList(_ key: UnsafeRawBufferPointer) -> Bool { keyFilter?.mayAccess(key: key) ?? true }
}

/// A handler that reads the keyspace and replies (see `CommandHandler.keyspace`).
typealias KeyspaceHandler = @Sendable (CommandCall) throws -> Void

/// A command's arguments copied out of the input, for a command that runs later (queued in MULTI).
struct OwnedArguments: Sendable, Equatable {
    private let storage: [UInt8]
    private let ranges: [Range<Int>]

    init(_ args: RESPArguments) {
        var storage: [UInt8] = []
        storage.reserveCapacity(args.ranges.reduce(0) { $0 + $1.count })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(args.count)
        for i in 0..<args.count {
            let start = storage.count
            storage.append(contentsOf: args[i])
            ranges.append(start..<storage.count)
        }
        self.storage = storage
        self.ranges = ranges
    }

    /// How many (the command's name included).
    var count: Int { ranges.count }

    /// Their bytes in all.
    var byteCount: Int { storage.count }

    /// The arguments as views into this copy, valid inside `body`.
    func withArguments<R>(_ body: (RESPArguments) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body(RESPArguments(base: $0, ranges: ranges)) }
    }
}
