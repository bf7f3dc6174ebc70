import LMDB
import Posix
import Reactor
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// How the reply to a queued RESP write is shaped once its outcome is known. The outcome decides
/// almost everything (`+OK`, a null for a failed condition, the previous value, an integer); only
/// SETNX answers a stored/failed condition as `:1`/`:0` instead.
enum RESPReplyShape: Sendable {
    case standard
    case storedAsInteger
}

/// A connection that speaks RESP (2 or 3): it parses commands, dispatches them through `CommandTable`,
/// and encodes replies, including those of writes that come back from the writer. Its handlers live in
/// one file per command family. Lives on the connection's reactor thread.
final class RESPSession {
    // Invariant: the connection owns this session (its `session` enum) and drops it only when it is
    // itself freed, so the reference cannot dangle; `unowned(unsafe)` spares the hot path the atomic
    // reference-count check every `unowned` load costs.
    unowned(unsafe) let connection: ServerConnection
    /// The same connection for reply sinks, made once (a sink per request then takes no reference).
    private let connectionRef: Unmanaged<ServerConnection>
    let context: ServerContext
    /// HELLO 3 was sent: replies use RESP3 types (maps, nulls, pushes).
    var resp3 = false
    /// The id CLIENT ID and CLIENT LIST show (registered in `context.resp` while the session lives).
    let clientID: Int
    /// Pub/sub: what the connection listens to (its ring cursor is the connection's `ringSubscriber`).
    var channels: [[UInt8]] = []
    var patterns: [GlobPattern] = []
    var subscriptionCount: Int { channels.count + patterns.count }
    /// MULTI: the commands queued so far (nil outside a transaction).
    var transaction: QueuedTransaction?
    /// WATCH: the keys and the ring sequence each was watched at.
    var watched: [WatchedKey] = []
    /// CLIENT TRACKING (nil: off).
    var tracking: ClientTracking?
    /// CLIENT REPLY: OFF silences every reply until ON; SKIP silences the next command's.
    var repliesOff = false
    var skip = ReplySkip.none
    enum ReplySkip { case none, next, current }
    /// Whether the command being dispatched gets no reply (pushes still go out, as in Redis).
    var repliesSilenced: Bool { repliesOff || skip == .current }
    /// The decoder's reused argument ranges and inline scratch.
    private var arguments: [Range<Int>] = []
    private var scratch: [UInt8] = []
    /// The table index of the command being dispatched (its queued write's failure is counted there).
    private(set) var currentCommand = 0
    /// The reactor's command counters (the reactor outlives its connections' sessions), unmanaged so
    /// that counting a command takes no reference.
    private let statisticsRef: Unmanaged<CommandStatistics>

    /// Adds `n` to command `index`'s `field` in the reactor's counters.
    private func count(_ index: Int, _ field: CommandStatistics.Field, _ n: Int = 1) {
        statisticsRef._withUnsafeGuaranteedRef { $0.add(index, field, n) }
    }
    /// When the previous command of this turn ended (commandstats' time: one clock reading per command).
    private var lastCommandEnd = 0

    init(connection: ServerConnection) {
        self.connection = connection
        context = connection.context
        statisticsRef = Unmanaged.passUnretained(connection.reactor.commandStatistics)
        connectionRef = Unmanaged.passUnretained(connection)
        clientID = context.resp.register(address: connection.peerDescription(), now: MonotonicClock.seconds(),
                                         reactor: connection.reactor.index)
        connection.reactor.respSessions[clientID] = self
    }

    /// The session ends with its connection.
    func end() {
        context.subscriptions.update(channels: channels, patterns: patterns, delta: -1)
        context.resp.unregister(clientID)
        connection.reactor.respSessions[clientID] = nil
    }

    /// The connection's output buffer, where replies are encoded.
    var output: [UInt8] {
        _read { yield connection.output }
        _modify { yield &connection.output }
    }

    // MARK: Parsing

    private var limits: RESPLimits {
        let c = context.configuration
        // A bulk string must fit the input buffer, or the connection would wait for it for ever.
        return RESPLimits(maxBulkLength: min(c.respMaxBulkLength, connection.maxInput - 1024),
                          maxMultibulkCount: c.respMaxMultibulkCount, maxInlineLength: c.respMaxInlineLength,
                          authenticated: connection.user != nil)
    }

