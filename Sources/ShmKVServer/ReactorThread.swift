import LMDB
import Locks
import Logging
import Posix
import Reactor
import StoreLayout
import Synchronization
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Where the daemon's notification ring is.
struct RingInfo: Sendable {
    let path: String
    let epoch: UInt64
    let capacity: Int
}

/// What every thread of a running server shares.
final class ServerContext: Sendable {
    let configuration: ServerConfiguration
    let store: Store
    let stats: ServerStats
    let batcher: WriteBatcher
    let logger: Logger
    let reactorCount: Int
    let ring: RingInfo
    let resp = RESPRegistry()
    /// What the daemon's connections subscribe to (PUBLISH's count, PUBSUB).
    let subscriptions = Subscriptions()
    let authenticator: Authenticator
    /// Held by reactors while their read transaction is active; closed by the writer to grow the map.
    let mapGate: MapGate
    /// `notify-keyspace-events`, shared with the writer.
    var notifications: KeyspaceNotifications { batcher.notifications }
    /// Error replies by code (INFO errorstats).
    let errors = ErrorStatistics()
    /// The Lua interpreter and script cache (EVAL, SCRIPT), used on the writer.
    let scripts: ScriptEngine

    /// Hands a replication request to the reactor that holds the link (reactor 0).
    func post(_ request: ReplicationRequest) {
        batcher.reactors.withLock { $0.first }?.post(request)
    }

    /// Counters of subcommands (`config|get`), shared by the reactors (added under the lock: not a hot
    /// path); at most 256 names (then the command's own counters take the calls), so odd subcommand
    /// names cannot grow it without bound.
    let subcommands = Locked<[String: CommandStatistics]>([:])

    /// Runs `body` with the counters of subcommand `name` (slot 0), or returns false when no more
    /// names are kept.
    func withSubcommandStatistics(_ name: String, _ body: (CommandStatistics) -> Void) -> Bool {
        subcommands.withLock { all in
            if let known = all[name] { body(known); return true }
            guard all.count < 256 else { return false }
            let made = CommandStatistics(commands: 1)
            all[name] = made
            body(made)
            return true
        }
    }

    /// The cluster's slot map (`cluster.enabled`), else nil.
    // Invariant: set once by `Server.start` (it needs the bound TCP port) before any reactor thread
    // starts, and only read afterwards.
    nonisolated(unsafe) private(set) var cluster: ClusterMap?

    func setCluster(_ map: ClusterMap?) { cluster = map }

    /// What SHUTDOWN calls to stop the daemon (set once by `Server.start`, as `cluster`).
    nonisolated(unsafe) private(set) var shutdown: (@Sendable () -> Void)?

    func setShutdown(_ stop: @escaping @Sendable () -> Void) { shutdown = stop }

    init(configuration: ServerConfiguration, store: Store, stats: ServerStats, batcher: WriteBatcher,
         logger: Logger, reactorCount: Int, ring: RingInfo, authenticator: Authenticator, mapGate: MapGate) {
        self.ring = ring
        self.mapGate = mapGate
        self.authenticator = authenticator
        self.configuration = configuration
        self.store = store
        self.stats = stats
        self.batcher = batcher
        self.logger = logger
        self.reactorCount = reactorCount
        scripts = ScriptEngine(logger: logger)
    }
}

