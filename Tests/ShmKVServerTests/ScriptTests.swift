import Foundation
import TestSupport
import Testing

/// EVAL and SCRIPT against redis-server, byte for byte, in RESP2 and RESP3.
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
        let twin = try RawTwin(daemon, redis, connections: 2)
        twin.resp3(1)
        for connection in 0..<2 {
            twin.send(connection, "FLUSHALL")
            twin.expectSame(connection, "FLUSHALL")
            for words in ScriptTests.script {
                twin.daemon[connection].send(respCommand(words))
                twin.redis[connection].send(respCommand(words))
                twin.expectSame(connection, "\(words.joined(separator: " ")) on RESP\(connection == 0 ? 2 : 3)")
            }
        }
    }
}
