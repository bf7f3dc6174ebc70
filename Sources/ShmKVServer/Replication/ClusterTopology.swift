import RDB
import Reactor
import Wire

/// A set of Redis Cluster hash slots (0–16383), as a bitmap.
struct SlotSet: Sendable, Equatable {
    private var words = [UInt64](repeating: 0, count: ClusterMap.slotCount / 64)

    init() {}

    init(_ ranges: [ClosedRange<Int>]) {
        for range in ranges { for slot in range { insert(slot) } }
    }

    mutating func insert(_ slot: Int) { words[slot >> 6] |= 1 << UInt64(slot & 63) }

    func contains(_ slot: Int) -> Bool { words[slot >> 6] & (1 << UInt64(slot & 63)) != 0 }

    var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// How many slots both sets hold.
    func overlap(_ other: SlotSet) -> Int { zip(words, other.words).reduce(0) { $0 + ($1.0 & $1.1).nonzeroBitCount } }

    /// Runs of consecutive slots, in order.
    var ranges: [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        var start: Int?
        for slot in 0...ClusterMap.slotCount {
            let inside = slot < ClusterMap.slotCount && contains(slot)
            if inside, start == nil { start = slot }
            if !inside, let first = start {
                ranges.append(first...(slot - 1))
                start = nil
            }
        }
        return ranges
    }

    /// "0-5460,5462" (what a replication mark keeps, and INFO shows); "-" for no slot.
    var text: String {
        let ranges = self.ranges
        guard !ranges.isEmpty else { return "-" }
        return ranges.map { $0.count == 1 ? String($0.lowerBound) : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }

    /// `text` read back; nil if it is not one.
    init?(text: String) {
        guard text != "-" else { return }
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { Int($0) }
            guard let low = bounds.first ?? nil, let high = bounds.count == 2 ? bounds[1] : low,
                  low >= 0, low <= high, high < ClusterMap.slotCount else { return nil }
            for slot in low...high { insert(slot) }
        }
    }
}

/// One shard of a Redis Cluster as CLUSTER SLOTS shows it: its primary and the slots it serves.
struct ClusterShard: Sendable, Equatable {
    /// The primary's node id (40 hex digits) and address.
    let id: String
    let primary: Endpoint
    let slots: SlotSet
    /// Every node of the shard (the primary first), for the next discovery.
    let nodes: [Endpoint]
}

/// A link's place in the topology: which link index follows which primary for which slots (the live
/// links, or the marks a previous run left in `__meta`).
struct ShardLink: Sendable, Equatable {
    let index: Int
    let primary: Endpoint
    let slots: SlotSet
}

enum ClusterTopology {
    /// The shards of a CLUSTER SLOTS reply, in slot order. A node whose address is empty or "?" (Redis
    /// does not know how it is reached) is taken to live on `probedHost`, the host asked.
    static func shards(_ reply: RESPReply, probedHost: String) throws(ReplicationError) -> [ClusterShard] {
        guard case .array(let entries) = reply else { throw ReplicationError("CLUSTER SLOTS answered \(brief(reply))") }
        // A peer's reply is bounded here too: no more entries than slots, and no slot twice (so the
        // work is at most one step per slot, whatever the reply).
        guard entries.count <= ClusterMap.slotCount else { throw ReplicationError("CLUSTER SLOTS: \(entries.count) entries for 16384 slots") }
        var order: [String] = []
        var byID: [String: (primary: Endpoint, slots: SlotSet, nodes: [Endpoint])] = [:]
        var seen = SlotSet()
        for entry in entries {
            guard case .array(let fields) = entry, fields.count >= 3, case .integer(let low) = fields[0], case .integer(let high) = fields[1],
                  low >= 0, low <= high, high < ClusterMap.slotCount else {
                throw ReplicationError("CLUSTER SLOTS: an entry is not [start, end, primary, replicas…]: \(brief(entry))")
            }
            guard fields.count <= 2 + 64 else { throw ReplicationError("CLUSTER SLOTS: a shard of \(fields.count - 2) nodes") }
            let nodes = try fields[2...].map { node throws(ReplicationError) in try endpoint(node, probedHost: probedHost) }
            let id = nodes[0].id
            if byID[id] == nil {
                order.append(id)
                byID[id] = (nodes[0].endpoint, SlotSet(), [])
            }
            for slot in Int(low)...Int(high) {
                guard !seen.contains(slot) else { throw ReplicationError("CLUSTER SLOTS: slot \(slot) is served twice") }
                seen.insert(slot)
                byID[id]!.slots.insert(slot)
            }
            for node in nodes.map(\.endpoint) where !byID[id]!.nodes.contains(node) { byID[id]!.nodes.append(node) }
        }
        return order.compactMap { id in byID[id].map { ClusterShard(id: id, primary: $0.primary, slots: $0.slots, nodes: $0.nodes) } }
            .sorted { ($0.slots.ranges.first?.lowerBound ?? 0) < ($1.slots.ranges.first?.lowerBound ?? 0) }
    }

