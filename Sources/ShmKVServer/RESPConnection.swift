import LMDB
import NotifyRing
import Reactor
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// How the reply to a queued RESP write is shaped once its outcome is known. The outcome decides
/// almost everything (`+OK`, a null for a failed condition, the previous value, an integer); only
/// SETNX answers a stored/failed condition as `:1`/`:0` instead.
enum RESPShape {
    case standard
    case storedAsInteger
}

/// A RESP connection's own state.
struct RESPState {
    var registered = false
    var resp3 = false
    var clientID = 0
    /// Reply shapes of writes in flight, in request order.
    var shapes: [RESPShape] = []
    var shapeHead = 0
    /// Pub/sub: what the connection listens to (its ring cursor is `ringSubscriber`).
    var channels: [[UInt8]] = []
    var patterns: [GlobPattern] = []
    var subscriptionCount: Int { channels.count + patterns.count }
}

/// The arguments of one RESP command, as views into the input (or the inline scratch) buffer.
struct RESPArguments {
    let base: UnsafeRawBufferPointer
    let ranges: [Range<Int>]

    var count: Int { ranges.count }

    subscript(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: base[ranges[i]]) }

    func bytes(_ i: Int) -> [UInt8] { Array(self[i]) }

    func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    /// Case-insensitive comparison with an upper-case ASCII name; false for an argument that is not there.
    func `is`(_ i: Int, _ name: StaticString) -> Bool {
        guard i < count else { return false }
        let arg = self[i]
        guard arg.count == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { n in
            for j in 0..<arg.count where arg[j] & 0xDF != n[j] & 0xDF || (n[j] < 65 && arg[j] != n[j]) { return false }
            return true
        }
    }

    /// The argument as Redis reads an integer, or nil.
    func integer(_ i: Int) -> Int64? { RedisInteger.parse(self[i]) }
}

extension ServerConnection {
    // MARK: Lifecycle

