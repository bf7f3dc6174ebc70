import Locks
import Posix
import Synchronization

/// What the reactors know of the script the writer runs (Redis's `curr_run_ctx` and its flags): when
/// it started, whether it is past `busy-reply-threshold` (then other clients get BUSY), whether it has
/// written, and what was asked of it (SCRIPT KILL, SHUTDOWN). The writer sets its own fields; reactors
/// read them and set the requests; the Lua count hook reads the requests on the writer.
final class ScriptActivity: Sendable {
    /// `busy-reply-threshold` (`lua-time-limit`) in milliseconds; 0: never busy, never killable.
    let threshold = Atomic<Int>(5000)
    private let isRunning = Atomic<Bool>(false)
    private let startedAt = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    /// The script has run a write command (SCRIPT KILL then refuses: Redis's SCRIPT_WRITE_DIRTY).
    private let dirty = Atomic<Bool>(false)
    /// FCALL rather than EVAL (which KILL applies, which BUSY text).
    private let function = Atomic<Bool>(false)
    private let killed = Atomic<Bool>(false)
    /// SHUTDOWN: 1 stops a script once it is busy (the daemon is stopping), 2 stops it now (NOSAVE).
    private let shutdown = Atomic<UInt8>(0)
    /// The running function's name and command, for FUNCTION STATS (only functions pay for it).
    private let current = Locked<(name: String, command: [[UInt8]])?>(nil)

    static let busyEval = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    static let busyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    static let killedMessage: StaticString = "Script killed by user with SCRIPT KILL..."

    // MARK: The writer

    func begin(function isFunction: Bool, name: String = "", command: @autoclosure () -> [[UInt8]] = []) {
        if isFunction { current.withLock { $0 = (name, command()) } }
        startedAt.store(MonotonicClock.milliseconds(), ordering: .relaxed)
        function.store(isFunction, ordering: .relaxed)
        dirty.store(false, ordering: .relaxed)
        killed.store(false, ordering: .relaxed)
        isRunning.store(true, ordering: .releasing)
    }

    func end() {
        if function.load(ordering: .relaxed) { current.withLock { $0 = nil } }
        isRunning.store(false, ordering: .releasing)
        busy.store(false, ordering: .releasing)
        killed.store(false, ordering: .relaxed)
    }

    func wrote() { dirty.store(true, ordering: .relaxed) }

    /// FUNCTION LOAD's code starts (its own time limit, `loadElapsed`).
    func beginLoad() { startedAt.store(MonotonicClock.milliseconds(), ordering: .relaxed) }

    func loadElapsed() -> Int { MonotonicClock.milliseconds() - startedAt.load(ordering: .relaxed) }

    /// Asked by the count hook: the script turns busy once past the threshold (logged once, as Redis
    /// does); it must stop when killed, at SHUTDOWN NOSAVE, or when busy while the daemon stops.
    /// `.shutdown` tells the engine to undo the script's writes (its batch runs again without it).
    func interrupt(log: (Int, Bool) -> Void) -> Interrupt {
        guard isRunning.load(ordering: .relaxed) else { return .go }
        let limit = threshold.load(ordering: .relaxed)
        if !busy.load(ordering: .relaxed), limit > 0 {
            let elapsed = MonotonicClock.milliseconds() - startedAt.load(ordering: .relaxed)
            if elapsed >= limit {
                busy.store(true, ordering: .releasing)
                log(elapsed, function.load(ordering: .relaxed))
            }
        }
        switch shutdown.load(ordering: .acquiring) {
        case 2: return .shutdown
        case 1 where busy.load(ordering: .relaxed): return .shutdown
        default: return killed.load(ordering: .acquiring) ? .kill : .go
        }
    }

    enum Interrupt { case go, kill, shutdown }

    // MARK: The reactors

    /// Whether a script runs now.
    var isRunningScript: Bool { isRunning.load(ordering: .acquiring) }

    /// The script running now: whether it is a function, and for a function its name, command and time.
    var running: (function: Bool, name: String, command: [[UInt8]], milliseconds: Int)? {
        guard isRunning.load(ordering: .acquiring) else { return nil }
        let elapsed = MonotonicClock.milliseconds() - startedAt.load(ordering: .relaxed)
        guard function.load(ordering: .relaxed) else { return (false, "", [], elapsed) }
        return current.withLock { $0 }.map { (true, $0.name, $0.command, elapsed) }
    }

    /// The BUSY error for a command that may not run now, or nil.
    var busyReply: String? {
        guard busy.load(ordering: .acquiring) else { return nil }
        return function.load(ordering: .relaxed) ? ScriptActivity.busyFunction : ScriptActivity.busyEval
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: nil when the script will stop, else Redis's refusal.
    func kill(eval: Bool) -> String? {
        guard isRunning.load(ordering: .acquiring) else { return "NOTBUSY No scripts in execution right now." }
        if dirty.load(ordering: .relaxed) {
            return "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
        }
        let isFunction = function.load(ordering: .relaxed)
        if eval && isFunction { return ScriptActivity.busyFunction }
        if !eval && !isFunction { return ScriptActivity.busyEval }
        killed.store(true, ordering: .releasing)
        return nil
    }

    /// SHUTDOWN (`now`: NOSAVE) or the daemon stopping: a running script is stopped now, or once busy.
    func stopForShutdown(now: Bool) {
        shutdown.store(now ? 2 : max(1, shutdown.load(ordering: .relaxed)), ordering: .releasing)
    }
}
