import NotifyRing
import Posix
import Reactor
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Where the reply to a queued write goes, carried by its ticket to the writer and back: the session
/// that made the request (the connection's, which never changes protocol once it speaks one) reads the
/// fields of its protocol.
struct ReplyRoute: Sendable {
    /// Native: the request's id, and whether it was a CALL (its outcome is answered as RESP, in `shape`).
    var requestID: UInt32 = 0
    var call = false
    /// RESP: the reply's shape, the command's table index (its statistics count a failure), and whether
    /// CLIENT REPLY OFF or SKIP was in force when it was sent (then no reply goes out).
    var shape = RESPReplyShape.standard
    var command = 0
    var silent = false

    static func native(requestID: UInt32) -> ReplyRoute { ReplyRoute(requestID: requestID) }
    static func nativeCall(requestID: UInt32, _ shape: RESPReplyShape, command: Int) -> ReplyRoute {
        ReplyRoute(requestID: requestID, call: true, shape: shape, command: command)
    }
    static func resp(_ shape: RESPReplyShape, command: Int, silent: Bool) -> ReplyRoute {
        ReplyRoute(shape: shape, command: command, silent: silent)
    }
}

/// One client connection inside the daemon. Its life is `Connection.state` (open, input closed,
/// output broken, closing, closed); which protocol it speaks is `session`, one enum with explicit
/// transitions (detecting → native handshake → native, detecting → RESP, or refusing). It keeps the
/// ordering rule for both protocols: replies leave in request order, and a request that is not a write
/// waits until every earlier write of this connection has committed.
final class ServerConnection: Connection {
    /// The protocol side of the connection.
    enum Session {
        /// Nothing read yet: the first byte picks the protocol.
        case detecting
        /// Native magic seen; waiting for the whole hello.
        case nativeHandshake
        case native(NativeSession)
        /// RESP2 or RESP3 (Redis clients).
        case resp(RESPSession)
        /// Not served (too many clients, or protected mode): the first bytes get an error in the
        /// protocol they start, then the connection closes.
        case refusing(Status)
        /// This daemon's own connection to the primary it replicates.
        case replica(ReplicaSession)
    }

    // Invariant: the reactor outlives its connections (the server keeps every reactor until the
    // process ends); `unowned(unsafe)` spares the write path the checked load of `unowned`.
    unowned(unsafe) let reactor: ReactorThread
    let context: ServerContext
    private(set) var session: Session
    /// The RESP client id (0 for native), carried by this connection's changes' ring records.
    private(set) var origin: UInt32 = 0
    /// The numbered database (SELECT) this connection's commands run in; native connections stay in 0.
    var database: UInt8 = 0
    /// A primary's link once its command stream flows: where in the stream its requests are.
    var streamCursor: StreamCursor?
    /// Writes handed to the writer whose outcomes have not come back.
    private(set) var pendingWrites = 0
    /// Payload bytes of this connection's writes queued for the writer and not yet answered; parsing
    /// pauses while they reach `limits.maxQueryBuffer`, so a client cannot queue without bound.
    private(set) var queuedWriteBytes = 0
    /// The connection's own cursor in the notification ring while it follows changes: a native WATCH,
    /// or RESP pub/sub (keyspace notifications). `pumpRing` moves its events into the output.
    var ringSubscriber: RingSubscriber?
    /// Since when (loop milliseconds) a ring follower's unsent events have been over the soft limit.
    var overSoftLimitSince: Int?
    /// Who the connection is: nil until it authenticates when the daemon requires a password.
    var user: User? {
        didSet { isUnrestricted = ServerConnection.unrestricted(user) }
    }
    /// Whether `user` may run everything on every key: requests then pay no access check (kept with
    /// `user`, so that the check per request reads one flag).
    private(set) var isUnrestricted = false

    private static func unrestricted(_ user: User?) -> Bool {
        user.map { $0.permissions == .all && !$0.isKeyRestricted } ?? false
    }
    /// When the connection was accepted (loop milliseconds), for the authentication timeout.
    let acceptedAt: Int

