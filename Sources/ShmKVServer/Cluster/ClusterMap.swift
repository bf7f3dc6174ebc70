import Reactor
import StoreLayout

/// One node of a static cluster map: Redis's 40-hex-digit id, the address clients reach it at, and the
/// hash slots it owns.
struct ClusterNode: Sendable, Equatable {
    let id: String
    let host: String
    let port: Int
    /// Ranges of slots, in slot order.
    let ranges: [ClosedRange<Int>]
}

/// Redis Cluster's key → slot → node mapping, from configuration (`cluster.nodes`, `cluster.myId`): no
/// gossip, no failover, every slot owned by exactly one node, each node a master without replicas. With
/// no nodes configured this node owns all 16,384 slots (the "emulated cluster" other Redis-compatible
/// servers offer), so cluster-aware clients work against a single daemon.
struct ClusterMap: Sendable {
    static let slotCount = 16384
    let nodes: [ClusterNode]
    /// This node's index in `nodes`.
    let me: Int
    /// The owning node's index for each slot.
    private let owners: [UInt8]

    var myself: ClusterNode { nodes[me] }

    /// Parses `nodes` ("ID HOST:PORT SLOTS; …", SLOTS a comma-separated list of N or N-M) and finds
    /// this node by `myID`; with no nodes, this node (id `myID`, or one derived from `listen`) owns
    /// every slot at the address `listen` gives (`0.0.0.0`/`::` announced as 127.0.0.1).
    init(nodes text: String, myID: String, listen: String?) throws(ConfigurationError) {
        var parsed: [ClusterNode] = []
        for entry in text.split(separator: ";").map({ $0.split(separator: " ", omittingEmptySubsequences: true) }) where !entry.isEmpty {
            guard entry.count == 3 else {
                throw ConfigurationError("cluster.nodes: each node is \"ID HOST:PORT SLOTS\" (got \"\(entry.joined(separator: " "))\")")
            }
            let id = String(entry[0])
            guard ClusterMap.isNodeID(id) else { throw ConfigurationError("cluster.nodes: a node id is 40 hexadecimal digits (got \(id))") }
            guard case .tcp(let host, let port)? = Endpoint.parseHostPort(String(entry[1])) else {
                throw ConfigurationError("cluster.nodes: \(entry[1]) is not HOST:PORT")
            }
            var ranges: [ClosedRange<Int>] = []
            for part in entry[2].split(separator: ",") {
                let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { Int($0) }
                guard let low = bounds.first ?? nil, let high = bounds.count == 2 ? bounds[1] : low,
                      low >= 0, low <= high, high < ClusterMap.slotCount else {
                    throw ConfigurationError("cluster.nodes: \(part) is not a slot or range of slots 0-16383")
                }
                ranges.append(low...high)
            }
            parsed.append(ClusterNode(id: id.lowercased(), host: host, port: port, ranges: ranges.sorted { $0.lowerBound < $1.lowerBound }))
        }
        guard parsed.count < 256 else { throw ConfigurationError("cluster.nodes: at most 255 nodes") }
        if parsed.isEmpty {
            guard let listen, case .tcp(let host, let port)? = Endpoint.parseHostPort(listen) else {
                throw ConfigurationError("cluster.enabled needs a TCP listener (listen) for clients to be sent to")
            }
            let announced = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
            let id = myID.isEmpty ? ClusterMap.derivedID(from: "\(announced):\(port)") : myID.lowercased()
            guard ClusterMap.isNodeID(id) else { throw ConfigurationError("cluster.myId must be 40 hexadecimal digits (got \(myID))") }
            parsed = [ClusterNode(id: id, host: announced, port: port, ranges: [0...(ClusterMap.slotCount - 1)])]
        }
        guard let me = parsed.firstIndex(where: { $0.id == (myID.isEmpty ? parsed[0].id : myID.lowercased()) }),
              myID.isEmpty ? parsed.count == 1 : true else {
            throw ConfigurationError("cluster.myId must name one of cluster.nodes (got \"\(myID)\")")
        }
        var owners = [UInt8](repeating: UInt8.max, count: ClusterMap.slotCount)
        for (index, node) in parsed.enumerated() {
            for range in node.ranges {
                for slot in range {
                    guard owners[slot] == UInt8.max else { throw ConfigurationError("cluster.nodes: slot \(slot) has two owners") }
                    owners[slot] = UInt8(index)
                }
            }
        }
        if let free = owners.firstIndex(of: UInt8.max) { throw ConfigurationError("cluster.nodes: slot \(free) has no owner") }
        self.nodes = parsed
        self.me = me
        self.owners = owners
    }