    /// Handles every complete command in the input, within the turn's share, in order.
    func processRequests() {
        var limits = self.limits
        lastCommandEnd = MonotonicClock.nanoseconds()
        connection.runRequests {
            // AUTH lifts the unauthenticated limits for the requests after it.
            if limits.unauthenticatedMaxArguments != Int.max && connection.user != nil { limits = self.limits }
            let decoded: RESPDecodeResult
            do throws(RESPProtocolError) {
                decoded = try RESPDecoder.decode(connection.input.readable, limits: limits, arguments: &arguments, scratch: &scratch)
            } catch {
                // The stream cannot be framed any more: answer (in order) and close, as Redis does.
                guard connection.pendingWrites == 0 else { return .mustWait }
                ServerStats.add(context.stats.protocolErrors)
                RESPWriter.error("ERR \(error)", into: &output)
                connection.refuse(resp: nil)
                return .stop
            }
            guard case .command(let consumed, let inline) = decoded else {
                // Input is read only up to the query buffer limit: a request that needs more can never finish.
                if connection.input.readableCount >= connection.maxInput { connection.queryBufferExceeded() }
                return .stop
            }
            // A blocked client's further requests wait until it is answered, as in Redis.
            if connection.awaitsBlockedCommand { return .mustWait }
            connection.streamCursor?.requestBytes = consumed
            if arguments.isEmpty { return .skipped(consumed: consumed) }
            let ranges = arguments
            let done: Bool
            if inline {
                let scratch = self.scratch
                done = scratch.withUnsafeBytes { dispatch(RESPArguments(base: $0, ranges: ranges)) }
            } else {
                done = dispatch(RESPArguments(base: connection.input.readable, ranges: ranges))
            }
            return done ? .handled(consumed: consumed) : .mustWait
        }
    }

    // MARK: Dispatch

    /// What dispatch decides before a handler runs, from the table alone.
    enum Admission: Equatable {
        /// An HTTP request on the RESP port: the connection ends without an answer.
        case crossProtocolAttack
        /// The user may not run it (NOAUTH, NOPERM): the error text.
        case refused(String)
        /// A RESP2 connection in subscribed mode, and the command is not allowed there.
        case notAllowedWhileSubscribed
        case unknownCommand
        /// A container command (CONFIG, CLIENT…) with a subcommand its entry does not list.
        case unknownSubcommand
        case wrongArity
        /// Run the entry's handler.
        case run
    }

    /// The checks of dispatch, in Redis's order for ShmKV: the cross-protocol guard, access (before
    /// AUTH only `allowedBeforeAuth` commands), the subscribed-mode filter, the name, the arity. Pure:
    /// unit tests call it without a connection.
    static func admit(_ command: Command?, _ args: RESPArguments, user: User?, unrestricted: Bool,
                      subscribedRESP2: Bool) -> Admission {
        if args.is(0, "POST") || args.is(0, "HOST:") { return .crossProtocolAttack }
        if !unrestricted, let refusal = ServerConnection.accessRefusal(command, args, user: user) { return .refused(refusal) }
        if subscribedRESP2 && !(command?.flags.contains(.allowedWhileSubscribed) ?? false) { return .notAllowedWhileSubscribed }
        guard let command else { return .unknownCommand }
        if !command.subcommands.isEmpty, args.count > 1, !command.subcommands.contains(where: { args.is(1, $0) }) {
            return .unknownSubcommand
        }
        return command.accepts(argumentCount: args.count) ? .run : .wrongArity
    }

    /// What a replica answers a client's command instead of running it: READONLY for a write
    /// (replica-read-only), MASTERDOWN for anything but a `stale` command while the link is down
    /// (replica-serve-stale-data no). The primary's own link is never refused.
    static func replicaRefusal(_ command: Command, _ replication: ReplicationState) -> String? {
        guard replication.isReplica.load(ordering: .relaxed) else { return nil }
        if command.flags.contains(.write) && replication.refusesWrites { return "READONLY You can't write against a read only replica." }
        if !command.flags.contains(.stale) && replication.primaryDown {
            return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
        }
        return nil
    }

    /// Whether a command runs while a script is busy (Redis's `allow_busy`): on SCRIPT and FUNCTION
    /// only KILL, and FUNCTION STATS.
    static func allowedWhileBusy(_ command: Command, _ args: RESPArguments) -> Bool {
        guard command.flags.contains(.allowBusy) else { return false }
        guard command.flags.contains(.hasSubcommands) else { return true }
        return args.count > 1 && (args.is(1, "KILL") || (command.name == "function" && args.is(1, "STATS")))
    }

