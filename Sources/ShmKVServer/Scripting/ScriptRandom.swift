import Lua

/// Redis's `math.random` and `math.randomseed` for scripts: its `redisLrand48` (the 48-bit generator of
/// POSIX `lrand48`, X ← (0x5DEECE66D·X + 0xB) mod 2⁴⁸, the top 31 bits drawn), one state for the
/// daemon from the same starting value as redis-server's, so that a script that seeds it draws Redis's
/// numbers.
enum ScriptRandom {
    static func register(_ lua: LuaState) {
        lua.getGlobal("math")
        lua.pushFunction { L in ScriptRandom.random(L!) }
        lua.setField(-2, "random")
        lua.pushFunction { L in ScriptRandom.randomseed(L!) }
        lua.setField(-2, "randomseed")
        lua.pop(1)
    }

    /// redisLrand48's state before any seed (x = {0x330E, 0xABCD, 0x1234}).
    static let initialState: UInt64 = 0x1234_ABCD_330E
    private static let maximum = Double(Int32.max)

    /// The next 31-bit draw.
    static func next(_ state: inout UInt64) -> Int32 {
        state = (0x5_DEEC_E66D &* state &+ 0xB) & 0xFFFF_FFFF_FFFF
        return Int32(truncatingIfNeeded: state >> 17)
    }

    private static func random(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        let engine = ScriptBridge.engine(of: L)
        guard engine.run != nil else { return lua.fail("math.random can only be called inside a script invocation") }
        let r = Double(engine.shared.nextRandom() % Int32.max) / maximum
        func integer(_ arg: Int32) -> Int? {
            guard lua.isNumber(at: arg) else { return nil }
            let n = lua.number(at: arg)
            return n.isFinite && abs(n) < 0x1p62 ? Int(Int32(truncatingIfNeeded: Int(n.rounded(.towardZero)))) : Int(Int32.min)
        }
        let count = lua.top
        switch count {
        case 0:
            lua.push(r)
        case 1:
            guard let u = integer(1) else { return lua.fail("bad argument #1 to 'random' (number expected, got \(lua.typeName(at: 1)))") }
            guard u >= 1 else { return lua.fail("bad argument #1 to 'random' (interval is empty)") }
            lua.top = 0
            lua.push((r * Double(u)).rounded(.down) + 1)
        case 2:
            guard let l = integer(1) else { return lua.fail("bad argument #1 to 'random' (number expected, got \(lua.typeName(at: 1)))") }
            guard let u = integer(2) else { return lua.fail("bad argument #2 to 'random' (number expected, got \(lua.typeName(at: 2)))") }
            guard l <= u else { return lua.fail("bad argument #2 to 'random' (interval is empty)") }
            lua.top = 0
            lua.push((r * Double(u - l + 1)).rounded(.down) + Double(l))
        default:
            return lua.fail("wrong number of arguments")
        }
        return 1
    }

    private static func randomseed(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        let engine = ScriptBridge.engine(of: L)
        guard engine.run != nil else { return lua.fail("math.randomseed can only be called inside a script invocation") }
        guard lua.isNumber(at: 1) else {
            return lua.fail("bad argument #1 to 'randomseed' (number expected, got \(lua.typeName(at: 1)))")
        }
        let n = lua.number(at: 1)
        // redisSrand48: the seed's 32 bits above the fixed low word 0x330E.
        let seed = UInt32(bitPattern: n.isFinite && abs(n) < 0x1p62 ? Int32(truncatingIfNeeded: Int(n.rounded(.towardZero))) : Int32.min)
        engine.shared.random.store(UInt64(seed) << 16 | 0x330E, ordering: .relaxed)
        return 0
    }
}