    func startRESP() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        resp.clientID = context.resp.register(address: peerAddress(), now: now.tv_sec)
        resp.registered = true
    }

    func endRESP() {
        guard resp.registered else { return }
        context.resp.unregister(resp.clientID)
    }

    private func peerAddress() -> String {
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
            return ServerConnection.text(text) + ":" + String(port)
        }
    }

    private static func text(_ cString: [CChar]) -> String {
        String(decoding: cString.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Parsing

    private var respLimits: RESPLimits {
        let c = context.configuration
        // A bulk string must fit the input buffer, or the connection would wait for it for ever.
        return RESPLimits(maxBulkLength: min(c.respMaxBulkLength, maxInput - 1024),
                          maxMultibulkCount: c.respMaxMultibulkCount, maxInlineLength: c.respMaxInlineLength,
                          authenticated: user != nil)
    }

    func processRESP() {
        var handled = 0
        parseIncomplete = false
        var limits = respLimits
        while !isClosed && phase == .resp && !waitingForWrites {
            if turnIsOver(afterHandling: handled) || mustPauseRequests() { return }
            // AUTH lifts the unauthenticated limits for the requests after it.
            if limits.unauthenticatedMaxArguments != Int.max && user != nil { limits = respLimits }
            let decoded: RESPDecodeResult
            do {
                decoded = try RESPDecoder.decode(input.readable, limits: limits, arguments: &respArguments, scratch: &respScratch)
            } catch {
                // The stream cannot be framed any more: answer (in order) and close, as Redis does.
                guard pendingWrites == 0 else { return waitForWrites() }
                ServerStats.add(context.stats.protocolErrors)
                RESPWriter.error("ERR \(error)", into: &output)
                refuse(resp: nil)
                return
            }
            guard case .command(let consumed, let inline) = decoded else {
                // Input is read only up to the query buffer limit: a request that needs more can never finish.
                if input.readableCount >= maxInput { queryBufferExceeded() }
                return
            }
            if respArguments.isEmpty {
                consumeInput(consumed)
                continue
            }
            handled += 1
            let ranges = respArguments
            let done: Bool
            if inline {
                let scratch = respScratch
                done = scratch.withUnsafeBytes { handleRESP(RESPArguments(base: $0, ranges: ranges)) }
            } else {
                done = handleRESP(RESPArguments(base: input.readable, ranges: ranges))
            }
            guard done else { return waitForWrites() }
            // A command that ended the connection has already dropped the input.
            guard phase == .resp else { return }
            consumeInput(consumed)
            ServerStats.add(context.stats.commandsProcessed)
        }
    }

    // MARK: Replies to queued writes

    func completeRESP(_ outcome: WriteOutcome) {
        let shape = resp.shapes[resp.shapeHead]
        resp.shapeHead += 1
        if resp.shapeHead == resp.shapes.count {
            resp.shapes.removeAll(keepingCapacity: true)
            resp.shapeHead = 0
        }
        switch outcome {
        case .failed(let status, let message):
            switch status {
            case .notInteger: RESPWriter.error("ERR value is not an integer or out of range", into: &output)
            case .overflow: RESPWriter.error("ERR increment or decrement would overflow", into: &output)
            default: RESPWriter.error("ERR \(message)", into: &output)
            }
        case .stored:
            if shape == .storedAsInteger { RESPWriter.integer(1, into: &output) } else { RESPWriter.ok(into: &output) }
        case .conditionFailed:
            if shape == .storedAsInteger { RESPWriter.integer(0, into: &output) } else { RESPWriter.null(resp3: resp.resp3, into: &output) }
        case .integer(let n):
            RESPWriter.integer(Int(n), into: &output)
        case .deleted(let existed):
            RESPWriter.integer(existed ? 1 : 0, into: &output)
        case .previous(let value, _):
            if let value { RESPWriter.bulk(value, into: &output) } else { RESPWriter.null(resp3: resp.resp3, into: &output) }
        }
    }

    /// Queues a write; its reply is written by `completeRESP` after the commit.
    private func enqueueRESP(_ operation: WriteOperation, _ shape: RESPShape = .standard) -> Bool {
        let ticket = WriteTicket(operation: operation, requestID: 0, connection: self, reactor: reactor)
        if context.batcher.submit(ticket) {
            pendingWrites += 1
            queuedWriteBytes += ticket.byteCount
            resp.shapes.append(shape)
            return true
        }
        return replyError("ERR the server is shutting down")
    }

    /// Writes an error now, if that keeps replies in order (else the command waits).
    func replyError(_ message: String) -> Bool {
        guard pendingWrites == 0 else { return false }
        RESPWriter.error(message, into: &output)
        return true
    }

    func wrongArity(_ args: RESPArguments) -> Bool {
        replyError("ERR wrong number of arguments for '\(args.string(0).lowercased())' command")
    }

    func keyProblem(_ key: UnsafeRawBufferPointer) -> String? {
        if key.isEmpty { return "ERR empty keys are not supported by ShmKV" }
        if key.count > Limits.maxKeySize {
            return "ERR key of \(key.count) bytes exceeds the maximum of \(Limits.maxKeySize) bytes"
        }
        return nil
    }

    private func valueProblem(_ value: UnsafeRawBufferPointer) -> String? {
        let max = context.configuration.maxValueSize
        return value.count > max ? "ERR value of \(value.count) bytes exceeds the maximum of \(max) bytes" : nil
    }

    // MARK: Dispatch

    /// Executes or queues one command; `false` if it must wait for this connection's earlier writes
    /// (nothing was answered or consumed then).
    private func handleRESP(_ args: RESPArguments) -> Bool {
        let n = args.count
        // Like Redis: an HTTP request sent to the port (e.g. from a browser tricked into it) ends the
        // connection without an answer.
        if args.is(0, "POST") || args.is(0, "HOST:") {
            guard pendingWrites == 0 else { return false }
            ServerStats.add(context.stats.protocolErrors)
            context.logger.warning("possible cross-protocol attack: an HTTP request on the RESP port; connection closed")
            refuse(resp: nil)
            return true
        }
        if let refusal = accessRefusal(args) { return replyError(refusal) }
        if resp.subscriptionCount > 0 && !resp.resp3 && !isAllowedWhileSubscribed(args) {
            return replyError("ERR Can't execute '\(args.string(0).lowercased())': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
        }
        // Writes first: they are queued, not executed here.
        if args.is(0, "SET") { return set(args) }
        if args.is(0, "GET") {
            guard n == 2 else { return wrongArity(args) }
            return read { txn in
                // A key LMDB cannot hold is simply not there.
                guard self.keyProblem(args[1]) == nil else { return RESPWriter.null(resp3: self.resp.resp3, into: &self.output) }
                try txn.withValue(self.context.store.keyspace, key: args[1]) { value in
                    if let value { RESPWriter.bulk(value, into: &self.output) }
                    else { RESPWriter.null(resp3: self.resp.resp3, into: &self.output) }
                }
            }
        }
        if args.is(0, "INCR") || args.is(0, "DECR") {
            guard n == 2 else { return wrongArity(args) }
            return incrBy(args[1], args.is(0, "INCR") ? 1 : -1)
        }
        if args.is(0, "INCRBY") || args.is(0, "DECRBY") {
            guard n == 3 else { return wrongArity(args) }
            guard let delta = args.integer(2) else { return replyError("ERR value is not an integer or out of range") }
            if args.is(0, "DECRBY") {
                guard delta != Int64.min else { return replyError("ERR decrement would overflow") }
                return incrBy(args[1], -delta)
            }
            return incrBy(args[1], delta)
        }
        if args.is(0, "MSET") || args.is(0, "MSETNX") {
            guard n >= 3, n % 2 == 1 else { return wrongArity(args) }
            var pairs: [KeyValue] = []
            pairs.reserveCapacity(n / 2)
            for i in stride(from: 1, to: n, by: 2) {
                if let problem = keyProblem(args[i]) ?? valueProblem(args[i + 1]) { return replyError(problem) }
                pairs.append(KeyValue(key: args.bytes(i), value: args.bytes(i + 1)))
            }
            return args.is(0, "MSET") ? enqueueRESP(.mput(pairs)) : enqueueRESP(.mputIfNoneExist(pairs))
        }
        if args.is(0, "DEL") || args.is(0, "UNLINK") {
            guard n >= 2 else { return wrongArity(args) }
            var keys: [[UInt8]] = []
            for i in 1..<n where !args[i].isEmpty && args[i].count <= Limits.maxKeySize { keys.append(args.bytes(i)) }
            return enqueueRESP(.deleteMany(keys))
        }
        if args.is(0, "SETNX") {
            guard n == 3 else { return wrongArity(args) }
            if let problem = keyProblem(args[1]) ?? valueProblem(args[2]) { return replyError(problem) }
            return enqueueRESP(.put(key: args.bytes(1), value: args.bytes(2), condition: .ifAbsent), .storedAsInteger)
        }
        if args.is(0, "GETDEL") {
            guard n == 2 else { return wrongArity(args) }
            if let problem = keyProblem(args[1]) { return replyError(problem) }
            return enqueueRESP(.getDelete(key: args.bytes(1)))
        }
        if args.is(0, "APPEND") {
            guard n == 3 else { return wrongArity(args) }
            if let problem = keyProblem(args[1]) ?? valueProblem(args[2]) { return replyError(problem) }
            return enqueueRESP(.append(key: args.bytes(1), value: args.bytes(2), maxValueSize: context.configuration.maxValueSize))
        }
        if args.is(0, "FLUSHDB") || args.is(0, "FLUSHALL") {
            guard n <= 2 else { return replyError("ERR syntax error") }
            if n == 2 && !args.is(1, "ASYNC") && !args.is(1, "SYNC") { return replyError("ERR syntax error") }
            guard context.configuration.flushAllowed else {
                return replyError("ERR \(args.string(0).uppercased()) is disabled on this server (resp.allowFlush)")
            }
            return enqueueRESP(.clear)
        }
        // Everything else runs now, after this connection's earlier writes.
        guard pendingWrites == 0 else { return false }
        // (CLIENT LIST's cmd= is kept by the commands that change what a client is, not by every
        // command: that would take a process-wide lock per request.)
        executeRESP(args)
        return true
    }

    private func isAllowedWhileSubscribed(_ args: RESPArguments) -> Bool {
        args.is(0, "SUBSCRIBE") || args.is(0, "PSUBSCRIBE") || args.is(0, "UNSUBSCRIBE") || args.is(0, "PUNSUBSCRIBE")
            || args.is(0, "PING") || args.is(0, "QUIT") || args.is(0, "RESET")
    }

    /// Runs `body` on the reactor's snapshot now (if no write of this connection is pending).
    func read(_ body: (ReadTransaction) throws -> Void) -> Bool {
        guard pendingWrites == 0 else { return false }
        let start = output.count
        do {
            try body(try reactor.snapshot())
        } catch {
            output.removeSubrange(start...)
            RESPWriter.error("ERR storage: \(error)", into: &output)
        }
        return true
    }

    private func incrBy(_ key: UnsafeRawBufferPointer, _ delta: Int64) -> Bool {
        if let problem = keyProblem(key) { return replyError(problem) }
        return enqueueRESP(.incrBy(key: Array(key), delta: delta))
    }

    /// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL …].
    private func set(_ args: RESPArguments) -> Bool {
        guard args.count >= 3 else { return wrongArity(args) }
        var condition = PutCondition.always
        var returnOld = false
        var i = 3
        while i < args.count {
            if args.is(i, "NX"), condition == .always { condition = .ifAbsent }
            else if args.is(i, "XX"), condition == .always { condition = .ifPresent }
            else if args.is(i, "GET"), !returnOld { returnOld = true }
            else if args.is(i, "EX") || args.is(i, "PX") || args.is(i, "EXAT") || args.is(i, "PXAT") || args.is(i, "KEEPTTL") {
                return replyError("ERR SET with an expiry (EX, PX, EXAT, PXAT, KEEPTTL) is not supported: ShmKV keys do not expire")
            } else {
                return replyError("ERR syntax error")
            }
            i += 1
        }
        if let problem = keyProblem(args[1]) ?? valueProblem(args[2]) { return replyError(problem) }
        return enqueueRESP(.put(key: args.bytes(1), value: args.bytes(2), condition: condition, returnOld: returnOld))
    }
}