    /// Checks and runs one command; `false` if it must wait for this connection's earlier writes
    /// (nothing was answered or consumed then).
    private func dispatch(_ args: RESPArguments) -> Bool {
        // The table's entry is used without taking a reference (the table lives as long as the process).
        guard let entry = CommandTable.lookup(args[0]) else { return silencing(nil) { dispatch(nil, args) } }
        return entry._withUnsafeGuaranteedRef { command in silencing(command) { dispatch(command, args) } }
    }

    /// CLIENT REPLY OFF|SKIP (Redis's `prepareClientToWrite` and `commandProcessed`): what a command
    /// wrote is taken back if replies were silenced when it ended — but subscription confirmations, which
    /// are pushes — and a SKIP moves on to the command after it. Queued writes carry the silence in their
    /// route.
    @inline(__always)
    private func silencing(_ command: Command?, _ dispatch: () -> Bool) -> Bool {
        let start = output.count
        guard dispatch() else { return false }
        if repliesSilenced && output.count > start
            && !(command.map { $0.group == .pubsub && $0.flags.contains(.allowedWhileSubscribed) } ?? false) {
            output.removeSubrange(start...)
        }
        switch skip {
        case .current: skip = .none
        case .next: skip = .current
        case .none: break
        }
        return true
    }

    private func dispatch(_ command: Command?, _ original: RESPArguments) -> Bool {
        var args = original
        if let cursor = connection.streamCursor, let claims = cursor.claims, let command {
            // A key a slot migration moved to another shard: its old shard's DEL is dropped.
            guard let kept = claims.filter(command, original, link: cursor.link) else { return true }
            args = kept
        }
        let unrestricted = connection.isUnrestricted
        var admission = RESPSession.admit(command, args, user: unrestricted ? nil : connection.user, unrestricted: unrestricted,
                                          subscribedRESP2: subscriptionCount > 0 && !resp3)
        if admission == .run, let cluster = context.cluster, let command, command.keys.hasKeys,
           let redirect = cluster.refusal(command, args) {
            admission = .refused(redirect)
        }
        if admission == .run, let command, let busy = context.scripts.busyReply, !RESPSession.allowedWhileBusy(command, args) {
            admission = .refused(busy)
        }
        if admission == .run, let command, connection.streamCursor == nil, let refusal = RESPSession.replicaRefusal(command, context.batcher.replication) {
            admission = .refused(refusal)
        }
        if transaction != nil, admission != .crossProtocolAttack, !(command?.flags.contains(.controlsTransaction) ?? false) {
            return queue(command, args, admission)
        }
        switch admission {
        case .crossProtocolAttack:
            // Like Redis: an HTTP request sent to the port (e.g. from a browser tricked into it) ends
            // the connection without an answer.
            guard connection.pendingWrites == 0 else { return false }
            ServerStats.add(context.stats.protocolErrors)
            context.logger.warning("possible cross-protocol attack: an HTTP request on the RESP port; connection closed")
            connection.refuse(resp: nil)
            return true
        case .refused, .notAllowedWhileSubscribed, .unknownCommand, .unknownSubcommand, .wrongArity:
            guard connection.pendingWrites == 0 else { return false }
            let start = output.count
            if case .refused(let refusal) = admission, transaction != nil, command?.name == "exec" {
                // Redis's execCommandAbort: a refused EXEC ends the transaction.
                transaction = nil
                watched.removeAll()
                RESPWriter.error("EXECABORT Transaction discarded because of: " + refusal, into: &output)
            } else {
                RESPWriter.error(RESPSession.admissionError(admission, args), into: &output)
            }
            if let command { count(command.index, .rejected) }
            context.errors.record(output[start...])
            if let cursor = connection.streamCursor { context.batcher.replication.noteFailure(cursor.link, args, output[start...], context.logger) }
            return true
        case .run:
            break
        }
        guard let command else { preconditionFailure("admitted without an entry") }
        currentCommand = command.index
        let start = output.count
        switch command.handler {
        case .keyspace(let handle):
            guard connection.pendingWrites == 0 else { return false }
            run(handle, args)
        case .write(let handle):
            let plan = handle(WriteCall(args: args, context: context, database: connection.database, user: connection.isUnrestricted ? nil : connection.user,
                                        fromPrimary: connection.streamCursor != nil))
            guard carryOut(plan, args, blocking: command.flags.contains(.blocking)) else { return false }
        case .immediate(let handle):
            // Everything but a write runs now, after this connection's earlier writes. (CLIENT LIST's
            // cmd= is kept by the commands that change what a client is, not by every command: that
            // would take a process-wide lock per request.)
            guard connection.pendingWrites == 0 else { return false }
            handle(self, args)
        }
        count(command, args, replyAt: start)
        if tracking != nil {
            if command.flags.contains(.readonly) { rememberReadKeys(command, args) }
            endCommandForTracking(command)
        }
        return true
    }

