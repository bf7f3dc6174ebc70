import Lua

/// The `struct` table Redis gives scripts (Roberto Ierusalimschy's struct library, `lua_struct.c`):
/// `pack(fmt, ...)`, `unpack(fmt, s, [pos])` and `size(fmt)` with its options (`<` `>` `=` `!n`,
/// `b B h H l L T i[n] I[n]`, `f d`, `c[n] s x`) on x86-64's sizes, and its error texts.
enum ScriptStruct {
    static func register(_ lua: LuaState) {
        lua.newTable()
        let functions: [(String, @convention(c) (OpaquePointer?) -> Int32)] = [
            ("pack", { L in ScriptStruct.pack(L!) }),
            ("unpack", { L in ScriptStruct.unpack(L!) }),
            ("size", { L in ScriptStruct.size(L!) }),
        ]
        for (name, function) in functions {
            lua.pushFunction(function)
            lua.setField(-2, name)
        }
        lua.setGlobal("struct")
    }

    private struct Failure: Error { let message: String }

    /// A format read option by option, with the header state (endianness, alignment).
    private struct Format {
        let bytes: [UInt8]
        var i = 0
        var bigEndian = false
        var align = 1
        let function: String

        init(_ bytes: [UInt8], function: String) {
            self.bytes = bytes
            self.function = function
        }

        mutating func number(default value: Int) throws(Failure) -> Int {
            guard i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 else { return value }
            var a = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let digit = Int(bytes[i] - 0x30)
                if a > Int(Int32.max) / 10 || a * 10 > Int(Int32.max) - digit { throw Failure(message: "integral size overflow") }
                a = a * 10 + digit
                i += 1
            }
            return a
        }

        /// The size of option `option` (reading its number), as `optsize`.
        mutating func size(of option: UInt8) throws(Failure) -> Int {
            switch option {
            case UInt8(ascii: "b"), UInt8(ascii: "B"): return 1
            case UInt8(ascii: "h"), UInt8(ascii: "H"): return 2
            case UInt8(ascii: "l"), UInt8(ascii: "L"), UInt8(ascii: "T"), UInt8(ascii: "d"): return 8
            case UInt8(ascii: "f"): return 4
            case UInt8(ascii: "x"): return 1
            case UInt8(ascii: "c"): return try number(default: 1)
            case UInt8(ascii: "i"), UInt8(ascii: "I"):
                let size = try number(default: 4)
                if size > 32 { throw Failure(message: "integral size \(size) is larger than limit of 32") }
                return size
            default: return 0
            }
        }

        func padding(at position: Int, _ option: UInt8, _ size: Int) -> Int {
            guard size != 0, option != UInt8(ascii: "c") else { return 0 }
            let size = min(size, align)
            return (size - (position & (size - 1))) & (size - 1)
        }

