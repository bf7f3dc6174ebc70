import Configuration
import Foundation
import Logging
import NotifyRing
import Reactor
import Yams
#if canImport(Glibc)
import Glibc
#endif

/// How a write is made durable; shown in stats. Every mode acknowledges a write only after its batch
/// committed, so a killed daemon loses no acknowledged write in any mode.
public enum Durability: String, Sendable, CaseIterable {
    /// LMDB's synced commit, once per batch (default).
    case durable
    /// `MDB_NOMETASYNC`: an OS crash may lose the last batch, never the file.
    case fast
    /// `MDB_NOSYNC` plus a timed `mdb_env_sync`: for caches.
    case volatile
}

/// Everything `shmkvd` can be told. Defaults are embedded here, so the daemon runs with no file at all;
/// `Config/shmkvd.yaml` documents every key with the same defaults.
public struct ServerConfiguration: Sendable, Equatable {
    /// Data directory (created 0700 if missing): `data.mdb`, `lock.mdb`, `shmkvd.pid`.
    public var dataDirectory = "./data"
    /// Unix socket path; `nil` disables the Unix listener. Default: `<dataDirectory>/shmkvd.sock`.
    public var socketPath: String? = "./data/shmkvd.sock"
    /// TCP listen address `HOST:PORT`; `nil` disables TCP.
    public var listen: String? = "127.0.0.1:7379"
    /// Reactor threads; 0 means one per core.
    public var threads = 0
    /// LMDB map size in bytes at start (address space; free on 64-bit). The writer doubles it when it
    /// is full or more than 80% used, up to `maxMapSize`.
    public var mapSize = 64 << 30
    /// Largest map size the writer grows to (`storage.maxMapSize`, 1 TiB); a batch that still does not fit
    /// fails with nothing of it written.
    public var maxMapSize = 1 << 40
    /// LMDB reader slots (sized by the first process that opens the environment).
    public var maxReaders = 1024
    /// How commits reach the disk: `durable` syncs each batch's commit; `fast` skips the meta page's sync
    /// (an OS crash may lose the last batch, never the file); `volatile` syncs every `syncInterval`
    /// seconds. In every mode a write is acknowledged only after its batch committed.
    public var durability = Durability.durable
    /// Seconds between `mdb_reader_check` runs.
    public var readerCheckInterval = 30
    /// Seconds between `mdb_env_sync` calls in `volatile` mode.
    public var syncInterval = 1
    /// Largest value accepted, in bytes.
    public var maxValueSize = 64 << 20
    /// Largest native frame (header + body) accepted, in bytes.
    public var maxFrameSize = (64 << 20) + (64 << 10)
    /// Connections served at once; one more is told so and closed.
    public var maxClients = 10_000
    /// Redis's numbered databases (SELECT 0 to databases-1), 1 to 64.
    public var databases = 16
    /// Unsent reply bytes after which a connection is not read until its client catches up.
    public var maxOutputBuffer = 64 << 20
    /// Bytes of requests one connection may have buffered and not yet answered (Redis's
    /// `client-query-buffer-limit`): unparsed input and queued writes. Past it the connection is closed.
    public var maxQueryBuffer = 128 << 20
    /// Seconds a connection may stay silent before it is closed (Redis's `timeout`); 0 = never.
    /// Pub/sub and WATCH connections are exempt, as in Redis.
    public var idleTimeout = 0
    /// Pub/sub and WATCH connections (Redis's `client-output-buffer-limit pubsub 32mb 8mb 60`): closed at
    /// once when unsent events reach the hard limit, or when they stay above the soft limit for
    /// `pubsubSoftSeconds`.
    public var pubsubHardLimit = 32 << 20
    /// Soft limit in bytes (see `pubsubHardLimit`).
    public var pubsubSoftLimit = 8 << 20
    /// Seconds a connection may stay above `pubsubSoftLimit` before it is closed.
    public var pubsubSoftSeconds = 60
    /// Most entries one SCAN reply carries (and the default when a request asks for 0).
    public var maxScanLimit = 1000
    /// Requests handled per connection per loop iteration before others get a turn.
    public var maxRequestsPerEvent = 256
    /// Most operations in one group-commit batch.
    public var batchMaxOperations = 1024
    /// Most payload bytes in one group-commit batch.
    public var batchMaxBytes = 16 << 20
    /// swift-log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel = Logger.Level.info
    /// Notification ring file; `nil` means `/dev/shm/shmkv-<environment id>.ring`.
    public var ringPath: String? = nil
    /// Bytes in the ring's data area (a power of two, 4 KiB to 1 GiB).
    public var ringCapacity = 4 << 20
    /// The longest PUBLISH message, channel and payload together (`ring.maxMessageSize`); at most a
    /// quarter of the ring less a record header.
    public var ringMaxMessageSize = 64 << 10
    /// RESP request limits (Redis's proto-max-bulk-len, multibulk count, inline line length).
    public var respMaxBulkLength = 512 << 20
    /// Most arguments in one multibulk request (`resp.maxMultibulkCount`).
    public var respMaxMultibulkCount = 1 << 20
    /// Longest inline command or header line (`resp.maxInlineLength`).
    public var respMaxInlineLength = 64 << 10
    /// Redis's `notify-keyspace-events` at start (`resp.notifyKeyspaceEvents`; CONFIG SET changes it
    /// while the daemon runs).
    public var respNotifyKeyspaceEvents = "KEA"
    /// FLUSHDB/FLUSHALL: `auto` allows them when every listener is loopback or a Unix socket.
    public var respAllowFlush = "auto"
    /// SHUTDOWN: `auto` allows it when every listener is loopback or a Unix socket.
    public var respAllowShutdown = "auto"
    /// Passwords, users and protected mode.
    public var auth = AuthConfiguration()
    /// Redis Cluster's protocol over a static slot map (`cluster.enabled`).
    public var clusterEnabled = false
    /// This node's id among `cluster.nodes` (40 hex digits); empty with no nodes: derived from the address.
    public var clusterMyID = ""
    /// The slot map: "ID HOST:PORT SLOTS; …" (`cluster.nodes`); empty: this node owns every slot.
    public var clusterNodes = ""
    /// The Redis or Valkey primary this daemon follows as a replica, "HOST:PORT" (`replication.primary`);
    /// empty: none (REPLICAOF changes it while the daemon runs).
    public var replicationPrimary = ""
    /// Any node of a Redis Cluster to follow whole, "HOST:PORT" (`replication.cluster`): every shard's
    /// primary gets a link, and the store holds the union of the shards. Empty: none.
    public var replicationCluster = ""
    /// A file holding the password the replica authenticates with (Redis's masterauth), and the user
    /// (masteruser; empty: AUTH with the password alone).
    public var replicationPrimaryAuthFile = ""
    public var replicationPrimaryUser = ""
    /// Redis's replica-read-only: clients' writes to a replica answer READONLY.
    public var replicationReadOnly = true
    /// Redis's replica-serve-stale-data: while the link is down or the first sync runs, clients still
    /// read the dataset held (no: they get MASTERDOWN).
    public var replicationServeStaleData = true
    /// A group that may read the store directly and follow the ring (`access.group`): the data directory
    /// becomes 0750, `lock.mdb`, the ring and the socket 0660, `data.mdb` 0640, all of that group.
    /// Empty: only this user (0700 and 0600).
    public var accessGroup = ""