/// One reactor: an event loop on its own thread, the connections it accepted, a reusable read
/// transaction renewed once per loop iteration, and the queue where the writer leaves outcomes.
final class ReactorThread: @unchecked Sendable {
    // Invariant: everything except `completions`, `draining`, `adopted` and `connectionCount` is touched
    // only on the loop's thread; other threads call only `post(_:)`, `place` (which hands a connection
    // over through `adopted`), `beginDraining()` and `loop.stop()`.
    let loop: EventLoop
    let context: ServerContext
    let index: Int
    /// This reactor's counters per command, by `Command.index` (INFO commandstats).
    let commandStatistics = CommandStatistics(commands: CommandTable.all.count)
    /// This loop's Lua interpreter: read-only scripts run on its snapshot (`ScriptEngine`).
    let scripts: ScriptEngine
    /// The bytes of this loop's connections' queued writes (released as their outcomes come back).
    let writeArena = WriteArena()
    private let completions = Locked<[WriteCompletion]>([])
    private var taken: [WriteCompletion] = []
    /// Outcomes of writes this loop committed itself, for its own connections.
    private var localCompletions: [WriteCompletion] = []
    private(set) var readTransaction: ReadTransaction?
    var connections: [ObjectIdentifier: ServerConnection] = [:]
    private let draining = Atomic<Bool>(false)
    /// Listeners to take out of this loop (set by `stopAccepting`, done on the loop's thread).
    private let listenersToDrop = Locked<[Listener]>([])
    private let acceptingStopped = Atomic<Bool>(false)
    private let drainDeadline = Atomic<Int>(0)
    /// Connections of this loop that follow the ring (WATCH, RESP pub/sub); the writer wakes the loop after each
    /// publish while there are any.
    private var ringFollowers: [ObjectIdentifier: ServerConnection] = [:]
    private let ringFollowerCount = Atomic<Int>(0)
    /// This loop's RESP sessions by client id (where REDIRECTed invalidations are delivered).
    var respSessions: [Int: RESPSession] = [:]
    /// Invalidation messages other reactors' tracking clients send to this loop's clients.
    private let invalidations = Locked<[Invalidation]>([])
    /// The ring's next sequence read just before the snapshot began: every change numbered below it is
    /// in the snapshot (published after its commit). CLIENT TRACKING remembers a read key from here.
    private(set) var ringMark: UInt64 = 0
    /// Requests for the replication link (reactor 0 holds it), from any thread.
    let replicationRequests = Locked<[ReplicationRequest]>([])
    /// The link to the primary this daemon follows (reactor 0 only).
    var replicaLink: ReplicaLink?
    var clusterFollower: ClusterFollower?
    /// Connections placed on this loop and not yet closed (any thread reads it to balance the loops).
    let connectionCount = Atomic<Int>(0)
    /// Connections another loop accepted for this one, not yet taken; nil once the loop has stopped.
    let adopted = Locked<[Int32]?>([])

    init(index: Int, context: ServerContext) throws {
        self.index = index
        self.context = context
        scripts = context.scripts.makeReader(statistics: commandStatistics)
        loop = try EventLoop()
        loop.beforeWait = { [unowned self] in
            self.combineWrites()
            self.resetSnapshot()
            if self.draining.load(ordering: .acquiring) { self.drainStep() }
        }
        loop.onWake = { [unowned self] in
            self.dropListeners()
            self.applyReplicationRequests()
            self.acceptAdopted()
            self.deliverCompletions()
            self.pumpRingFollowers()
            self.deliverInvalidations()
        }
        scripts.reactor = self
        scheduleHousekeeping()
    }

    /// Once a second: close connections idle past `limits.idleTimeout` (not ring followers, as Redis
    /// exempts pub/sub clients), those still unauthenticated after `auth.timeout`, and ring followers
    /// over the pubsub soft limit for too long.
    private func scheduleHousekeeping() {
        loop.schedule(afterMilliseconds: 1000) { [unowned self] in
            self.closeExpiredConnections()
            self.scheduleHousekeeping()
        }
    }

    private func closeExpiredConnections() {
        let config = context.configuration
        let now = loop.now
        let idleLimit = config.idleTimeout * 1000
        let authLimit = config.auth.timeout * 1000
        for connection in Array(connections.values) where !connection.isClosed {
            if connection.ringSubscriber != nil {
                connection.checkSoftOutputLimit()
            } else if idleLimit > 0 && now - connection.lastActivity >= idleLimit && connection.pendingWrites == 0 {
                ServerStats.add(context.stats.idleDisconnections)
                connection.close()
            } else if authLimit > 0 && connection.user == nil && now - connection.acceptedAt >= authLimit {
                ServerStats.add(context.stats.authTimeoutDisconnections)
                connection.close()
            }
        }
    }

