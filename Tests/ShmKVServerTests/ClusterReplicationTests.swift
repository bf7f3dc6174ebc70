import Foundation
import RDB
import ShmKV
import TestSupport
import Testing
import Wire
@testable import ShmKVServer

/// shmkvd as a replica of a whole Redis Cluster (three shards of Debian's redis-server, each with a
/// replica, made by `redis-cli --cluster create`): every shard's data in one store, a failover followed
/// with a partial resync, a slot migration under load, a shard added, a restart that resumes each shard where it was
/// (and a full sync of one shard that replaces only its slots); compared key by key with the union of
/// the shards after each.
@Suite(.serialized) struct ClusterReplicationTests {
    /// The links shmkvd reports (INFO replication's `shmkv_linkN` lines): port, slots, status, offset,
    /// and the syncs of each kind.
    struct Link: Equatable {
        var port = 0, slots = "", status = "", offset: Int64 = -1, fullSyncs = 0, partialSyncs = 0
    }

    static func links(_ replica: RESPTestConnection) throws -> [Link] {
        guard case .bulk(let text) = try replica.call("INFO", "replication") else { return [] }
        return String(decoding: text, as: UTF8.self).split(separator: "\r\n").filter { $0.hasPrefix("shmkv_link") && $0.contains(":host=") }.map { line in
            var link = Link()
            for pair in line.split(separator: ":", maxSplits: 1)[1].split(separator: ",") where pair.contains("=") {
                let (name, value) = (pair.split(separator: "=")[0], String(pair.split(separator: "=", maxSplits: 1)[1]))
                switch name {
                case "port": link.port = Int(value) ?? 0
                case "slots": link.slots = value
                case "status": link.status = value
                case "offset": link.offset = Int64(value) ?? -1
                case "full_syncs": link.fullSyncs = Int(value) ?? 0
                case "partial_syncs": link.partialSyncs = Int(value) ?? 0
                default: break
                }
            }
            return link
        }
    }

    static func infoText(_ replica: RESPTestConnection) throws -> String {
        guard case .bulk(let text) = try replica.call("INFO", "replication") else { return "" }
        return String(decoding: text, as: UTF8.self)
    }

    /// The slots each primary serves, as shmkvd's INFO writes them.
    static func slotsText(_ cluster: RedisCluster) throws -> [Int: String] {
        let owners = try cluster.slotOwners()
        var sets: [Int: [ClosedRange<Int>]] = [:]
        for slot in 0..<16384 { sets[owners[slot], default: []].append(slot...slot) }
        return sets.mapValues { SlotSet($0).text }
    }

    /// Waits until shmkvd has one link up per primary, on the primary's slots, with everything the
    /// primary has sent applied.
    static func caughtUp(_ cluster: RedisCluster, _ replica: RESPTestConnection, _ what: String) throws {
        try cluster.wait("shmkvd catches up with every shard (\(what))", seconds: 90) {
            let primaries = try cluster.primaries(), slots = try slotsText(cluster), links = try links(replica)
            guard links.count == primaries.count else { return false }
            return try primaries.allSatisfy { p in
                guard let offset = try cluster.info(p, "master_repl_offset").flatMap({ Int64($0) }) else { return false }
                return links.contains { $0.port == cluster.ports[p] && $0.status == "up" && $0.offset == offset && $0.slots == slots[p] }
            }
        }
    }

    /// The union of the primaries' keys against shmkvd's.
    static func expectSame(_ cluster: RedisCluster, _ replica: RESPTestConnection, seed: UInt64, _ when: String) throws {
        var union: [[UInt8]: StoredKey] = [:]
        for p in try cluster.primaries() {
            for (key, value) in try cluster.connection(p).image(databases: 0..<1)[0] ?? [:] {
                #expect(union[key] == nil, "\(when): a key on two shards")
                union[key] = value
            }
        }
        let ours = try replica.image(databases: 0..<1)
        #expect(union.count >= 300, "\(when): the cluster holds \(union.count) keys")
        let difference = RedisDataset.difference(ours, union.isEmpty ? [:] : [0: union])
        #expect(difference == nil, "\(when), seed \(seed): \(difference ?? "")")
    }

