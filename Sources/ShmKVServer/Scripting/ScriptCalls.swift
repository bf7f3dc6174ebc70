import Posix
import StoreLayout
import Wire

/// `redis.call` inside a script: the command is looked up in the same table as a socket's, checked as
/// Redis's `scriptCall` checks it, and run by the same handler on the script's keyspace (the writer's
/// transaction, or a reactor's snapshot for a read-only script), its reply a `CommandResult`.
enum ScriptCalls {
    static func call(_ args: RESPArguments, _ run: ScriptRun, _ engine: ScriptEngine) throws -> CommandResult {
        guard let entry = CommandTable.lookup(args[0]) else { return .error("ERR Unknown Redis command called from script") }
        let command = entry.takeUnretainedValue()
        if let refusal = refusal(command, args, run) { return refusal }
        let started = MonotonicClock.nanoseconds()
        let result = try execute(command, args, run, engine)
        // Counted in commandstats like a client's call (Redis's call() counts them).
        let statistics = engine.commandStatistics
        statistics.add(command.index, .calls)
        statistics.add(command.index, .nanoseconds, MonotonicClock.nanoseconds() - started)
        if case .error = result { statistics.add(command.index, .failed) }
        return result
    }

    /// Redis's scriptCall checks, in its order: the error for a command a script may not run so, or nil.
    private static func refusal(_ command: Command, _ args: RESPArguments, _ run: ScriptRun) -> CommandResult? {
        if !command.subcommands.isEmpty, args.count > 1, !command.subcommands.contains(where: { args.is(1, $0) }) {
            return .error("ERR Unknown Redis command called from script")
        }
        guard command.accepts(argumentCount: args.count) else { return .error("ERR Wrong number of args calling Redis command from script") }
        if command.flags.contains(.noScript) { return .error("ERR This Redis command is not allowed from script") }
        if let user = run.invocation.user, let refusal = ServerConnection.accessRefusal(command, args, user: user) {
            let what = refusal.contains("keys") ? "can't access at least one of the keys mentioned in the command"
                : refusal.contains("channels") ? "can't publish to the channel mentioned in the command"
                : "can't run this command or subcommand"
            return .error("NOPERM The user executing the script \(what)")
        }
        // PUBLISH counts as a write here (Redis's may-replicate commands).
        if run.invocation.writesRefused && (command.flags.contains(.write) || command.flags.contains(.publishes)) {
            return .error(readOnlyRefusal)
        }
        if run.invocation.onReadOnlyReplica && command.flags.contains(.write) { return .error("READONLY You can't write against a read only replica.") }
        return nil
    }

    private static func execute(_ command: Command, _ args: RESPArguments, _ run: ScriptRun, _ engine: ScriptEngine) throws -> CommandResult {
        // From here the script counts as having written (SCRIPT KILL refuses), as Redis's SCRIPT_WRITE_DIRTY.
        if command.flags.contains(.write) { engine.activity.wrote() }
        let client = CallingClient(id: 0, keyFilter: run.invocation.user, resp3: run.resp3, fromScript: true)
        let context = run.invocation.context
        switch command.handler {
        case .keyspace(let handle):
            return try read(handle, args, run.keys, client, context, engine)
        case .write(let handle):
            var call = WriteCall(args: args, context: context, database: UInt8(run.database), user: run.invocation.user)
            if case .writer(let writer) = run.keys.source { call.now = writer.pointee.now }
            switch handle(call) {
            case .reply(let result):
                return result
            case .read(let handle):
                return try read(handle, args, run.keys, client, context, engine)
            case .operation(let operation):
                return try apply(operation, .standard, run, engine)
            case .write(let write, let bytes, let shape):
                // Applied at once: its bytes laid out in the engine's scratch buffer, not copied into an
                // array of their own as a queued write's are.
                let size = bytes.size(args)
                return try engine.withScratch(size.bytes) { buffer in
                    bytes.fill(buffer, args)
                    let laid = ArenaBytes(key: UnsafeRawBufferPointer(rebasing: buffer[..<size.key]),
                                          value: UnsafeRawBufferPointer(rebasing: buffer[size.key...]))
                    return try apply(.stored(laid, write), shape, run, engine)
                }
            }
        case .immediate:
            return try immediate(command.name, args, run, engine, context)
        }
    }

    /// A write's operation applied in the writer's transaction, its reply built.
    private static func apply(_ operation: WriteOperation, _ shape: RESPReplyShape, _ run: ScriptRun, _ engine: ScriptEngine) throws -> CommandResult {
        // On a reactor's snapshot nothing is written (write commands were refused above).
        guard case .writer(let writer) = run.keys.source else { return .error(readOnlyRefusal) }
        try writer.pointee.space?.spend(operation.keysWritten)
        let outcome = try operation.apply(&writer.pointee)
        return try engine.build { outcome.reply(shape, to: ReplySink(.build($0))) }
    }

    static let readOnlyRefusal = "ERR Write commands are not allowed from read-only scripts."

    private static func read(_ handle: KeyspaceHandler, _ args: RESPArguments, _ keys: Keyspace,
                             _ client: CallingClient, _ context: ServerContext, _ engine: ScriptEngine) throws -> CommandResult {
        do {
            return try engine.build { builder in
                try handle(CommandCall(args: args, keys: keys, reply: ReplySink(.build(builder)), client: client, context: context))
            }
        } catch is WrongTypeError {
            return .error(WrongTypeError.message)
        }
    }

    /// The commands about the connection or the server that a script may call (Redis allows them
    /// there): PING, ECHO, TIME and SELECT (for the rest of the script only).
    private static func immediate(_ name: String, _ args: RESPArguments, _ run: ScriptRun, _ engine: ScriptEngine,
                                  _ context: ServerContext) throws -> CommandResult {
        switch name {
        case "ping":
            return args.count == 2 ? .bulk(args.bytes(1)) : .status("PONG")
        case "echo":
            return .bulk(args.bytes(1))
        case "time":
            let micros = WallClock.microseconds()
            return .array([.bulk(Array(String(micros / 1_000_000).utf8)), .bulk(Array(String(micros % 1_000_000).utf8))])
        case "select":
            guard let database = args.integer(1) else { return .error(RESPError.notInteger.message) }
            guard database >= 0, database < context.store.databaseCount else { return .error("ERR DB index is out of range") }
            try run.select(Int(database), reactor: engine.reactor)
            return .status("OK")
        default:
            return .error("ERR This Redis command is not allowed from script")
        }
    }
}