    /// Runs the loop until the server stops.
    func run() {
        loop.run()
        _ = stopFollowing()
        closeAdopted()
        for connection in connections.values { connection.close() }
        connections.removeAll()
        resetSnapshot()
        readTransaction?.abort()
        readTransaction = nil
    }

    /// Whether this reactor holds the map gate (its read transaction is, or may be, active).
    private var holdsMapGate = false

    /// The snapshot reads run on: current as of the start of this iteration (or of the last delivered
    /// commit), so a read that follows an acknowledged write sees it.
    func snapshot() throws -> ReadTransaction {
        if let txn = readTransaction, txn.isActive { return txn }
        markRing()
        enterMapGate()
        if let txn = readTransaction {
            try txn.renew()
            return txn
        }
        let txn = try context.store.environment.beginRead()
        readTransaction = txn
        return txn
    }

    /// The keyspace as it lives on the loop's snapshot: keys past their deadline read as absent. Made
    /// once per snapshot (so once per loop iteration, not per request), which also fixes the moment
    /// deadlines are judged at for the iteration, as Redis judges them at its cached command time.
    func keyspace() throws -> KeyspaceReader {
        loop.assertOnLoopThread()
        if let reader, readTransaction?.isActive == true { return reader }
        let made = try KeyspaceReader(try snapshot(), try databases(0), clock: WallClock.milliseconds)
        reader = made
        return made
    }

    /// The reader of the current snapshot, and those of other databases; dropped whenever the snapshot ends.
    private var reader: KeyspaceReader?
    var otherReaders: [KeyspaceReader?] = []
    /// The snapshot's database map, once read (only after a SWAPDB).
    var snapshotMap: [Int]??

    private func enterMapGate() {
        guard !holdsMapGate else { return }
        context.mapGate.enter()
        holdsMapGate = true
    }

    /// Ends the read transaction's snapshot and lets a map resize go ahead.
    func resetSnapshot() {
        reader = nil
        if !otherReaders.isEmpty { otherReaders.removeAll(keepingCapacity: true) }
        snapshotMap = nil
        if let txn = readTransaction, txn.isActive { txn.reset() }
        if holdsMapGate {
            holdsMapGate = false
            context.mapGate.leave()
        }
    }

    /// Whether the writer should wake this loop after publishing (any thread).
    var followsRing: Bool { ringFollowerCount.load(ordering: .relaxed) > 0 }

    /// Registers a connection that follows the ring. Counted before its subscriber opens, so no publish after the
    /// subscriber's start position can go without a wake-up.
    func addRingFollower(_ connection: ServerConnection) {
        if ringFollowers.updateValue(connection, forKey: ObjectIdentifier(connection)) == nil {
            ringFollowerCount.add(1, ordering: .sequentiallyConsistent)
        }
    }

