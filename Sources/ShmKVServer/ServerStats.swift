import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Counters shared by all threads (relaxed atomics: each is a statistic, not a synchronisation point).
final class ServerStats: Sendable {
    let connectionsCurrent = Atomic<Int>(0)
    let connectionsTotal = Atomic<Int>(0)
    let connectionsRejected = Atomic<Int>(0)
    let commandsProcessed = Atomic<Int>(0)
    let protocolErrors = Atomic<Int>(0)
    let writesCommitted = Atomic<Int>(0)
    let writesFailed = Atomic<Int>(0)
    let batchesCommitted = Atomic<Int>(0)
    let largestBatch = Atomic<Int>(0)
    let staleReadersCleared = Atomic<Int>(0)
    /// Keys deleted because their deadline passed (INFO's `expired_keys`).
    let expiredKeys = Atomic<Int>(0)
    /// Connections closed for reaching a limit: the pubsub output class, the query buffer, the idle
    /// timeout, the authentication timeout; and AUTH attempts that failed.
    let outputLimitDisconnections = Atomic<Int>(0)
    let queryLimitDisconnections = Atomic<Int>(0)
    let idleDisconnections = Atomic<Int>(0)
    let authTimeoutDisconnections = Atomic<Int>(0)
    let authFailures = Atomic<Int>(0)
    /// Clients blocked on keys now (INFO's `blocked_clients`), as the writer's registry counts them.
    let blockedClients = Atomic<Int>(0)
    /// Times the writer grew the LMDB map.
    let mapResizes = Atomic<Int>(0)
    /// The sequence the next ring record will carry.
    let ringNextSequence = Atomic<Int>(0)
    let startTime: Int
    /// When the store last reached the disk, Unix seconds (LASTSAVE): a commit in the durable and fast
    /// modes, the periodic sync in the volatile mode, a SAVE; the start until then.
    let lastSave: Atomic<Int>

    init() {
        startTime = MonotonicClock.seconds()
        lastSave = Atomic(Int(WallClock.milliseconds() / 1000))
    }

    var uptimeSeconds: Int {
        MonotonicClock.seconds() - startTime
    }

    @inline(__always)
    static func add(_ counter: borrowing Atomic<Int>, _ n: Int = 1) {
        counter.add(n, ordering: .relaxed)
    }
}