        /// The options that only set the header (`controloptions`).
        mutating func control(_ option: UInt8) throws(Failure) {
            switch option {
            case UInt8(ascii: " "): return
            case UInt8(ascii: ">"): bigEndian = true
            case UInt8(ascii: "<"), UInt8(ascii: "="): bigEndian = false
            case UInt8(ascii: "!"):
                let a = try number(default: 8)
                guard a > 0, a & (a - 1) == 0 else { throw Failure(message: "alignment \(a) is not a power of 2") }
                align = a
            default:
                throw Failure(message: "bad argument #1 to '\(function)' (invalid format option '\(Character(Unicode.Scalar(option)))')")
            }
        }
    }

    private static func format(_ lua: LuaState, _ function: String) throws(Failure) -> Format {
        guard lua.type(at: 1) == LuaType.string || lua.type(at: 1) == LuaType.number, let text = lua.string(at: 1) else {
            throw Failure(message: "bad argument #1 to '\(function)' (string expected, got \(lua.typeName(at: 1)))")
        }
        // C reads the format up to its first zero byte.
        return Format(Array(text.prefix { $0 != 0 }), function: function)
    }

    private static func number(_ lua: LuaState, _ arg: Int32, _ function: String, arguments: Int32 = .max) throws(Failure) -> Double {
        if lua.isNumber(at: arg) { return lua.number(at: arg) }
        // pack pushes a nil after its arguments (lua_struct.c's mark), which the first missing one meets.
        let got = arg == arguments + 1 ? "nil" : lua.typeName(at: arg)
        throw Failure(message: "bad argument #\(arg) to '\(function)' (number expected, got \(got))")
    }

    private static func pack(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        do throws(Failure) {
            var f = try format(lua, "pack")
            let arguments = lua.top
            var out: [UInt8] = []
            var arg: Int32 = 2
            while f.i < f.bytes.count {
                let option = f.bytes[f.i]
                f.i += 1
                let size = try f.size(of: option)
                out += [UInt8](repeating: 0, count: f.padding(at: out.count, option, size))
                switch option {
                case UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "h"), UInt8(ascii: "H"), UInt8(ascii: "l"), UInt8(ascii: "L"),
                     UInt8(ascii: "T"), UInt8(ascii: "i"), UInt8(ascii: "I"):
                    let n = try number(lua, arg, "pack", arguments: arguments)
                    arg += 1
                    // C's conversions, without their undefined cases (NaN, out of range) trapping here.
                    let value: UInt64 = n.isNaN ? 0 : n < 0 ? UInt64(bitPattern: n <= -0x1p63 ? .min : Int64(n.rounded(.towardZero)))
                        : n >= 0x1p64 ? .max : UInt64(n.rounded(.towardZero))
                    let bytes = (0..<size).map { $0 < 8 ? UInt8(truncatingIfNeeded: value >> ($0 * 8)) : 0 }
                    out += f.bigEndian ? bytes.reversed() : bytes
                case UInt8(ascii: "x"):
                    out.append(0)
                case UInt8(ascii: "f"):
                    let bits = Float(try number(lua, arg, "pack", arguments: arguments)).bitPattern
                    arg += 1
                    let bytes = (0..<4).map { UInt8(truncatingIfNeeded: bits >> ($0 * 8)) }
                    out += f.bigEndian ? bytes.reversed() : bytes
                case UInt8(ascii: "d"):
                    let bits = try number(lua, arg, "pack", arguments: arguments).bitPattern
                    arg += 1
                    let bytes = (0..<8).map { UInt8(truncatingIfNeeded: bits >> ($0 * 8)) }
                    out += f.bigEndian ? bytes.reversed() : bytes
                case UInt8(ascii: "c"), UInt8(ascii: "s"):
                    guard lua.type(at: arg) == LuaType.string || lua.type(at: arg) == LuaType.number, let text = lua.string(at: arg) else {
                        throw Failure(message: "bad argument #\(arg) to 'pack' (string expected, got \(lua.typeName(at: arg)))")
                    }
                    arg += 1
                    let count = size == 0 ? text.count : size
                    guard text.count >= count else { throw Failure(message: "bad argument #\(arg) to 'pack' (string too short)") }
                    out += text.prefix(count)
                    if option == UInt8(ascii: "s") { out.append(0) }
                default:
                    try f.control(option)
                }
            }
            lua.top = 0
            lua.push(out)
            return 1
        } catch {
            return lua.fail(error.message)
        }
    }

    private static func unpack(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        do throws(Failure) {
            var f = try format(lua, "unpack")
            guard lua.type(at: 2) == LuaType.string || lua.type(at: 2) == LuaType.number, let text = lua.string(at: 2) else {
                throw Failure(message: "bad argument #2 to 'unpack' (string expected, got \(lua.typeName(at: 2)))")
            }
            let data = Array(text)
            var position = 0
            if lua.type(at: 3) != LuaType.none && lua.type(at: 3) != LuaType.nilValue {
                let start = try number(lua, 3, "unpack")
                guard start >= 1, start < 0x1p62 else { throw Failure(message: "bad argument #3 to 'unpack' (offset must be 1 or greater)") }
                position = Int(start) - 1
            }
            lua.top = 2
            var results: Int32 = 0
            while f.i < f.bytes.count {
                let option = f.bytes[f.i]
                f.i += 1
                var size = try f.size(of: option)
                position += f.padding(at: position, option, size)
                guard size <= data.count, position <= data.count - size else { throw Failure(message: "bad argument #2 to 'unpack' (data string too short)") }
                guard lua.checkStack(2) else { throw Failure(message: "stack overflow (too many results)") }
                switch option {
                case UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "h"), UInt8(ascii: "H"), UInt8(ascii: "l"), UInt8(ascii: "L"),
                     UInt8(ascii: "T"), UInt8(ascii: "i"), UInt8(ascii: "I"):
                    let field = data[position..<(position + size)]
                    let ordered = f.bigEndian ? Array(field) : field.reversed()
                    let raw = ordered.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    let signed = option >= UInt8(ascii: "a")
                    if signed && size < 8, raw & (1 << UInt64(size * 8 - 1)) != 0 {
                        lua.push(Double(Int64(bitPattern: raw | (UInt64.max << UInt64(size * 8)))))
                    } else {
                        lua.push(signed ? Double(Int64(bitPattern: raw)) : Double(raw))
                    }
                    results += 1
                case UInt8(ascii: "x"):
                    break
                case UInt8(ascii: "f"), UInt8(ascii: "d"):
                    let field = data[position..<(position + size)]
                    let bits = (f.bigEndian ? Array(field) : field.reversed()).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    lua.push(option == UInt8(ascii: "f") ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits))) : Double(bitPattern: bits))
                    results += 1
                case UInt8(ascii: "c"):
                    if size == 0 {
                        guard results > 0, lua.type(at: -1) == LuaType.number else { throw Failure(message: "format 'c0' needs a previous size") }
                        let previous = lua.number(at: -1)
                        lua.pop(1)
                        results -= 1
                        size = previous >= 0 && previous < 0x1p62 ? Int(previous) : Int.max
                        guard size <= data.count, position <= data.count - size else { throw Failure(message: "bad argument #2 to 'unpack' (data string too short)") }
                    }
                    lua.push(Array(data[position..<(position + size)]))
                    results += 1
                case UInt8(ascii: "s"):
                    guard let end = data[position...].firstIndex(of: 0) else { throw Failure(message: "unfinished string in data") }
                    lua.push(Array(data[position..<end]))
                    size = end - position + 1
                    results += 1
                default:
                    try f.control(option)
                }
                position += size
            }
            lua.push(Double(position + 1))
            return results + 1
        } catch {
            return lua.fail(error.message)
        }
    }

    private static func size(_ L: OpaquePointer) -> Int32 {
        let lua = LuaState.borrowing(L)
        do throws(Failure) {
            var f = try format(lua, "size")
            var position = 0
            while f.i < f.bytes.count {
                let option = f.bytes[f.i]
                f.i += 1
                let size = try f.size(of: option)
                position += f.padding(at: position, option, size)
                if option == UInt8(ascii: "s") { throw Failure(message: "bad argument #1 to 'size' (option 's' has no fixed size)") }
                if option == UInt8(ascii: "c") && size == 0 { throw Failure(message: "bad argument #1 to 'size' (option 'c0' has no fixed size)") }
                let alphanumeric = (option >= 0x30 && option <= 0x39) || (option >= 0x41 && option <= 0x5a) || (option >= 0x61 && option <= 0x7a)
                if !alphanumeric { try f.control(option) }
                position += size
            }
            lua.top = 0
            lua.push(Double(position))
            return 1
        } catch {
            return lua.fail(error.message)
        }
    }
}
