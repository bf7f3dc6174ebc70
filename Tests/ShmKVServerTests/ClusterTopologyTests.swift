import RDB
import Reactor
import Testing
import Wire
@testable import ShmKVServer

/// What a cluster follower makes of CLUSTER SLOTS, how it gives shards their links, and how a slot
/// migration's RESTORE and DEL are told apart (the daemon's side runs against real clusters in
/// ClusterReplicationTests).
struct ClusterTopologyTests {
    static func node(_ host: String, _ port: Int64, _ id: String) -> RESPReply {
        .array([.bulk(Array(host.utf8)), .integer(port), .bulk(Array(id.utf8)), .array([])])
    }

    static func entry(_ low: Int64, _ high: Int64, _ nodes: RESPReply...) -> RESPReply {
        .array([.integer(low), .integer(high)] + nodes)
    }

    @Test func slotSetsReadAndWriteTheirRanges() throws {
        let set = SlotSet([0...5, 7...7, 16380...16383])
        #expect(set.text == "0-5,7,16380-16383")
        #expect(SlotSet(text: set.text) == set)
        #expect(set.count == 11)
        #expect(SlotSet(text: "-") == SlotSet())
        #expect(SlotSet().text == "-")
        for bad in ["16384", "5-3", "a", "1-2-3", "-1"] { #expect(SlotSet(text: bad) == nil, "\(bad)") }
        #expect(set.overlap(SlotSet([4...8])) == 3)
    }

    @Test func clusterSlotsGroupsRangesByPrimary() throws {
        let a = String(repeating: "a", count: 40), b = String(repeating: "b", count: 40), r = String(repeating: "c", count: 40)
        let reply = RESPReply.array([
            Self.entry(5461, 16383, Self.node("10.0.0.2", 7002, b)),
            Self.entry(0, 100, Self.node("", 7001, a), Self.node("10.0.0.3", 7004, r)),
            Self.entry(101, 5460, Self.node("?", 7001, a)),
        ])
        let shards = try ClusterTopology.shards(reply, probedHost: "10.0.0.9")
        #expect(shards.map(\.id) == [a, b])
        #expect(shards[0].primary == .tcp(host: "10.0.0.9", port: 7001))
        #expect(shards[0].slots == SlotSet([0...5460]))
        #expect(shards[0].nodes == [.tcp(host: "10.0.0.9", port: 7001), .tcp(host: "10.0.0.3", port: 7004)])
        #expect(shards[1].slots.text == "5461-16383")
        #expect(try ClusterTopology.shards(.array([]), probedHost: "x").isEmpty)
    }

    @Test func malformedClusterSlotsRepliesAreRefused() {
        let a = String(repeating: "a", count: 40)
        let bad: [RESPReply] = [
            .error("ERR This instance has cluster support disabled"),
            .array([.integer(1)]),
            .array([Self.entry(5, 3, Self.node("h", 1, a))]),
            .array([Self.entry(0, 16384, Self.node("h", 1, a))]),
            .array([Self.entry(0, 1, Self.node("h", 0, a))]),
            .array([Self.entry(0, 1, .array([.bulk([104]), .integer(70000), .bulk([])]))]),
            .array([.array([.integer(0), .integer(1), .integer(3)])]),
            .array([Self.entry(0, 10, Self.node("h", 1, a)), Self.entry(10, 20, Self.node("h", 2, a))]),
            .array(Array(repeating: Self.entry(0, 0, Self.node("h", 1, a)), count: 16385)),
        ]
        for reply in bad {
            #expect(throws: ReplicationError.self, "\(reply)") { try ClusterTopology.shards(reply, probedHost: "h") }
        }
    }

    static func shard(_ port: Int, _ slots: ClosedRange<Int>...) -> ClusterShard {
        ClusterShard(id: String(repeating: "\(port % 10)", count: 40), primary: .tcp(host: "h", port: port), slots: SlotSet(slots), nodes: [])
    }

    @Test func shardsKeepTheirLinksAndAFailoverTakesTheOldOne() {
        let current = [ShardLink(index: 0, primary: .tcp(host: "h", port: 1), slots: SlotSet([0...8000])),
                       ShardLink(index: 1, primary: .tcp(host: "h", port: 2), slots: SlotSet([8001...16383]))]
        // Port 2's shard failed over to port 5, which also gained slots; port 1 lost some to a new shard.
        let plan = ClusterTopology.assign([Self.shard(1, 0...7000), Self.shard(5, 8001...16383), Self.shard(6, 7001...8000)], current: current, limit: 64)
        #expect(plan.links.map(\.index) == [0, 1, 2])
        #expect(plan.links.map(\.shard.primary) == [.tcp(host: "h", port: 1), .tcp(host: "h", port: 5), .tcp(host: "h", port: 6)])
        #expect(plan.retired.isEmpty && plan.unserved == 0)

        // A shard that gave all its slots away retires its link; a link index is never shared.
        let later = ClusterTopology.assign([Self.shard(1, 0...16383)], current: current, limit: 64)
        #expect(later.links.map(\.index) == [0])
        #expect(later.retired == [1])
        let full = ClusterTopology.assign([Self.shard(7, 0...1), Self.shard(8, 2...3)], current: current, limit: 2)
        #expect(full.links.map(\.index) == [0, 1] && full.retired.isEmpty && full.unserved == 0)
        let tooMany = ClusterTopology.assign([Self.shard(7, 0...1), Self.shard(8, 2...3), Self.shard(9, 4...5)], current: [], limit: 2)
        #expect(tooMany.links.map(\.index) == [0, 1] && tooMany.unserved == 1)
    }

    /// `body` with the arguments `words` (as the RESP session hands them to a command).
    static func withArguments<R>(_ words: [String], _ body: (RESPArguments) -> R) -> R {
        let bytes = Array(words.joined().utf8)
        var ranges: [Range<Int>] = []
        var start = 0
        for word in words {
            ranges.append(start..<(start + word.utf8.count))
            start += word.utf8.count
        }
        return bytes.withUnsafeBytes { body(RESPArguments(base: $0, ranges: ranges)) }
    }

    @Test func aMigratedKeyIsNotDeletedByItsOldShard() throws {
        let claims = MigrationClaims()
        claims.update([(0, SlotSet([0...8191])), (1, SlotSet([8192...16383]))])
        let restore = try #require(CommandTable.named("restore-asking")), del = try #require(CommandTable.named("del"))
        let inZero = (0..<1000).map { "k\($0)" }.filter { ClusterMap.slot(Array($0.utf8)) < 8192 }
        let (k1, k2) = (inZero[0], inZero[1])
        // Link 1 restores k1 into a slot link 0 holds (a migration from 0 to 1): claimed.
        #expect(Self.withArguments(["RESTORE-ASKING", k1, "0", "payload"]) { claims.filter(restore, $0, link: 1)?.count } == 4)
        #expect(claims.count == 1)
        #expect(claims.keys(claimedByOtherThan: 0) == [Array(k1.utf8)])
        #expect(claims.keys(claimedByOtherThan: 1).isEmpty)
        // Link 0's DEL of k1 and k2 keeps k2 only; a DEL of the claimed key alone runs nothing.
        let kept = Self.withArguments(["DEL", k1, k2]) { claims.filter(del, $0, link: 0).map { args in (0..<args.count).map(args.string) } }
        #expect(kept == ["DEL", k2])
        #expect(claims.count == 0)
        _ = Self.withArguments(["RESTORE", k1, "0", "payload"]) { claims.filter(restore, $0, link: 1) }
        #expect(Self.withArguments(["UNLINK", k1]) { claims.filter(try! #require(CommandTable.named("unlink")), $0, link: 0) } == nil)
        // A DEL by the claimer itself, or a restore into its own slots, is not touched.
        _ = Self.withArguments(["RESTORE", k1, "0", "payload"]) { claims.filter(restore, $0, link: 1) }
        #expect(Self.withArguments(["DEL", k1]) { claims.filter(del, $0, link: 1)?.count } == 2)
        _ = Self.withArguments(["RESTORE", k2, "0", "payload"]) { claims.filter(restore, $0, link: 0) }
        #expect(claims.count == 1)
        // The migration ends (the slot is link 1's now): the claim ends with it.
        claims.update([(1, SlotSet([0...16383]))])
        #expect(claims.count == 0)
    }
}
