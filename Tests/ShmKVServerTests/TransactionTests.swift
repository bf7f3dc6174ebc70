import Foundation
import ShmKV
import Synchronization
import TestSupport
import Testing
import Wire

@Suite("MULTI, EXEC, DISCARD, WATCH, UNWATCH as redis-server; EXEC atomic for every reader")
struct TransactionTests {
    @Test("queue-time errors abort with EXECABORT, run-time errors fail alone, reads see the transaction's writes")
    func replies() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        let script: [[String]] = [
            ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["SET", "a", "1"], ["SET", "a"], ["NOSUCH", "x"], ["WATCH", "a"],
            ["GET", "a"], ["EXEC"], ["GET", "a"],
            ["MULTI"], ["SET", "a", "1", "EX", "abc"], ["INCR", "a"], ["SET", "b", "x"], ["INCR", "b"], ["GET", "a"],
            ["MGET", "a", "b", "c"], ["PING"], ["PING", "x"], ["ECHO", "hi"], ["TTL", "a"], ["DBSIZE"], ["UNWATCH"],
            ["EXISTS", "a", "b"], ["STRLEN", "b"], ["GETRANGE", "b", "0", "-1"], ["APPEND", "b", "yz"], ["GETDEL", "b"],
            ["SET", "c", "1", "PX", "100000"], ["EXPIRE", "c", "100", "NX"], ["PERSIST", "c"], ["DEL", "a", "c"],
            ["MSET", "m", "1", "n", "2"], ["SETNX", "m", "3"], ["EXEC"],
            ["MULTI"], ["EXEC"], ["MULTI"], ["SET", "d", "1"], ["DISCARD"], ["GET", "d"], ["MULTI"], ["GET", "d"], ["EXEC"],
        ]
        for words in script { try twin.expectSame(words) }
    }

    @Test("WATCH: a change, an expiry, a flush or a SWAPDB on another connection makes EXEC answer null; others do not")
    func watch() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let a = try Twin(daemon, redis)
        let b = try Twin(daemon, redis)
        func exec(_ words: [String]) throws {
            try a.expectSame(["MULTI"])
            try a.expectSame(words)
            try a.expectSame(["EXEC"])
        }
        // Changed by another connection: null.
        try a.expectSame(["WATCH", "k"])
        try b.expectSame(["SET", "k", "1"])
        try exec(["SET", "k", "mine"])
        try a.expectSame(["GET", "k"])
        // Another key changed, or the same value written by this connection before WATCH: runs.
        try a.expectSame(["WATCH", "k"])
        try b.expectSame(["SET", "other", "1"])
        try exec(["INCR", "k"])
        // Changed by this connection itself after WATCH: null (as Redis).
        try a.expectSame(["WATCH", "k"])
        try a.expectSame(["SET", "k", "5"])
        try exec(["INCR", "k"])
        // UNWATCH forgets; DISCARD forgets.
        try a.expectSame(["WATCH", "k"])
        try b.expectSame(["SET", "k", "6"])
        try a.expectSame(["UNWATCH"])
        try exec(["INCR", "k"])
        // A flush counts as a change of every watched key.
        try a.expectSame(["WATCH", "k"])
        try b.expectSame(["FLUSHDB"])
        try exec(["SET", "k", "9"])
        // A live key whose deadline passes after WATCH: null.
        try b.expectSame(["SET", "e", "v", "PX", "300"])
        try a.expectSame(["WATCH", "e"])
        #expect(try eventually { try a.both(["PTTL", "e"]) == (.integer(-2), .integer(-2)) })
        try exec(["SET", "e", "new"])
        // WATCH of a missing key that stays missing: runs.
        try a.expectSame(["WATCH", "never"])
        try exec(["SET", "x", "1"])
        try a.expectSame(["GET", "x"])
        // SWAPDB touches a watched key its database held or takes from the other (missing in both: runs).
        for (other, swappedIn) in [("1", true), ("1", false), ("2", false)] {
            try b.expectSame(["SELECT", other])
            try b.expectSame(swappedIn ? ["SET", "s", "there"] : ["DEL", "s"])
            try a.expectSame(["WATCH", "s"])
            try b.expectSame(["SWAPDB", "0", other])
            try exec(["SET", "y", "1"])
            try b.expectSame(["SWAPDB", "0", other])
        }
        try a.expectSame(["SET", "s", "here"])
        try a.expectSame(["WATCH", "s"])
        try b.expectSame(["SWAPDB", "0", "2"])
        try exec(["SET", "y", "2"])
    }

    @Test("no reader sees half of an EXEC: LocalStore snapshots and GETs on other connections see both keys or neither")
    func atomicForReaders() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let store = try LocalStore(directory: daemon.dataDirectory)
        let writer = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        let reader = try RESPClient(address: .unix(path: daemon.socketPath), timeoutSeconds: 10)
        let done = Atomic<Bool>(false)
        let torn = Atomic<Int>(0)
        let readsDone = Atomic<Int>(0)
        let localReader = Thread {
            while !done.load(ordering: .acquiring) {
                let pair = try? store.read { s in (try s.get(Array("a".utf8)), try s.get(Array("b".utf8))) }
                if let pair, pair.0 != pair.1 { torn.add(1, ordering: .relaxed) }
                readsDone.add(1, ordering: .relaxed)
            }
        }
        localReader.start()
        var remoteTorn = 0
        for i in 0..<300 {
            let words = [["MULTI"], ["SET", "a", "\(i)"], ["SET", "b", "\(i)"], ["EXEC"]]
            let replies = try writer.pipeline(words.map { $0.map { Array($0.utf8) } })
            #expect(replies.last == .array([.simple("OK"), .simple("OK")]))
            if case .array(let values) = try reader.command([Array("MGET".utf8), Array("a".utf8), Array("b".utf8)]),
               values.count == 2, values[0] != values[1] {
                remoteTorn += 1
            }
        }
        done.store(true, ordering: .releasing)
        #expect(eventually { localReader.isFinished })
        #expect(torn.load(ordering: .relaxed) == 0, "\(torn.load(ordering: .relaxed)) torn snapshots in \(readsDone.load(ordering: .relaxed))")
        #expect(remoteTorn == 0)
    }
}