    /// The embedded defaults, the same as `Config/shmkvd.yaml`.
    public init() {}

    /// The Unix socket path with the default derived from the data directory.
    public static func defaultSocketPath(dataDirectory: String) -> String {
        dataDirectory.hasSuffix("/") ? dataDirectory + "shmkvd.sock" : dataDirectory + "/shmkvd.sock"
    }

    /// Reads every key from `reader` (file < environment < flags, as the caller stacked them), with the
    /// embedded defaults for what no provider has. Throws `ConfigurationError` for a value out of range.
    public init(reader: ConfigReader, environment: [String: String] = [:], file: String? = nil) throws(ConfigurationError) {
        let d = ServerConfiguration()
        let values = ConfigValues(reader: reader)
        self.auth = try AuthConfiguration(values: values, environment: environment, file: file)
        dataDirectory = try values.string("dataDir") ?? d.dataDirectory
        switch try values.string("socket") ?? "" {
        case "": socketPath = ServerConfiguration.defaultSocketPath(dataDirectory: dataDirectory)
        case "none", "off": socketPath = nil
        case let path: socketPath = path
        }
        let listenText = try values.string("listen") ?? d.listen!
        listen = ["", "none", "off"].contains(listenText) ? nil : listenText
        threads = try values.int("threads") ?? d.threads
        mapSize = try values.int("storage.mapSize") ?? d.mapSize
        maxMapSize = try values.int("storage.maxMapSize") ?? d.maxMapSize
        maxReaders = try values.int("storage.maxReaders") ?? d.maxReaders
        let durabilityText = try values.string("storage.durability") ?? d.durability.rawValue
        guard let durability = Durability(rawValue: durabilityText) else {
            throw ConfigurationError("storage.durability must be one of durable, fast, volatile (got \(durabilityText))")
        }
        self.durability = durability
        readerCheckInterval = try values.int("storage.readerCheckInterval") ?? d.readerCheckInterval
        syncInterval = try values.int("storage.syncInterval") ?? d.syncInterval
        maxValueSize = try values.int("limits.maxValueSize") ?? d.maxValueSize
        maxFrameSize = try values.int("limits.maxFrameSize") ?? d.maxFrameSize
        maxClients = try values.int("limits.maxClients") ?? d.maxClients
        databases = try values.int("databases") ?? d.databases
        maxOutputBuffer = try values.int("limits.maxOutputBuffer") ?? d.maxOutputBuffer
        maxQueryBuffer = try values.int("limits.maxQueryBuffer") ?? d.maxQueryBuffer
        idleTimeout = try values.int("limits.idleTimeout") ?? d.idleTimeout
        pubsubHardLimit = try values.int("limits.pubsubHardLimit") ?? d.pubsubHardLimit
        pubsubSoftLimit = try values.int("limits.pubsubSoftLimit") ?? d.pubsubSoftLimit
        pubsubSoftSeconds = try values.int("limits.pubsubSoftSeconds") ?? d.pubsubSoftSeconds
        maxScanLimit = try values.int("limits.maxScanLimit") ?? d.maxScanLimit
        maxRequestsPerEvent = try values.int("limits.maxRequestsPerEvent") ?? d.maxRequestsPerEvent
        batchMaxOperations = try values.int("batch.maxOperations") ?? d.batchMaxOperations
        batchMaxBytes = try values.int("batch.maxBytes") ?? d.batchMaxBytes
        let ringText = try values.string("ring.path") ?? ""
        ringPath = ringText.isEmpty ? nil : ringText
        ringCapacity = try values.int("ring.capacity") ?? d.ringCapacity
        ringMaxMessageSize = try values.int("ring.maxMessageSize") ?? d.ringMaxMessageSize
        respMaxBulkLength = try values.int("resp.maxBulkLength") ?? d.respMaxBulkLength
        respMaxMultibulkCount = try values.int("resp.maxMultibulkCount") ?? d.respMaxMultibulkCount
        respMaxInlineLength = try values.int("resp.maxInlineLength") ?? d.respMaxInlineLength
        respAllowFlush = try values.string("resp.allowFlush") ?? d.respAllowFlush
        respAllowShutdown = try values.string("resp.allowShutdown") ?? d.respAllowShutdown
        respNotifyKeyspaceEvents = try values.string("resp.notifyKeyspaceEvents") ?? d.respNotifyKeyspaceEvents
        accessGroup = try values.string("access.group") ?? d.accessGroup
        clusterEnabled = try values.flag("cluster.enabled") ?? d.clusterEnabled
        clusterMyID = try values.string("cluster.myId") ?? d.clusterMyID
        clusterNodes = try values.string("cluster.nodes") ?? d.clusterNodes
        replicationPrimary = try values.string("replication.primary") ?? d.replicationPrimary
        replicationCluster = try values.string("replication.cluster") ?? d.replicationCluster
        replicationPrimaryAuthFile = try values.string("replication.primaryAuthFile") ?? d.replicationPrimaryAuthFile
        replicationPrimaryUser = try values.string("replication.primaryUser") ?? d.replicationPrimaryUser
        replicationReadOnly = try values.flag("replication.readOnly") ?? d.replicationReadOnly
        replicationServeStaleData = try values.flag("replication.serveStaleData") ?? d.replicationServeStaleData
        let levelText = try values.string("logLevel") ?? d.logLevel.rawValue
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ConfigurationError("logLevel must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")) (got \(levelText))")
        }
        logLevel = level
        try validate()
    }

    /// Whether FLUSHDB/FLUSHALL are allowed: `yes`, `no`, or with `auto` when TCP is off or bound to
    /// loopback.
    public var flushAllowed: Bool { allowed(respAllowFlush) }

    /// Whether SHUTDOWN is allowed: as `flushAllowed`, by `resp.allowShutdown`.
    public var shutdownAllowed: Bool { allowed(respAllowShutdown) }

    private func allowed(_ setting: String) -> Bool {
        switch setting {
        case "yes": return true
        case "no": return false
        default:
            guard let listen, case .tcp(let host, _)? = Endpoint.parseHostPort(listen) else { return true }
            return Socket.isLoopback(host: host)
        }
    }

    /// Where the ring lives for the environment with id `environmentID`.
    public func effectiveRingPath(environmentID: String) -> String {
        ringPath ?? "/dev/shm/shmkv-\(environmentID).ring"
    }

    /// The longest message the ring takes: `ring.maxMessageSize`, lowered to a quarter of the ring less
    /// a record header when the ring is too small for it.
    public var maxMessageSize: Int { min(ringMaxMessageSize, ringCapacity / 4 - RingLayout.recordHeaderSize) }

    /// Reactor threads to run: `threads`, or one per core.
    public var effectiveThreads: Int {
        threads > 0 ? threads : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The configuration as YAML in the layout of `Config/shmkvd.yaml` (`shmkvd --print-config`).
    public func renderYAML() -> String {
        """
        dataDir: \(quoted(dataDirectory))
        socket: \(quoted(socketPath ?? "none"))
        listen: \(quoted(listen ?? "none"))
        threads: \(threads)
        logLevel: \(logLevel.rawValue)
        databases: \(databases)
        storage:
          mapSize: \(mapSize)
          maxMapSize: \(maxMapSize)
          maxReaders: \(maxReaders)
          durability: \(durability.rawValue)
          readerCheckInterval: \(readerCheckInterval)
          syncInterval: \(syncInterval)
        limits:
          maxValueSize: \(maxValueSize)
          maxFrameSize: \(maxFrameSize)
          maxClients: \(maxClients)
          maxOutputBuffer: \(maxOutputBuffer)
          maxQueryBuffer: \(maxQueryBuffer)
          idleTimeout: \(idleTimeout)
          pubsubHardLimit: \(pubsubHardLimit)
          pubsubSoftLimit: \(pubsubSoftLimit)
          pubsubSoftSeconds: \(pubsubSoftSeconds)
          maxScanLimit: \(maxScanLimit)
          maxRequestsPerEvent: \(maxRequestsPerEvent)
        batch:
          maxOperations: \(batchMaxOperations)
          maxBytes: \(batchMaxBytes)
        ring:
          path: \(quoted(ringPath ?? ""))
          capacity: \(ringCapacity)
          maxMessageSize: \(ringMaxMessageSize)
        resp:
          maxBulkLength: \(respMaxBulkLength)
          maxMultibulkCount: \(respMaxMultibulkCount)
          maxInlineLength: \(respMaxInlineLength)
          allowFlush: \(respAllowFlush)
          allowShutdown: \(respAllowShutdown)
          notifyKeyspaceEvents: \(quoted(respNotifyKeyspaceEvents))
        auth:
          passwordFile: \(quoted(auth.passwordFile))
          allowUnauthenticatedRemote: \(auth.allowUnauthenticatedRemote ? "yes" : "no")
          timeout: \(auth.timeout)
          users: \(auth.users.isEmpty ? "{}" : "{" + auth.users.map { renderUser($0) }.joined(separator: ", ") + "}")
        access:
          group: \(quoted(accessGroup))
        cluster:
          enabled: \(clusterEnabled ? "yes" : "no")
          myId: \(quoted(clusterMyID))
          nodes: \(quoted(clusterNodes))
        replication:
          primary: \(quoted(replicationPrimary))
          cluster: \(quoted(replicationCluster))
          primaryAuthFile: \(quoted(replicationPrimaryAuthFile))
          primaryUser: \(quoted(replicationPrimaryUser))
          readOnly: \(replicationReadOnly ? "yes" : "no")
          serveStaleData: \(replicationServeStaleData ? "yes" : "no")

        """
    }

    private func renderUser(_ user: UserConfiguration) -> String {
        let permissions = Permissions.names.filter { user.permissions.contains($0.1) }.map(\.0).joined(separator: ", ")
        let prefixes = user.keyPrefixes.map(quoted).joined(separator: ", ")
        return "\(quoted(user.name)): {passwordFile: \(quoted(user.passwordFile)), permissions: [\(permissions)], keyPrefixes: [\(prefixes)]}"
    }

    private func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
