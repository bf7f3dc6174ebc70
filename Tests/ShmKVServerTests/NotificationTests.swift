import Foundation
import ShmKV
import TestSupport
import Testing
import Wire

/// A subscriber of `__key*` events and of the `end` channel, on one server.
private struct EventListener {
    let connection: RawConnection

    init(socketPath: String) throws {
        connection = try RawConnection(unixPath: socketPath)
        connection.send(respCommand("PSUBSCRIBE", "__key*"))
        connection.send(respCommand("SUBSCRIBE", "end"))
        _ = connection.readAvailable(quietMilliseconds: 200)
    }

    /// The events (`channel message`) up to the message `marker` on `end`; bounded by 10 s.
    func events(until marker: String) throws -> [String] {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            bytes += connection.readAvailable(quietMilliseconds: 50)
            var events: [String] = []
            var offset = 0
            while let (reply, used) = try bytes[offset...].withUnsafeBytes({ try RESPReplyDecoder.decode($0) }) {
                offset += used
                guard case .array(let parts) = reply, parts.count >= 3, case .bulk(let channel) = parts[parts.count - 2],
                      case .bulk(let message) = parts[parts.count - 1] else { continue }
                let text = String(decoding: channel, as: UTF8.self) + " " + String(decoding: message, as: UTF8.self)
                if text == "end " + marker { return events }
                events.append(text)
            }
        }
        Issue.record("no end marker \(marker) within 10 s")
        return []
    }
}

