import Wire

/// What SCRIPT and FUNCTION ask of the writer (the interpreters live there).
struct ScriptAdmin: Sendable {
    enum Action: Sendable {
        /// SCRIPT LOAD: compile and keep; answers the SHA1.
        case load([UInt8])
        /// SCRIPT FLUSH: forget every script and start a fresh interpreter.
        case flush
        /// FUNCTION LOAD [REPLACE]: answers the library's name.
        case loadLibrary([UInt8], replace: Bool)
        case deleteLibrary(String)
        case flushLibraries
        /// FUNCTION RESTORE: the payload's library codes and the policy.
        case restoreLibraries([[UInt8]], ScriptEngine.RestorePolicy)
    }
    let action: Action
    let engine: ScriptEngine

    var byteCount: Int {
        switch action {
        case .load(let body), .loadLibrary(let body, _): body.count
        case .restoreLibraries(let codes, _): codes.reduce(0) { $0 + $1.count }
        default: 0
        }
    }

    func apply(_ keys: inout KeyspaceWriter) throws -> CommandResult {
        switch action {
        case .load(let body):
            switch engine.define(body) {
            case .success(let sha): return .bulk(Array(sha.utf8))
            case .failure(let error): return .error(error.message)
            }
        case .flush:
            engine.flush()
            return .status("OK")
        case .loadLibrary(let code, let replace):
            return try withUnsafeMutablePointer(to: &keys) { writer in
                switch try engine.functionLoad(code, replace: replace, keys: writer) {
                case .success(let name): .bulk(Array(name.utf8))
                case .failure(let error): .error(error.message)
                }
            }
        case .deleteLibrary(let name):
            return try withUnsafeMutablePointer(to: &keys) { writer in
                try engine.deleteLibrary(name, keys: writer).map { .error($0.message) } ?? .status("OK")
            }
        case .restoreLibraries(let codes, let policy):
            return try withUnsafeMutablePointer(to: &keys) { writer in
                try engine.restoreLibraries(codes, policy: policy, keys: writer).map { .error($0.message) } ?? .status("OK")
            }
        case .flushLibraries:
            try withUnsafeMutablePointer(to: &keys) { try engine.flushLibraries(keys: $0) }
            return .status("OK")
        }
    }
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, with Redis 7.0's arguments and errors. A script that
/// may write runs on the writer inside the batch's transaction (`WriteOperation.script`); a read-only
/// one (`_RO`, or declared `no-writes`) on the reactor's snapshot (`ScriptInvocation.runsOnSnapshot`),
/// but inside MULTI, where the writer runs it with the block.
enum ScriptCommands {
    static func eval(_ c: WriteCall) -> WritePlan { plan(c, sha: false, readOnly: false) }
    static func evalsha(_ c: WriteCall) -> WritePlan { plan(c, sha: true, readOnly: false) }
    static func evalRO(_ c: WriteCall) -> WritePlan { plan(c, sha: false, readOnly: true) }
    static func evalshaRO(_ c: WriteCall) -> WritePlan { plan(c, sha: true, readOnly: true) }

    static let noScript = "NOSCRIPT No matching script. Please use EVAL."

    static func fcall(_ c: WriteCall) -> WritePlan { functionPlan(c, readOnly: false) }
    static func fcallRO(_ c: WriteCall) -> WritePlan { functionPlan(c, readOnly: true) }

    /// FCALL and FCALL_RO: the function is looked up first, then the keys counted (Redis's order and words).
    private static func functionPlan(_ c: WriteCall, readOnly: Bool) -> WritePlan {
        let name = c.args.string(1)
        guard let function = c.context.scripts.libraries.withLock({ $0.function(name) }) else { return .error("ERR Function not found") }
        switch invocation(c, .function(name), readOnly: readOnly, notInteger: "ERR Bad number of keys provided") {
        case .failure(let error): return .error(error.message)
        case .success(var invocation):
            invocation.invokedAs = (0..<3).map(c.args.bytes)
            invocation.noWrites = function.flags.contains(.noWrites)
            return .operation(.script(invocation))
        }
    }

    private static func plan(_ c: WriteCall, sha: Bool, readOnly: Bool) -> WritePlan {
        let source: ScriptInvocation.Source = sha ? .sha(c.args.string(1)) : .body(c.args.bytes(1))
        switch invocation(c, source, readOnly: readOnly, notInteger: RESPError.notInteger.message, check: { sha && c.args[1].count != 40 ? noScript : nil }) {
        case .failure(let error): return .error(error.message)
        case .success(var invocation):
            invocation.noWrites = declaresNoWrites(source, c.context.scripts)
            return .operation(.script(invocation))
        }
    }