    init(descriptor: consuming Descriptor, reactor: ReactorThread, refusal: Status?) {
        self.reactor = reactor
        context = reactor.context
        session = refusal.map { .refusing($0) } ?? .detecting
        acceptedAt = reactor.loop.now
        super.init(descriptor: descriptor, loop: reactor.loop)
        // (An initializer's own assignments run no observers.)
        user = context.authenticator.initialUser
        isUnrestricted = ServerConnection.unrestricted(user)
        maxPendingOutput = context.configuration.maxOutputBuffer
        maxInput = context.configuration.maxQueryBuffer
    }

    /// A replica's connection to its primary (`ReplicaLink`): its session is the link's, it may run
    /// every command, and it counts as a client.
    init(link: ReplicaLink, descriptor: consuming Descriptor, reactor: ReactorThread) {
        self.reactor = reactor
        context = reactor.context
        session = .detecting
        acceptedAt = reactor.loop.now
        super.init(descriptor: descriptor, loop: reactor.loop)
        user = User.unrestricted
        isUnrestricted = true
        maxPendingOutput = context.configuration.maxOutputBuffer
        maxInput = context.configuration.maxQueryBuffer
        session = .replica(ReplicaSession(connection: self, link: link))
    }

    /// Whether this is a replica's link whose RESP session is inside MULTI.
    private var inStreamTransaction: Bool {
        if case .replica(let replica) = session, case .streaming(let resp) = replica.step { return resp.transaction != nil }
        return false
    }

    /// Whether requests are still read from the input: open, or finishing for a peer that left.
    var acceptsRequests: Bool { state == .open || state == .inputClosed || state == .outputBroken }

    override var hasUnfinishedWork: Bool { pendingWrites > 0 || super.hasUnfinishedWork }
    /// A blocking command (BLPOP…) of this connection is with the writer: no further request is read
    /// until it is answered.
    var awaitsBlockedCommand = false
    override var watchesPeerWhileWaiting: Bool { awaitsBlockedCommand }
    /// The writer was told this connection went while it was blocked.
    private var unblockSent = false

    /// A blocked client's connection went: the writer answers its command (to nobody) and forgets it, so
    /// that nothing is ever popped for it.
    private func leaveBlockedState() {
        guard awaitsBlockedCommand, !unblockSent else { return }
        unblockSent = true
        _ = submit(.unblock(client: origin, .disconnected), route: .resp(.standard, command: 0, silent: true))
    }

    override func peerClosedWriting() {
        leaveBlockedState()
        super.peerClosedWriting()
    }

    // MARK: Requests

    override func process() {
        guard acceptsRequests else {
            // Closing: whatever else arrives is not read.
            consumeInput(input.readableCount)
            return
        }
        while input.readableCount > 0 && acceptsRequests {
            switch session {
            case .detecting:
                if input.readable[0] == Native.magicByte {
                    session = .nativeHandshake
                } else {
                    let resp = RESPSession(connection: self)
                    origin = UInt32(truncatingIfNeeded: resp.clientID)
                    session = .resp(resp)
                }
            case .refusing(let status):
                if input.readable[0] == Native.magicByte {
                    output.append(contentsOf: Native.serverHello(status: status, maxFrameSize: 0))
                    refuse(resp: nil)
                } else {
                    refuse(resp: status == .denied ? ServerConnection.deniedText : "-ERR max number of clients reached\r\n")
                }
                return
            case .nativeHandshake:
                let version: UInt8?
                do { version = try Native.parseClientHello(input.readable) } catch {
                    ServerStats.add(context.stats.protocolErrors)
                    refuse(resp: nil)
                    return
                }
                guard let version else { return }
                consumeInput(Native.clientHelloSize)
                guard version == Native.version else {
                    output.append(contentsOf: Native.serverHello(status: .unsupportedVersion, maxFrameSize: context.configuration.maxFrameSize))
                    refuse(resp: nil)
                    return
                }
                output.append(contentsOf: Native.serverHello(status: .ok, maxFrameSize: context.configuration.maxFrameSize))
                session = .native(NativeSession(connection: self))
            case .native(let native):
                native.processRequests()
                return finishTurn()
            case .resp(let resp):
                resp.processRequests()
                return finishTurn()
            case .replica(let replica):
                return replica.process()
            }
        }
    }

    private func finishTurn() {
        finishIfPeerGone()
        pumpRing()
    }

