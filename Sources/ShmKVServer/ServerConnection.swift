import LMDB
import NotifyRing
import Reactor
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// One client connection inside the daemon: protocol detection, the native handshake, request
/// execution, and the ordering rule — replies leave in request order, and a request that is not a
/// write waits until every earlier write of this connection has committed.
final class ServerConnection: Connection {
    enum Phase: Equatable {
        /// Nothing read yet: the first byte picks the protocol.
        case detecting
        /// Native magic seen; waiting for the whole hello.
        case nativeHello
        case native
        /// RESP2 or RESP3 (Redis clients).
        case resp
        /// Not served (too many clients, or protected mode): the first bytes get an error in the
        /// protocol they start, then the connection closes.
        case refused(Status)
        case finished
    }

    unowned let reactor: ReactorThread
    let context: ServerContext
    var phase: Phase
    /// Writes handed to the writer whose outcomes have not come back.
    var pendingWrites = 0
    /// Parsing stopped at a request that must wait for `pendingWrites` to reach zero.
    var waitingForWrites = false
    /// RESP state (see RESPConnection.swift).
    var resp = RESPState()
    /// The decoder's reused argument ranges and inline scratch (apart from `resp`, so both can be
    /// passed `inout` at once).
    var respArguments: [Range<Int>] = []
    var respScratch: [UInt8] = []
    /// The connection's own cursor in the notification ring while it follows changes: a native WATCH,
    /// or RESP pub/sub (keyspace notifications). `pumpRing` moves its events into the output.
    var ringSubscriber: RingSubscriber?
    /// Set once the connection sent WATCH: it then carries change events for keys with `prefix`.
    var watch: (prefix: [UInt8], requestID: UInt32)?
    /// Since when (loop milliseconds) a ring follower's unsent events have been over the soft limit.
    var overSoftLimitSince: Int?
    /// Who the connection is: nil until it authenticates when the daemon requires a password.
    var user: User?
    /// When the connection was accepted (loop milliseconds), for the authentication timeout.
    let acceptedAt: Int
    /// Payload bytes of this connection's writes queued for the writer and not yet answered; parsing
    /// pauses while they reach `limits.maxQueryBuffer`, so a client cannot queue without bound.
    var queuedWriteBytes = 0

    init(fd: Int32, reactor: ReactorThread, refusal: Status?) {
        self.reactor = reactor
        context = reactor.context
        phase = refusal.map { .refused($0) } ?? .detecting
        user = context.authenticator.initialUser
        acceptedAt = reactor.loop.now
        super.init(fd: fd, loop: reactor.loop)
        maxPendingOutput = context.configuration.maxOutputBuffer
        maxInput = context.configuration.maxQueryBuffer
    }

    /// Before AUTH a native frame may be no larger than Redis allows an unauthenticated request.
    var frameLimit: Int { user == nil ? 64 << 10 : context.configuration.maxFrameSize }

    /// Whether the request loop must stop before the next request: the output is full (it resumes when
    /// the client has read enough) or the queued writes reached the query buffer limit (it resumes
    /// when they commit).
    func mustPauseRequests() -> Bool {
        // Nothing left to hold back: marking the parse incomplete would keep a half-closed connection
        // from ever finishing.
        guard input.readableCount > 0 else { return false }
        if isOutputFull {
            waitingForOutputRoom = true
            parseIncomplete = true
            return true
        }
        if queuedWriteBytes >= context.configuration.maxQueryBuffer {
            waitForWrites()
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

    override func didClose() {
        endRESP()
        stopFollowingRing()
        phase = .finished
        reactor.connectionClosed(self)
    }

    override func peerClosedWriting() {
        // Everything the client sent is still executed and answered (a client may half-close and wait
        // for its answers); the socket closes when that is done.
        peerGone = true
        setReadingPaused(true)
        if pendingWrites > 0 || parseIncomplete { detach() }
        finishIfPeerGone()
        if closeAfterFlush && pendingOutput == 0 { close() }
    }

    override func outputDrained() {
        if ringSubscriber != nil && !isClosed { processLater() }
    }

    override func outputFailed() -> Bool {
        // The client is gone, but requests it sent before going are still carried out.
        peerGone = true
        let working = pendingWrites > 0 || parseIncomplete
        if working { detach() }
        return working
    }

    /// The client sent EOF (or can no longer be written to).
    var peerGone = false
    /// Parsing stopped with whole requests left in the input (fairness cap or waiting for writes).
    var parseIncomplete = false

    /// With the peer gone, close once nothing received is left to do.
    func finishIfPeerGone() {
        if peerGone && pendingWrites == 0 && !parseIncomplete { closeAfterFlush = true }
    }

    override func process() {
        while input.readableCount > 0 && !isClosed {
            switch phase {
            case .detecting:
                if input.readable[0] == Native.magicByte {
                    phase = .nativeHello
                } else {
                    phase = .resp
                    startRESP()
                }
            case .resp:
                processRESP()
                finishIfPeerGone()
                pumpRing()
                return
            case .refused(let status):
                if input.readable[0] == Native.magicByte {
                    output.append(contentsOf: Native.serverHello(status: status, maxFrameSize: 0))
                    refuse(resp: nil)
                } else {
                    refuse(resp: status == .denied ? ServerConnection.deniedText : "-ERR max number of clients reached\r\n")
                }
                return
            case .nativeHello:
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
                phase = .native
            case .native:
                processNative()
                finishIfPeerGone()
                pumpRing()
                return
            case .finished:
                consumeInput(input.readableCount)
                return
            }
        }
    }

    /// Redis's protected-mode refusal, with ShmKV's ways out.
    static let deniedText = "-DENIED ShmKV is running in protected mode because protected mode is enabled and no password is set "
        + "for the default user. In this mode connections are only accepted from the loopback interface. If you want to "
        + "connect from external computers to ShmKV you may adopt one of the following solutions: 1) Set a password "
        + "(auth.passwordFile or SHMKV_AUTH_PASSWORD) or users (auth.users) and restart the server. 2) If you really want "
        + "every peer to read and write without a password, set auth.allowUnauthenticatedRemote: yes and restart the "
        + "server. NOTE: You only need to do one of the above things in order for the server to start accepting "
        + "connections from the outside.\r\n"

    /// Sends an optional RESP error line, then closes once the output is out.
    func refuse(resp line: String?) {
        if let line { output.append(contentsOf: Array(line.utf8)) }
        phase = .finished
        consumeInput(input.readableCount)
        closeAfterFlush = true
        setReadingPaused(true)
    }
}

/// Fixed limits of the store.
public enum Limits {
    /// LMDB's key limit in Debian's build (`mdb_env_get_maxkeysize`).
    public static let maxKeySize = 511
}