    /// Counts a command that ran (INFO commandstats): a call, its time, and a failure if the reply it
    /// wrote at once is an error (a queued write's error reply is counted when it is written).
    private func count(_ command: Command, _ args: RESPArguments, replyAt start: Int) {
        let now = MonotonicClock.nanoseconds()
        let elapsed = now - lastCommandEnd
        lastCommandEnd = now
        let failed = connection.output.count > start && connection.output[start] == UInt8(ascii: "-")
        if failed {
            context.errors.record(connection.output[start...])
            if let cursor = connection.streamCursor { context.batcher.replication.noteFailure(cursor.link, args, output[start...], context.logger) }
        }
        // Redis 7 counts a subcommand apart (`cmdstat_config|get`); not the hot path.
        if command.flags.contains(.hasSubcommands) && args.count > 1 && !reply(at: start, startsWith: "-ERR unknown subcommand"),
           context.withSubcommandStatistics(command.name + "|" + args.string(1).lowercased(), { sub in
               sub.add(0, .calls)
               sub.add(0, .nanoseconds, elapsed)
               if failed { sub.add(0, .failed) }
           }) {
            return
        }
        count(command.index, .calls)
        count(command.index, .nanoseconds, elapsed)
        if failed { count(command.index, .failed) }
    }

    private func reply(at start: Int, startsWith prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard output.count >= start + count else { return false }
        return prefix.withUTF8Buffer { output[start..<(start + count)].elementsEqual($0) }
    }

    /// Counts an error reply to a queued write of table entry `command`, written at `start`.
    func countErrorReply(at start: Int, command: Int) {
        guard output.count > start && output[start] == UInt8(ascii: "-") else { return }
        count(command, .failed)
        context.errors.record(output[start...])
    }

    /// The error a refused command gets, in Redis's words.
    static func admissionError(_ admission: Admission, _ args: RESPArguments) -> String {
        switch admission {
        case .refused(let refusal):
            return refusal
        case .notAllowedWhileSubscribed:
            return "ERR Can't execute '\(args.string(0).lowercased())': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        case .unknownCommand:
            var message = "ERR unknown command '\(args.string(0))', with args beginning with: "
            for i in 1..<min(args.count, 16) { message += "'\(args.string(i))' " }
            return message
        case .unknownSubcommand:
            return "ERR unknown subcommand '\(String(args.string(1).prefix(128)))'. Try \(args.string(0).uppercased()) HELP."
        case .wrongArity:
            return RESPError.wrongArity(args.string(0).lowercased()).message
        case .crossProtocolAttack, .run:
            preconditionFailure("not an error reply")
        }
    }

    /// This connection's output as a reply sink, in its protocol.
    var respReply: ReplySink { ReplySink(.resp(connectionRef, resp3: resp3)) }

    /// Who this connection is, as handlers see it.
    var callingClient: CallingClient {
        CallingClient(id: clientID, keyFilter: connection.isUnrestricted ? nil : connection.user, resp3: resp3)
    }

    /// Runs a keyspace command on the reactor's snapshot, its reply into the output; a storage error
    /// replaces whatever it wrote with an error.
    func run(_ handle: KeyspaceHandler, _ args: RESPArguments) {
        read { reader in
            try handle(CommandCall(args: args, keys: Keyspace(.snapshot(consume reader)), reply: respReply, client: callingClient, context: context))
        }
    }

    /// Runs `body` on the reactor's snapshot, where keys past their deadline are absent; a storage error
    /// replaces whatever it wrote with an error.
    /// The reader is handed over owned, so that a handler can move it into its `Keyspace` without
    /// another reference count.
    func read(_ body: (consuming KeyspaceReader) throws -> Void) {
        let start = output.count
        do {
            try body(try connection.reactor.keyspace(database: connection.database))
        } catch is WrongTypeError {
            output.removeSubrange(start...)
            RESPWriter.error(WrongTypeError.message, into: &output)
        } catch {
            output.removeSubrange(start...)
            RESPWriter.error("ERR storage: \(error)", into: &output)
        }
    }
}