    /// What one request of a session's loop came to.
    enum RequestStep {
        /// Answered or queued: its `consumed` input bytes are done with.
        case handled(consumed: Int)
        /// Nothing to run (an empty RESP line): skip `consumed` bytes, uncounted.
        case skipped(consumed: Int)
        /// It must wait for this connection's earlier writes; nothing was answered or consumed.
        case mustWait
        /// Stop the loop: no whole request yet, or the connection was refused or closed.
        case stop
    }

    /// The request loop both sessions run, `next` decoding and handling one request: the turn's share
    /// (fairness), the output and query-buffer limits, and the ordering rule (a request that must wait
    /// pauses the loop until this connection's writes complete; `complete` resumes it).
    func runRequests(_ next: () -> RequestStep) {
        reactor.loop.assertOnLoopThread()
        guard beginTurn() else { return }
        var handled = 0
        while acceptsRequests {
            if turnIsOver(afterHandling: handled) || mustPauseRequests() { return }
            switch next() {
            case .handled(let consumed):
                handled += 1
                // A request that ended the connection (QUIT, a refusal) has no input left to consume.
                guard acceptsRequests else { return }
                consumeInput(consumed)
                streamCursor?.advance(consumed, inTransaction: inStreamTransaction)
                ServerStats.add(context.stats.commandsProcessed)
            case .skipped(let consumed):
                consumeInput(consumed)
                streamCursor?.advance(consumed, inTransaction: inStreamTransaction)
            case .mustWait:
                return pause(.waitingForCompletion)
            case .stop:
                return
            }
        }
    }

    /// Fairness: after `maxRequestsPerEvent` requests in one turn, let other connections run and come
    /// back on the next loop iteration.
    private func turnIsOver(afterHandling handled: Int) -> Bool {
        guard handled == context.configuration.maxRequestsPerEvent else { return false }
        if input.readableCount > 0 { pause(.yielded) }
        return true
    }

    /// Whether the request loop must stop before the next request: the output is full (it resumes when
    /// the client has read enough) or the queued writes reached the query buffer limit (it resumes
    /// when they commit).
    private func mustPauseRequests() -> Bool {
        // Nothing left to hold back: pausing would keep a half-closed connection from ever finishing.
        guard input.readableCount > 0 else { return false }
        if isOutputFull {
            pause(.outputFull)
            return true
        }
        if queuedWriteBytes >= context.configuration.maxQueryBuffer {
            pause(.waitingForCompletion)
            return true
        }
        return false
    }

    /// A request that cannot complete within `limits.maxQueryBuffer`: closed, as Redis closes a client
    /// past `client-query-buffer-limit`, and counted.
    func queryBufferExceeded() {
        ServerStats.add(context.stats.queryLimitDisconnections)
        context.logger.warning("closing a connection whose unfinished request exceeds limits.maxQueryBuffer (\(maxInput) bytes)")
        close()
    }

    // MARK: Writes

    /// Queues `write` with its bytes copied into this reactor's write arena: `byteCount` bytes, the first
    /// `keyCount` of them the key, as `fill` lays them out (no allocation up to
    /// `WriteArena.largestStored`). False once the daemon stops, as `submit`.
    func submit(_ write: StoredWrite, byteCount: Int, keyCount: Int, route: ReplyRoute,
                _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        let (chunk, bytes) = reactor.writeArena.reserve(byteCount)
        fill(bytes)
        let all = UnsafeRawBufferPointer(bytes)
        let stored = ArenaBytes(key: UnsafeRawBufferPointer(rebasing: all[..<keyCount]),
                                value: UnsafeRawBufferPointer(rebasing: all[keyCount...]))
        return submit(.stored(stored, write), route: route, arenaChunk: chunk)
    }

    /// Queues a write for the writer role with the route its reply takes; false once the daemon stops.
    /// The operation moves into the ticket and the ticket into the queue: its bytes are not retained
    /// again on the way.
    /// `arenaChunk`: where in this reactor's `WriteArena` the operation's bytes are (-1: in its arrays).
    func submit(_ operation: consuming WriteOperation, route: ReplyRoute, arenaChunk: Int32 = -1) -> Bool {
        reactor.loop.assertOnLoopThread()
        let ticket = WriteTicket(operation: operation, route: route, connection: self, origin: origin, arenaChunk: arenaChunk)
        let byteCount = ticket.byteCount
        guard context.batcher.submit(ticket) else {
            if arenaChunk >= 0 { reactor.writeArena.release(arenaChunk) }
            // The ticket's reference (`WriteTicket.connection`).
            Unmanaged.passUnretained(self).release()
            return false
        }
        pendingWrites += 1
        queuedWriteBytes += byteCount
        if let streamCursor, case .replica = session { streamCursor.queue(streamCursor.requestEnd) }
        return true
    }

