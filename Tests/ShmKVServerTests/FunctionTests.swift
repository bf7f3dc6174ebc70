import Foundation
import TestSupport
import Testing

/// FUNCTION and FCALL against redis-server, byte for byte in RESP2 and RESP3; libraries kept across
/// restarts; EVAL's shebang flags.
@Suite("Functions: FUNCTION LOAD/DELETE/FLUSH/LIST/STATS, FCALL, FCALL_RO as redis-server; libraries kept in the store")
struct FunctionTests {
    static let library = """
        #!lua name=mylib
        local function my_hset(keys, args)
          return redis.call('HSET', keys[1], '_by_', 'mylib', unpack(args))
        end
        redis.register_function('my_hset', my_hset)
        """
    static let readOnlyLibrary = """
        #!lua name=rolib
        redis.register_function{function_name='my_get', description='reads a key',
          callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}
        """
    static let writerInReadOnly = """
        #!lua name=badro
        redis.register_function{function_name='sneaky_set', flags={'no-writes', 'allow-stale'},
          callback=function(keys, args) return redis.call('SET', keys[1], args[1]) end}
        """

    /// Each library with one function, so that FUNCTION LIST's order (Redis's hash order) is the same.
    static let script: [[String]] = [
        ["FUNCTION", "LOAD", library], ["FUNCTION", "LOAD", library], ["FUNCTION", "LOAD", "REPLACE", library],
        ["FUNCTION", "LOAD", readOnlyLibrary], ["FUNCTION", "LOAD", writerInReadOnly],
        ["FUNCTION", "LIST", "LIBRARYNAME", "mylib"], ["FUNCTION", "LIST", "LIBRARYNAME", "ro*", "WITHCODE"],
        ["FUNCTION", "LIST", "LIBRARYNAME"], ["FUNCTION", "LIST", "BOGUS"], ["FUNCTION", "STATS"], ["FUNCTION", "KILL"],
        ["FCALL", "my_hset", "1", "h", "a", "1", "b", "2"], ["HGETALL", "h"], ["FCALL_RO", "my_hset", "1", "h", "a", "1"],
        ["SET", "k", "v"], ["FCALL_RO", "my_get", "1", "k"], ["FCALL", "my_get", "1", "k"], ["FCALL", "sneaky_set", "1", "k", "x"],
        ["FCALL", "nosuch", "0"], ["FCALL", "my_get", "x"], ["FCALL", "my_get", "-1"], ["FCALL", "my_get", "5", "k"],
        ["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
        ["FUNCTION", "LOAD", "#!lua name=x\nstring.format('x')"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.call('ping')"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('a-b', function() end)"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x')"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f'}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{callback=function() end}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, extra=1}"],
        ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)"],
        ["FUNCTION", "LOAD", "#!lua name=x\nx = 1"], ["FUNCTION", "LOAD", "#!lua name=x foo=bar\n"], ["FUNCTION", "LOAD", "#!lua\n"],
        ["FUNCTION", "LOAD", "#!js name=x\n"], ["FUNCTION", "LOAD", "x = 1"], ["FUNCTION", "LOAD", "#!lua name=x"],
        ["FUNCTION", "LOAD", "#!lua name=a-b\n"], ["FUNCTION", "LOAD", "#!lua name=x name=y\n"], ["FUNCTION", "LOAD", "BOGUS", library],
        ["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('my_get', function() end)"],
        ["FUNCTION", "LOAD", "#!lua name=gl\nredis.register_function('gl', function() x = 1 end)"], ["FCALL", "gl", "0"],
        ["FUNCTION", "LOAD", "#!lua name=err\nredis.register_function('boom', function() return redis.call('nosuch') end)"],
        ["FCALL", "boom", "0"],
        ["FUNCTION", "LOAD", "#!lua name=rf\nredis.register_function('rf', function() return redis.register_function('z', function() end) end)"],
        ["FCALL", "rf", "0"],
        ["FUNCTION", "DELETE", "gl"], ["FUNCTION", "DELETE", "gl"], ["FUNCTION", "DELETE"], ["FCALL", "gl", "0"],
        ["FUNCTION", "FLUSH", "BOGUS"], ["FUNCTION", "FLUSH", "SYNC"], ["FUNCTION", "LIST"], ["FUNCTION", "BOGUS"],
        // EVAL's shebang flags.
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"],
        ["EVAL_RO", "#!lua\nreturn redis.call('get', 'k')", "0"],
        ["EVAL_RO", "#!lua flags=no-writes,allow-oom\nreturn redis.call('get', 'k')", "0"],
        ["EVAL", "#!lua flags=bogus\nreturn 1", "0"], ["EVAL", "#!lua foo=bar\nreturn 1", "0"], ["EVAL", "#!python\nreturn 1", "0"],
        ["EVAL", "#!lua", "0"], ["EVAL", "#!lua flags=\nreturn 2", "0"], ["EVAL", "#!lua\nreturn error('x')", "0"],
    ]

    @Test("every reply of FUNCTION, FCALL and shebang EVAL commands is redis-server's, in RESP2 and in RESP3")
    func repliesAsRedis() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try RawTwin(daemon, redis, connections: 1)
        twin.send(0, "FUNCTION", "FLUSH")
        twin.expectSame(0, "FUNCTION FLUSH")
        try RawTwin.expectSameReplies(FunctionTests.script, daemon, redis)
    }

    @Test("libraries are kept in the store: after a restart FCALL runs them and FUNCTION LIST shows them; FLUSH and DELETE are kept too")
    func librariesSurviveRestarts() throws {
        let data = TemporaryDirectory("shmkv-functions")
        defer { data.remove() }
        let directory = data.file("data")
        var daemon = try Daemon(dataDirectory: directory)
        func send(_ words: String...) throws -> String {
            let connection = try RawConnection(unixPath: daemon.socketPath)
            connection.send(respCommand(words))
            return String(decoding: connection.readAvailable(), as: UTF8.self)
        }
        #expect(try send("FUNCTION", "LOAD", FunctionTests.library) == "$5\r\nmylib\r\n")
        #expect(try send("FUNCTION", "LOAD", FunctionTests.readOnlyLibrary) == "$5\r\nrolib\r\n")
        #expect(try send("FUNCTION", "DELETE", "rolib") == "+OK\r\n")
        #expect(daemon.stop() == 0)
        daemon = try Daemon(dataDirectory: directory)
        #expect(try send("FCALL", "my_hset", "1", "h", "f", "v") == ":2\r\n")
        #expect(try send("FCALL", "my_get", "1", "h") == "-ERR Function not found\r\n")
        #expect(try send("FUNCTION", "STATS").contains("libraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1"))
        #expect(try send("FUNCTION", "FLUSH") == "+OK\r\n")
        #expect(daemon.stop() == 0)
        daemon = try Daemon(dataDirectory: directory)
        defer { _ = daemon.stop() }
        #expect(try send("FUNCTION", "LIST") == "*0\r\n")
    }

    @Test("FUNCTION DUMP from redis-server restores here and the other way round; RESTORE's policies and errors as redis-server's")
    func dumpAndRestore() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let mine = try RawConnection(unixPath: daemon.socketPath), theirs = try RawConnection(unixPath: redis.socketPath)
        func dump(_ connection: RawConnection) -> [UInt8] {
            connection.send(respCommand("FUNCTION", "DUMP"))
            let reply = connection.readAvailable()
            guard let crlf = reply.firstIndex(of: 13), reply.first == UInt8(ascii: "$"), let n = Int(String(decoding: reply[1..<crlf], as: UTF8.self)) else { return [] }
            return Array(reply[(crlf + 2)..<(crlf + 2 + n)])
        }
        func send(_ connection: RawConnection, _ words: [[UInt8]]) -> String {
            var bytes = Array("*\(words.count)\r\n".utf8)
            for word in words { bytes += Array("$\(word.count)\r\n".utf8) + word + [13, 10] }
            connection.send(bytes)
            return String(decoding: connection.readAvailable(), as: UTF8.self)
        }
        func words(_ text: String...) -> [[UInt8]] { text.map { Array($0.utf8) } }
        // A library long enough that redis-server compresses it with LZF.
        let long = FunctionTests.library + "\n-- " + String(repeating: "padding ", count: 40)
        for connection in [mine, theirs] {
            #expect(send(connection, words("FUNCTION", "LOAD", long)) == "$5\r\nmylib\r\n")
        }
        let fromRedis = dump(theirs), fromDaemon = dump(mine)
        #expect(!fromRedis.isEmpty && !fromDaemon.isEmpty)
        for payload in [fromRedis, fromDaemon] {
            for policy in [[], ["APPEND"], ["REPLACE"], ["FLUSH"], ["BOGUS"], ["FLUSH", "x"]] {
                let command = words("FUNCTION", "RESTORE") + [payload] + policy.map { Array($0.utf8) }
                #expect(send(mine, command) == send(theirs, command), "RESTORE \(policy)")
            }
            var corrupt = payload
            corrupt[corrupt.count / 2] ^= 0x20
            #expect(send(mine, words("FUNCTION", "RESTORE") + [corrupt]) == "-ERR DUMP payload version or checksum are wrong\r\n")
        }
        for connection in [mine, theirs] {
            #expect(send(connection, words("FUNCTION", "RESTORE", "x", "FLUSH")).hasPrefix("-ERR DUMP payload"))
            #expect(send(connection, words("FCALL", "my_hset", "1", "h", "a", "b")) == ":2\r\n")
        }
    }
}
