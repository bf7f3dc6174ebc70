import Locks
import Logging
import Lua
import StoreLayout
import Synchronization
import Wire

/// A Lua interpreter of the daemon (Redis 7.0's `lctx`) with its own functions interpreter. The writer
/// has one (`ServerContext.scripts`, the primary): every script that may write runs there, inside the
/// batch's LMDB transaction. Each reactor has one of its own (`ReactorThread.scripts`): a read-only
/// script (EVAL_RO, FCALL_RO, or declared `no-writes`) runs there on the reactor's snapshot, without
/// the writer. What they share — the script cache, the libraries, `math.random`'s state, the busy
/// threshold — is `shared`; a reactor's interpreter compiles and loads its own copies when it sees
/// them change (`refresh`).
final class ScriptEngine: @unchecked Sendable {
    // Invariant: `lua`, `functions`, `defined`, `flags`, `loading`, `run` and the `seen` counters are
    // touched only by the thread that owns this interpreter: the writer role's holder for the primary
    // (and `restoreLibraries` before the writer starts), the reactor's loop thread for a reactor's.
    private var lua: LuaState
    /// FUNCTION's interpreter (Redis keeps one apart from EVAL's), and the libraries it holds.
    var functions: LuaState
    let shared: ScriptShared
    var libraries: Locked<FunctionCatalog> { shared.libraries }
    /// Bodies by lowercase SHA1 hex (SCRIPT LOAD, EVAL): shared with the reactors.
    var bodies: Locked<[String: [UInt8]]> { shared.bodies }
    /// The library FUNCTION LOAD is running (`redis.register_function` adds to it).
    var loading: FunctionLibrary?
    /// SHA1s whose function is in the interpreter's registry (`f_<sha>`).
    private var defined: Set<String> = []
    /// The shebang flags of each defined script (nil: none, Redis's compatibility mode).
    private var flags: [String: ScriptFlags?] = [:]
    private var scriptsSinceStep = 0
    /// The `shared` counters this interpreter's copies are as of (a reactor's interpreter).
    private var seenFlushes = 0, seenCatalog = 0
    /// The call in progress (its keyspace, its user…), for the functions Lua calls back.
    var run: ScriptRun?
    let memoryLimit: Int
    /// The commands scripts call (INFO commandstats counts them as Redis does): the writer's own
    /// counters for the primary, the reactor's for a reactor's interpreter (one thread adds to each).
    let commandStatistics: CommandStatistics
    /// The running script as the reactors see it (BUSY, SCRIPT KILL, SHUTDOWN NOSAVE).
    let activity: ScriptActivity
    let logger: Logger
    /// The reactor whose snapshot this interpreter reads (nil: the primary, on the writer).
    // Invariant: set once by the reactor's init, which outlives its interpreter's every use.
    nonisolated(unsafe) unowned(unsafe) var reactor: ReactorThread?
    /// The reactors' interpreters (on the primary): BUSY, KILL and SHUTDOWN look at all of them.
    let readers = Locked<[ScriptEngine]>([])
    /// Reused by `redis.call` for its arguments, replies and writes' bytes (calls do not nest).
    var argumentBytes: [UInt8] = []
    var argumentRanges: [Range<Int>] = []
    var builder = ResultBuilder()
    var scratch: [UInt8] = []

    /// The primary interpreter (the writer's).
    convenience init(memoryLimit: Int = 64 << 20, logger: Logger) {
        self.init(shared: ScriptShared(), statistics: CommandStatistics(commands: CommandTable.all.count),
                  memoryLimit: memoryLimit, logger: logger)
    }

    private init(shared: ScriptShared, statistics: CommandStatistics, memoryLimit: Int, logger: Logger) {
        self.shared = shared
        self.memoryLimit = memoryLimit
        self.logger = logger
        commandStatistics = statistics
        activity = ScriptActivity(shared: shared)
        lua = ScriptEngine.makeState(memoryLimit: memoryLimit)
        functions = ScriptEngine.makeFunctionsState(memoryLimit: memoryLimit)
        lua.context = Unmanaged.passUnretained(self).toOpaque()
        functions.context = lua.context
        noteMemory()
    }