    /// Called on this connection's reactor thread when the writer finished one of its writes: the
    /// session that asked encodes the reply, and requests that waited for the writes run.
    func complete(_ outcome: WriteOutcome, route: ReplyRoute, byteCount: Int) {
        reactor.loop.assertOnLoopThread()
        pendingWrites -= 1
        queuedWriteBytes -= byteCount
        switch session {
        case .native(let native):
            native.writeOutcome(outcome, route)
        case .resp(let resp):
            let start = output.count
            resp.writeOutcome(outcome, route.shape)
            resp.countErrorReply(at: start, command: route.command)
            if route.silent { output.removeSubrange(start...) }
        case .replica(let replica):
            if case .streaming(let resp) = replica.step {
                let start = output.count
                resp.writeOutcome(outcome, route.shape)
                if output.count > start, output[start] == UInt8(ascii: "-") {
                    context.batcher.replication.noteFailure(replica.link.index, nil, output[start...], context.logger)
                }
                output.removeSubrange(start...)
                if let offset = streamCursor?.committed() { replica.link.applied(offset) }
            } else {
                replica.completed(outcome)
            }
        case .detecting, .nativeHandshake, .refusing:
            // These submit no writes: no outcome comes back to them.
            break
        }
        guard pendingWrites == 0 else { return }
        awaitsBlockedCommand = false
        resume()
        finishIfPeerGone()
    }

    // MARK: Life

    override func didClose() {
        leaveBlockedState()
        if case .resp(let resp) = session { resp.end() }
        if case .native(let native) = session { native.end() }
        if case .replica(let replica) = session { replica.ended() }
        stopFollowingRing()
        reactor.connectionClosed(self)
    }

    override func outputDrained() {
        if ringSubscriber != nil && !isClosed { processLater() }
    }

    /// Sends an optional RESP error line, then closes once the output is out; nothing more is read.
    func refuse(resp line: String?) {
        if let line { output.append(contentsOf: Array(line.utf8)) }
        consumeInput(input.readableCount)
        closeAfterFlush()
    }

    /// Redis's protected-mode refusal, with ShmKV's ways out.
    static let deniedText = "-DENIED ShmKV is running in protected mode because protected mode is enabled and no password is set "
        + "for the default user. In this mode connections are only accepted from the loopback interface. If you want to "
        + "connect from external computers to ShmKV you may adopt one of the following solutions: 1) Set a password "
        + "(auth.passwordFile or SHMKV_AUTH_PASSWORD) or users (auth.users) and restart the server. 2) If you really want "
        + "every peer to read and write without a password, set auth.allowUnauthenticatedRemote: yes and restart the "
        + "server. NOTE: You only need to do one of the above things in order for the server to start accepting "
        + "connections from the outside.\r\n"

    /// The peer's address as CLIENT LIST shows it (`ip:port`, or the Unix socket's path).
    func peerDescription() -> String {
        guard let peer = Socket.peerAddress(fd) else { return "?:0" }
        var storage = peer.storage
        let family = peer.family
        guard family == AF_INET || family == AF_INET6 else { return (context.configuration.socketPath ?? "unix") + ":0" }
        // The address and the port sit at different offsets in sockaddr_in and sockaddr_in6; the port
        // is big-endian in both.
        let (addressOffset, portOffset) = family == AF_INET
            ? (MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_addr)!, MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_port)!)
            : (MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_addr)!, MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_port)!)
        return withUnsafeBytes(of: &storage) { raw in
            var text = [CChar](repeating: 0, count: 64)
            inet_ntop(family, raw.baseAddress! + addressOffset, &text, 64)
            let port = UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: portOffset, as: UInt16.self))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ":" + String(port)
        }
    }
}