    private static func endpoint(_ node: RESPReply, probedHost: String) throws(ReplicationError) -> (endpoint: Endpoint, id: String) {
        guard case .array(let fields) = node, fields.count >= 3, case .bulk(let host) = fields[0], case .integer(let port) = fields[1],
              (1...65535).contains(port), case .bulk(let id) = fields[2] else {
            throw ReplicationError("CLUSTER SLOTS: a node is not [host, port, id…]: \(brief(node))")
        }
        let name = String(decoding: host, as: UTF8.self)
        return (.tcp(host: name.isEmpty || name == "?" ? probedHost : name, port: Int(port)), String(decoding: id, as: UTF8.self))
    }

    private static func brief(_ reply: RESPReply) -> String {
        var bytes: [UInt8] = []
        reply.encode(into: &bytes)
        return String(decoding: bytes.prefix(120), as: UTF8.self).debugDescription
    }

    /// Which link index follows each shard, given the links there are (`current`): a shard keeps the
    /// link of its primary; a shard whose primary changed (a failover) takes the link that followed
    /// most of its slots, so that the new primary is asked to continue that link's history (PSYNC with
    /// the old replication id, which a promoted replica accepts); any other shard gets the lowest index
    /// no link uses, below `limit`, or else the index of a link no shard kept. Links no shard took are
    /// `retired`; shards left without an index are counted `unserved`.
    static func assign(_ shards: [ClusterShard], current: [ShardLink], limit: Int)
        -> (links: [(index: Int, shard: ClusterShard)], retired: [Int], unserved: Int) {
        var free = current
        var assigned: [(index: Int, shard: ClusterShard)] = []
        var waiting: [ClusterShard] = []
        for shard in shards {
            if let at = free.firstIndex(where: { $0.primary == shard.primary }) {
                assigned.append((free.remove(at: at).index, shard))
            } else {
                waiting.append(shard)
            }
        }
        var rest: [ClusterShard] = []
        for shard in waiting {
            let best = free.indices.max { free[$0].slots.overlap(shard.slots) < free[$1].slots.overlap(shard.slots) }
            if let best, free[best].slots.overlap(shard.slots) > 0 {
                assigned.append((free.remove(at: best).index, shard))
            } else {
                rest.append(shard)
            }
        }
        var used = Set(current.map(\.index))
        var unserved = 0
        for shard in rest {
            if let index = (0..<limit).first(where: { !used.contains($0) }) {
                used.insert(index)
                assigned.append((index, shard))
            } else if !free.isEmpty {
                // A link no shard kept: its index serves the new shard (after its writes commit).
                assigned.append((free.removeFirst().index, shard))
            } else {
                unserved += 1
            }
        }
        return (assigned.sorted { $0.index < $1.index }, free.map(\.index).sorted(), unserved)
    }
}
