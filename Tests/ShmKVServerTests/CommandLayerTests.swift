import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// The RESP bytes of `commands` sent on one connection as one pipeline.
private func pipeline(_ commands: [[String]]) -> [UInt8] { commands.flatMap { respCommand($0) } }

/// What redis-server and the daemon answer to the same pipeline on a fresh connection each, as text.
private func bothAnswer(_ daemon: Daemon, _ redis: RedisServer, _ commands: [[String]]) throws -> (mine: String, theirs: String) {
    let bytes = pipeline(commands)
    let theirs = String(decoding: try RawConnection.exchange(unixPath: redis.socketPath, bytes), as: UTF8.self)
    let mine = String(decoding: try RawConnection.exchange(unixPath: daemon.socketPath, bytes), as: UTF8.self)
    return (mine, theirs)
}

@Suite("One command layer: every read runs inside MULTI through its one handler; CLIENT REPLY; byte for byte as redis-server")
struct CommandLayerTests {
    @Test("inside MULTI every read and connection command answers QUEUED and runs at EXEC, seeing the block's writes (bytes as redis-server)")
    func readsInsideMulti() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let commands: [[String]] = [
            ["SET", "n", "12"], ["SET", "t", "v", "EX", "1000"],
            ["MULTI"],
            ["SET", "s", "hello world"], ["TYPE", "s"], ["TYPE", "none"], ["LCS", "s", "n"], ["LCS", "s", "s", "IDX", "WITHMATCHLEN"],
            ["OBJECT", "ENCODING", "s"], ["OBJECT", "ENCODING", "n"], ["OBJECT", "REFCOUNT", "n"], ["OBJECT", "FREQ", "s"],
            ["OBJECT", "IDLETIME", "nokey"], ["OBJECT", "NOSUCH", "s"],
            ["GET", "s"], ["MGET", "s", "nokey", "n"], ["STRLEN", "s"], ["GETRANGE", "s", "0", "4"], ["SUBSTR", "s", "-5", "-1"],
            ["GETRANGE", "s", "x", "1"], ["EXISTS", "s", "n", "nokey"], ["TOUCH", "s"], ["TTL", "t"], ["TTL", "s"], ["PTTL", "nokey"],
            ["EXPIRETIME", "s"], ["DBSIZE"], ["KEYS", "s*"], ["SCAN", "0", "MATCH", "n*"], ["SCAN", "x"],
            ["DEL", "n", "t"], ["RANDOMKEY"], ["DBSIZE"],
            ["PING"], ["PING", "hi"], ["ECHO", "e"], ["SELECT", "0"], ["CLIENT", "SETNAME", "me"], ["CLIENT", "GETNAME"],
            ["CONFIG", "GET", "maxmemory-policy"], ["UNWATCH"],
            ["EXEC"],
            ["MULTI"], ["GET", "s"], ["SAVE"], ["EXEC"], ["MULTI"], ["GET"], ["EXEC"],
            ["CLIENT", "GETNAME"],
        ]
        let (mine, theirs) = try bothAnswer(daemon, redis, commands)
        #expect(mine == theirs)
    }

    @Test("CLIENT REPLY OFF, ON and SKIP (also inside MULTI and against RESET); subscription confirmations still arrive")
    func clientReply() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let commands: [[String]] = [
            ["CLIENT", "REPLY", "OFF"], ["SET", "a", "1"], ["GET", "a"], ["INCR", "a"], ["NOSUCH"], ["CLIENT", "REPLY", "ON"], ["GET", "a"],
            ["CLIENT", "REPLY", "SKIP"], ["GET", "a"], ["PING"], ["CLIENT", "REPLY", "SKIP"], ["SET", "b", "2"], ["GET", "b"],
            ["CLIENT", "REPLY", "FOO"], ["CLIENT", "REPLY"], ["CLIENT", "REPLY", "OFF"], ["SUBSCRIBE", "ch"], ["UNSUBSCRIBE", "ch"],
            ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "ON"],
            ["MULTI"], ["SET", "c", "3"], ["CLIENT", "REPLY", "SKIP"], ["GET", "c"], ["EXEC"], ["GET", "c"], ["RESET"], ["PING"],
            ["CLIENT", "REPLY", "SKIP"], ["RESET"], ["PING"],
        ]
        let (mine, theirs) = try bothAnswer(daemon, redis, commands)
        #expect(mine == theirs)
    }
}
