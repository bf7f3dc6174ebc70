import Lua
import Wire

/// Redis's conversions between Lua values and replies (`redisProtocolToLuaType` and
/// `luaReplyToRedisReply` in Redis 7.0's script_lua.c), over `CommandResult`.
enum ScriptValues {
    /// Pushes a command's reply as a script sees it: under RESP2 (the default) a null is `false`, a
    /// status `{ok=…}`, an error `{err=…}`; under RESP3 (`redis.setresp(3)`) a null is `nil`, a map
    /// `{map={…}}`, a set `{set={member=true…}}`, a double `{double=n}`, booleans booleans. Called with
    /// allocations that cannot fail (never while Lua code runs), so no Lua error can be raised here.
    static func push(_ result: CommandResult, resp3: Bool, to lua: LuaState) {
        lua.checkStack(4)
        switch result {
        case .status(let text):
            lua.newTable()
            lua.push(text)
            lua.setField(-2, "ok")
        case .error(let line):
            lua.newTable()
            lua.push(line)
            lua.setField(-2, "err")
        case .integer(let n): lua.push(Double(n))
        case .bulk(let bytes): lua.push(bytes)
        case .null, .nullArray:
            if resp3 { lua.pushNil() } else { lua.push(false) }
        case .array(let items):
            pushArray(items, resp3: resp3, to: lua)
        case .set(let items) where !resp3, .map(let items) where !resp3:
            pushArray(items, resp3: resp3, to: lua)
        case .set(let items):
            lua.newTable()
            lua.newTable()
            for item in items {
                push(item, resp3: resp3, to: lua)
                lua.push(true)
                lua.rawSetTop()
            }
            lua.setField(-2, "set")
        case .map(let items):
            lua.newTable()
            lua.newTable()
            var i = 0
            while i + 1 < items.count {
                push(items[i], resp3: resp3, to: lua)
                push(items[i + 1], resp3: resp3, to: lua)
                lua.rawSetTop()
                i += 2
            }
            lua.setField(-2, "map")
        case .pairs(let items):
            if resp3 {
                var rows: [CommandResult] = []
                var i = 0
                while i + 1 < items.count {
                    rows.append(.array([items[i], items[i + 1]]))
                    i += 2
                }
                pushArray(rows, resp3: resp3, to: lua)
            } else {
                pushArray(items, resp3: resp3, to: lua)
            }
        case .double(let d):
            if resp3 {
                lua.newTable()
                lua.push(d)
                lua.setField(-2, "double")
            } else {
                lua.push(RedisDouble.format(d))
            }
        case .boolean(let b):
            if resp3 { lua.push(b) } else { lua.push(Double(b ? 1 : 0)) }
        case .bigNumber(let text):
            if resp3 {
                lua.newTable()
                lua.push(text)
                lua.setField(-2, "big_number")
            } else {
                lua.push(text)
            }
        case .verbatim(let text):
            if resp3 {
                lua.newTable()
                lua.newTable()
                lua.push("txt")
                lua.setField(-2, "format")
                lua.push(text)
                lua.setField(-2, "string")
                lua.setField(-2, "verbatim_string")
            } else {
                lua.push(text)
            }
        case .block(let request):
            push(request.timeoutResult, resp3: resp3, to: lua)
        }
    }

    private static func pushArray(_ items: [CommandResult], resp3: Bool, to lua: LuaState) {
        lua.newTable(arrayCount: Int32(clamping: items.count))
        for (i, item) in items.enumerated() {
            push(item, resp3: resp3, to: lua)
            lua.setIndex(-2, Int32(clamping: i + 1))
        }
    }

    /// The script's reply from the value on the top of the stack (popped): a string is a bulk, a number
    /// an integer (truncated), a table with `err` an error, with `ok` a status, with `double`, `map`,
    /// `set` or `big_number` those types, any other table an array up to its first nil; `true` is 1
    /// under RESP2 (a boolean under RESP3), `false` and anything else a null.
    static func reply(from lua: LuaState, resp3: Bool, depth: Int = 0) -> CommandResult {
        defer { lua.pop(1) }
        guard lua.checkStack(4), depth < 1000 else { return .error("ERR reached lua stack limit") }
        switch lua.type(at: -1) {
        case LuaType.string:
            return .bulk(Array(lua.string(at: -1)!))
        case LuaType.boolean:
            let b = lua.boolean(at: -1)
            return resp3 ? .boolean(b) : (b ? .integer(1) : .null)
        case LuaType.number:
            let n = lua.number(at: -1)
            // C's (long long) cast on x86-64: out of range or NaN gives the "integer indefinite" value.
            return .integer(Int64(exactly: n.rounded(.towardZero)) ?? Int64.min)
        case LuaType.table:
            return tableReply(lua, resp3: resp3, depth: depth)
        default:
            return .null
        }
    }

    private static func tableReply(_ lua: LuaState, resp3: Bool, depth: Int) -> CommandResult {
        lua.getField(-1, "err")
        if lua.type(at: -1) == LuaType.string {
            let text = String(decoding: lua.string(at: -1)!, as: UTF8.self)
            lua.pop(1)
            return .error(ScriptValues.errorLine(text))
        }
        lua.pop(1)
        lua.getField(-1, "ok")
        if lua.type(at: -1) == LuaType.string {
            let text = String(decoding: lua.string(at: -1)!, as: UTF8.self)
            lua.pop(1)
            return .status(text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).joined(separator: " "))
        }
        lua.pop(1)
        lua.getField(-1, "double")
        if lua.type(at: -1) == LuaType.number {
            let d = lua.number(at: -1)
            lua.pop(1)
            return .double(d)
        }
        lua.pop(1)
        lua.getField(-1, "big_number")
        if lua.type(at: -1) == LuaType.string {
            // Line breaks become spaces (Redis's sdsmapchars), so that the reply stays one line.
            let text = String(decoding: lua.string(at: -1)!.map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self)
            lua.pop(1)
            return .bigNumber(text)
        }
        lua.pop(1)
        lua.getField(-1, "map")
        if lua.isTable(at: -1) {
            var items: [CommandResult] = []
            lua.pushNil()
            while lua.next(-2) {
                lua.pushValue(at: -2)
                items.append(reply(from: lua, resp3: resp3, depth: depth + 1))
                items.append(reply(from: lua, resp3: resp3, depth: depth + 1))
            }
            lua.pop(1)
            return .map(items)
        }
        lua.pop(1)
        lua.getField(-1, "set")
        if lua.isTable(at: -1) {
            var items: [CommandResult] = []
            lua.pushNil()
            while lua.next(-2) {
                lua.pop(1)
                lua.pushValue(at: -1)
                items.append(reply(from: lua, resp3: resp3, depth: depth + 1))
            }
            lua.pop(1)
            return .set(items)
        }
        lua.pop(1)
        var items: [CommandResult] = []
        var i: Int32 = 1
        while true {
            lua.getIndex(-1, i)
            if lua.type(at: -1) == LuaType.none || lua.type(at: -1) == LuaType.nilValue {
                lua.pop(1)
                break
            }
            items.append(reply(from: lua, resp3: resp3, depth: depth + 1))
            i += 1
        }
        return .array(items)
    }

    /// An error text as Redis replies it: on one line, and as given (an `{err='-X'}` table answers `--X`,
    /// as Redis's does; `redis.error_reply` drops the `-` itself).
    static func errorLine(_ text: String) -> String {
        text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).joined(separator: " ")
    }
}
