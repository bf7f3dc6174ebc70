import Posix
import RDB
import Reactor
import StoreLayout
import Wire

/// One connection of a replica to its primary, from the handshake to the command stream (Redis's
/// syncWithMaster, readSyncBulkPayload and the master client): PING, AUTH, REPLCONF listening-port and
/// capa, PSYNC; then either the full sync's RDB, read record by record into the link's staging sets
/// and adopted in one transaction, or straight the stream; then the stream's commands, through a RESP
/// session whose replies go nowhere. Everything is non-blocking, on the link's reactor.
final class ReplicaSession {
    enum Step {
        case pong, auth, listeningPort, capabilities, psync
        /// +FULLRESYNC read; the transfer's header comes (after keepalive newlines).
        case transferHeader
        case transferring(FullSyncReader)
        /// The RDB is read; its last staged keys and the adoption are with the writer.
        case adopting
        case streaming(RESPSession)
    }

    unowned(unsafe) let connection: ServerConnection
    let link: ReplicaLink
    private(set) var step = Step.pong
    /// What the writer has of this session's full sync, in the order it answers: staged pieces,
    /// discards, the adoption.
    private var inFlight: [InFlight] = []
    private enum InFlight { case stage, discard, adopt }
    /// Keys read and not staged yet, their records and bytes.
    private var pending: [RDBKey] = []
    private var pendingRecords = 0, pendingBytes = 0
    /// The staging sets this sync uses (emptied before its first key), its libraries, keys refused.
    private var staged: [Int: StoreDatabases] = [:]
    private var functions: [[UInt8]] = []
    private var syncID = "", syncOffset: Int64 = 0, streamDatabase = 0
    /// Whether the input holds a piece fed to the transfer but not yet consumed (see `FullSyncReader`).
    private var fedPiece = false
    /// A REPLCONF GETACK was read: an ACK goes out after this turn.
    var ackRequested = false

    static let pieceKeys = 1000, pieceBytes = 4 << 20, piecesInFlight = 4

    init(connection: ServerConnection, link: ReplicaLink) {
        self.connection = connection
        self.link = link
    }

    var context: ServerContext { connection.context }

    /// The first line of the handshake.
    func begin() {
        send(["PING"])
    }

    private func send(_ words: [String]) {
        RESPWriter.command(words, into: &connection.output)
    }

    private func fail(_ reason: String) {
        link.failed(reason)
        connection.close()
    }

    // MARK: Input

    func process() {
        while connection.acceptsRequests {
            switch step {
            case .streaming(let resp):
                resp.processRequests()
                link.streamed(self)
                return
            case .transferring:
                guard transfer() else { return }
            case .adopting:
                // The stream waits until the new dataset is in place.
                connection.pause(.waitingForCompletion)
                return
            default:
                guard connection.input.readableCount > 0 else { return }
                do {
                    guard try handshakeStep() else { return }
                } catch {
                    return fail("\(error)")
                }
            }
        }
    }

    /// One reply of the handshake; false when it is incomplete.
    private func handshakeStep() throws -> Bool {
        if case .transferHeader = step {
            guard let (framing, used) = try ReplicationProtocol.transferHeader(connection.input.readable) else { return false }
            connection.consumeInput(used)
            link.heard()
            if let framing {
                if case .sized(let size) = framing { link.state { $0.syncSize = size } }
                step = .transferring(FullSyncReader(framing: framing))
            }
            return true
        }
        guard let (line, used) = try ReplicationProtocol.line(connection.input.readable) else { return false }
        connection.consumeInput(used)
        link.heard()
        let text = String(decoding: line, as: UTF8.self)
        switch step {
        case .pong:
            // Redis accepts an authentication error here: AUTH comes next.
            guard text == "+PONG" || text.hasPrefix("-NOAUTH") || text.hasPrefix("-NOPERM") || text.hasPrefix("-ERR operation not permitted") else {
                throw ReplicationError("the primary answered PING with \(text.prefix(200))")
            }
            if let password = link.password {
                send(["AUTH"] + (link.user.isEmpty ? [] : [link.user]) + [password])
                step = .auth
            } else {
                sendReplconf()
            }
        case .auth:
            guard text.first == "+" else { throw ReplicationError("AUTH on the primary: \(text.dropFirst().prefix(200))") }
            sendReplconf()
        case .listeningPort:
            // An old primary may not know it; Redis goes on.
            step = .capabilities
        case .capabilities:
            step = .psync
            let (id, offset) = link.resumePoint()
            send(["PSYNC", id, String(offset)])
        case .psync:
            // A primary may send bare newlines before its reply, to keep the connection alive.
            guard !line.isEmpty else { return true }
            try psyncReply(try ReplicationProtocol.psyncReply(line))
        default:
            break
        }
        return true
    }

