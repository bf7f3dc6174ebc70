import Lua

/// The `cmsgpack` table Redis gives scripts (its `lua_cmsgpack.c`): `pack(...)`, `unpack(s)`,
/// `unpack_one(s, [offset])` and `unpack_limit(s, limit, [offset])`, with its encodings (the smallest
/// integer form, float32 when a double survives the round trip, str8, arrays for tables keyed 1…n,
/// nesting past 16 levels packed as nil) and its error texts. Debian ships no such library.
///
/// Unlike Redis's, input is never trusted: a header may not claim more elements than bytes remain,
/// nesting is bounded, and packing stops past 64 MiB (a table that holds itself many times over
/// would otherwise take for ever).
enum ScriptMessagePack {
    static func register(_ lua: LuaState) {
        lua.newTable()
        let functions: [(String, @convention(c) (OpaquePointer?) -> Int32)] = [
            ("pack", { L in ScriptMessagePack.pack(L!) }),
            ("unpack", { L in ScriptMessagePack.unpack(L!, limit: 0, offsetAt: 0) }),
            ("unpack_one", { L in ScriptMessagePack.unpackOne(L!) }),
            ("unpack_limit", { L in ScriptMessagePack.unpackLimit(L!) }),
        ]
        for (name, function) in functions {
            lua.pushFunction(function)
            lua.setField(-2, name)
        }
        lua.push("lua-cmsgpack 0.4.0")
        lua.setField(-2, "_VERSION")
        lua.setGlobal("cmsgpack")
    }

    private static let maxNesting = 16
    private static let maxOutput = 64 << 20
    private static let maxDecodeDepth = 512

    private struct TooLarge: Error {}

    // MARK: Packing

    private static func pack(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        let count = lua.top
        guard count > 0 else { return lua.fail("bad argument #0 to 'pack' (MessagePack pack needs input.)") }
        var out: [UInt8] = []
        do {
            for i in 1...count { try encode(lua, at: i, level: 0, into: &out) }
        } catch {
            return lua.fail("MessagePack pack output is larger than 64 MiB")
        }
        lua.top = 0
        lua.push(out)
        return 1
    }

    private static func encode(_ lua: LuaState, at index: Int32, level: Int, into out: inout [UInt8]) throws {
        guard out.count <= maxOutput else { throw TooLarge() }
        switch lua.type(at: index) {
        case LuaType.string:
            let bytes = lua.string(at: index)!
            let n = bytes.count
            if n < 32 { out.append(0xa0 | UInt8(n)) }
            else if n <= 0xff { out += [0xd9, UInt8(n)] }
            else if n <= 0xffff { out.append(0xda); bigEndian(UInt64(n), 2, &out) }
            else { out.append(0xdb); bigEndian(UInt64(n), 4, &out) }
            out += bytes
        case LuaType.boolean:
            out.append(lua.boolean(at: index) ? 0xc3 : 0xc2)
        case LuaType.number:
            let n = lua.number(at: index)
            if n.isFinite, n >= -0x1p63, n < 0x1p63, n == n.rounded(.towardZero) { integer(Int64(n), &out) }
            else if Double(Float(n)) == n { out.append(0xca); bigEndian(UInt64(Float(n).bitPattern), 4, &out) }
            else { out.append(0xcb); bigEndian(n.bitPattern, 8, &out) }
        case LuaType.table where level < maxNesting:
            guard lua.checkStack(4) else { throw TooLarge() }
            let table = lua.absolute(index)
            if let length = arrayLength(lua, table) {
                header(length, fix: 0x90, sixteen: 0xdc, thirtyTwo: 0xdd, &out)
                for i in 0..<length {
                    lua.getIndex(table, Int32(clamping: i + 1))
                    defer { lua.pop(1) }
                    try encode(lua, at: lua.top, level: level + 1, into: &out)
                }
            } else {
                var pairs = 0
                lua.pushNil()
                while lua.next(table) { pairs += 1; lua.pop(1) }
                header(pairs, fix: 0x80, sixteen: 0xde, thirtyTwo: 0xdf, &out)
                lua.pushNil()
                while lua.next(table) {
                    // Encoded from copies: a number key must not be turned into a string in place.
                    lua.pushValue(at: -2)
                    try encode(lua, at: lua.top, level: level + 1, into: &out)
                    lua.pop(1)
                    try encode(lua, at: lua.top, level: level + 1, into: &out)
                    lua.pop(1)
                }
            }
        default:
            out.append(0xc0)
        }
    }