    func removeRingFollower(_ connection: ServerConnection) {
        if ringFollowers.removeValue(forKey: ObjectIdentifier(connection)) != nil {
            ringFollowerCount.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func pumpRingFollowers() {
        for connection in ringFollowers.values where !connection.isClosed {
            connection.pumpRing()
            connection.flush()
        }
    }

    private func markRing() {
        ringMark = UInt64(context.stats.ringNextSequence.load(ordering: .acquiring))
    }

    /// Leaves an invalidation for client `target` of this loop (any thread; this loop's own thread
    /// delivers at once).
    func post(_ invalidation: Invalidation) {
        invalidations.withLock { $0.append(invalidation) }
        loop.wake()
    }

    private func deliverInvalidations() {
        let pending = invalidations.withLock { queue -> [Invalidation] in
            defer { queue.removeAll() }
            return queue
        }
        for invalidation in pending {
            guard let session = respSessions[invalidation.target], !session.connection.isClosed else { continue }
            session.receive(invalidation)
            session.connection.flush()
        }
    }

    /// Leaves outcomes for this reactor's connections (called by whoever holds the writer role).
    /// The loop is woken only when the queue was empty: otherwise a wake-up is already on its way and
    /// the loop takes everything queued when it comes.
    func post(_ batch: [WriteCompletion]) {
        let wasEmpty = completions.withLock { queue in
            defer { queue.append(contentsOf: batch) }
            return queue.isEmpty
        }
        if wasEmpty { loop.wake() }
    }

    private func deliverCompletions() {
        completions.withLock { swap(&$0, &taken) }
        guard !taken.isEmpty else { return }
        // The commit these outcomes belong to happened before the wake-up: read from after it.
        resetSnapshot()
        complete(taken)
        taken.removeAll(keepingCapacity: true)
    }

    /// Answers each outcome's request, flushes each connection once the list is done, and gives back
    /// each ticket's arena chunk and connection reference.
    private func complete(_ list: [WriteCompletion]) {
        for index in list.indices {
            if list[index].arenaChunk >= 0 { writeArena.release(list[index].arenaChunk) }
            list[index].connection._withUnsafeGuaranteedRef { connection in
                guard !connection.isClosed else { return }
                connection.complete(list[index].outcome, route: list[index].route, byteCount: list[index].byteCount)
            }
        }
        for index in list.indices {
            list[index].connection._withUnsafeGuaranteedRef { connection in
                if !connection.isClosed { connection.flush() }
            }
            list[index].connection.release()
        }
    }

    /// At the end of each iteration: commits the writes queued (this loop's and others'), batch by
    /// batch, while the writer role is free, and answers this loop's own at once (flat combining; see
    /// `WriteBatcher`). The snapshot ends first: the map may have to grow inside a commit.
    private func combineWrites() {
        resetSnapshot()
        while context.batcher.combine(on: self, local: &localCompletions) {
            // Outcomes another thread committed earlier for this loop's connections go first: each
            // connection's replies leave in the order it sent the writes.
            deliverCompletions()
            complete(localCompletions)
            localCompletions.removeAll(keepingCapacity: true)
            if followsRing { pumpRingFollowers() }
            resetSnapshot()
        }
    }

    func connectionClosed(_ connection: ServerConnection) {
        connections[ObjectIdentifier(connection)] = nil
        context.stats.connectionsCurrent.subtract(1, ordering: .relaxed)
        connectionCount.subtract(1, ordering: .relaxed)
    }

    /// Asks the loop to stop watching `listeners`; returns once it has, so the caller may close them
    /// without racing an `accept` on this thread.
    func stopAccepting(_ listeners: [Listener]) {
        // The loop signals completion only when it had listeners to drop.
        guard !listeners.isEmpty else { return }
        listenersToDrop.withLock { $0 = listeners }
        loop.wake()
        while !acceptingStopped.load(ordering: .acquiring) { usleep(1000) }
    }

    private func dropListeners() {
        let listeners = listenersToDrop.withLock { list in
            defer { list.removeAll() }
            return list
        }
        guard !listeners.isEmpty else { return }
        for listener in listeners { loop.unregister(listener) }
        acceptingStopped.store(true, ordering: .releasing)
    }

    /// Starts the graceful stop: the loop keeps delivering outcomes and flushing replies, and stops
    /// once every connection is idle (or after `graceSeconds`).
    func beginDraining(graceSeconds: Int) {
        drainDeadline.store(MonotonicClock.seconds() + graceSeconds, ordering: .relaxed)
        draining.store(true, ordering: .releasing)
        loop.wake()
    }

    private func drainStep() {
        let idle = connections.values.allSatisfy { $0.pendingWrites == 0 && $0.pendingOutput == 0 }
        if idle || MonotonicClock.seconds() >= drainDeadline.load(ordering: .relaxed) { loop.stop() }
    }
}