    /// The node that owns `slot`.
    func owner(of slot: Int) -> ClusterNode { nodes[Int(owners[slot])] }

    func ownsSlot(_ slot: Int) -> Bool { Int(owners[slot]) == me }

    /// Redis's redirection for a request whose keys all hash to `slot`: `MOVED <slot> <host>:<port>` when
    /// another node owns it, nil when this one does. The same text over RESP and the native protocol.
    func redirection(forSlot slot: Int) -> String? {
        guard !ownsSlot(slot) else { return nil }
        let owner = owner(of: slot)
        return "MOVED \(slot) \(owner.host):\(owner.port)"
    }

    /// The slot check of both protocols: for a request whose keys `allKeys` visits, `CROSSSLOT` when
    /// they hash to different slots, the redirection when another node owns their slot, nil when this
    /// node serves them (or they are none).
    func refusal(_ allKeys: ((UnsafeRawBufferPointer) -> Bool) -> Bool) -> String? {
        var slot = -1
        let sameSlot = allKeys { key in
            let s = ClusterMap.slot(key)
            if slot < 0 { slot = s }
            return s == slot
        }
        guard sameSlot else { return ClusterMap.crossSlot }
        return slot < 0 ? nil : redirection(forSlot: slot)
    }

    /// `refusal` for a RESP command of the table: its keys at the entry's key positions.
    func refusal(_ command: Command, _ args: RESPArguments) -> String? {
        refusal { visit in command.keys.indices(in: args).allSatisfy { visit(args[$0]) } }
    }

    /// The refusal of a request whose keys hash to different slots, as Redis words it.
    static let crossSlot = "CROSSSLOT Keys in request don't hash to the same slot"

    /// Ranges of consecutive slots with one owner, in slot order (CLUSTER SLOTS).
    var slotRanges: [(range: ClosedRange<Int>, node: ClusterNode)] {
        nodes.flatMap { node in node.ranges.map { ($0, node) } }.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    static func isNodeID(_ id: String) -> Bool { id.utf8.count == 40 && id.utf8.allSatisfy { $0 < 128 && Character(Unicode.Scalar($0)).isHexDigit } }

    /// A stable id for a single node: 40 hex digits from the SHA-256 of its address.
    static func derivedID(from address: String) -> String {
        let digest = SHA256.digest(Array(address.utf8))
        return digest.prefix(20).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    // MARK: Hash slots

    /// Redis's key → slot: CRC16 (XMODEM) of the key, or of its hash tag — the bytes between the first
    /// `{` and the first `}` after it, when there are any — modulo 16384.
    static func slot(_ key: UnsafeRawBufferPointer) -> Int {
        var bytes = key
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            bytes = UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])
        }
        return Int(crc16(bytes)) & (slotCount - 1)
    }

    static func slot(_ key: [UInt8]) -> Int { key.withUnsafeBytes { slot($0) } }

    /// CRC-16/XMODEM (polynomial 0x1021, initial 0), as Redis's crc16.c.
    static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ crc16Table[Int((crc >> 8) ^ UInt16(byte)) & 0xFF] }
        return crc
    }

    private static let crc16Table: [UInt16] = (0..<256).map { n in
        var crc = UInt16(n) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
