import CLua

/// Lua's value types (`lua_type`).
public enum LuaType {
    public static let none = LUA_TNONE
    public static let nilValue = LUA_TNIL
    public static let boolean = LUA_TBOOLEAN
    public static let number = LUA_TNUMBER
    public static let string = LUA_TSTRING
    public static let table = LUA_TTABLE
    public static let function = LUA_TFUNCTION
}

/// A Lua 5.1 interpreter (Debian's, as Redis embeds it) with a memory account and a bound, and a way
/// for Swift functions to be called from Lua without Lua's errors (longjmp) ever crossing a Swift frame:
/// Swift runs Lua code only through `call` (a protected call), and a Swift function registered with
/// `pushFunction` reports an error by returning `raise` with the error value pushed; the C trampoline
/// raises it once the Swift frame has returned. Outside Lua code (setting up, converting values),
/// allocations never fail, so the API calls Swift makes cannot raise either. One thread at a time.
public final class LuaState {
    /// The C state, for the `CLua` calls this type does not wrap.
    public let L: OpaquePointer
    private let host: UnsafeMutablePointer<shmkv_lua_host>

    /// What a Swift function returns to raise the error value it pushed.
    public static let raise: Int32 = -1

    /// Whether this value made the state (and closes it), or borrows one a Swift function was called with.
    private let owns: Bool

    /// A state whose Lua code may hold at most `memoryLimit` bytes (set-up itself is not refused).
    public init(memoryLimit: Int) {
        host = UnsafeMutablePointer<shmkv_lua_host>.allocate(capacity: 1)
        host.initialize(to: shmkv_lua_host(used: 0, peak: 0, limit: memoryLimit, refuse: 0, check: nil, stop_message: nil, context: nil))
        guard let state = shmkv_lua_newstate(host) else { fatalError("lua_newstate failed: out of memory") }
        L = state
        owns = true
    }

    private init(borrowing L: OpaquePointer) {
        self.L = L
        host = shmkv_lua_gethost(L)
        owns = false
    }

    /// The state a Swift function was called with, for the length of the call (it is not closed).
    public static func borrowing(_ L: OpaquePointer) -> LuaState { LuaState(borrowing: L) }

    deinit {
        guard owns else { return }
        lua_close(L)
        host.deinitialize(count: 1)
        host.deallocate()
    }

    /// Bytes the interpreter holds now, and the most it has held.
    public var memoryUsed: Int { host.pointee.used }
    public var memoryPeak: Int { host.pointee.peak }
    public var memoryLimit: Int {
        get { host.pointee.limit }
        set { host.pointee.limit = newValue }
    }

    /// An opaque pointer the host keeps for Swift functions and the hook (`LuaState.context(of:)`).
    public var context: UnsafeMutableRawPointer? {
        get { host.pointee.context }
        set { host.pointee.context = newValue }
    }

    /// The context of the state a Swift function or hook was called with.
    public static func context(of L: OpaquePointer) -> UnsafeMutableRawPointer? { shmkv_lua_gethost(L).pointee.context }

    /// Every `instructions` VM instructions (0: never), `check` is asked whether to stop the running code;
    /// when it says so, the code fails with `message` at every line from then on, so that a pcall in it
    /// cannot carry on for good.
    public func setHook(every instructions: Int32, message: StaticString, check: (@convention(c) (UnsafeMutableRawPointer?) -> Int32)?) {
        host.pointee.check = check
        host.pointee.stop_message = UnsafeRawPointer(message.utf8Start).assumingMemoryBound(to: CChar.self)
        shmkv_lua_sethook(L, check == nil ? 0 : instructions)
    }

    /// Opens Redis's libraries: base, table, string, math, debug, cjson and bit.
    public func openLibraries() { shmkv_lua_openlibs(L) }

    // MARK: Running code

    /// Compiles `code` into a function left on the stack; the error message if it does not compile.
    public func load(_ code: UnsafeRawBufferPointer, name: String) -> String? {
        let empty: StaticString = ""
        let start = code.baseAddress ?? UnsafeRawPointer(empty.utf8Start)
        let status = luaL_loadbuffer(L, start.assumingMemoryBound(to: CChar.self), code.count, name)
        guard status != 0 else { return nil }
        defer { pop(1) }
        return string(at: -1).map { String(decoding: $0, as: UTF8.self) } ?? "unknown error"
    }

    /// Calls the function below `arguments` values on the stack (lua_pcall) with `handler` (a stack
    /// index, 0 for none) as the error handler; allocations past the limit fail while it runs. The
    /// status: 0 when it returned (`results` values left), else the error value is left.
    public func call(arguments: Int32, results: Int32, handler: Int32 = 0) -> Int32 {
        host.pointee.refuse = 1
        defer { host.pointee.refuse = 0 }
        return lua_pcall(L, arguments, results, handler)
    }

    /// Runs a chunk of Lua source at once (set-up code); the error message if it failed.
    public func run(_ source: String, name: String) -> String? {
        var source = source
        return source.withUTF8 { bytes in
            if let error = load(UnsafeRawBufferPointer(bytes), name: name) { return error }
            guard call(arguments: 0, results: 0) != 0 else { return nil }
            defer { pop(1) }
            return string(at: -1).map { String(decoding: $0, as: UTF8.self) } ?? "error"
        }
    }

    // MARK: The stack

    public var top: Int32 {
        get { lua_gettop(L) }
        set { lua_settop(L, newValue) }
    }

    public func pop(_ n: Int32) { shmkv_lua_pop(L, n) }
    public func type(at index: Int32) -> Int32 { lua_type(L, index) }
    public func isTable(at index: Int32) -> Bool { shmkv_lua_istable(L, index) != 0 }
    @discardableResult public func checkStack(_ n: Int32) -> Bool { lua_checkstack(L, n) != 0 }

