import Wire

/// FUNCTION LOAD, DELETE, FLUSH, LIST, STATS, KILL and HELP with Redis 7.0's arguments and errors.
/// What changes libraries runs on the writer (`ScriptAdmin`); LIST, STATS and KILL answer on the
/// reactor from the catalog and the running script's state.
enum FunctionCommands {
    static func function(_ c: WriteCall) -> WritePlan {
        let args = c.args
        let engine = c.context.scripts
        if args.is(1, "LOAD") {
            guard args.count >= 3 else { return c.wrongSubcommandArity }
            var replace = false
            for i in 2..<(args.count - 1) {
                guard args.is(i, "REPLACE") else { return .error("ERR Unknown option given: \(args.string(i))") }
                replace = true
            }
            return .operation(.scriptAdmin(ScriptAdmin(action: .loadLibrary(args.bytes(args.count - 1), replace: replace), engine: engine)))
        }
        if args.is(1, "DELETE") {
            guard args.count == 3 else { return c.wrongSubcommandArity }
            return .operation(.scriptAdmin(ScriptAdmin(action: .deleteLibrary(args.string(2)), engine: engine)))
        }
        if args.is(1, "FLUSH") {
            guard args.count <= 3 else { return syntaxError(c) }
            if args.count == 3 && !args.is(2, "ASYNC") && !args.is(2, "SYNC") {
                return .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            }
            return .operation(.scriptAdmin(ScriptAdmin(action: .flushLibraries, engine: engine)))
        }
        if args.is(1, "LIST") { return list(c) }
        if args.is(1, "DUMP") {
            guard args.count == 2 else { return c.wrongSubcommandArity }
            return .reply(.bulk(engine.dumpLibraries()))
        }
        if args.is(1, "RESTORE") {
            guard args.count >= 3 else { return c.wrongSubcommandArity }
            guard args.count <= 4 else { return syntaxError(c) }
            var policy = ScriptEngine.RestorePolicy.append
            if args.count == 4 {
                if args.is(3, "REPLACE") { policy = .replace }
                else if args.is(3, "FLUSH") { policy = .flush }
                else if !args.is(3, "APPEND") { return .error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.") }
            }
            switch ScriptEngine.libraryCodes(inPayload: args.bytes(2)) {
            case .failure(let error): return .error(error.message)
            case .success(let codes): return .operation(.scriptAdmin(ScriptAdmin(action: .restoreLibraries(codes, policy), engine: engine)))
            }
        }
        if args.is(1, "STATS") {
            guard args.count == 2 else { return c.wrongSubcommandArity }
            return .reply(stats(engine))
        }
        if args.is(1, "KILL") {
            guard args.count == 2 else { return c.wrongSubcommandArity }
            return .reply(engine.kill(eval: false).map(CommandResult.error) ?? .status("OK"))
        }
        if args.is(1, "HELP") {
            guard args.count == 2 else { return c.wrongSubcommandArity }
            return .reply(.array(help.map { CommandResult.status($0) }))
        }
        return .error("ERR unknown subcommand '\(args.string(1))'. Try FUNCTION HELP.")
    }

    /// Redis's addReplySubcommandSyntaxError.
    private static func syntaxError(_ c: WriteCall) -> WritePlan {
        .error("ERR unknown subcommand or wrong number of arguments for '\(c.args.string(1))'. Try FUNCTION HELP.")
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]: libraries in name order (Redis's follow its hash
    /// table), each with its functions in the order they were registered.
    private static func list(_ c: WriteCall) -> WritePlan {
        let args = c.args
        var withCode = false
        var pattern: GlobPattern?
        var i = 2
        while i < args.count {
            if !withCode && args.is(i, "WITHCODE") {
                withCode = true
            } else if pattern == nil && args.is(i, "LIBRARYNAME") {
                guard i + 1 < args.count else { return .error("ERR library name argument was not given") }
                i += 1
                pattern = GlobPattern(args.bytes(i))
            } else {
                return .error("ERR Unknown argument \(args.string(i))")
            }
            i += 1
        }
        let libraries = c.context.scripts.libraries.withLock { $0.libraries.values.sorted { $0.name < $1.name } }
        let entries = libraries.filter { pattern?.matches(Array($0.name.utf8)) ?? true }.map { library -> CommandResult in
            let functions = library.functions.map { f in
                CommandResult.map([.bulk(Array("name".utf8)), .bulk(Array(f.name.utf8)), .bulk(Array("description".utf8)),
                                   f.description.map(CommandResult.bulk) ?? .null, .bulk(Array("flags".utf8)),
                                   .set(f.flags.names.map { CommandResult.status($0) })])
            }
            var fields: [CommandResult] = [.bulk(Array("library_name".utf8)), .bulk(Array(library.name.utf8)),
                                           .bulk(Array("engine".utf8)), .bulk(Array("LUA".utf8)), .bulk(Array("functions".utf8)), .array(functions)]
            if withCode { fields += [.bulk(Array("library_code".utf8)), .bulk(library.code)] }
            return .map(fields)
        }
        return .reply(.array(entries))
    }

    /// FUNCTION STATS: the running function (BUSY while an EVAL script runs, as Redis) and the counts.
    private static func stats(_ engine: ScriptEngine) -> CommandResult {
        let running = engine.running
        if let running, !running.function { return .error(ScriptActivity.busyEval) }
        let (libraries, functions) = engine.libraries.withLock { ($0.libraries.count, $0.owners.count) }
        let script: CommandResult = running.map { run in
            .map([.bulk(Array("name".utf8)), .bulk(Array(run.name.utf8)), .bulk(Array("command".utf8)), .array(run.command.map(CommandResult.bulk)),
                  .bulk(Array("duration_ms".utf8)), .integer(Int64(run.milliseconds))])
        } ?? .null
        return .map([.bulk(Array("running_script".utf8)), script, .bulk(Array("engines".utf8)),
                     .map([.bulk(Array("LUA".utf8)), .map([.bulk(Array("libraries_count".utf8)), .integer(Int64(libraries)),
                                                          .bulk(Array("functions_count".utf8)), .integer(Int64(functions))])])])
    }

    static let help = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ]
}