    /// A reactor's interpreter sharing this (the primary's) cache, libraries and settings, counting
    /// its scripts' commands in `statistics`.
    func makeReader(statistics: CommandStatistics) -> ScriptEngine {
        let reader = ScriptEngine(shared: shared, statistics: statistics, memoryLimit: memoryLimit, logger: logger)
        readers.withLock { $0.append(reader) }
        return reader
    }

    /// The primary and every reactor's interpreter.
    var engines: [ScriptEngine] { [self] + readers.withLock { $0 } }

    /// A fresh interpreter with Redis's libraries, the `redis` table and the sandbox.
    static func makeState(memoryLimit: Int) -> LuaState {
        let lua = LuaState(memoryLimit: memoryLimit)
        lua.openLibraries()
        ScriptMessagePack.register(lua)
        ScriptStruct.register(lua)
        ScriptRandom.register(lua)
        ScriptBridge.registerRedisTable(lua)
        if let error = lua.run(ScriptPrelude.source, name: "@prelude") {
            fatalError("the scripting prelude failed: \(error)")
        }
        return lua
    }

    /// SCRIPT FLUSH: every script is forgotten and the interpreter starts anew (the reactors'
    /// interpreters at their next script).
    func flush() {
        bodies.withLock { $0.removeAll() }
        shared.flushes.add(1, ordering: .releasing)
        resetScripts()
    }

    private func resetScripts() {
        defined.removeAll()
        flags.removeAll()
        lua = ScriptEngine.makeState(memoryLimit: memoryLimit)
        lua.context = Unmanaged.passUnretained(self).toOpaque()
        noteMemory()
    }

    /// A reactor's interpreter, before a script: it forgets its scripts after SCRIPT FLUSH, and loads
    /// the libraries anew after they changed.
    private func refresh() {
        let flushes = shared.flushes.load(ordering: .acquiring)
        if flushes != seenFlushes {
            seenFlushes = flushes
            resetScripts()
        }
        let version = shared.catalogVersion.load(ordering: .acquiring)
        if version != seenCatalog {
            seenCatalog = version
            reloadLibraries(libraries.withLock { $0.libraries.values.map(\.code) })
        }
    }

    /// Memory the interpreter holds (INFO's `used_memory_lua`), as of the last script, load or flush:
    /// readable from any thread.
    let memoryUsed = Atomic<Int>(0)
    /// The functions' interpreter's (INFO's `used_memory_vm_functions`).
    let functionsMemoryUsed = Atomic<Int>(0)

    func noteMemory() {
        memoryUsed.store(lua.memoryUsed, ordering: .relaxed)
        functionsMemoryUsed.store(functions.memoryUsed, ordering: .relaxed)
    }

    /// SCRIPT LOAD and EVAL's first step: compiles `body` into `f_<sha>` unless it is there (a shebang
    /// line is read for its flags and compiled as an empty line); the SHA1, or Redis's error.
    func define(_ body: [UInt8]) -> Result<String, RESPError> {
        let sha = SHA1.hex(body)
        if defined.contains(sha) { return .success(sha) }
        let shebang: (flags: ScriptFlags?, length: Int)
        switch ScriptFlags.shebang(body) {
        case .failure(let error): return .failure(error)
        case .success(let found): shebang = found
        }
        let error = body.withUnsafeBytes { lua.load(UnsafeRawBufferPointer(rebasing: $0[shebang.length...]), name: "@user_script") }
        if let error { return .failure(RESPError(message: "ERR Error compiling script (new function): \(error)")) }
        // The script's globals are the prelude's read-only view of them.
        lua.getRegistry("__scripts_env")
        lua.setEnvironment(of: -2)
        lua.setRegistry("f_" + sha)
        defined.insert(sha)
        flags[sha] = shebang.flags
        bodies.withLock { $0[sha] = body }
        noteMemory()
        return .success(sha)
    }

    /// Runs a script (EVAL…) or a function (FCALL…) on the writer's keyspace; its reply. LMDB's errors
    /// inside are rethrown once the script has stopped (the writer then runs the batch again without it).
    func execute(_ invocation: ScriptInvocation, _ keys: inout KeyspaceWriter) throws -> CommandResult {
        try withUnsafeMutablePointer(to: &keys) { writer in
            try execute(invocation, on: Keyspace(.writer(writer)), database: writer.pointee.database)
        }
    }