    /// Whether the script's shebang declares `no-writes` (then it runs on the reactor's snapshot); a
    /// script without one, or not known here, runs on the writer, which judges its flags again.
    private static func declaresNoWrites(_ source: ScriptInvocation.Source, _ engine: ScriptEngine) -> Bool {
        let body: [UInt8]?
        switch source {
        case .body(let bytes): body = bytes
        case .sha(let sha): body = engine.bodies.withLock { $0[sha.lowercased()] }
        case .function: body = nil
        }
        guard let body, body.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]),
              case .success(let found) = ScriptFlags.shebang(body), let flags = found.flags else { return false }
        return flags.contains(.noWrites)
    }

    /// The invocation of `source` with `numkeys` (argument 2) keys and the arguments after them, or
    /// Redis's error: for the count (`notInteger`: EVAL's and FCALL's words differ), then `check`'s,
    /// then a key's.
    private static func invocation(_ c: WriteCall, _ source: ScriptInvocation.Source, readOnly: Bool, notInteger: String,
                                   check: () -> String? = { nil }) -> Result<ScriptInvocation, RESPError> {
        let args = c.args
        guard let numkeys = args.integer(2) else { return .failure(RESPError(message: notInteger)) }
        if numkeys > args.count - 3 { return .failure(RESPError(message: "ERR Number of keys can't be greater than number of args")) }
        if numkeys < 0 { return .failure(RESPError(message: "ERR Number of keys can't be negative")) }
        if let refusal = check() { return .failure(RESPError(message: refusal)) }
        let keyEnd = 3 + Int(numkeys)
        if let problem = (3..<keyEnd).lazy.compactMap(c.keyProblem).first { return .failure(RESPError(message: problem)) }
        var invocation = ScriptInvocation(source: source, keys: (3..<keyEnd).map(args.bytes), arguments: (keyEnd..<args.count).map(args.bytes),
                                          readOnly: readOnly, user: c.user, context: c.context)
        invocation.onReadOnlyReplica = !c.fromPrimary && c.context.batcher.replication.refusesWrites
        return .success(invocation)
    }

    /// SCRIPT LOAD | EXISTS | FLUSH [ASYNC|SYNC] | HELP.
    static func script(_ c: WriteCall) -> WritePlan {
        let args = c.args
        if args.is(1, "LOAD") {
            guard args.count == 3 else { return c.wrongSubcommandArity }
            return .operation(.scriptAdmin(ScriptAdmin(action: .load(args.bytes(2)), engine: c.context.scripts)))
        }
        if args.is(1, "EXISTS") {
            guard args.count >= 3 else { return c.wrongSubcommandArity }
            let known = c.context.scripts.bodies.withLock { bodies in
                (2..<args.count).map { CommandResult.integer(bodies[args.string($0).lowercased()] == nil ? 0 : 1) }
            }
            return .reply(.array(known))
        }
        if args.is(1, "FLUSH") {
            guard args.count <= 3 else { return c.wrongSubcommandArity }
            if args.count == 3 && !args.is(2, "ASYNC") && !args.is(2, "SYNC") {
                return .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            }
            return .operation(.scriptAdmin(ScriptAdmin(action: .flush, engine: c.context.scripts)))
        }
        if args.is(1, "KILL") {
            guard args.count == 2 else { return c.wrongSubcommandArity }
            return .reply(c.context.scripts.kill(eval: true).map(CommandResult.error) ?? .status("OK"))
        }
        if args.is(1, "HELP") {
            return .reply(.array([
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Prints this help.",
            ].map { CommandResult.status($0) }))
        }
        return .error("ERR unknown subcommand '\(args.string(1))'. Try SCRIPT HELP.")
    }
}

extension WriteCall {
    /// Redis's arity error for a container's subcommand (`script|load`).
    var wrongSubcommandArity: WritePlan {
        .error("ERR wrong number of arguments for '\(args.string(0).lowercased())|\(args.string(1).lowercased())' command")
    }
}

/// The scripting entries of the command table, with Redis 7.0's arity and flags.
extension CommandTable {
    static let scripting: [Command] = [
        Command("eval", arity: -3, [.noScript, .stale], keys: .numbered(at: 2), .scripting, "Runs a Lua script on the server.",
                .write(ScriptCommands.eval)),
        Command("evalsha", arity: -3, [.noScript, .stale], keys: .numbered(at: 2), .scripting, "Runs a cached Lua script by its SHA1.",
                .write(ScriptCommands.evalsha)),
        Command("eval_ro", arity: -3, [.noScript, .stale, .readonly], keys: .numbered(at: 2), .scripting,
                "Runs a read-only Lua script.", .write(ScriptCommands.evalRO)),
        Command("evalsha_ro", arity: -3, [.noScript, .stale, .readonly], keys: .numbered(at: 2), .scripting,
                "Runs a cached read-only Lua script by its SHA1.", .write(ScriptCommands.evalshaRO)),
        Command("script", arity: -2, [.noScript, .hasSubcommands, .allowBusy], .scripting, "Manages the script cache (LOAD, EXISTS, FLUSH, KILL).",
                subcommands: ["LOAD", "EXISTS", "FLUSH", "KILL", "HELP"], .write(ScriptCommands.script)),
        Command("fcall", arity: -3, [.noScript, .stale], keys: .numbered(at: 2), .scripting, "Calls a function of a loaded library.",
                .write(ScriptCommands.fcall)),
        Command("fcall_ro", arity: -3, [.noScript, .stale, .readonly], keys: .numbered(at: 2), .scripting,
                "Calls a read-only function of a loaded library.", .write(ScriptCommands.fcallRO)),
        Command("function", arity: -2, [.noScript, .hasSubcommands, .allowBusy], .scripting,
                "Manages function libraries (LOAD, DELETE, FLUSH, LIST, STATS, KILL, DUMP, RESTORE).",
                subcommands: ["LOAD", "DELETE", "FLUSH", "LIST", "STATS", "KILL", "DUMP", "RESTORE", "HELP"], .write(FunctionCommands.function)),
    ]
}
