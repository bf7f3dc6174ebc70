import Foundation
import TestSupport
import Testing

/// Scripts that run for long, or run out of room: busy-reply-threshold, BUSY to other clients,
/// SCRIPT KILL and SHUTDOWN NOSAVE as redis-server answers them; memory and stack bounded.
@Suite("Busy scripts: BUSY, SCRIPT KILL, SHUTDOWN NOSAVE, bounded memory and stack")
struct ScriptBusyTests {
    /// Both servers with busy-reply-threshold at 100 ms (set on connection 1).
    private func twin(_ daemon: Daemon, _ redis: RedisServer, connections: Int) throws -> RawTwin {
        let twin = try RawTwin(daemon, redis, connections: connections)
        twin.send(1, "CONFIG", "SET", "busy-reply-threshold", "100")
        twin.expectSame(1, "CONFIG SET busy-reply-threshold")
        return twin
    }

    /// With one reactor the writer thread runs scripts; with two, the reactor that commits the batch does,
    /// and new connections go to the other.
    @Test("a looping script: BUSY to others (MULTI and WATCH allowed, a queued command aborts EXEC), SCRIPT KILL ends it, pcall cannot catch the kill",
          arguments: [1, 2])
    func killALoopingScript(threads: Int) throws {
        let daemon = try Daemon(extraArguments: ["--threads", String(threads)])
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try twin(daemon, redis, connections: 3)
        twin.send(1, "CONFIG", "GET", "lua-time-limit")
        twin.expectSame(1, "CONFIG GET lua-time-limit")
        twin.send(0, "EVAL", "while true do pcall(function() local i = 0 while true do i = i + 1 end end) end", "0")
        twin.waitBusy(1)
        for words in [["GET", "x"], ["SET", "x", "1"], ["FUNCTION", "KILL"], ["SHUTDOWN"], ["SHUTDOWN", "ABORT"], ["SCRIPT", "FLUSH"],
                      ["MULTI"], ["SET", "x", "1"], ["EXEC"], ["WATCH", "x"], ["UNWATCH"], ["SCRIPT", "KILL"]] {
            twin.send(1, words)
            twin.expectSame(1, words.joined(separator: " "))
        }
        twin.expectSame(0, "the killed script's reply")
        twin.send(2, "SCRIPT", "KILL")
        twin.expectSame(2, "SCRIPT KILL with nothing running")
        twin.send(0, "GET", "x")
        twin.expectSame(0, "served again")
    }

    @Test("a script that wrote cannot be killed; SHUTDOWN NOSAVE stops the daemon and nothing the script wrote is kept")
    func shutdownNosave() throws {
        let daemon = try Daemon(extraArguments: ["--log-level", "notice"])
        let redis = try RedisServer()
        let twin = try twin(daemon, redis, connections: 2)
        twin.send(1, "SET", "before", "1")
        twin.expectSame(1, "SET before")
        twin.send(0, "EVAL", "redis.call('set', 'during', '1') while true do end", "0")
        twin.waitBusy(1)
        for words in [["SCRIPT", "KILL"], ["SHUTDOWN"], ["SHUTDOWN", "SAVE", "NOSAVE"]] {
            twin.send(1, words)
            twin.expectSame(1, words.joined(separator: " "))
        }
        // The daemon only (redis-server would exit with its data, which the test does not need).
        twin.daemon[1].send(respCommand("SHUTDOWN", "NOSAVE"))
        #expect(twin.daemon[1].readUntilClosed().bytes.isEmpty, "SHUTDOWN answers nothing and closes")
        #expect(eventually { !daemon.process.isRunning }, "the daemon did not stop after SHUTDOWN NOSAVE")
        _ = daemon.stop()
        let again = try Daemon(dataDirectory: daemon.dataDirectory)
        defer { _ = again.stop() }
        let check = try RawConnection(unixPath: again.socketPath)
        check.send(respCommand("MGET", "before", "during"))
        #expect(String(decoding: check.readAvailable(), as: UTF8.self) == "*2\r\n$1\r\n1\r\n$-1\r\n")
    }

