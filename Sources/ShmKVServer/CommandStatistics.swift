import Locks
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One command's counters on one reactor (INFO commandstats). Only the owning reactor adds to them, with
/// a plain load and store (no locked instruction, no cache line shared with another reactor); INFO on
/// any reactor sums them; CONFIG RESETSTAT zeroes them (an add racing a reset may survive it).
final class CommandCounters: Sendable {
    let calls = Atomic<Int>(0)
    /// Time spent, from the end of the connection's previous command (or the start of its turn) to the
    /// end of this one: parsing included, one clock reading per command.
    let nanoseconds = Atomic<Int>(0)
    /// Calls whose reply was an error.
    let failed = Atomic<Int>(0)
    /// Calls refused before running (wrong arity, NOPERM, not allowed while subscribed).
    let rejected = Atomic<Int>(0)

    @inline(__always)
    static func add(_ counter: borrowing Atomic<Int>, _ n: Int = 1) {
        counter.store(counter.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    func reset() {
        calls.store(0, ordering: .relaxed)
        nanoseconds.store(0, ordering: .relaxed)
        failed.store(0, ordering: .relaxed)
        rejected.store(0, ordering: .relaxed)
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
