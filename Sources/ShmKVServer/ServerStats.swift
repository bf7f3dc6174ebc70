import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Counters shared by all threads (relaxed atomics: each is a statistic, not a synchronisation point).
public final class ServerStats: Sendable {
    public let connectionsCurrent = Atomic<Int>(0)
    public let connectionsTotal = Atomic<Int>(0)
    public let connectionsRejected = Atomic<Int>(0)
    public let commandsProcessed = Atomic<Int>(0)
    public let protocolErrors = Atomic<Int>(0)
    public let writesCommitted = Atomic<Int>(0)
    public let writesFailed = Atomic<Int>(0)
    public let batchesCommitted = Atomic<Int>(0)
    public let largestBatch = Atomic<Int>(0)
    public let staleReadersCleared = Atomic<Int>(0)
    /// Connections closed for reaching a limit: the pubsub output class, the query buffer, the idle
    /// timeout, the authentication timeout; and AUTH attempts that failed.
    public let outputLimitDisconnections = Atomic<Int>(0)
    public let queryLimitDisconnections = Atomic<Int>(0)
    public let idleDisconnections = Atomic<Int>(0)
    public let authTimeoutDisconnections = Atomic<Int>(0)
    public let authFailures = Atomic<Int>(0)
    /// Times the writer grew the LMDB map.
    public let mapResizes = Atomic<Int>(0)
    /// The sequence the next ring record will carry.
    public let ringNextSequence = Atomic<Int>(0)
    public let startTime: Int

    public init() {
        startTime = MonotonicClock.seconds()
    }

    public var uptimeSeconds: Int {
        MonotonicClock.seconds() - startTime
    }

    @inline(__always)
    static func add(_ counter: borrowing Atomic<Int>, _ n: Int = 1) {
        counter.add(n, ordering: .relaxed)
    }
}