    /// Sends each command to the primary of its key's slot (commands without a key to none).
    static func load(_ cluster: RedisCluster, _ commands: [[[UInt8]]]) throws {
        let owners = try cluster.slotOwners()
        var byNode: [Int: [[[UInt8]]]] = [:]
        for command in commands where command.count > 1 && command[0] != Array("SELECT".utf8) {
            byNode[owners[ClusterMap.slot(command[1])], default: []].append(command)
        }
        for (node, commands) in byNode {
            let c = try cluster.connection(node)
            for start in stride(from: 0, to: commands.count, by: 300) {
                for case .error(let message) in try c.pipeline(Array(commands[start..<min(start + 300, commands.count)])) {
                    Issue.record("redis-server: \(message)")
                }
            }
        }
    }

    @Test func aWholeClusterIntoOneStore() throws {
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) ^ 7
        let cluster = try RedisCluster()
        defer { cluster.stop() }
        try Self.load(cluster, RedisDataset.commands(RedisDataset.make(seed: seed, keysPerDatabase: 400, databases: [0])))
        let directory = TemporaryDirectory("cluster-replica")
        defer { directory.remove() }
        let environment = ["SHMKV_REPLICATION_CLUSTER": "127.0.0.1:\(cluster.ports[1])"]
        var daemon = try Daemon(dataDirectory: directory.file("store"), environment: environment)
        defer { daemon.stop() }
        var replica = try RESPTestConnection(unixPath: daemon.socketPath)
        try Self.caughtUp(cluster, replica, "the first full syncs")
        #expect(try Self.links(replica).map(\.fullSyncs) == [1, 1, 1])
        try Self.expectSame(cluster, replica, seed: seed, "after the full syncs")

        // A failover of the shard of slot 0 under load: its link follows the promoted replica, which
        // continues the old primary's history (a partial resync).
        let writer = try ClusterWriter(cluster, seed: seed)
        let old = try cluster.slotOwners()[0]
        let promoted = try #require(try cluster.nodes.indices.first { try cluster.info($0, "master_port") == String(cluster.ports[old]) })
        try cluster.wait("writes", seconds: 30) { writer.count > 2000 }
        #expect(try cluster.connection(promoted).call("CLUSTER", "FAILOVER") == .simple("OK"))
        try cluster.wait("the replica is promoted", seconds: 60) { try cluster.role(promoted) == "master" && cluster.slotOwners()[0] == promoted }
        try cluster.wait("shmkvd follows the promoted replica", seconds: 60) {
            try Self.links(replica).contains { $0.port == cluster.ports[promoted] && $0.status == "up" }
        }
        let followed = try #require(try Self.links(replica).first { $0.port == cluster.ports[promoted] })
        #expect(followed.partialSyncs == 1 && followed.fullSyncs == 0, "\(followed)")

        // 300 slots move from one shard to another under load (MIGRATE: RESTORE-ASKING on the target's
        // stream, DEL on the source's).
        let owners = try cluster.slotOwners()
        let (from, to) = (owners[16383], owners[8000])
        let reshard = try cluster.reshard(from: from, to: to, count: 300)
        #expect(reshard.status == 0, "\(reshard.stdout.suffix(300)) \(reshard.stderr.suffix(500))")
        try cluster.wait("writes after the migration", seconds: 30) { writer.count > 12000 }

        // A fourth shard, given 200 slots under load: a new link, a full sync of its slots.
        let added = try cluster.addPrimary()
        let moved = try cluster.reshard(from: owners[0] == from ? to : from, to: added, count: 200)
        #expect(moved.status == 0, "\(moved.stdout.suffix(300)) \(moved.stderr.suffix(500))")
        try cluster.wait("writes after the new shard", seconds: 30) { writer.count > 16000 }
        try writer.finish()
        try Self.caughtUp(cluster, replica, "after the failover and the migration")
        try Self.expectSame(cluster, replica, seed: seed, "after the failover and the migration")
        print("cluster replication: DELs of migrated keys dropped (their source's DEL came after the target's RESTORE): \(try RedisCluster.field(Array(Self.infoText(replica).utf8), "shmkv_cluster_migrated_deletes_dropped") ?? "?")")