    /// The table's length when its keys are exactly 1…n (Redis's `table_is_an_array`), else nil.
    private static func arrayLength(_ lua: LuaState, _ table: Int32) -> Int? {
        var count = 0, highest = 0.0
        lua.pushNil()
        while lua.next(table) {
            lua.pop(1)
            let key = lua.number(at: -1)
            guard lua.type(at: -1) == LuaType.number, key >= 1, key == key.rounded(.down) else {
                lua.pop(1)
                return nil
            }
            count += 1
            highest = max(highest, key)
        }
        return highest == Double(count) ? count : nil
    }

    private static func integer(_ n: Int64, _ out: inout [UInt8]) {
        if n >= 0 {
            if n <= 127 { out.append(UInt8(n)) }
            else if n <= 0xff { out += [0xcc, UInt8(n)] }
            else if n <= 0xffff { out.append(0xcd); bigEndian(UInt64(n), 2, &out) }
            else if n <= 0xffff_ffff { out.append(0xce); bigEndian(UInt64(n), 4, &out) }
            else { out.append(0xcf); bigEndian(UInt64(n), 8, &out) }
        } else {
            let bits = UInt64(bitPattern: n)
            if n >= -32 { out.append(UInt8(truncatingIfNeeded: n)) }
            else if n >= -128 { out += [0xd0, UInt8(truncatingIfNeeded: n)] }
            else if n >= -32768 { out.append(0xd1); bigEndian(bits, 2, &out) }
            else if n >= -2_147_483_648 { out.append(0xd2); bigEndian(bits, 4, &out) }
            else { out.append(0xd3); bigEndian(bits, 8, &out) }
        }
    }

    private static func header(_ n: Int, fix: UInt8, sixteen: UInt8, thirtyTwo: UInt8, _ out: inout [UInt8]) {
        if n <= 15 { out.append(fix | UInt8(n)) }
        else if n <= 0xffff { out.append(sixteen); bigEndian(UInt64(n), 2, &out) }
        else { out.append(thirtyTwo); bigEndian(UInt64(n), 4, &out) }
    }

    private static func bigEndian(_ value: UInt64, _ width: Int, _ out: inout [UInt8]) {
        for i in (0..<width).reversed() { out.append(UInt8(truncatingIfNeeded: value >> (i * 8))) }
    }

    // MARK: Unpacking

    private static func unpackOne(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        let offset = lua.type(at: 2) == LuaType.number ? lua.number(at: 2) : 0
        return unpack(L, limit: 1, offsetAt: offset, function: "unpack_one")
    }

    private static func unpackLimit(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        guard lua.isNumber(at: 2) else {
            return lua.fail("bad argument #2 to 'unpack_limit' (number expected, got \(lua.typeName(at: 2)))")
        }
        let limit = lua.number(at: 2)
        let offset = lua.type(at: 3) == LuaType.number ? lua.number(at: 3) : 0
        return unpack(L, limit: limit, offsetAt: offset, function: "unpack_limit")
    }

    private enum DecodeError: Error { case missingBytes, badFormat }