    /// REPLCONF listening-port and capa (sent together; PSYNC waits for both replies: a primary refuses
    /// PSYNC with replies pending).
    private func sendReplconf() {
        send(["REPLCONF", "listening-port", String(link.listeningPort)])
        send(["REPLCONF", "capa", "eof", "capa", "psync2"])
        step = .listeningPort
    }

    private func psyncReply(_ reply: PsyncReply) throws {
        switch reply {
        case .fullResync(let id, let offset):
            syncID = id
            syncOffset = offset
            link.state {
                $0.phase = .sync
                $0.syncReceived = 0
                $0.syncSize = nil
                $0.syncKeys = 0
                $0.refusedKeys = 0
            }
            context.logger.notice("full sync from \(link.primary): replication id \(id), offset \(offset)")
            step = .transferHeader
        case .partial(let newID):
            let (id, offset) = link.resumePoint()
            let database = link.resumeDatabase
            link.state {
                if let newID { $0.replicationID = newID }
                $0.partialSyncs += 1
            }
            let change = newID.map { $0 == id ? "" : " (its new replication id \($0), was \(id))" } ?? ""
            context.logger.notice("partial resync from \(link.primary) from offset \(offset)\(change)")
            startStreaming(offset: offset - 1, database: database)
        case .error(let message):
            throw ReplicationError("PSYNC on the primary: \(message)")
        }
    }

    // MARK: Full sync

    /// Reads what the input holds of the transfer; false when it must wait (more input, or the writer).
    private func transfer() -> Bool {
        guard case .transferring(var reader) = step else { return false }
        defer { if case .transferring = step { step = .transferring(reader) } }
        do {
            if !fedPiece {
                guard connection.input.readableCount > 0 else { return false }
                reader.feed(connection.input.readable)
                fedPiece = true
                link.heard()
            }
            while let record = try reader.next() {
                try take(record)
                if inFlight.count >= Self.piecesInFlight {
                    // The writer catches up first; `completed` resumes the reading.
                    connection.pause(.waitingForCompletion)
                    return false
                }
            }
            connection.consumeInput(reader.takenOfLastFeed)
            fedPiece = false
            link.state { $0.syncReceived = reader.received }
            guard reader.isComplete else { return true }
            stagePending()
            submit(.adopt(Adoption(link: link.index, sets: staged,
                                   mark: ReplicationState.mark(replicationID: syncID, offset: syncOffset, database: streamDatabase,
                                                               primary: link.primary, slots: link.slots),
                                   functions: functions, context: context, records: link.status.syncKeys * 3,
                                   slots: link.slots, keep: link.follower?.claims.keys(claimedByOtherThan: link.index) ?? [])), .adopt)
            step = .adopting
            return true
        } catch {
            fail("\(error)")
            return false
        }
    }