@Suite("notify-keyspace-events classes, CONFIG GET/SET/RESETSTAT, INFO commandstats and errorstats as redis-server")
struct NotificationTests {
    @Test("each class selection sends what redis-server sends, `new` included; CONFIG GET prints it as Redis does")
    func classesAsRedis() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        let listeners = [try EventListener(socketPath: daemon.socketPath), try EventListener(socketPath: redis.socketPath)]
        for (round, classes) in ["KEA", "Kg", "E$", "Exn", "KEAn", "Kn$", "KA", "", "g$", "KEgm"].enumerated() {
            try twin.expectSame(["CONFIG", "SET", "notify-keyspace-events", classes])
            try twin.expectSame(["CONFIG", "GET", "notify-keyspace-events"])
            let k = "r\(round):"
            let script: [[String]] = [
                ["SET", k + "a", "1"], ["SET", k + "a", "2"], ["SET", k + "b", "v", "EX", "100"], ["INCR", k + "c"],
                ["APPEND", k + "c", "x"], ["APPEND", k + "d", "x"], ["EXPIRE", k + "a", "100"], ["PERSIST", k + "a"],
                ["DEL", k + "b"], ["MSET", k + "m", "1", k + "a", "3"], ["SET", k + "p", "v", "NX"], ["GETEX", k + "p", "EX", "50"],
                ["EXPIRE", k + "a", "-1"], ["GETDEL", k + "c"], ["INCRBY", k + "m", "2"], ["SETEX", k + "s", "100", "v"],
                ["PUBLISH", "end", String(round)],
            ]
            for words in script { _ = try twin.both(words) }
            let mine = try listeners[0].events(until: String(round)), theirs = try listeners[1].events(until: String(round))
            #expect(mine == theirs, "classes \(classes)\ndaemon: \(mine)\nredis-server: \(theirs)")
        }
    }

    @Test("CONFIG SET and GET: errors, several pairs at once, all or nothing, HELP, RESETSTAT")
    func configAsRedis() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        for words in [
            ["CONFIG", "SET", "notify-keyspace-events", ""], ["CONFIG", "SET", "notify-keyspace-events", "Q"], ["CONFIG", "SET", "notify-keyspace-events"],
            ["CONFIG", "SET", "notify-keyspace-events", "K", "x"], ["CONFIG", "SET", "nosuch", "1"],
            ["CONFIG", "SET", "notify-keyspace-events", "K", "notify-keyspace-events", "E"],
            ["CONFIG", "GET", "notify-keyspace-events"], ["CONFIG", "SET", "NOTIFY-keyspace-events", "Eg"],
            ["CONFIG", "GET", "notify-keyspace-events"],
            ["CONFIG", "SET", "notify-keyspace-events", "Kx", "nosuch", "1"], ["CONFIG", "GET", "notify-keyspace-events"],
            ["CONFIG", "SET", "save", "", "appendonly", "no"], ["CONFIG", "GET"], ["CONFIG", "GET", "nosuch*"],
            ["CONFIG", "GET", "notify-*"], ["CONFIG", "GET", "MAXMEMORY-POLICY"], ["CONFIG", "RESETSTAT"], ["CONFIG", "RESETSTAT", "x"],
            ["CONFIG", "NOSUCH"], ["CONFIG", "HELP"],
        ] {
            try twin.expectSame(words)
        }
        // A parameter ShmKV reads only at start: its own value is accepted, another refused with where it lives.
        let current = try twin.daemon.command(["CONFIG", "GET", "maxclients"].map { Array($0.utf8) })
        guard case .array(let pair) = current, pair.count == 2, case .bulk(let value) = pair[1] else { Issue.record("\(current)"); return }
        #expect(try twin.daemon.command([Array("CONFIG".utf8), Array("SET".utf8), Array("maxclients".utf8), value]) == .simple("OK"))
        let refused = try twin.daemon.command(["CONFIG", "SET", "maxclients", "7"].map { Array($0.utf8) })
        #expect(refused == .error("ERR CONFIG SET failed (possibly related to argument 'maxclients') - ShmKV reads it only at start: set limits.maxClients in Config/shmkvd.yaml (or its SHMKV_* variable) and restart"))
        // A bad resp.notifyKeyspaceEvents stops the daemon at start with Redis's message.
        #expect(throws: (any Error).self) { _ = try Daemon(environment: ["SHMKV_RESP_NOTIFY_KEYSPACE_EVENTS": "KEQ"]) }
        let quiet = try Daemon(environment: ["SHMKV_RESP_NOTIFY_KEYSPACE_EVENTS": ""])
        defer { _ = quiet.stop() }
        let client = try RESPClient(address: .unix(path: quiet.socketPath), timeoutSeconds: 10)
        #expect(try client.command(["CONFIG", "GET", "notify-keyspace-events"].map { Array($0.utf8) })
            == .array([.bulk(Array("notify-keyspace-events".utf8)), .bulk([])]))
    }

    @Test("INFO commandstats and errorstats count calls, rejections and failures as redis-server; RESETSTAT zeroes them")
    func commandAndErrorStatistics() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let redis = try RedisServer()
        let twin = try Twin(daemon, redis)
        for words in [["CONFIG", "RESETSTAT"], ["SET", "a", "x"], ["GET", "a"], ["GET", "a"], ["GET"], ["INCR", "a"], ["NOSUCH"],
                      ["SET", "a", "1", "EX", "0"], ["EXISTS", "a"], ["MULTI"], ["EXEC"]] {
            _ = try twin.both(words)
        }
        func stats(_ client: RESPClient, _ section: String) throws -> [String: String] {
            guard case .bulk(let text) = try client.command([Array("INFO".utf8), Array(section.utf8)]) else { return [:] }
            var fields: [String: String] = [:]
            for line in String(decoding: text, as: UTF8.self).split(separator: "\r\n") where !line.hasPrefix("#") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                var value = String(line[line.index(after: colon)...])
                // usec and usec_per_call are times: compare everything but them.
                value = value.split(separator: ",").filter { !$0.hasPrefix("usec") }.joined(separator: ",")
                fields[String(line[..<colon])] = value
            }
            return fields
        }
        let mine = try stats(twin.daemon, "commandstats"), theirs = try stats(twin.redis, "commandstats")
        for name in ["cmdstat_set", "cmdstat_get", "cmdstat_incr", "cmdstat_exists", "cmdstat_exec", "cmdstat_multi"] {
            #expect(mine[name] == theirs[name], "\(name): \(mine[name] ?? "none") vs redis-server \(theirs[name] ?? "none")")
        }
        let myErrors = try stats(twin.daemon, "errorstats"), theirErrors = try stats(twin.redis, "errorstats")
        #expect(myErrors == theirErrors)
        // The kernel accounts CPU time by scheduler ticks: a daemon that has run only a few milliseconds
        // may show no user time yet. It must show some once it has worked (at most 10 s of requests).
        var cpu = try stats(twin.daemon, "cpu")
        let deadline = Date().addingTimeInterval(10)
        while cpu["used_cpu_user"].flatMap(Double.init).map({ $0 > 0 }) != true && Date() < deadline {
            for _ in 0..<500 { _ = try twin.daemon.command([Array("INFO".utf8)]) }
            cpu = try stats(twin.daemon, "cpu")
        }
        #expect(cpu["used_cpu_user"].flatMap(Double.init).map { $0 > 0 } == true, "\(cpu)")
        #expect(cpu["used_cpu_sys"].flatMap(Double.init) != nil)
        _ = try twin.both(["CONFIG", "RESETSTAT"])
        let afterReset = (try stats(twin.daemon, "commandstats"), try stats(twin.redis, "commandstats"))
        #expect(afterReset.0 == afterReset.1, "\(afterReset.0) vs redis-server \(afterReset.1)")
        #expect(try stats(twin.daemon, "errorstats").isEmpty && stats(twin.redis, "errorstats").isEmpty)
        // INFO without arguments leaves commandstats out, as Redis does.
        guard case .bulk(let text) = try twin.daemon.command([Array("INFO".utf8)]) else { Issue.record("INFO"); return }
        #expect(!String(decoding: text, as: UTF8.self).contains("# Commandstats"))
        #expect(String(decoding: text, as: UTF8.self).contains("# CPU"))
    }
}
