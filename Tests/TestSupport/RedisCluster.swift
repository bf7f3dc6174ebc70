import Foundation
import Wire

/// A real Redis Cluster of Debian's redis-server: `primaries` shards with `replicas` replicas each, on
/// free loopback ports (and free cluster-bus ports), made by `redis-cli --cluster create`. The test's
/// own connections use each node's Unix socket. `stop()` (and `deinit`) kills every node.
public final class RedisCluster: @unchecked Sendable {
    // Invariant: used from one test at a time.
    public private(set) var nodes: [RedisServer]
    public private(set) var ports: [Int]

    public init(primaries: Int = 3, replicas: Int = 1) throws {
        var nodes: [RedisServer] = [], ports: [Int] = []
        for _ in 0..<(primaries * (1 + replicas)) {
            let port = freeTCPPort(), bus = freeTCPPort()
            nodes.append(try RedisServer(extraArguments: Self.arguments(port: port, bus: bus)))
            ports.append(port)
        }
        self.nodes = nodes
        self.ports = ports
        let created = try runProcess("/usr/bin/redis-cli", ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" }
                                     + ["--cluster-replicas", String(replicas), "--cluster-yes"], timeoutSeconds: 60)
        guard created.status == 0 else { throw DaemonError.didNotStart(status: created.status, stderr: "redis-cli --cluster create: \(created.stdout)") }
        // Every node agrees on the slots, and every replica's link is up.
        try wait("the cluster is formed, its replicas in sync", seconds: 60) {
            try nodes.indices.allSatisfy { i in
                guard try clusterState(i) == "ok" else { return false }
                return try role(i) == "master" || info(i, "master_link_status") == "up"
            }
        }
    }

    /// A new primary, empty and serving no slot yet (`redis-cli --cluster add-node`); its index.
    public func addPrimary() throws -> Int {
        let port = freeTCPPort(), bus = freeTCPPort()
        nodes.append(try RedisServer(extraArguments: Self.arguments(port: port, bus: bus)))
        ports.append(port)
        let added = try runProcess("/usr/bin/redis-cli", ["--cluster", "add-node", "127.0.0.1:\(port)", "127.0.0.1:\(ports[0])"], timeoutSeconds: 60)
        guard added.status == 0 else { throw DaemonError.didNotStart(status: added.status, stderr: "redis-cli --cluster add-node: \(added.stdout)") }
        let i = nodes.count - 1
        // Every node must know it (gossip) before slots can be given to it: CLUSTER SETSLOT on a node
        // that does not answers "Unknown node".
        let newID = try id(i)
        try wait("every node knows the new node", seconds: 60) {
            try clusterState(i) == "ok" && nodes.indices.allSatisfy { n in
                guard case .bulk(let text) = try connection(n).call("CLUSTER", "NODES") else { return false }
                return String(decoding: text, as: UTF8.self).contains(newID)
            }
        }
        return i
    }

    /// Moves `count` slots from node `from` to node `to` (`redis-cli --cluster reshard`: MIGRATE).
    public func reshard(from: Int, to: Int, count: Int) throws -> ProcessResult {
        try runProcess("/usr/bin/redis-cli", ["--cluster", "reshard", "127.0.0.1:\(ports[from])", "--cluster-from", try id(from),
                                              "--cluster-to", try id(to), "--cluster-slots", String(count), "--cluster-yes",
                                              "--cluster-pipeline", "10"], timeoutSeconds: 120)
    }

    static func arguments(port: Int, bus: Int) -> [String] {
        ["--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-port", String(bus),
         "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
         "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
    }

    /// A connection to node `i` (its Unix socket).
    public func connection(_ i: Int) throws -> RESPTestConnection { try RESPTestConnection(unixPath: nodes[i].socketPath) }

    /// The node listening on `port`.
    public func node(port: Int) -> Int? { ports.firstIndex(of: port) }

    public func clusterState(_ i: Int) throws -> String? {
        guard case .bulk(let text) = try connection(i).call("CLUSTER", "INFO") else { return nil }
        return Self.field(text, "cluster_state")
    }

    /// A field of node `i`'s INFO `section`.
    public func info(_ i: Int, _ field: String, section: String = "replication") throws -> String? {
        guard case .bulk(let text) = try connection(i).call("INFO", section) else { return nil }
        return Self.field(text, field)
    }

    public static func field(_ text: [UInt8], _ name: String) -> String? {
        for line in String(decoding: text, as: UTF8.self).split(separator: "\r\n") where line.hasPrefix(name + ":") {
            return String(line.dropFirst(name.count + 1))
        }
        return nil
    }

    /// "master" or "slave".
    public func role(_ i: Int) throws -> String? {
        guard case .array(let fields) = try connection(i).call("ROLE"), case .bulk(let role)? = fields.first else { return nil }
        return String(decoding: role, as: UTF8.self)
    }

    /// The primaries now, by index.
    public func primaries() throws -> [Int] { try nodes.indices.filter { try role($0) == "master" } }

    /// Node `i`'s 40-hex-digit id.
    public func id(_ i: Int) throws -> String {
        guard case .bulk(let id) = try connection(i).call("CLUSTER", "MYID") else { return "" }
        return String(decoding: id, as: UTF8.self)
    }

    /// For each slot, the index of the node that serves it (as node `i` sees the cluster).
    public func slotOwners(asking i: Int = 0) throws -> [Int] {
        var owners = [Int](repeating: -1, count: 16384)
        guard case .array(let entries) = try connection(i).call("CLUSTER", "SLOTS") else { return owners }
        for case .array(let fields) in entries {
            guard fields.count >= 3, case .integer(let low) = fields[0], case .integer(let high) = fields[1],
                  case .array(let primary) = fields[2], primary.count >= 2, case .integer(let port) = primary[1],
                  let node = node(port: Int(port)) else { continue }
            for slot in Int(low)...Int(high) { owners[slot] = node }
        }
        return owners
    }

    /// Waits (at most `seconds`) until `condition` holds, else throws naming `what`.
    public func wait(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try !condition() {
            guard Date() < deadline else { throw DaemonError.didNotStart(status: -1, stderr: "not within \(seconds) s: \(what)") }
            usleep(100_000)
        }
    }

    public func stop() { for node in nodes { node.stop() } }

    deinit { stop() }
}