    /// Redis's `mp_unpack_full`: every object (`limit` 0 and `offset` 0) or up to `limit` from
    /// `offset`, then the next offset first (-1 at the end).
    private static func unpack(_ L: OpaquePointer, limit: Double, offsetAt offset: Double, function: String = "unpack") -> Int32 {
        let lua = LuaState.borrowing(L)
        guard lua.type(at: 1) == LuaType.string || lua.type(at: 1) == LuaType.number, let input = lua.string(at: 1).map(Array.init) else {
            return lua.fail("bad argument #1 to '\(function)' (string expected, got \(lua.typeName(at: 1)))")
        }
        let all = limit == 0 && offset == 0
        let start = Int(offset), most = all ? Int.max : Int(limit)
        if start < 0 || most < 0 { return lua.fail("Invalid request to unpack with offset of \(start) and limit of \(input.count).") }
        if start > input.count { return lua.fail("Start offset \(start) greater than input length \(input.count).") }
        lua.top = 1
        var cursor = start, count: Int32 = 0
        while cursor < input.count && Int(count) < most {
            guard lua.checkStack(8) else { return lua.fail("stack overflow (in function mp_unpack_full)") }
            do {
                try decode(lua, input, &cursor, depth: 0)
            } catch .missingBytes {
                return lua.fail("Missing bytes in input.")
            } catch {
                return lua.fail("Bad data format in input.")
            }
            count += 1
        }
        if !all {
            lua.push(Double(cursor == input.count ? -1 : cursor))
            lua.insert(at: 2)
            count += 1
        }
        return count
    }

    private static func decode(_ lua: LuaState, _ s: [UInt8], _ i: inout Int, depth: Int) throws(DecodeError) {
        guard depth < maxDecodeDepth else { throw .badFormat }
        func take(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
            guard n <= s.count - i else { throw .missingBytes }
            defer { i += n }
            return s[i..<(i + n)]
        }
        func number(_ n: Int) throws(DecodeError) -> UInt64 { try take(n).reduce(0) { $0 << 8 | UInt64($1) } }
        func signed(_ n: Int) throws(DecodeError) -> Int64 {
            let raw = try number(n)
            let shift = UInt64(64 - n * 8)
            return Int64(bitPattern: raw << shift) >> Int64(shift)
        }
        func elements(_ n: Int, map: Bool) throws(DecodeError) {
            // Each element takes a byte at least: a count beyond the bytes left is a lie.
            guard n <= s.count - i else { throw .missingBytes }
            guard lua.checkStack(4) else { throw .badFormat }
            lua.newTable(arrayCount: map ? 0 : Int32(n), fieldCount: map ? Int32(n) : 0)
            for k in 0..<n {
                if map {
                    try decode(lua, s, &i, depth: depth + 1)
                    try decode(lua, s, &i, depth: depth + 1)
                    if lua.type(at: -2) == LuaType.nilValue { lua.pop(2) } else { lua.rawSetTop() }
                } else {
                    try decode(lua, s, &i, depth: depth + 1)
                    lua.setIndex(-2, Int32(clamping: k + 1))
                }
            }
        }
        let type = try take(1).first!
        switch type {
        case 0x00...0x7f: lua.push(Double(type))
        case 0x80...0x8f: try elements(Int(type & 0x0f), map: true)
        case 0x90...0x9f: try elements(Int(type & 0x0f), map: false)
        case 0xa0...0xbf: lua.push(Array(try take(Int(type & 0x1f))))
        case 0xc0: lua.pushNil()
        case 0xc2: lua.push(false)
        case 0xc3: lua.push(true)
        case 0xc4, 0xd9: lua.push(Array(try take(Int(try number(1)))))
        case 0xc5, 0xda: lua.push(Array(try take(Int(try number(2)))))
        case 0xc6, 0xdb: lua.push(Array(try take(Int(try number(4)))))
        case 0xca: lua.push(Double(Float(bitPattern: UInt32(try number(4)))))
        case 0xcb: lua.push(Double(bitPattern: try number(8)))
        case 0xcc: lua.push(Double(try number(1)))
        case 0xcd: lua.push(Double(try number(2)))
        case 0xce: lua.push(Double(try number(4)))
        case 0xcf: lua.push(Double(try number(8)))
        case 0xd0: lua.push(Double(try signed(1)))
        case 0xd1: lua.push(Double(try signed(2)))
        case 0xd2: lua.push(Double(try signed(4)))
        case 0xd3: lua.push(Double(try signed(8)))
        case 0xdc: try elements(Int(try number(2)), map: false)
        case 0xdd: try elements(Int(try number(4)), map: false)
        case 0xde: try elements(Int(try number(2)), map: true)
        case 0xdf: try elements(Int(try number(4)), map: true)
        case 0xe0...0xff: lua.push(Double(Int8(bitPattern: type)))
        default: throw .badFormat
        }
    }
}
