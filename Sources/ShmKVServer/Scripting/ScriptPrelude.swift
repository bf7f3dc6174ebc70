/// The Lua code that finishes a script state's set-up, run once after the libraries and the `redis`
/// table are in place (Redis 7.0's `scriptingInit`).
///
/// Redis's Lua is patched with read-only tables; Debian's is not, so the same protection is built from
/// metatables: every library table a script sees (`redis`, `string`, `math`, `table`, `cjson`, `bit`,
/// `coroutine`, `cmsgpack`, `struct`) is an empty proxy whose writes fail, the globals table refuses new or changed globals
/// and reading undeclared ones, and `setmetatable`, `rawset` and `getmetatable` cannot get around it.
/// `print`, `dofile`, `loadfile`, `getfenv`, `setfenv` and `newproxy` are removed (as in Debian's
/// redis-server), `debug` after the error handler has kept it; `os`, `io` and `package` (`require`)
/// are never opened.
enum ScriptPrelude {
    static let source = #"""
    local dbg = debug
    debug = nil
    print = nil
    dofile = nil
    loadfile = nil
    -- Not among Debian's redis-server's globals either (they would reach the real globals).
    local setfenv = setfenv
    getfenv = nil
    _G.setfenv = nil
    newproxy = nil
    function __redis__err__handler(err)
      -- The caller that failed, past C functions and this prelude's own guards (Redis's are C).
      local level = 2
      local i = dbg.getinfo(level, 'nSl')
      while i and (i.what == 'C' or i.source == '@prelude') do
        level = level + 1
        i = dbg.getinfo(level, 'nSl')
      end
      if type(err) ~= 'table' then
        err = {err = 'ERR ' .. tostring(err)}
      end
      if i then
        err['source'] = i.source
        err['line'] = i.currentline
      end
      return err
    end

    -- Redis 7's pcall hands back the message of an error table, as older versions did.
    local raw_pcall, select, unpack, type = pcall, select, unpack, type
    local function pack(...) return select('#', ...), {...} end
    pcall = function(...)
      local n, r = pack(raw_pcall(...))
      if not r[1] and type(r[2]) == 'table' and type(r[2].err) == 'string' then r[2] = r[2].err end
      return unpack(r, 1, n)
    end

    local protected = {}
    local raw_setmetatable, raw_getmetatable, raw_rawset, error = setmetatable, getmetatable, rawset, error
    local function readonly() error('Attempt to modify a readonly table', 2) end
    -- An empty view of t: reads go to t, writes fail, its metatable cannot be had.
    local function sealed(t)
      local view = raw_setmetatable({}, {__index = t, __newindex = readonly, __metatable = false})
      protected[view] = true
      return view
    end
    -- What a library table becomes: reads go to it, writes fail, getmetatable gives a sealed view.
    local function proxy(t)
      local mt = {__index = t, __newindex = readonly}
      mt.__metatable = sealed(mt)
      protected[mt] = true
      local p = raw_setmetatable({}, mt)
      protected[p] = true
      return p
    end
    for _, name in ipairs({'redis', 'string', 'math', 'table', 'cjson', 'bit', 'coroutine', 'cmsgpack', 'struct'}) do
      raw_rawset(_G, name, proxy(_G[name]))
    end
    -- Valkey's name for the same table (its tests and newer scripts call server.call).
    raw_rawset(_G, 'server', _G.redis)
    -- Strings' methods come through the proxy too, so getmetatable('').__index cannot reach the real table.
    local strings = raw_getmetatable('')
    strings.__index = _G.string
    strings.__metatable = sealed(strings)
    setmetatable = function(t, mt)
      if protected[t] then error('Attempt to modify a readonly table', 0) end
      return raw_setmetatable(t, mt)
    end
    rawset = function(t, k, v)
      if protected[t] then error('Attempt to modify a readonly table', 0) end
      return raw_rawset(t, k, v)
    end
    local globals = {
      __index = function(_, name)
        error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
      end,
      __newindex = readonly,
    }
    globals.__metatable = sealed(globals)
    protected[_G] = true
    protected[globals] = true
    raw_setmetatable(_G, globals)

    -- What scripts see as their globals: an empty table whose reads go through another empty table to
    -- the real ones, and whose writes fail, even to names that exist (Redis's Lua has true read-only
    -- tables; a metatable alone would let `redis = 1` through). Its metatable can be read but not
    -- changed; the table in between has none to show, so the real globals cannot be reached.
    local real = _G
    local between = raw_setmetatable({}, {__index = real, __newindex = readonly, __metatable = false})
    local view_mt = {__index = between, __newindex = readonly}
    view_mt.__metatable = sealed(view_mt)
    local view = raw_setmetatable({}, view_mt)
    protected[between] = true
    protected[view_mt] = true
    protected[view] = true
    raw_rawset(real, '_G', view)
    -- Code loaded by a script runs in that view too (loadstring's functions otherwise get the real
    -- globals); binary chunks are refused, as Redis refuses them.
    local raw_loadstring, raw_load, raw_setfenv = loadstring, load, setfenv
    local function in_view(f, e)
      if f then raw_setfenv(f, view) end
      return f, e
    end
    loadstring = function(s, name)
      if type(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
      return in_view(raw_loadstring(s, name))
    end
    load = function(reader, name)
      local first = true
      return in_view(raw_load(function()
        local piece = reader()
        if first and type(piece) == 'string' and #piece > 0 then
          first = false
          if piece:byte(1) == 27 then error('binary chunks are not allowed', 0) end
        end
        return piece
      end, name))
    end
    dbg.getregistry().__scripts_env = view
    -- For the set-up that follows in Swift (function libraries' environments): tables made later are
    -- protected the same way.
    dbg.getregistry().__protect = function(t) protected[t] = true end
    """#

    /// The functions state's library environment (Redis 7.0's `luaEngineInitEngine`), run after
    /// `source` with two arguments, `redis.register_function` and the prelude's `__protect`. It returns
    /// the table every library's code and functions see as their globals (reads go to the library API —
    /// `redis.register_function`, `redis.log`, the LOG_ and version constants — while FUNCTION LOAD
    /// runs, to the script globals afterwards; writes always fail), and the function that switches it.
    static let libraries = #"""
    local register, protect = ...
    local function readonly() error('Attempt to modify a readonly table', 2) end
    local function missing(_, name)
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    local api_redis = {register_function = register, log = redis.log, LOG_DEBUG = redis.LOG_DEBUG,
      LOG_VERBOSE = redis.LOG_VERBOSE, LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
      REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM}
    setmetatable(api_redis, {__index = missing, __metatable = false})
    local api_redis_mt = {__index = api_redis, __newindex = readonly, __metatable = false}
    local api_mt = {__index = missing, __newindex = readonly, __metatable = false}
    local api_view = setmetatable({}, api_redis_mt)
    local api = setmetatable({redis = api_view, server = api_view}, api_mt)
    local env_mt = {__index = api, __newindex = readonly, __metatable = false}
    local env = setmetatable({}, env_mt)
    for _, t in ipairs({api_redis, api_redis_mt, api_view, api_mt, api, env_mt, env}) do protect(t) end
    local globals = _G
    return env, function(loading) env_mt.__index = loading and api or globals end
    """#
}
