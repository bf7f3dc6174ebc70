import Atomics
import Locks
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Counters for a run of commands (INFO commandstats): per command, calls, time, failed calls and
/// rejected calls, in one flat buffer of atomics. Each reactor owns one for the whole table and only
/// it adds, with a plain load and store (no locked instruction, no cache line shared with another
/// reactor, no reference counting on the request path); INFO on any reactor sums them; CONFIG
/// RESETSTAT zeroes them (an add racing a reset may survive it).
final class CommandStatistics: @unchecked Sendable {
    // Invariant: the buffer lives as long as this object; every access is atomic.
    private let slots: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>
    private let count: Int

    enum Field: Int, CaseIterable {
        case calls = 0
        /// Time spent, from the end of the connection's previous command (or the start of its turn) to
        /// the end of this one: parsing included, one clock reading per command.
        case nanoseconds
        /// Calls whose reply was an error.
        case failed
        /// Calls refused before running (wrong arity, NOPERM, not allowed while subscribed).
        case rejected
    }

    init(commands: Int) {
        count = commands * Field.allCases.count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: UnsafeAtomic<Int>.Storage(0), count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    @inline(__always)
    private func slot(_ command: Int, _ field: Field) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: slots + command * Field.allCases.count + field.rawValue)
    }

    /// Adds `n`; only the owner calls it.
    @inline(__always)
    func add(_ command: Int, _ field: Field, _ n: Int = 1) {
        let counter = slot(command, field)
        counter.store(counter.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    func load(_ command: Int, _ field: Field) -> Int { slot(command, field).load(ordering: .relaxed) }

    func reset() {
        for i in 0..<count { UnsafeAtomic<Int>(at: slots + i).store(0, ordering: .relaxed) }
    }
}

/// Error replies by their first word (INFO errorstats: `errorstat_ERR:count=3`), as Redis counts them:
/// at most 128 distinct codes are kept (later new ones count only in the total).
final class ErrorStatistics: Sendable {
    private let counts = Locked<[(code: String, count: Int)]>([])
    let total = Atomic<Int>(0)
    static let maxCodes = 128

    /// Notes an error reply that starts at `reply` (a RESP `-` line).
    func record(_ reply: ArraySlice<UInt8>) {
        total.add(1, ordering: .relaxed)
        var end = reply.startIndex + 1
        while end < reply.endIndex, reply[end] != 0x20, reply[end] != 0x0D { end += 1 }
        let code = String(decoding: reply[(reply.startIndex + 1)..<end], as: UTF8.self)
        counts.withLock { all in
            if let i = all.firstIndex(where: { $0.code == code }) { all[i].count += 1 }
            else if all.count < ErrorStatistics.maxCodes { all.append((code, 1)) }
        }
    }

    var all: [(code: String, count: Int)] { counts.withLock { $0 } }

    func reset() {
        counts.withLock { $0.removeAll() }
        total.store(0, ordering: .relaxed)
    }
}

/// The process's CPU time (INFO's `used_cpu_sys`, `used_cpu_user`), in seconds.
enum ProcessCPU {
    static func usage() -> (system: Double, user: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
        return (seconds(usage.ru_stime), seconds(usage.ru_utime))
    }
}

extension ServerContext {
    /// Every command's counters summed over the reactors and the scripts' calls, then the subcommands'
    /// (INFO commandstats).
    func commandStatistics() -> [(name: String, calls: Int, microseconds: Int, failed: Int, rejected: Int)] {
        let reactors = batcher.reactors.withLock { $0 }
        func read(_ c: CommandStatistics, _ i: Int) -> (Int, Int, Int, Int) {
            (c.load(i, .calls), c.load(i, .nanoseconds), c.load(i, .failed), c.load(i, .rejected))
        }
        var rows = CommandTable.all.map { command in
            var sums = (command.name, 0, 0, 0, 0)
            for counters in reactors.map(\.commandStatistics) + [scripts.commandStatistics] {
                let (calls, nanoseconds, failed, rejected) = read(counters, command.index)
                sums.1 += calls; sums.2 += nanoseconds; sums.3 += failed; sums.4 += rejected
            }
            return sums
        }
        for (name, counters) in subcommands.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let (calls, nanoseconds, failed, rejected) = read(counters, 0)
            rows.append((name, calls, nanoseconds, failed, rejected))
        }
        return rows.map { ($0.0, $0.1, $0.2 / 1000, $0.3, $0.4) }
    }

    /// CONFIG RESETSTAT: counters back to zero (not gauges: connections now, largest batch, ring sequence).
    func resetStatistics() {
        let s = stats
        for zero in [{ s.connectionsTotal.store(0, ordering: .relaxed) }, { s.connectionsRejected.store(0, ordering: .relaxed) },
                     { s.commandsProcessed.store(0, ordering: .relaxed) }, { s.protocolErrors.store(0, ordering: .relaxed) },
                     { s.expiredKeys.store(0, ordering: .relaxed) }, { s.outputLimitDisconnections.store(0, ordering: .relaxed) },
                     { s.queryLimitDisconnections.store(0, ordering: .relaxed) }, { s.idleDisconnections.store(0, ordering: .relaxed) },
                     { s.authTimeoutDisconnections.store(0, ordering: .relaxed) }, { s.authFailures.store(0, ordering: .relaxed) },
                     { s.staleReadersCleared.store(0, ordering: .relaxed) }] as [() -> Void] {
            zero()
        }
        errors.reset()
        for reactor in batcher.reactors.withLock({ $0 }) {
            reactor.commandStatistics.reset()
        }
        scripts.commandStatistics.reset()
        subcommands.withLock { $0.removeAll() }
    }
}
