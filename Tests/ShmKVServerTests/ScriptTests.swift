import Foundation
import TestSupport
import Testing

/// EVAL and SCRIPT against redis-server, byte for byte, in RESP2 and RESP3 (the cmsgpack and struct
/// libraries included).
@Suite("Lua scripts: EVAL, EVALSHA, SCRIPT as redis-server runs them")
struct ScriptTests {
    static let script: [[String]] = [
        ["EVAL", "return 1", "0"],
        ["EVAL", "return 3.99", "0"],
        ["EVAL", "return -3.99", "0"],
        ["EVAL", "return {1,2,3,'a',false,true,nil,4}", "0"],
        ["EVAL", "return 'text'", "0"],
        ["EVAL", "return true", "0"],
        ["EVAL", "return false", "0"],
        ["EVAL", "return nil", "0"],
        ["EVAL", "return {err='My Error'}", "0"],
        ["EVAL", "return {err='-CODE with code'}", "0"],
        ["EVAL", "return redis.error_reply('ERR from error_reply')", "0"],
        ["EVAL", "return redis.error_reply('-MY boom')", "0"],
        ["EVAL", "return redis.status_reply('FINE')", "0"],
        ["EVAL", "return {ok='STATUS'}", "0"],
        ["EVAL", "return {double=3.5}", "0"],
        ["EVAL", "return {redis.call('echo', 99), redis.call('echo', -0), redis.call('echo', 0), redis.call('echo', -7), redis.call('echo', 0.1), redis.call('echo', 2^53), redis.call('echo', 1e15), redis.call('echo', 1/0)}", "0"],
        ["EVAL", "math.randomseed(10) return {tostring(math.random()), math.random(10), math.random(5, 100)}", "0"],
        ["EVAL", "math.randomseed(-7) return tostring(math.random())", "0"],
        ["EVAL", "return math.random(5, 1)", "0"], ["EVAL", "return math.random(1, 2, 3)", "0"], ["EVAL", "math.randomseed('x')", "0"],
        // Numbers in strings as Lua reads them (lua_isnumber): blanks around, hexadecimal, exponents.
        ["EVAL", "math.randomseed(' 0x10 ') return {math.random(' 7 '), math.random('1e1', ' 0x20'), math.random('2 x')}", "0"],
        ["EVAL", "return {struct.unpack('>i', struct.pack('>i', ' 0x10 ')), struct.pack('b', '1e1 ')}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), ' 0x2 ')}", "0"], ["EVAL", "return struct.pack('b', '0x')", "0"],
        ["EVAL", "return {big_number='123456789012345678901234567890'}", "0"],
        ["EVAL", "return {big_number='12\\r\\n3'}", "0"],
        ["EVAL", "redis.setresp(3) return redis.call('ping')", "0"],
        ["EVAL", "return {map={a=1}}", "0"],
        ["EVAL", "return {set={a=true}}", "0"],
        ["EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k", "v"],
        ["EVAL", "return redis.call('get', KEYS[1])", "1", "k"],
        ["EVAL", "return redis.call('get', 'missing')", "0"],
        ["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"],
        ["EVAL", "return redis.pcall('incr', KEYS[1])", "1", "k"],
        ["EVAL", "local r = redis.pcall('incr', KEYS[1]); return r['err']", "1", "k"],
        ["EVAL", "return redis.call('rpush', 'l', 1, 2.5, 'x')", "0"],
        ["EVAL", "return redis.call('lrange', 'l', 0, -1)", "0"],
        ["EVAL", "return redis.call('hset', 'h', 'f', 'v', 'g', 'w')", "0"],
        ["EVAL", "return redis.call('hgetall', 'h')", "0"],
        ["EVAL", "redis.setresp(3); return redis.call('hgetall', 'h')", "0"],
        ["EVAL", "redis.setresp(3); return redis.call('get', 'missing')", "0"],
        ["EVAL", "redis.setresp(3); local t = redis.call('hgetall', 'h'); return t['map']['f']", "0"],
        ["EVAL", "return redis.call('zadd', 'z', 1.5, 'a', 2, 'b')", "0"],
        ["EVAL", "return redis.call('zrange', 'z', 0, -1, 'WITHSCORES')", "0"],
        ["EVAL", "redis.setresp(3); return redis.call('zscore', 'z', 'a')", "0"],
        ["EVAL", "return redis.call('lpush', 'k', 'x')", "0"],
        ["EVAL", "return redis.call('nosuch')", "0"],
        ["EVAL", "return redis.call('get')", "0"],
        ["EVAL", "return redis.call()", "0"],
        ["EVAL", "return redis.call('get', {})", "0"],
        ["EVAL", "return redis.call('eval', 'return 1', '0')", "0"],
        ["EVAL", "return redis.call('ping')", "0"],
        ["EVAL", "a = 5", "0"],
        ["EVAL", "return foo", "0"],
        ["EVAL", "print('x')", "0"],
        ["EVAL", "return os", "0"],
        ["EVAL", "return io", "0"],
        ["EVAL", "return loadfile", "0"],
        ["EVAL", "redis.call = 1", "0"],
        ["EVAL", "string.upper = nil", "0"],
        ["EVAL", "local g = getmetatable(_G); g.__index = {}", "0"],
        ["EVAL", "setmetatable(_G, {})", "0"],
        ["EVAL", "rawset(_G, 'x', 1)", "0"],
        ["EVAL", "syntax error here", "0"],
        ["EVAL", "error('boom')", "0"],
        ["EVAL", "error({err='TABLE boom'})", "0"],
        ["EVAL", "return pcall(function() error({err='X'}) end)", "0"],
        ["EVAL", "return {pcall(function() error('plain') end)}", "0"],
        ["EVAL", "return redis.sha1hex('')", "0"],
        ["EVAL", "return redis.sha1hex('Pizza & Mandolino')", "0"],
        ["EVAL", "return cjson.encode({1, 2, 'x'})", "0"],
        ["EVAL", "return cjson.decode('[1,2,3]')", "0"],
        ["EVAL", "return bit.band(7, 3) + bit.bxor(5, 1)", "0"],
        ["EVAL", "return string.format('%d-%s', 5, 'x')", "0"],
        ["EVAL", "return table.concat({'a','b'}, ',')", "0"],
        ["EVAL", "return math.floor(2.7)", "0"],
        ["EVAL", "return tostring(type(KEYS)) .. #KEYS .. #ARGV", "2", "a", "b", "c"],
        ["EVAL", "return KEYS", "2", "a", "b", "c"],
        ["EVAL", "return ARGV", "2", "a", "b", "c", "d"],
        ["EVAL", "return 1", "-1"],
        ["EVAL", "return 1", "3", "a"],
        ["EVAL", "return 1", "x"],
        ["EVAL", "return redis.REDIS_VERSION ~= nil", "0"],
        ["EVAL", "return redis.call('select', 1)", "0"],
        ["EVAL", "redis.log(redis.LOG_WARNING, 'from a script'); return 1", "0"],
        ["EVAL", "return redis.log()", "0"],
        ["EVAL", "return redis.setresp(4)", "0"],
        ["EVAL", "return redis.set_repl(redis.REPL_ALL)", "0"],
        ["EVAL", "return redis.set_repl(9)", "0"],
        ["SCRIPT", "LOAD", "return 'loaded'"],
        ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        ["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
        ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        ["EVALSHA", "short", "0"],
        ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffffffffffffffffffffffffffffffffffffffff"],
        ["SCRIPT", "LOAD", "syntax error"],
        ["SCRIPT", "FLUSH"],
        ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8"],
        ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        ["SCRIPT", "FLUSH", "BAD"],
        ["SCRIPT", "LOAD"],
        ["SCRIPT", "NOSUCH"],
        ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"],
        ["EVAL_RO", "return redis.call('set', KEYS[1], 'x')", "1", "k"],
        ["EVAL", "local e = cmsgpack.pack(0.1) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(-1099511627776) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(-33) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(128) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(65536) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(4294967296) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(-32769) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(1.5) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(1/0) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(string.rep('x', 40)) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(string.rep('x', 300)) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(true) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(nil) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack({}) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack({1, 2, 3}) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack({a = 1}) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack({1, 2, nil, 4}) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(1, 2, 'x') local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(2^53) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "local e = cmsgpack.pack(-2^63) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h", "0"],
        ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1, 2}, {x = 1}))}", "0"],
        ["EVAL", "return cjson.encode({cmsgpack.unpack(cmsgpack.pack({a = {b = {1, 2}}, c = true}))})", "0"],
        ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)}", "0"],
        ["EVAL", "return {cmsgpack.unpack_one('abc', 10)}", "0"],
        ["EVAL", "return cmsgpack.pack()", "0"],
        ["EVAL", "return cmsgpack.unpack({})", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit('abc')}", "0"],
        ["EVAL", "local t = {} t[1] = t return #cmsgpack.pack(t)", "0"],
        ["EVAL", "return {struct.unpack('>bBhHlLi4I4', struct.pack('>bBhHlLi4I4', -1, 255, -300, 65000, -5, 7, -70000, 70000))}", "0"],
        ["EVAL", "return struct.size('!4 b i4 d')", "0"],
        ["EVAL", "return {struct.unpack('!4 b i4 d', struct.pack('!4 b i4 d', 1, 2, 3.5))}", "0"],
        ["EVAL", "return {struct.unpack('s c3 B c0', struct.pack('s c3 B c0', 'ab', 'xyz', 1, 'q'))}", "0"],
        ["EVAL", "return {struct.unpack('f d', struct.pack('f d', 1.5, 0.1))}", "0"],
        ["EVAL", "return struct.pack('z', 1)", "0"],
        ["EVAL", "return struct.pack('i40', 1)", "0"],
        ["EVAL", "return struct.pack('i4 i4', 1)", "0"],
        ["EVAL", "return struct.size('c0')", "0"],
        ["EVAL", "return {struct.unpack('i4', 'ab')}", "0"],
        ["EVAL", "return {struct.unpack('i2', 'abcd', 0)}", "0"],
        ["EVAL", "return struct.pack('c5', 'ab')", "0"],
        ["EVAL", "return {struct.unpack('c0', 'abc')}", "0"],
        ["EVAL", "struct.pack = nil", "0"],
        ["EVAL", "cmsgpack.unpack = nil", "0"],
        ["MULTI"],
        ["EVAL", "return redis.call('incr', 'counter')", "0"],
        ["EVAL", "return redis.call('incr', 'counter')", "0"],
        ["EXEC"],
        ["GET", "counter"],
    ]

    @Test("every reply of a script of EVAL, EVALSHA and SCRIPT commands is redis-server's, in RESP2 and in RESP3")
    func repliesAsRedis() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        try RawTwin.expectSameReplies(ScriptTests.script, daemon, redis)
    }

    @Test("Valkey's `server` is the `redis` table, in scripts and in function libraries, and is as read-only")
    func serverAlias() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let connection = try RawConnection(unixPath: daemon.socketPath)
        for (words, expected) in [
            (["EVAL", "return server.call('echo', 'hi')", "0"], "$2\r\nhi\r\n"),
            (["EVAL", "return server == redis and 1 or 0", "0"], ":1\r\n"),
            (["FUNCTION", "LOAD", "#!lua name=v\nserver.register_function('vf', function(k, a) return server.call('echo', a[1]) end)"], "$1\r\nv\r\n"),
            (["FCALL", "vf", "0", "yes"], "$3\r\nyes\r\n"),
        ] {
            connection.send(respCommand(words))
            #expect(String(decoding: connection.readAvailable(), as: UTF8.self) == expected, "\(words)")
        }
        connection.send(respCommand("EVAL", "server = 1", "0"))
        #expect(String(decoding: connection.readAvailable(), as: UTF8.self).contains("Attempt to modify a readonly table"))
    }

    @Test("commands a script calls are counted in INFO commandstats as redis-server counts them (calls and failed calls)")
    func commandStatistics() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        func counts(_ path: String) throws -> [String] {
            let connection = try RawConnection(unixPath: path)
            connection.send(respCommand("CONFIG", "RESETSTAT"))
            _ = connection.readAvailable()
            connection.send(respCommand("EVAL", "redis.call('set', 'a', '1') redis.pcall('incr', 'a') redis.pcall('hget', 'a', 'x') return redis.call('get', 'a')", "0"))
            _ = connection.readAvailable()
            connection.send(respCommand("INFO", "commandstats"))
            let info = String(decoding: connection.readAvailable(), as: UTF8.self)
            let names = ["set:", "incr:", "hget:", "get:", "eval:"]
            return info.split(whereSeparator: \.isNewline).filter { line in names.contains { line.hasPrefix("cmdstat_" + $0) } }
                .map { line in line.split(separator: ",").filter { !$0.hasPrefix("usec") }.joined(separator: ",") }.sorted()
        }
        let mine = try counts(daemon.socketPath)
        #expect(mine.count == 5)
        #expect(mine == (try counts(redis.socketPath)))
    }
}