        // LocalStore reads every shard's keys from shared memory.
        let store = try LocalStore(directory: daemon.dataDirectory)
        // A key on each of the four shards.
        let slotOwners = try cluster.slotOwners(), primaries = try cluster.primaries()
        #expect(primaries.count == 4)
        let local = primaries.compactMap { p in (0..<100_000).lazy.map { "local\($0)" }.first { slotOwners[ClusterMap.slot(Array($0.utf8))] == p } }
        try Self.load(cluster, local.map { [Array("SET".utf8), Array($0.utf8), Array("value of \($0)".utf8)] })
        try Self.caughtUp(cluster, replica, "after the writes LocalStore reads")
        for key in local { #expect(try store.get(key) == Array("value of \(key)".utf8), "\(key)") }

        // shmkvd killed; while it is down one shard's backlog is outrun (16 KiB kept, 256 KiB written):
        // the restart resumes two shards (partial) and syncs the third in full, replacing only its slots.
        daemon.stop(signal: SIGKILL)
        let outrun = try cluster.slotOwners()[8000]
        let big = String(repeating: "x", count: 64 << 10)
        _ = try cluster.connection(outrun).call("CONFIG", "SET", "repl-backlog-size", "16384")
        let bigKey = try #require((0..<10_000).map { "big\($0)" }.first { try cluster.slotOwners()[ClusterMap.slot(Array($0.utf8))] == outrun })
        for _ in 0..<4 { #expect(try cluster.connection(outrun).call("SET", bigKey, big) == .simple("OK")) }
        daemon = try Daemon(dataDirectory: directory.file("store"), environment: environment)
        replica = try RESPTestConnection(unixPath: daemon.socketPath)
        try Self.caughtUp(cluster, replica, "after the restart")
        let restarted = try Self.links(replica)
        #expect(restarted.filter { $0.port == cluster.ports[outrun] }.map(\.fullSyncs) == [1], "\(restarted)")
        #expect(restarted.filter { $0.port != cluster.ports[outrun] }.map(\.partialSyncs) == [1, 1, 1], "\(restarted)")
        try Self.expectSame(cluster, replica, seed: seed, "after the restart")
        #expect(try replica.call("STRLEN", bigKey) == .integer(64 << 10))
    }
}

/// Random writes to the cluster until `finish`: strings, hashes, lists, deletes and deadlines over a
/// few hundred keys spread over every slot, each sent to its slot's primary (the map asked again after
/// a MOVED; a write refused during a failover or a migration is left out).
final class ClusterWriter: @unchecked Sendable {
    // Invariant: what both threads touch is in `box`, under its lock.
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var stop = false, done = false, sent = 0
    }
    private let box = Box()

    init(_ cluster: RedisCluster, seed: UInt64) throws {
        let box = self.box
        Thread {
            var random = SplitMix64(seed: seed)
            var owners = (try? cluster.slotOwners()) ?? []
            var connections: [Int: RESPTestConnection] = [:]
            while !owners.isEmpty {
                var batches: [Int: [[[UInt8]]]] = [:]
                for _ in 0..<60 {
                    let key = Array("w\(Int.random(in: 0..<400, using: &random))".utf8)
                    let value = Array(String(Int.random(in: 0..<1_000_000, using: &random)).utf8)
                    let command: [[UInt8]] = switch Int.random(in: 0..<6, using: &random) {
                    case 0: [Array("DEL".utf8), key]
                    case 1: [Array("PEXPIRE".utf8), key, Array("3600000".utf8)]
                    case 2: [Array("HSET".utf8), key, value, key]
                    case 3: [Array("RPUSH".utf8), key + [0x6c], value]
                    default: [Array("SET".utf8), key, value]
                    }
                    batches[owners[ClusterMap.slot(command[1])], default: []].append(command)
                }
                var moved = false
                for (node, batch) in batches where node >= 0 {
                    guard let c = try? connections[node] ?? cluster.connection(node) else { continue }
                    connections[node] = c
                    let replies = (try? c.pipeline(batch)) ?? []
                    moved = moved || replies.contains { if case .error(let e) = $0 { e.hasPrefix("MOVED") } else { false } }
                }
                if moved, let fresh = try? cluster.slotOwners(asking: cluster.primaries().first ?? 0) { owners = fresh }
                box.lock.lock()
                box.sent += 60
                let stop = box.stop
                box.lock.unlock()
                if stop { break }
            }
            box.lock.lock(); box.done = true; box.lock.unlock()
        }.start()
    }

    var count: Int { box.lock.lock(); defer { box.lock.unlock() }; return box.sent }

    func finish() throws {
        box.lock.lock(); box.stop = true; box.lock.unlock()
        let deadline = Date().addingTimeInterval(30)
        while !(box.lock.withLock { box.done }) {
            guard Date() < deadline else { throw DaemonError.didNotStart(status: -1, stderr: "the cluster writer did not end within 30 s") }
            usleep(50_000)
        }
    }
}