    @Test("SIGTERM stops a daemon whose script is busy (the script's writes undone), within a bound")
    func sigtermStopsABusyScript() throws {
        let daemon = try Daemon()
        let client = try RawConnection(unixPath: daemon.socketPath)
        client.send(respCommand("CONFIG", "SET", "busy-reply-threshold", "50"))
        _ = client.readAvailable()
        client.send(respCommand("EVAL", "redis.call('set', 'during', '1') while true do end", "0"))
        let other = try RawConnection(unixPath: daemon.socketPath)
        #expect(eventually {
            other.send(respCommand("PING"))
            return String(decoding: other.readAvailable(quietMilliseconds: 100), as: UTF8.self).hasPrefix("-BUSY")
        })
        #expect(daemon.stop() == 0)
        let again = try Daemon(dataDirectory: daemon.dataDirectory)
        defer { _ = again.stop() }
        let check = try RawConnection(unixPath: again.socketPath)
        check.send(respCommand("EXISTS", "during"))
        #expect(String(decoding: check.readAvailable(), as: UTF8.self) == ":0\r\n")
    }

    @Test("a script that runs out of memory fails alone and the next has room; stack overflow and SHUTDOWN's errors as redis-server")
    func memoryAndStack() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let client = try RawConnection(unixPath: daemon.socketPath)
        for script in ["local s = 'x' while true do s = s .. s end", "local t = {} for i = 1, 1e9 do t[i] = i end"] {
            client.send(respCommand("EVAL", script, "0"))
            let reply = String(decoding: client.readAvailable(), as: UTF8.self)
            #expect(reply.hasPrefix("-ERR") && reply.contains("not enough memory"), "\(reply)")
            client.send(respCommand("EVAL", "local t = {} for i = 1, 1000000 do t[i] = i end return #t", "0"))
            #expect(String(decoding: client.readAvailable(), as: UTF8.self) == ":1000000\r\n", "no room left after \(script)")
        }
        client.send(respCommand("INFO", "memory"))
        let info = String(decoding: client.readAvailable(), as: UTF8.self)
        #expect(info.contains("used_memory_lua:") && info.contains("number_of_cached_scripts:"))
        try RawTwin.expectSameReplies([
            ["EVAL", "local function f(n) return f(n + 1) + 1 end return f(1)", "0"],
            ["EVAL", "local function f(n) return f(n + 1) + 1 end local ok, e = pcall(f, 1) return e", "0"],
            ["SHUTDOWN", "ABORT"], ["SHUTDOWN", "NOW", "ABORT"], ["SHUTDOWN", "BOGUS"], ["SCRIPT", "KILL"], ["SCRIPT", "KILL", "x"],
            ["MULTI"], ["SHUTDOWN"], ["EXEC"],
            ["EVAL", "return redis.call('shutdown')", "0"],
            ["CONFIG", "SET", "busy-reply-threshold", "-1"], ["CONFIG", "SET", "lua-time-limit", "x"], ["CONFIG", "SET", "lua-time-limit", "7000"],
            ["CONFIG", "GET", "busy-reply-threshold"],
        ], daemon, redis)
    }
}

extension RawTwin {
    /// Connection `n` of both sides sends PING until it is answered BUSY (a script elsewhere is past
    /// the threshold); bounded. `what` names the script in the failure.
    func waitBusy(_ n: Int, _ what: String = "the looping script", sourceLocation: SourceLocation = #_sourceLocation) {
        for side in [daemon, redis] {
            let busy = eventually {
                side[n].send(respCommand("PING"))
                return String(decoding: side[n].readAvailable(quietMilliseconds: 100), as: UTF8.self).hasPrefix("-BUSY")
            }
            #expect(busy, "\(what) never made the server BUSY", sourceLocation: sourceLocation)
        }
    }
}
