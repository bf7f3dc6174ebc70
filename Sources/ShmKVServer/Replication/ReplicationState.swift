import Locks
import Logging
import Wire
import Reactor
import Synchronization

/// Where a replica's link to its primary is, as INFO replication and ROLE tell it.
enum LinkPhase: String, Sendable {
    /// Connecting (or waiting to connect again after a failure).
    case connecting
    /// PING, AUTH, REPLCONF and PSYNC exchanged.
    case handshake
    /// A full sync's RDB is arriving.
    case sync
    /// The command stream flows.
    case connected
}

/// One link's state, shared between its reactor (which updates it) and whoever reports it.
struct LinkStatus: Sendable {
    var primary: Endpoint
    var phase = LinkPhase.connecting
    /// The primary's replication id this link follows ("?" before the first sync).
    var replicationID = "?"
    /// The offset of the last byte of the primary's stream read and handled, and of the last one whose
    /// effect is committed (what REPLCONF ACK reports, and what a restart resumes from).
    var receivedOffset: Int64 = -1
    var appliedOffset: Int64 = -1
    /// When the primary last sent anything, and since when the link is down (monotonic seconds).
    var lastIO = 0
    var downSince: Int? = 0
    /// The full sync in progress: RDB bytes received, of how many (nil: diskless, unknown), keys staged.
    var syncReceived = 0
    var syncSize: Int?
    var syncKeys = 0
    /// Completed syncs of either kind, and when applied bytes last caught up with received ones.
    var fullSyncs = 0
    var partialSyncs = 0
    var caughtUpAt = 0
    /// Bytes read from the primary and not yet committed.
    var lagBytes: Int64 { max(receivedOffset - appliedOffset, 0) }

    /// Seconds since everything read was last committed (0 while it is).
    func lagSeconds(now: Int) -> Int { appliedOffset >= receivedOffset ? 0 : now - caughtUpAt }

    /// Keys of the last full sync that ShmKV does not hold (streams with groups, module values…).
    var refusedKeys = 0
    /// The last error of the link, for INFO.
    var lastError = ""
    /// Commands of the primary's stream that failed here (a command or an option ShmKV does not have:
    /// the copy departs from the primary's there), and the last one's error.
    var failedCommands = 0
    var lastFailure = ""
    /// The slots of the cluster shard this link follows (nil: a single primary, the whole dataset).
    var slots: SlotSet?
    /// A link stopped (REPLICAOF, or a cluster link whose slots went elsewhere): reported by nobody.
    var retired = false
}

/// The daemon's replication role: whether it follows primaries, and each link's state.
final class ReplicationState: Sendable {
    /// One entry per link (a single primary: link 0; a cluster: one per shard, by link index).
    let links = Locked<[LinkStatus]>([])
    /// The cluster followed, if any (`replication.cluster`).
    let cluster = Locked<ClusterStatus?>(nil)
    /// Whether the daemon is a replica now (REPLICAOF can change it): clients' writes answer READONLY,
    /// and keys are not expired here (the primary's DELs remove them).
    let isReplica = Atomic<Bool>(false)
    /// replica-read-only and replica-serve-stale-data, as CONFIG SET leaves them.
    let readOnly: Atomic<Bool>
    let serveStaleData: Atomic<Bool>
    /// The replication marks in `__meta` may describe data that is no longer the primary's: set while
    /// the daemon is not a replica (at start, after REPLICAOF NO ONE); the first batch that changes a
    /// key then deletes them, so that following a primary again starts with a full sync (Redis gives a
    /// promoted replica a new history for the same reason). A follow before any change may resume.
    let marksMayBeStale = Atomic<Bool>(true)
    /// The TCP port this daemon listens on (REPLCONF listening-port; 0: none).
    let listeningPort = Atomic<Int>(0)

    init(configuration: ServerConfiguration) {
        readOnly = Atomic(configuration.replicationReadOnly)
        serveStaleData = Atomic(configuration.replicationServeStaleData)
    }

    /// Whether a client's write must be refused with READONLY.
    var refusesWrites: Bool { isReplica.load(ordering: .relaxed) && readOnly.load(ordering: .relaxed) }

    /// Whether clients get MASTERDOWN: a replica that must not serve stale data, with no link up.
    var primaryDown: Bool {
        guard isReplica.load(ordering: .relaxed), !serveStaleData.load(ordering: .relaxed) else { return false }
        return links.withLock { links in links.contains { !$0.retired && $0.phase != .connected } }
    }

    /// A command of link `link`'s stream failed: counted, and the first ten (then every thousandth)
    /// logged, with its name and the error.
    func noteFailure(_ link: Int, _ args: RESPArguments?, _ reply: ArraySlice<UInt8>, _ logger: Logger) {
        let error = String(decoding: reply.prefix(200), as: UTF8.self).trimmingNewline
        let name = args.map { " " + $0.string(0).uppercased() } ?? ""
        var count = 0
        update(link) {
            $0.failedCommands += 1
            $0.lastFailure = "\(name.isEmpty ? "a write" : String(name.dropFirst())): \(error)"
            count = $0.failedCommands
        }
        if count <= 10 || count % 1000 == 0 {
            logger.warning("replication: the primary's command\(name) failed here (\(count) so far), the copy departs from the primary: \(error)")
        }
    }

    func update(_ link: Int, _ body: (inout LinkStatus) -> Void) {
        links.withLock { links in if link < links.count { body(&links[link]) } }
    }

    /// The links in use, by index (a cluster's retired links left out).
    var activeLinks: [(index: Int, status: LinkStatus)] {
        links.withLock { links in links.enumerated().filter { !$0.element.retired }.map { ($0.offset, $0.element) } }
    }

    func status(_ link: Int) -> LinkStatus? { links.withLock { link < $0.count ? $0[link] : nil } }

    /// What `__meta` keeps for a link: "REPLID OFFSET DB HOST:PORT", and the slots of a cluster's shard.
    static func mark(replicationID: String, offset: Int64, database: Int, primary: Endpoint, slots: SlotSet?) -> [UInt8] {
        Array("\(replicationID) \(offset) \(database) \(primary)\(slots.map { " " + $0.text } ?? "")".utf8)
    }
}

/// A link's mark in `__meta`, read back.
struct ReplicationMark: Equatable {
    let replicationID: String
    let offset: Int64
    let database: Int
    let primary: Endpoint?
    /// The slots of the shard the link followed (nil: a single primary's whole dataset).
    let slots: SlotSet?

    /// nil if `bytes` is not a mark.
    init?(_ bytes: [UInt8]) {
        let words = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard words.count >= 3, let offset = Int64(words[1]), let database = Int(words[2]), offset >= 0, database >= 0 else { return nil }
        replicationID = String(words[0])
        self.offset = offset
        self.database = database
        primary = words.count > 3 ? Endpoint.parseHostPort(String(words[3])) : nil
        slots = words.count > 4 ? SlotSet(text: String(words[4])) : nil
    }
}

extension String {
    /// Without the `\r\n` (and anything after it) of a RESP line.
    fileprivate var trimmingNewline: String { String(prefix { $0 != "\r" && $0 != "\n" }) }
}
