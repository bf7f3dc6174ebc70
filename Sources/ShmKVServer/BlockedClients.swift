import Posix

/// How a blocking command (BLPOP, BZPOPMIN…) runs on the writer now (`KeyspaceWriter.blocking`).
enum BlockingMode: Equatable {
    /// Inside MULTI or a native CALL: it answers at once, as if it had timed out (Redis's
    /// `CLIENT_DENY_BLOCKING`).
    case never
    /// A client's own command: with nothing to pop it blocks (`CommandResult.block`).
    case may
    /// A blocked client being served because `key` (in its database) may have become serveable: only
    /// that key is tried, and a key of another type leaves it blocked (Redis 7.0's `serveClientsBlockedOn…`).
    case serving([UInt8])
}

/// What a command that blocked waits for: its keys, in its connection's database, and its deadline.
struct BlockRequest: Sendable, Equatable {
    let keys: [[UInt8]]
    /// `MonotonicClock.milliseconds()` it gives up at; 0: never.
    let deadline: Int

    /// Its answer when it gives up: Redis's null array, whatever the command (BLMOVE's too).
    var timeoutResult: CommandResult { .nullArray }
}

/// Why a blocked client stops waiting without being served (`WriteOperation.unblock`).
enum UnblockReason: Sendable, Equatable {
    /// CLIENT UNBLOCK … TIMEOUT: answered as a timeout.
    case timeout
    /// CLIENT UNBLOCK … ERROR: answered `-UNBLOCKED`.
    case error
    /// Its connection went: answered (to nobody) as a timeout.
    case disconnected

    func result(_ request: BlockRequest) -> CommandResult {
        self == .error ? .error("UNBLOCKED client unblocked via CLIENT UNBLOCK") : request.timeoutResult
    }
}

/// The clients blocked on keys, owned by the writer role (only its holder touches it): their tickets,
/// kept until they are answered, and a FIFO of them per (database, key), so that clients are served
/// in the order they blocked whichever reactor they came from. A served client's pop is applied inside
/// the batch that made its key serveable, so two clients never receive the same element and nothing
/// popped is lost: it commits with its reply.
final class BlockedClients {
    struct WaitKey: Hashable {
        let database: UInt8
        let key: [UInt8]
    }

    struct Waiter {
        let ticket: WriteTicket
        let request: BlockRequest
    }

    private(set) var waiters: [UInt64: Waiter] = [:]
    private var queues: [WaitKey: [UInt64]] = [:]
    private var nextSerial: UInt64 = 1
    /// Where INFO's `blocked_clients` is published.
    private let stats: ServerStats

    init(stats: ServerStats) { self.stats = stats }

    var isEmpty: Bool { waiters.isEmpty }

    /// Adds a client that blocked, after every client already waiting on its keys.
    func park(_ ticket: WriteTicket, _ request: BlockRequest) {
        let serial = nextSerial
        nextSerial += 1
        waiters[serial] = Waiter(ticket: ticket, request: request)
        for key in request.keys { queues[WaitKey(database: ticket.database, key: key), default: []].append(serial) }
        stats.blockedClients.store(waiters.count, ordering: .relaxed)
    }

    /// Takes a client out (served, timed out or unblocked); its ticket is the caller's to answer.
    func remove(_ serial: UInt64) -> Waiter? {
        guard let waiter = waiters.removeValue(forKey: serial) else { return nil }
        for key in waiter.request.keys {
            let wait = WaitKey(database: waiter.ticket.database, key: key)
            queues[wait]?.removeAll { $0 == serial }
            if queues[wait]?.isEmpty == true { queues[wait] = nil }
        }
        stats.blockedClients.store(waiters.count, ordering: .relaxed)
        return waiter
    }

    /// The clients waiting on `key` in `database`, first blocked first.
    func queue(_ database: UInt8, _ key: [UInt8]) -> [UInt64] {
        queues.isEmpty ? [] : queues[WaitKey(database: database, key: key)] ?? []
    }

    /// The waiting client of RESP client `id`, if any.
    func serial(ofClient id: UInt32) -> UInt64? {
        waiters.first { $0.value.ticket.origin == id }?.key
    }

    /// The clients whose deadline is at or before `now`.
    func due(at now: Int) -> [UInt64] {
        waiters.filter { $0.value.request.deadline != 0 && $0.value.request.deadline <= now }.map(\.key).sorted()
    }

    /// The earliest deadline of a waiting client (nil: none has one).
    var nextDeadline: Int? {
        waiters.values.lazy.map(\.request.deadline).filter { $0 != 0 }.min()
    }
}
