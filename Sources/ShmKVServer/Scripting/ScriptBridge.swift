import LMDB
import Lua
import Posix
import Wire

/// The `redis` table scripts call (Redis 7.0's `luaRegisterRedisAPI`): Swift functions Lua calls
/// through the trampoline (see `LuaState`), each returning its results' count, or `LuaState.raise`
/// with an error value pushed.
enum ScriptBridge {
    static func registerRedisTable(_ lua: LuaState) {
        lua.newTable()
        let functions: [(String, @convention(c) (OpaquePointer?) -> Int32)] = [
            ("call", { L in ScriptBridge.command(L!, raise: true) }),
            ("pcall", { L in ScriptBridge.command(L!, raise: false) }),
            ("sha1hex", { L in ScriptBridge.sha1hex(L!) }),
            ("error_reply", { L in ScriptBridge.singleField(L!, "err") }),
            ("status_reply", { L in ScriptBridge.singleField(L!, "ok") }),
            ("log", { L in ScriptBridge.log(L!) }),
            ("setresp", { L in ScriptBridge.setresp(L!) }),
            ("set_repl", { L in ScriptBridge.setRepl(L!) }),
            ("replicate_commands", { L in ScriptBridge.replicateCommands(L!) }),
            ("breakpoint", { L in ScriptBridge.breakpoint(L!) }),
            ("debug", { L in ScriptBridge.debugCommand(L!) }),
        ]
        for (name, function) in functions {
            lua.pushFunction(function)
            lua.setField(-2, name)
        }
        let numbers: [(String, Double)] = [
            ("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3),
            ("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3),
            ("REDIS_VERSION_NUM", Double(RESPSession.redisVersionNumber)),
        ]
        for (name, value) in numbers {
            lua.push(value)
            lua.setField(-2, name)
        }
        lua.push(RESPSession.redisVersion)
        lua.setField(-2, "REDIS_VERSION")
        lua.setGlobal("redis")
    }

    private static func engine(_ L: OpaquePointer) -> ScriptEngine { engine(of: L) }

    /// The engine a Swift function Lua called belongs to.
    static func engine(of L: OpaquePointer) -> ScriptEngine {
        Unmanaged<ScriptEngine>.fromOpaque(LuaState.context(of: L)!).takeUnretainedValue()
    }

    /// Pushes Redis's error table `{err="ERR <message>"}` (a message starting with `-CODE` keeps its code).
    private static func pushError(_ lua: LuaState, _ message: String) {
        lua.newTable()
        lua.push(message.hasPrefix("-") ? String(message.dropFirst()) : "ERR " + message)
        lua.setField(-2, "err")
    }

    // MARK: redis.call and redis.pcall

    private static func command(_ L: OpaquePointer, raise: Bool) -> Int32 {
        let engine = engine(L)
        let lua = LuaState.borrowing(L)
        guard let run = engine.run else {
            pushError(lua, "redis.call/pcall can only be called inside a script invocation")
            return LuaState.raise
        }
        let count = lua.top
        guard count > 0 else {
            pushError(lua, "Please specify at least one argument for this redis lib call")
            return raise ? LuaState.raise : 1
        }
        // The engine's buffers, reused from call to call (calls do not nest).
        var storage = engine.argumentBytes
        var ranges = engine.argumentRanges
        engine.argumentBytes = []
        engine.argumentRanges = []
        defer {
            storage.removeAll(keepingCapacity: true)
            ranges.removeAll(keepingCapacity: true)
            engine.argumentBytes = storage
            engine.argumentRanges = ranges
        }
        for i in 1...count {
            let start = storage.count
            switch lua.type(at: i) {
            case LuaType.number:
                // Not lua_tolstring: its format loses precision (Redis formats with %.17g). An integral
                // value below 10^15 prints as its digits under %.17g: written directly, without it.
                let n = lua.number(at: i)
                if n == n.rounded(.towardZero), abs(n) < 1e15, n != 0 || n.sign == .plus {
                    appendDecimal(Int64(n), to: &storage)
                } else {
                    storage.append(contentsOf: RedisDouble.format(n))
                }
            case LuaType.string:
                storage.append(contentsOf: lua.string(at: i)!)
            default:
                lua.top = 0
                pushError(lua, "Lua redis lib command arguments must be strings or integers")
                return raise ? LuaState.raise : 1
            }
            ranges.append(start..<storage.count)
        }
        lua.top = 0
        let result: CommandResult
        do {
            result = try storage.withUnsafeBytes { base in
                try ScriptCalls.call(RESPArguments(base: base, ranges: ranges), run, engine)
            }
        } catch {
            // LMDB failed: the script stops here, whatever pcall it is in, and the error goes up.
            run.failure = error
            lua.setHook(every: 1, message: "ERR the store failed under the script", check: { _ in 1 })
            pushError(lua, "the store failed under the script")
            return LuaState.raise
        }
        ScriptValues.push(result, resp3: run.resp3, to: lua)
        if raise, case .error = result { return LuaState.raise }
        return 1
    }

    // MARK: The small ones

    private static func sha1hex(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        guard lua.top == 1 else {
            pushError(lua, "wrong number of arguments")
            return LuaState.raise
        }
        let digest = lua.string(at: 1).map { SHA1.hex($0) } ?? SHA1.hex([])
        lua.push(digest)
        return 1
    }

    /// redis.error_reply(text) and redis.status_reply(text): `{err=…}` (with `-` dropped) and `{ok=…}`.
    private static func singleField(_ L: OpaquePointer, _ field: String) -> Int32 {
        let lua = LuaState.borrowing(L)
        guard lua.top == 1, lua.type(at: 1) == LuaType.string else {
            pushError(lua, "wrong number or type of arguments")
            return 1
        }
        let text = String(decoding: lua.string(at: 1)!, as: UTF8.self)
        lua.newTable()
        lua.push(field == "err" ? errorText(text) : text)
        lua.setField(-2, field)
        return 1
    }

    /// `redis.error_reply`'s text as Redis makes it (a dash added when missing, then luaPushErrorBuff):
    /// "CODE message" keeps its code, a single word gets ERR, and line breaks at the ends go.
    static func errorText(_ given: String) -> String {
        let text = given.hasPrefix("-") ? given : "-" + given
        var code = "ERR", message = text.dropFirst()
        if let space = text.firstIndex(of: " ") {
            code = String(text[text.index(after: text.startIndex)..<space])
            message = text[text.index(after: space)...]
        }
        let trimmed = message.drop { $0 == "\r" || $0 == "\n" }.reversed().drop { $0 == "\r" || $0 == "\n" }.reversed()
        return code + " " + String(trimmed)
    }

    private static func log(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        guard lua.top >= 2 else {
            pushError(lua, "redis.log() requires two arguments or more.")
            return LuaState.raise
        }
        guard lua.type(at: 1) == LuaType.number else {
            pushError(lua, "First argument must be a number (log level).")
            return LuaState.raise
        }
        let level = Int(lua.number(at: 1))
        guard (0...3).contains(level) else {
            pushError(lua, "Invalid debug level.")
            return LuaState.raise
        }
        var parts: [String] = []
        for i in 2...lua.top { parts.append(lua.string(at: i).map { String(decoding: $0, as: UTF8.self) } ?? "") }
        let context = engine(L).run?.invocation.context
        let message = "script: " + parts.joined(separator: " ")
        switch level {
        case 3: context?.logger.warning("\(message)")
        case 2: context?.logger.notice("\(message)")
        case 1: context?.logger.info("\(message)")
        default: context?.logger.debug("\(message)")
        }
        return 0
    }

    private static func setresp(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        let engine = engine(L)
        guard engine.run != nil else {
            pushError(lua, "redis.setresp can only be called inside a script invocation")
            return LuaState.raise
        }
        guard lua.top == 1 else {
            pushError(lua, "redis.setresp() requires one argument.")
            return LuaState.raise
        }
        let version = lua.number(at: 1)
        guard version == 2 || version == 3 else {
            pushError(lua, "RESP version must be 2 or 3.")
            return LuaState.raise
        }
        engine.run?.resp3 = version == 3
        return 0
    }

    /// redis.set_repl(flags): accepted and checked as Redis checks it; ShmKV replicates nothing of a script.
    private static func setRepl(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        guard engine(L).run != nil else {
            pushError(lua, "redis.set_repl can only be called inside a script invocation")
            return LuaState.raise
        }
        guard lua.top == 1 else {
            pushError(lua, "redis.set_repl() requires one argument.")
            return LuaState.raise
        }
        let flags = Int(lua.number(at: 1))
        guard flags & ~3 == 0 else {
            pushError(lua, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
            return LuaState.raise
        }
        return 0
    }

    /// redis.replicate_commands(): always true since Redis 7 (effects replication is the only mode).
    private static func replicateCommands(_ L: OpaquePointer) -> Int32 {
        LuaState.borrowing(L).push(true)
        return 1
    }

    /// redis.breakpoint() and redis.debug(): only under the Lua debugger, which ShmKV does not have.
    private static func breakpoint(_ L: OpaquePointer) -> Int32 {
        LuaState.borrowing(L).push(false)
        return 1
    }

    private static func debugCommand(_ L: OpaquePointer) -> Int32 { 0 }

    /// Appends `value`'s decimal digits (with a minus sign when negative).
    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }

    // MARK: redis.register_function (FUNCTION LOAD)

    /// `redis.register_function(name, callback)` or `redis.register_function{function_name=…,
    /// callback=…, flags={…}, description=…}`, as Redis 7.0's luaRegisterFunction: the callback waits
    /// in the registry's `__loading` table until the load succeeds.
    static func registerFunction(_ L: OpaquePointer) -> Int32 {
        let engine = engine(L)
        let lua = LuaState.borrowing(L)
        guard engine.loading != nil else {
            pushError(lua, "redis.register_function can only be called on FUNCTION LOAD command")
            return LuaState.raise
        }
        func fail(_ message: String) -> Int32 {
            lua.top = 0
            pushError(lua, message)
            return LuaState.raise
        }
        func text(at index: Int32) -> [UInt8]? {
            let type = lua.type(at: index)
            return type == LuaType.string || type == LuaType.number ? lua.string(at: index).map(Array.init) : nil
        }
        var name: [UInt8]?, description: [UInt8]?, flags: ScriptFlags = [], callback: Int32 = 0
        switch lua.top {
        case 2:
            guard let given = text(at: 1) else { return fail("first argument to redis.register_function must be a string") }
            guard lua.type(at: 2) == LuaType.function else { return fail("second argument to redis.register_function must be a function") }
            name = given
            callback = 2
        case 1:
            guard lua.isTable(at: 1) else {
                return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
            }
            lua.pushNil()
            while lua.next(1) {
                guard let key = text(at: -2).map({ String(decoding: $0, as: UTF8.self).lowercased() }) else {
                    return fail("named argument key given to redis.register_function is not a string")
                }
                switch key {
                case "function_name":
                    guard let given = text(at: -1) else { return fail("function_name argument given to redis.register_function must be a string") }
                    name = given
                case "description":
                    guard let given = text(at: -1) else { return fail("description argument given to redis.register_function must be a string") }
                    description = given
                case "callback":
                    guard lua.type(at: -1) == LuaType.function else { return fail("callback argument given to redis.register_function must be a function") }
                    // Kept on the stack, above the table, for the registry below.
                    lua.pushValue(at: -1)
                    lua.setRegistry("__callback")
                    callback = -1
                case "flags":
                    guard lua.isTable(at: -1) else { return fail("flags argument to redis.register_function must be a table representing function flags") }
                    var i: Int32 = 1
                    while true {
                        lua.getIndex(-1, i)
                        if lua.type(at: -1) == LuaType.nilValue { lua.pop(1); break }
                        guard let flag = text(at: -1).flatMap({ ScriptFlags.named(String(decoding: $0, as: UTF8.self), ignoringCase: true) }) else {
                            return fail("unknown flag given")
                        }
                        lua.pop(1)
                        flags.insert(flag)
                        i += 1
                    }
                default:
                    return fail("unknown argument given to redis.register_function")
                }
                lua.pop(1)
            }
            guard name != nil else { return fail("redis.register_function must get a function name argument") }
            guard callback != 0 else { return fail("redis.register_function must get a callback argument") }
            lua.getRegistry("__callback")
            callback = lua.top
            lua.pushNil()
            lua.setRegistry("__callback")
        default:
            return fail("wrong number of arguments to redis.register_function")
        }
        let functionName = String(decoding: name!, as: UTF8.self)
        guard ScriptEngine.isValidName(functionName) else { return fail(ScriptEngine.nameRule) }
        guard !(engine.loading!.functions.contains { $0.name == functionName }) else { return fail("Function already exists in the library") }
        lua.getRegistry("__loading")
        lua.pushValue(at: callback)
        lua.setField(-2, functionName)
        engine.loading!.functions.append(LibraryFunction(name: functionName, description: description, flags: flags))
        lua.top = 0
        return 0
    }
}