    /// The bytes of the string (or number, converted in place as Lua does) at `index`; nil for others.
    /// Valid while the value stays on the stack.
    public func string(at index: Int32) -> UnsafeRawBufferPointer? {
        var length = 0
        guard let chars = lua_tolstring(L, index, &length) else { return nil }
        return UnsafeRawBufferPointer(start: chars, count: length)
    }

    public func number(at index: Int32) -> Double { lua_tonumber(L, index) }
    /// Whether the value is a number or a string Lua reads as one (`lua_isnumber`: blanks around it,
    /// hexadecimal), as the C libraries' `luaL_checknumber` judges it.
    public func isNumber(at index: Int32) -> Bool { lua_isnumber(L, index) != 0 }
    public func boolean(at index: Int32) -> Bool { lua_toboolean(L, index) != 0 }

    public func push(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return lua_pushlstring(L, "", 0) }
        lua_pushlstring(L, base.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    public func push(_ bytes: [UInt8]) { bytes.withUnsafeBytes { push($0) } }
    public func push(_ text: String) {
        var text = text
        text.withUTF8 { push(UnsafeRawBufferPointer($0)) }
    }

    public func push(_ number: Double) { lua_pushnumber(L, number) }
    public func push(_ boolean: Bool) { lua_pushboolean(L, boolean ? 1 : 0) }
    public func pushNil() { lua_pushnil(L) }
    public func pushValue(at index: Int32) { lua_pushvalue(L, index) }
    /// Where the function `level` calls up runs (`user_script:1: `), as luaL_error prefixes its
    /// message; "" when unknown.
    public func position(level: Int32) -> String {
        luaL_where(L, level)
        defer { pop(1) }
        return string(at: -1).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Lua's name of the type of the value at `index` ("no value" past the top), as its argument
    /// errors name it (luaL_typename).
    public func typeName(at index: Int32) -> String { String(cString: lua_typename(L, lua_type(L, index))) }

    /// For a Swift function: leaves only `message`, prefixed with where the calling script is (as
    /// luaL_error words it), and answers `raise`, which the trampoline then raises.
    public func fail(_ message: String) -> Int32 {
        let text = position(level: 1) + message
        top = 0
        push(text)
        return LuaState.raise
    }

    /// Moves the top value to `index`, shifting the values above it up (lua_insert).
    public func insert(at index: Int32) { lua_insert(L, index) }
    public func newTable(arrayCount: Int32 = 0, fieldCount: Int32 = 0) { lua_createtable(L, arrayCount, fieldCount) }

    /// Pushes `function` as a Lua function (called through the trampoline; see the type's comment).
    public func pushFunction(_ function: @convention(c) (OpaquePointer?) -> Int32) { shmkv_lua_pushswift(L, function) }

    // MARK: Tables (raw access only: no metamethod can run, and so none can raise)

    /// `table[name] = value`, the value taken from the top.
    public func setField(_ table: Int32, _ name: String) {
        let index = absolute(table)
        push(name)
        lua_insert(L, -2)
        lua_rawset(L, index)
    }

    /// Pushes `table[name]`.
    public func getField(_ table: Int32, _ name: String) {
        let index = absolute(table)
        push(name)
        lua_rawget(L, index)
    }

    /// `table[i] = value`, the value taken from the top.
    public func setIndex(_ table: Int32, _ i: Int32) { lua_rawseti(L, table, i) }
    /// Pushes `table[i]`.
    public func getIndex(_ table: Int32, _ i: Int32) { lua_rawgeti(L, table, i) }

    /// The global `name`, pushed (raw: the globals' protection does not see it).
    public func getGlobal(_ name: String) { getField(shmkv_lua_globalsindex(), name) }
    /// `name = value` (the top) in the globals, raw.
    public func setGlobal(_ name: String) { setField(shmkv_lua_globalsindex(), name) }
    /// Pushes `registry[name]`.
    public func getRegistry(_ name: String) { getField(shmkv_lua_registryindex(), name) }
    /// `registry[name] = value` (the top).
    public func setRegistry(_ name: String) { setField(shmkv_lua_registryindex(), name) }

    /// `t[k] = v` (raw) for the table below the key and the value on the top; pops both.
    public func rawSetTop() { lua_rawset(L, -3) }

    /// Moves to the next key of the table at `table` after the key on the top (nil: the first): pushes
    /// the key and its value, or nothing at the end (lua_next, raw).
    public func next(_ table: Int32) -> Bool { lua_next(L, table) != 0 }

    /// The length of the table or string at `index` (lua_objlen: the border `#` finds).
    public func length(at index: Int32) -> Int { Int(lua_objlen(L, index)) }

    /// The index `index` names, as a positive stack index (pseudo-indices stay as they are).
    public func absolute(_ index: Int32) -> Int32 {
        index < 0 && index > shmkv_lua_registryindex() ? lua_gettop(L) + index + 1 : index
    }

    /// Pops a table and makes it the environment of the function at `index` (lua_setfenv).
    public func setEnvironment(of index: Int32) { lua_setfenv(L, index) }

    /// `call`'s status when an allocation failed (LUA_ERRMEM).
    public static let outOfMemory = LUA_ERRMEM

    /// Runs a full garbage collection (SCRIPT FLUSH), or a step of `size`.
    public func collectGarbage(step size: Int32? = nil) {
        if let size { lua_gc(L, LUA_GCSTEP, size) } else { lua_gc(L, LUA_GCCOLLECT, 0) }
    }
}