    /// Runs a read-only script or function on a reactor's snapshot of numbered database `database`
    /// (this is the reactor's interpreter); its reply.
    /// `descriptor`: the connection that asked, whose events wait while the script is busy (the
    /// reactor's others are served meanwhile).
    func evaluate(_ invocation: ScriptInvocation, on reader: consuming KeyspaceReader, database: Int, descriptor: Int32) throws -> CommandResult {
        refresh()
        return try execute(invocation, on: Keyspace(.snapshot(reader)), database: database, descriptor: descriptor)
    }

    private func execute(_ invocation: ScriptInvocation, on keys: Keyspace, database: Int, descriptor: Int32? = nil) throws -> CommandResult {
        let sha: String
        switch invocation.source {
        case .body(let body):
            switch define(body) {
            case .failure(let error): return .error(error.message)
            case .success(let s): sha = s
            }
        case .sha(let given):
            let lower = given.lowercased()
            guard lower.utf8.count == 40, defined.contains(lower) || reload(lower) else {
                return .error("NOSCRIPT No matching script. Please use EVAL.")
            }
            sha = lower
        case .function(let name):
            return try callFunction(name, invocation, ScriptRun(keys: keys, database: database, invocation: invocation, descriptor: descriptor))
        }
        // A script with a shebang declares whether it writes (Redis's scriptPrepareForRun).
        var invocation = invocation
        if let declared = flags[sha] ?? nil {
            if let refusal = ScriptEngine.refusal(declared, invocation) { return .error(refusal) }
            invocation.noWrites = declared.contains(.noWrites)
        }
        let base = lua.top
        defer { lua.top = base }
        lua.getGlobal("__redis__err__handler")
        lua.getRegistry("f_" + sha)
        pushArray(invocation.keys, on: lua)
        lua.setGlobal("KEYS")
        pushArray(invocation.arguments, on: lua)
        lua.setGlobal("ARGV")
        return try run(on: lua, arguments: 0, handler: base + 1, name: sha, function: false,
                       ScriptRun(keys: keys, database: database, invocation: invocation, descriptor: descriptor))
    }

    /// What a script's or function's flags refuse before it runs (Redis's scriptPrepareForRun).
    static func refusal(_ flags: ScriptFlags, _ invocation: ScriptInvocation) -> String? {
        if flags.contains(.noCluster) && invocation.context.cluster != nil { return "ERR Can not run script on cluster, 'no-cluster' flag is set." }
        if invocation.readOnly && !flags.contains(.noWrites) { return "ERR Can not execute a script with write flag using *_ro command." }
        return nil
    }

    /// Calls the function on `state`'s stack (its handler at `handler`, `arguments` above it) with the
    /// count hook watching it, as `name` for error replies.
    func run(on state: LuaState, arguments: Int32, handler: Int32, name: String, function: Bool, _ call: ScriptRun) throws -> CommandResult {
        let invocation = call.invocation
        run = call
        activity.begin(function: function, name: name,
                       command: invocation.invokedAs + invocation.keys + invocation.arguments)
        defer { run = nil; activity.end() }
        // Every 100,000 instructions (as Redis) the hook looks at the clock and at the requests.
        let watched = shared.threshold.load(ordering: .relaxed) > 0
        state.setHook(every: watched ? 100_000 : 0, message: ScriptActivity.killedMessage, check: watched ? ScriptEngine.interrupt : nil)
        let status = state.call(arguments: arguments, results: 1, handler: handler)
        // The hook watches this call only (not the set-up code the state runs later).
        state.setHook(every: 0, message: "", check: nil)
        collectGarbage(state, outOfMemory: status == LuaState.outOfMemory)
        if let failure = call.failure { throw failure }
        if status != 0 { return ScriptEngine.failureReply(state, name) }
        return ScriptValues.reply(from: state, resp3: call.resp3)
    }

