import Locks
import Posix
import Synchronization

/// What the reactors know of the script an interpreter runs (Redis's `curr_run_ctx` and its flags):
/// when it started, whether it is past `busy-reply-threshold` (then other clients get BUSY), whether it
/// has written, and whether SCRIPT KILL was asked of it. The interpreter's thread (the writer's, or a
/// reactor's for a read-only script) sets its own fields; other reactors read them and set the
/// request; the Lua count hook reads it. The threshold and SHUTDOWN's request are the daemon's
/// (`ScriptShared`).
final class ScriptActivity: Sendable {
    let shared: ScriptShared
    private let isRunning = Atomic<Bool>(false)
    private let startedAt = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    /// The script has run a write command (SCRIPT KILL then refuses: Redis's SCRIPT_WRITE_DIRTY).
    private let dirty = Atomic<Bool>(false)
    /// FCALL rather than EVAL (which KILL applies, which BUSY text).
    private let function = Atomic<Bool>(false)
    private let killed = Atomic<Bool>(false)
    /// The running function's name and command, for FUNCTION STATS (only functions pay for it).
    private let current = Locked<(name: String, command: [[UInt8]])?>(nil)

    static let busyEval = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    static let busyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    static let killedMessage: StaticString = "Script killed by user with SCRIPT KILL..."

    init(shared: ScriptShared) { self.shared = shared }

    // MARK: The interpreter's thread

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
        if busy.exchange(false, ordering: .acquiringAndReleasing) { shared.busyCount.subtract(1, ordering: .releasing) }
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
        let limit = shared.threshold.load(ordering: .relaxed)
        if !busy.load(ordering: .relaxed), limit > 0 {
            let elapsed = MonotonicClock.milliseconds() - startedAt.load(ordering: .relaxed)
            if elapsed >= limit {
                shared.busyCount.add(1, ordering: .releasing)
                busy.store(true, ordering: .releasing)
                log(elapsed, function.load(ordering: .relaxed))
            }
        }
        switch shared.shutdown.load(ordering: .acquiring) {
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

    /// Whether the script counts as busy now.
    var isBusy: Bool { busy.load(ordering: .acquiring) }

    /// What SCRIPT KILL (`eval`) or FUNCTION KILL can do to the script running here: nil when none runs.
    func killVerdict(eval: Bool) -> KillVerdict? {
        guard isRunning.load(ordering: .acquiring) else { return nil }
        if dirty.load(ordering: .relaxed) { return .unkillable }
        let isFunction = function.load(ordering: .relaxed)
        if eval && isFunction { return .wrongKind(ScriptActivity.busyFunction) }
        if !eval && !isFunction { return .wrongKind(ScriptActivity.busyEval) }
        return .killable
    }

    enum KillVerdict: Equatable { case killable, unkillable, wrongKind(String) }

    /// Stops the script at the count hook's next look (after `killVerdict` said `.killable`).
    func kill() { killed.store(true, ordering: .releasing) }

    static let notBusy = "NOTBUSY No scripts in execution right now."
    static let unkillable = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
}

/// What every interpreter of the daemon shares (the writer's and each reactor's): the script cache,
/// the function libraries, `math.random`'s state, `busy-reply-threshold`, and SHUTDOWN's request. The
/// counters tell the reactors' interpreters when their copies are stale.
final class ScriptShared: Sendable {
    /// Bodies by lowercase SHA1 hex (SCRIPT LOAD, EVAL).
    let bodies = Locked<[String: [UInt8]]>([:])
    let libraries = Locked(FunctionCatalog())
    /// Raised by SCRIPT FLUSH: a reactor's interpreter then forgets its compiled scripts.
    let flushes = Atomic<Int>(0)
    /// Raised whenever `libraries` changes: a reactor's functions interpreter then loads them anew.
    let catalogVersion = Atomic<Int>(0)
    /// redisLrand48's state (`ScriptRandom`): one sequence for every script of the daemon, as in Redis.
    let random = Atomic<UInt64>(ScriptRandom.initialState)
    /// `busy-reply-threshold` (`lua-time-limit`) in milliseconds; 0: never busy, never killable.
    let threshold = Atomic<Int>(5000)
    /// Scripts past the threshold now (the reactors' one look per command while none is).
    let busyCount = Atomic<Int>(0)
    /// SHUTDOWN: 1 stops a script once it is busy (the daemon is stopping), 2 stops it now (NOSAVE).
    let shutdown = Atomic<UInt8>(0)

    /// SHUTDOWN (`now`: NOSAVE) or the daemon stopping: running scripts are stopped now, or once busy.
    func stopForShutdown(now: Bool) {
        shutdown.store(now ? 2 : max(1, shutdown.load(ordering: .relaxed)), ordering: .releasing)
    }

    /// The next draw of redisLrand48, whichever interpreter asks.
    func nextRandom() -> Int32 {
        var seen = random.load(ordering: .relaxed)
        while true {
            var state = seen
            let drawn = ScriptRandom.next(&state)
            let (done, now) = random.compareExchange(expected: seen, desired: state, ordering: .relaxed)
            if done { return drawn }
            seen = now
        }
    }
}