    private func take(_ record: RDBRecord) throws {
        switch record {
        case .aux(let key, let value):
            if key.elementsEqual("repl-stream-db".utf8), let db = Int(String(decoding: value, as: UTF8.self)) { streamDatabase = db }
        case .selectDatabase(let database):
            guard database < context.store.databaseCount else {
                throw ReplicationError("the primary's RDB holds database \(database); this daemon has \(context.store.databaseCount) (databases)")
            }
        case .key(let key):
            if staged[key.database] == nil {
                let set = try context.store.environment.openStagingDatabases(link: link.index, database: key.database)
                staged[key.database] = set
                submit(.discard([key.database: set]), .discard)
            }
            pendingRecords += key.value.elementCount + 2
            pendingBytes += key.key.count + key.value.approximateBytes
            pending.append(key)
            link.state { $0.syncKeys += 1 }
            if pending.count >= Self.pieceKeys || pendingBytes >= Self.pieceBytes { stagePending() }
        case .function(let code):
            functions.append(code)
        case .refused(let refusal):
            link.state { $0.refusedKeys += 1 }
            context.logger.warning("full sync: db \(refusal.database) key \(String(decoding: refusal.key.prefix(100), as: UTF8.self).debugDescription) is \(refusal.what), not kept by ShmKV")
        case .moduleAux(let name):
            context.logger.warning("full sync: module AUX data of '\(name)' stepped over")
        case .resizeDatabase, .end:
            break
        }
    }

    private func stagePending() {
        guard !pending.isEmpty else { return }
        submit(.stage(StagedKeys(sets: staged, keys: pending, records: pendingRecords, bytes: pendingBytes)), .stage)
        pending = []
        pendingRecords = 0
        pendingBytes = 0
    }

    private func submit(_ operation: ReplicationOperation, _ kind: InFlight) {
        guard connection.submit(.replication(operation), route: .resp(.standard, command: 0, silent: true)) else {
            return fail("the daemon is stopping")
        }
        inFlight.append(kind)
    }

    /// The writer's answer to a staged piece, a discard or the adoption.
    func completed(_ outcome: WriteOutcome) {
        guard !inFlight.isEmpty else { return }
        let kind = inFlight.removeFirst()
        if case .failed(_, let message) = outcome {
            return fail("the full sync failed in the store: \(message)")
        }
        guard kind == .adopt else { return }
        link.state {
            $0.replicationID = syncID
            $0.fullSyncs += 1
        }
        context.logger.notice("full sync from \(link.primary) done: \(link.status.syncKeys) keys")
        startStreaming(offset: syncOffset, database: streamDatabase)
    }

    // MARK: Stream

    private func startStreaming(offset: Int64, database: Int) {
        connection.database = UInt8(clamping: database)
        connection.streamCursor = StreamCursor(link: link.index, processed: offset)
        connection.streamCursor?.claims = link.follower?.claims
        // A connection that closed while its adoption committed: the next one resumes from `offset`.
        guard !connection.isClosed else { return }
        let resp = RESPSession(connection: connection)
        resp.repliesOff = true
        link.state {
            $0.phase = .connected
            $0.receivedOffset = offset
            $0.appliedOffset = offset
            $0.downSince = nil
            $0.lastError = ""
        }
        step = .streaming(resp)
        connection.processLater()
    }

    /// The connection closed.
    func ended() {
        if case .streaming(let resp) = step { resp.end() }
        link.disconnected()
    }

    /// A REPLCONF ACK with the offset applied, now.
    func sendAck() {
        guard case .streaming = step, let cursor = connection.streamCursor else { return }
        send(["REPLCONF", "ACK", String(connection.pendingWrites == 0 ? cursor.processed : link.status.appliedOffset)])
        connection.flush()
    }
}

extension RDBValue {
    /// About the bytes it holds (elements, and 8 per element of overhead).
    var approximateBytes: Int {
        switch self {
        case .string(let bytes): bytes.count
        case .list(let items), .set(let items): items.reduce(0) { $0 + $1.count + 8 }
        case .sortedSet(let members): members.reduce(0) { $0 + $1.member.count + 16 }
        case .hash(let pairs): pairs.reduce(0) { $0 + $1.field.count + $1.value.count + 8 }
        case .stream(let stream): stream.entries.reduce(16) { total, entry in entry.fields.reduce(total + 16) { $0 + $1.count + 4 } }
        }
    }
}