    /// The count hook's question (on the writer, inside the script): whether to stop it now.
    private static let interrupt: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
        guard let context else { return 0 }
        let engine = Unmanaged<ScriptEngine>.fromOpaque(context).takeUnretainedValue()
        let log = { (elapsed: Int, function: Bool) in
            engine.logger.warning("Slow script detected: still in execution after \(elapsed) milliseconds. You can try killing the script using the \(function ? "FUNCTION KILL" : "SCRIPT KILL") command.")
        }
        var verdict = engine.activity.interrupt(log: log)
        // Once busy on a reactor, its other connections are served here (BUSY, or SCRIPT KILL…), as
        // Redis's processEventsWhileBlocked serves its clients; the script's own connection waits.
        if verdict == .go, engine.activity.isBusy, let (reactor, combining) = engine.servingReactor() {
            reactor.loop.handleReadyEvents(skipping: engine.run?.descriptor)
            // A reactor committing a batch holds no snapshot of its own (the map may grow in the commit).
            if combining { reactor.resetSnapshot() }
            verdict = engine.activity.interrupt(log: log)
        }
        switch verdict {
        case .go:
            return 0
        case .kill:
            engine.logger.warning("Lua script killed by user with SCRIPT KILL.")
            return 1
        case .shutdown:
            // Its writes are undone with its attempt of the batch; the rest of the batch commits.
            engine.run?.failure = ScriptStoppedForShutdown()
            return 1
        }
    }

    /// The reactor whose thread runs the script, if one does: this interpreter's, or (for the primary)
    /// the reactor committing the script's batch (`combining`); nil on the writer thread.
    private func servingReactor() -> (ReactorThread, combining: Bool)? {
        if let reactor { return (reactor, false) }
        guard let batcher = run?.invocation.context.batcher else { return nil }
        let index = batcher.combiningReactor.load(ordering: .relaxed)
        guard index >= 0, let reactor = batcher.reactors.withLock({ $0.first { $0.index == index } }), reactor.loop.isOnLoopThread else { return nil }
        return (reactor, true)
    }

    /// Lua 5.1 collects no garbage when an allocation fails: after a script that ran out of memory, or
    /// left the state over half full, a full collection runs (allocations allowed), so that the next
    /// script has room; otherwise a step every 50 scripts, as Redis does.
    func collectGarbage(_ state: LuaState, outOfMemory: Bool) {
        defer { noteMemory() }
        if outOfMemory || state.memoryUsed > memoryLimit / 2 {
            state.collectGarbage()
            scriptsSinceStep = 0
        } else {
            scriptsSinceStep += 1
            if scriptsSinceStep == 50 {
                state.collectGarbage(step: 50)
                scriptsSinceStep = 0
            }
        }
    }

    /// A script loaded (SCRIPT LOAD, EVAL) before the last interpreter reset is compiled again.
    private func reload(_ sha: String) -> Bool {
        guard let body = bodies.withLock({ $0[sha] }) else { return false }
        if case .success = define(body) { return true }
        return false
    }

    func pushArray(_ items: [[UInt8]], on state: LuaState) {
        state.newTable(arrayCount: Int32(clamping: items.count))
        for (i, item) in items.enumerated() {
            state.push(item)
            state.setIndex(-2, Int32(clamping: i + 1))
        }
    }

    /// The reply to a script that failed: the error table the handler made (`err`, `source`, `line`),
    /// as Redis's luaCallFunction words it.
    /// The message of the error on top of the stack: an error table's `err`, or the value as text.
    static func errorMessage(_ lua: LuaState) -> String {
        if lua.isTable(at: -1) {
            lua.getField(-1, "err")
            defer { lua.pop(1) }
            return lua.string(at: -1).map { ScriptValues.errorLine(String(decoding: $0, as: UTF8.self)) } ?? "ERR unknown error"
        }
        return "ERR " + (lua.string(at: -1).map { String(decoding: $0, as: UTF8.self) } ?? "unknown error")
    }

    static func failureReply(_ lua: LuaState, _ sha: String) -> CommandResult {
        guard lua.isTable(at: -1) else {
            let message = lua.string(at: -1).map { String(decoding: $0, as: UTF8.self) } ?? "execution failure"
            return .error("ERR Error running script \(sha), \(message.prefix(100))")
        }
        func field(_ name: String) -> String? {
            lua.getField(-1, name)
            defer { lua.pop(1) }
            return lua.string(at: -1).map { String(decoding: $0, as: UTF8.self) }
        }
        var message = ScriptValues.errorLine(field("err") ?? "ERR unknown error")
        if let source = field("source"), let line = field("line") {
            message += " script: \(sha), on \(source):\(line)."
        }
        return .error(message)
    }
}
