#ifndef SHMKV_CLUA_SHIM_H
#define SHMKV_CLUA_SHIM_H
// Debian's Lua 5.1 (liblua5.1-0-dev) with lua-cjson and lua-bitop, as Redis embeds them. Lua reports
// errors with longjmp, which must never cross a Swift frame: Swift calls Lua only through lua_pcall (or
// with allocations that cannot fail, see `refuse`), and Swift functions that Lua calls return to
// `shmkv_lua_trampoline`, which raises their error after they have returned.
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <lua-cjson.h>
#include <lua-bitop.h>

/// What a Lua state's allocator and hook read: its memory account and the host's answers.
typedef struct shmkv_lua_host {
    /// Bytes Lua holds now, and the most it held.
    size_t used;
    size_t peak;
    /// Allocations that would take `used` past `limit` fail — only while `refuse` is set, which is only
    /// while Lua code runs (a failed allocation is then a Lua error, caught by the enclosing pcall).
    size_t limit;
    int refuse;
    /// Asked by the count hook: nonzero stops the script with `stop_message`.
    int (*check)(void *context);
    const char *stop_message;
    void *context;
} shmkv_lua_host;

static inline void *shmkv_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    shmkv_lua_host *host = (shmkv_lua_host *)ud;
    if (nsize == 0) {
        free(ptr);
        host->used -= osize;
        return NULL;
    }
    if (host->refuse && nsize > osize && host->used - osize + nsize > host->limit) return NULL;
    void *moved = realloc(ptr, nsize);
    if (moved == NULL) return NULL;
    host->used = host->used - osize + nsize;
    if (host->used > host->peak) host->peak = host->used;
    return moved;
}

static inline lua_State *shmkv_lua_newstate(shmkv_lua_host *host) {
    return lua_newstate(shmkv_lua_alloc, host);
}

static inline shmkv_lua_host *shmkv_lua_gethost(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (shmkv_lua_host *)ud;
}

/// A Swift function Lua calls: it returns the number of results it pushed, or -1 with an error value
/// pushed, which the trampoline raises once the Swift frame is gone.
typedef int (*shmkv_lua_swift_function)(lua_State *L);

static inline int shmkv_lua_trampoline(lua_State *L) {
    shmkv_lua_swift_function f = (shmkv_lua_swift_function)lua_touserdata(L, lua_upvalueindex(1));
    shmkv_lua_host *host = shmkv_lua_gethost(L);
    int refused = host->refuse;
    host->refuse = 0;
    int n = f(L);
    host->refuse = refused;
    if (n < 0) return lua_error(L);
    return n;
}

/// Pushes `f` as a Lua function (through the trampoline).
static inline void shmkv_lua_pushswift(lua_State *L, shmkv_lua_swift_function f) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, shmkv_lua_trampoline, 1);
}

/// The count hook: asks the host whether to stop; if so, stops on every line from now on (a pcall in
/// the script cannot catch it for good) with the host's message.
static inline void shmkv_lua_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    shmkv_lua_host *host = shmkv_lua_gethost(L);
    if (host->check == NULL || !host->check(host->context)) return;
    lua_sethook(L, shmkv_lua_hook, LUA_MASKLINE, 0);
    host->refuse = 0;
    lua_pushstring(L, host->stop_message ? host->stop_message : "Script stopped");
    lua_error(L);
}

static inline void shmkv_lua_sethook(lua_State *L, int every) {
    if (every > 0) lua_sethook(L, shmkv_lua_hook, LUA_MASKCOUNT, every); else lua_sethook(L, NULL, 0, 0);
}

/// Opens the libraries Redis opens (base, table, string, math, debug, cjson, bit); each through
/// lua_call, as Lua 5.1 requires. Called while allocations cannot fail.
static inline void shmkv_lua_openlibs(lua_State *L) {
    static const struct { const char *name; lua_CFunction open; } libraries[] = {
        {"", luaopen_base}, {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_DBLIBNAME, luaopen_debug}, {"cjson", luaopen_cjson},
        {"bit", luaopen_bit},
    };
    for (size_t i = 0; i < sizeof libraries / sizeof libraries[0]; i++) {
        lua_pushcfunction(L, libraries[i].open);
        lua_pushstring(L, libraries[i].name);
        lua_call(L, 1, 1);
        // Debian's cjson and bit return their table without setting a global, as Redis's do.
        if (libraries[i].name[0] != 0 && lua_istable(L, -1)) lua_setglobal(L, libraries[i].name); else lua_pop(L, 1);
    }
}

// Lua's macros, as functions Swift can call.
static inline void shmkv_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void shmkv_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline int shmkv_lua_isnil(lua_State *L, int i) { return lua_isnil(L, i); }
static inline int shmkv_lua_istable(lua_State *L, int i) { return lua_istable(L, i); }
static inline void shmkv_lua_getglobal(lua_State *L, const char *name) { lua_getglobal(L, name); }
static inline void shmkv_lua_setglobal(lua_State *L, const char *name) { lua_setglobal(L, name); }
static inline int shmkv_lua_globalsindex(void) { return LUA_GLOBALSINDEX; }
static inline int shmkv_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
#endif
