import Foundation
import TestSupport
import Testing

/// Read-only scripts (EVAL_RO, EVALSHA_RO, FCALL_RO, and scripts or functions declared `no-writes`) run
/// on the reactor's snapshot with the reactor's own interpreter, not on the writer: they answer as
/// redis-server answers, see the cache and the libraries as they change, and are busy and killable as
/// redis-server's scripts are.
private let noWrites = "#!lua flags=no-writes\n"

@Suite("Read-only scripts on the reactors' snapshots: replies, cache and libraries, BUSY and KILL as redis-server")
struct ScriptSnapshotTests {
    static let library = "#!lua name=ro\nredis.register_function{function_name='ro_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\nredis.register_function('rw_set', function(keys, args) return redis.call('set', keys[1], args[1]) end)"
    static let libraryV2 = "#!lua name=ro\nredis.register_function{function_name='ro_get', callback=function(keys) return 'v2:' .. tostring(redis.call('get', keys[1])) end, flags={'no-writes'}}"

    /// Spread over three connections (so over both reactors with two threads): each step's reply is
    /// redis-server's.
    @Test("read-only scripts and functions answer as redis-server's, across SCRIPT FLUSH, FUNCTION LOAD REPLACE, DELETE and RESTORE",
          arguments: [1, 2])
    func repliesAndChanges(threads: Int) throws {
        let daemon = try Daemon(extraArguments: ["--threads", String(threads)])
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try RawTwin(daemon, redis, connections: 3)
        let get = "return redis.call('get', KEYS[1])"
        let sha = "4e6d8fc8bb01276962cce5371fa795a7763657ae"
        let steps: [[String]] = [
            ["FLUSHALL"], ["FUNCTION", "FLUSH"], ["SCRIPT", "FLUSH"],
            ["SET", "k", "1"], ["SELECT", "1"], ["SET", "k", "db1"], ["SELECT", "0"],
            ["EVAL_RO", get, "1", "k"], ["EVAL", noWrites + get, "1", "k"], ["EVAL", noWrites + "redis.call('set', KEYS[1], 2)", "1", "k"],
            ["EVAL_RO", "return redis.call('set', KEYS[1], 3)", "1", "k"], ["EVAL_RO", "return redis.pcall('del', KEYS[1])", "1", "k"],
            ["EVAL_RO", "#!lua\nreturn 1", "0"], ["EVAL_RO", "return redis.call('publish', 'c', 'm')", "0"],
            ["EVAL_RO", "redis.call('select', 1) return redis.call('get', KEYS[1])", "1", "k"], ["GET", "k"],
            ["EVAL", noWrites + "redis.call('select', 1) return {redis.call('get', KEYS[1]), redis.call('dbsize')}", "1", "k"],
            ["SCRIPT", "LOAD", get], ["EVALSHA_RO", sha, "1", "k"], ["SCRIPT", "EXISTS", sha],
            ["SCRIPT", "FLUSH"], ["EVALSHA_RO", sha, "1", "k"], ["SCRIPT", "EXISTS", sha], ["EVAL_RO", get, "1", "k"], ["EVALSHA_RO", sha, "1", "k"],
            ["SCRIPT", "LOAD", noWrites + get], ["EVALSHA", "8822dee64c14b51d475f4b45eb44843318ccc8e1", "1", "k"],
            ["EVAL_RO", "math.randomseed(7) return math.random(1000)", "0"], ["EVAL", "return math.random(1000)", "0"],
            ["EVAL_RO", "return math.random(1000)", "0"], ["EVAL", noWrites + "return math.random(1000)", "0"],
            ["FCALL_RO", "ro_get", "1", "k"],
            ["FUNCTION", "LOAD", Self.library], ["FCALL_RO", "ro_get", "1", "k"], ["FCALL", "RO_GET", "1", "k"], ["FCALL_RO", "rw_set", "1", "k", "5"],
            ["FCALL", "rw_set", "1", "k", "6"], ["FCALL_RO", "ro_get", "1", "k"],
            ["FUNCTION", "LOAD", "REPLACE", Self.libraryV2], ["FCALL_RO", "ro_get", "1", "k"], ["FCALL", "rw_set", "1", "k", "7"],
            ["FUNCTION", "DELETE", "ro"], ["FCALL_RO", "ro_get", "1", "k"],
            ["FUNCTION", "LOAD", Self.library], ["FUNCTION", "FLUSH"], ["FCALL_RO", "ro_get", "1", "k"],
            ["MULTI"], ["EVAL_RO", get, "1", "k"], ["SET", "k", "8"], ["EVAL", noWrites + get, "1", "k"], ["EXEC"],
            ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "nosuchkey"], ["EVAL_RO", "return redis.call('lpush', 'l', 1)", "0"],
        ]
        for (i, words) in steps.enumerated() {
            let n = i % 3
            if words == ["SELECT", "1"] || words == ["SELECT", "0"] || words == ["MULTI"] { continue }
            twin.send(n, words)
            twin.expectSame(n, words.joined(separator: " "))
        }
        // SELECT and MULTI belong to one connection: done on connection 0 with what follows them.
        for words in [["SELECT", "1"], ["EVAL_RO", get, "1", "k"], ["EVAL", noWrites + "redis.call('select', 0) return redis.call('get', KEYS[1])", "1", "k"],
                      ["GET", "k"], ["SELECT", "0"], ["MULTI"], ["EVAL_RO", get, "1", "k"], ["SET", "k", "9"], ["EVAL", noWrites + get, "1", "k"],
                      ["FCALL_RO", "ro_get", "1", "k"], ["EXEC"]] {
            twin.send(0, words)
            twin.expectSame(0, words.joined(separator: " "))
        }
    }

    /// The same loop three ways; connection 1 watches and kills, connection 2 is a bystander.
    @Test("a looping read-only script: BUSY to others, the other KILL refused, its KILL ends it; SHUTDOWN refused while busy",
          arguments: [1, 2])
    func killALoopingReadOnlyScript(threads: Int) throws {
        let daemon = try Daemon(extraArguments: ["--threads", String(threads)])
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try RawTwin(daemon, redis, connections: 3)
        twin.send(1, "CONFIG", "SET", "busy-reply-threshold", "100")
        twin.expectSame(1, "CONFIG SET busy-reply-threshold")
        twin.send(1, "FUNCTION", "LOAD", "#!lua name=loops\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}")
        twin.expectSame(1, "FUNCTION LOAD")
        let loops: [(start: [String], wrongKill: [String], kill: [String])] = [
            (["EVAL_RO", "while true do end", "0"], ["FUNCTION", "KILL"], ["SCRIPT", "KILL"]),
            (["EVAL", noWrites + "local i = 0 while true do i = i + 1 end", "0"], ["FUNCTION", "KILL"], ["SCRIPT", "KILL"]),
            (["FCALL_RO", "spin", "0"], ["SCRIPT", "KILL"], ["FUNCTION", "KILL"]),
        ]
        for loop in loops {
            let what = loop.start.joined(separator: " ")
            twin.send(0, loop.start)
            twin.waitBusy(1, what)
            for words in [["GET", "k"], ["EVAL_RO", "return 1", "0"], loop.wrongKill, ["SHUTDOWN"], loop.kill] {
                twin.send(1, words)
                twin.expectSame(1, "\(words.joined(separator: " ")) while \(what) loops")
            }
            twin.expectSame(0, "the killed \(what)'s reply")
            twin.send(2, "PING")
            twin.expectSame(2, "served again after \(what)")
        }
    }

    /// redis-server would make the second client wait: ShmKV answers a read-only script from a
    /// reactor's snapshot while the writer runs a long script (not yet busy, so not refused). In the
    /// synced modes the writer thread runs the write script; in volatile mode a reactor does (with two
    /// or more).
    @Test("a read-only script is answered while a write script holds the writer",
          arguments: [["--threads", "1"], ["--threads", "2"], ["--threads", "2", "--durability", "volatile"]])
    func readOnlyBesideAWriteScript(arguments: [String]) throws {
        let daemon = try Daemon(extraArguments: arguments)
        defer { _ = daemon.stop() }
        let writer = try RawConnection(unixPath: daemon.socketPath)
        let reader = try RawConnection(unixPath: daemon.socketPath)
        for words in [["CONFIG", "SET", "busy-reply-threshold", "600000"], ["SET", "k", "before"],
                      ["FUNCTION", "LOAD", "#!lua name=w\nredis.register_function('hold', function(keys) redis.call('set', keys[1], 'during') while true do end end)"]] {
            reader.send(respCommand(words))
            _ = reader.readAvailable()
        }
        writer.send(respCommand("FCALL", "hold", "1", "k"))
        #expect(eventually {
            reader.send(respCommand("FUNCTION", "STATS"))
            return String(decoding: reader.readAvailable(quietMilliseconds: 50), as: UTF8.self).contains("hold")
        }, "the write function never showed as running")
        for (words, expected) in [(["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"], "$6\r\nbefore\r\n"),
                                  (["EVAL", noWrites + "return redis.call('exists', KEYS[1])", "1", "k"], ":1\r\n"),
                                  (["GET", "k"], "$6\r\nbefore\r\n")] {
            reader.send(respCommand(words))
            #expect(String(decoding: reader.readAvailable(), as: UTF8.self) == expected, "\(words[0]) beside the running write function")
        }
        #expect(writer.readAvailable(quietMilliseconds: 50).isEmpty, "the write function ended on its own")
        // The write function never ends: SHUTDOWN NOSAVE stops it and the daemon, keeping none of it.
        reader.send(respCommand("SHUTDOWN", "NOSAVE"))
        #expect(eventually { !daemon.process.isRunning }, "the daemon did not stop after SHUTDOWN NOSAVE")
    }

    /// Where redis-server runs one script at a time, ShmKV may run several, one on each reactor: a
    /// reactor whose script is busy serves its other connections from the script's count hook, so
    /// SCRIPT KILL reaches them all, from whichever reactor.
    @Test("two looping read-only scripts, then one beside a looping write script: BUSY to others, SCRIPT KILL stops the read-only ones",
          arguments: [["--threads", "1"], ["--threads", "2"], ["--threads", "2", "--durability", "volatile"]])
    func severalBusyScripts(arguments: [String]) throws {
        let daemon = try Daemon(extraArguments: arguments)
        defer { _ = daemon.stop() }
        let first = try RawConnection(unixPath: daemon.socketPath)
        first.send(respCommand("CONFIG", "SET", "busy-reply-threshold", "100"))
        #expect(String(decoding: first.readAvailable(), as: UTF8.self) == "+OK\r\n")
        let second = try RawConnection(unixPath: daemon.socketPath)
        first.send(respCommand("EVAL_RO", "while true do end", "0"))
        second.send(respCommand("EVAL", noWrites + "while true do end", "0"))
        let watcher = try RawConnection(unixPath: daemon.socketPath)
        #expect(eventually {
            watcher.send(respCommand("PING"))
            return String(decoding: watcher.readAvailable(quietMilliseconds: 100), as: UTF8.self).hasPrefix("-BUSY")
        }, "the looping scripts never made the daemon BUSY")
        watcher.send(respCommand("SCRIPT", "KILL"))
        #expect(String(decoding: watcher.readAvailable(), as: UTF8.self) == "+OK\r\n")
        // The second script runs beside the first, and is killed too, if its reactor read it before the
        // first turned busy; else it is refused with BUSY, as redis-server refuses it (always so with one
        // reactor, and so under a slow sanitizer).
        for (connection, name) in [(first, "EVAL_RO"), (second, "EVAL no-writes")] {
            var reply = ""
            #expect(eventually {
                reply += String(decoding: connection.readAvailable(quietMilliseconds: 100), as: UTF8.self)
                return !reply.isEmpty
            }, "\(name) was not stopped by SCRIPT KILL")
            let killed = reply.hasPrefix("-ERR Script killed by user with SCRIPT KILL")
            #expect(killed || (connection === second && reply.hasPrefix("-BUSY")), "\(name): \(reply)")
        }
        // A write script now, then a read-only one beside it (refused BUSY if the write script was busy
        // before it was read): SCRIPT KILL reaches the read-only one; the write script, having written,
        // is UNKILLABLE and ends with SHUTDOWN NOSAVE.
        watcher.send(respCommand("CONFIG", "SET", "busy-reply-threshold", "1000"))
        _ = watcher.readAvailable()
        second.send(respCommand("EVAL", "redis.call('set', 'x', 1) while true do end", "0"))
        first.send(respCommand("EVAL_RO", "while true do end", "0"))
        var firstReply = ""
        #expect(eventually {
            firstReply += String(decoding: first.readAvailable(quietMilliseconds: 50), as: UTF8.self)
            if firstReply.hasPrefix("-BUSY") { return true }
            watcher.send(respCommand("SCRIPT", "KILL"))
            return String(decoding: watcher.readAvailable(quietMilliseconds: 100), as: UTF8.self).contains("+OK")
        }, "SCRIPT KILL never reached the read-only script")
        if !firstReply.hasPrefix("-BUSY") {
            #expect(eventually {
                firstReply += String(decoding: first.readAvailable(quietMilliseconds: 100), as: UTF8.self)
                return !firstReply.isEmpty
            })
            #expect(firstReply.hasPrefix("-ERR Script killed by user"), "\(firstReply)")
        }
        #expect(eventually {
            watcher.send(respCommand("SCRIPT", "KILL"))
            return String(decoding: watcher.readAvailable(quietMilliseconds: 100), as: UTF8.self).contains("-UNKILLABLE")
        }, "the write script did not show as unkillable")
        watcher.send(respCommand("SHUTDOWN", "NOSAVE"))
        #expect(eventually { !daemon.process.isRunning }, "the daemon did not stop after SHUTDOWN NOSAVE")
    }
}
