import LMDB
import NotifyRing
import Posix
import Reactor
import StoreLayout
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A connection that speaks the native protocol (after its handshake): it parses frames, checks access,
/// runs reads on the reactor, queues writes for the writer with their request id as the reply route,
/// and streams WATCH events. Lives on the connection's reactor thread.
final class NativeSession {
    // Invariant: the connection owns this session (its `session` enum) and drops it only when it is
    // itself freed, so the reference cannot dangle; `unowned(unsafe)` spares the hot path the atomic
    // reference-count check every `unowned` load costs.
    unowned(unsafe) let connection: ServerConnection
    let context: ServerContext
    /// Set once the connection sent WATCH: it then carries change events for keys with `prefix`.
    var watch: (prefix: [UInt8], requestID: UInt32)?
    /// SUBSCRIBE: the channels and patterns whose messages this connection streams.
    var subscription: (channels: Set<[UInt8]>, patterns: [GlobPattern], requestID: UInt32)?

    init(connection: ServerConnection) {
        self.connection = connection
        context = connection.context
    }

    /// The connection's output buffer, where replies are encoded.
    var output: [UInt8] {
        _read { yield connection.output }
        _modify { yield &connection.output }
    }

    /// Before AUTH a frame may be no larger than Redis allows an unauthenticated request.
    private var frameLimit: Int { connection.user == nil ? 64 << 10 : context.configuration.maxFrameSize }

    /// Handles every complete frame in the input, within the turn's share, in order.
    func processRequests() {
        connection.runRequests {
            let decoded: FrameDecodeResult
            do throws(WireError) {
                decoded = try Native.decodeFrame(connection.input.readable, maxFrameSize: frameLimit)
            } catch {
                // The stream cannot be framed any more: answer (in order) and close.
                guard connection.pendingWrites == 0 else { return .mustWait }
                ServerStats.add(context.stats.protocolErrors)
                let status: Status = if case .frameTooLarge = error { .frameTooLarge } else { .badRequest }
                ReplyWriter.error(status, error.description, requestID: 0, into: &output)
                connection.refuse(resp: nil)
                return .stop
            }
            guard case .frame(let header, let body, let consumed) = decoded else { return .stop }
            return handle(header: header, body: body) ? .handled(consumed: consumed) : .mustWait
        }
    }

    /// Executes or queues one request. Returns `false` if it must wait for earlier writes (nothing was
    /// consumed or answered then).
    private func handle(header: FrameHeader, body: UnsafeRawBufferPointer) -> Bool {
        let request: RequestView
        let command: NativeCommand
        do throws(WireError) {
            // The table says which opcodes exist.
            guard let entry = CommandTable.native(code: header.code) else { throw WireError.unknownOpcode(header.code) }
            command = entry
            request = try RequestView(header: header, body: body)
        } catch {
            guard connection.pendingWrites == 0 else { return false }
            ServerStats.add(context.stats.protocolErrors)
            let status: Status = if case .unknownOpcode = error { .unknownOpcode } else { .badRequest }
            ReplyWriter.error(status, error.description, requestID: header.requestID, into: &output)
            return true
        }
        let id = header.requestID
        if let refusal = connection.accessRefusal(request, command) ?? clusterRefusal(request) ?? replicaRefusal(command) {
            return answer(refusal, id)
        }
        if watch != nil || subscription != nil, !command.flags.contains(.allowedWhileSubscribed) {
            ReplyWriter.error(.badRequest, "this connection is \(watch != nil ? "watching" : "subscribed"): only PING is accepted (close it to stop)",
                              requestID: id, into: &output)
            return true
        }
        switch request {
        case .auth(let name, let password):
            guard connection.pendingWrites == 0 else { return false }
            if let failure = connection.authenticate(name: name.isEmpty ? nil : String(decoding: name, as: UTF8.self), password: password) {
                ReplyWriter.error(.authFailed, failure, requestID: id, into: &output)
            } else {
                ReplyWriter.status(.ok, requestID: id, into: &output)
            }
            return true
        case .watch(let prefix, let from):
            guard connection.pendingWrites == 0 else { return false }
            startWatch(prefix: prefix, from: from, id: id)
            return true
        case .subscribe(let channels, let patterns):
            guard connection.pendingWrites == 0 else { return false }
            startSubscription(channels: channels, patterns: patterns, id: id)
            return true
        case .publish(let channel, let payload):
            let limit = context.configuration.maxMessageSize
            if channel.count + payload.count > limit {
                return answer((.valueTooLarge, "message of \(channel.count + payload.count) bytes (channel and payload) exceeds the maximum of \(limit) bytes (ring.maxMessageSize)"), id)
            }
            return enqueue(.publish(receivers: context.subscriptions.receivers(of: channel)), key: channel, value: payload, id)
        case .put(let key, let value, let condition, let expiry):
            if let refusal = checkKey(key) ?? checkValue(value) { return answer(refusal, id) }
            let deadline = DeadlineChange(expiry, now: WallClock.milliseconds())
            return enqueue(.put(condition: condition, returnOld: false, deadline: deadline), key: key, value: value, id)
        case .expire(let key, let milliseconds, let mode):
            if let refusal = checkKey(key) { return answer(refusal, id) }
            switch mode {
            case .persist:
                return enqueue(.persist, key: key, id)
            case .absolute:
                return enqueue(.expire(at: milliseconds, condition: .always), key: key, id)
            case .relative:
                let (at, overflow) = WallClock.milliseconds().addingReportingOverflow(milliseconds)
                if overflow { return answer((.badRequest, "time \(milliseconds) ms overflows"), id) }
                return enqueue(.expire(at: at, condition: .always), key: key, id)
            }
        case .delete(let key):
            if let refusal = checkKey(key) { return answer(refusal, id) }
            return enqueue(.delete(counted: false), key: key, id)
        case .incrBy(let key, let delta):
            if let refusal = checkKey(key) { return answer(refusal, id) }
            return enqueue(.incrBy(delta), key: key, id)
        case .mput(let pairs):
            for (key, value) in pairs {
                if let refusal = checkKey(key) ?? checkValue(value) { return answer(refusal, id) }
            }
            // The request body packs the pairs as the writer reads them: copied as they are.
            return enqueue(.mput(count: pairs.count, onlyIfNoneExist: false), key: pairs.packed, id)
        case .call(let base, let ranges):
            return call(RESPArguments(base: base, ranges: ranges), id)
        case .transaction(let operations):
            // The same block as a MULTI's, run under a check per step instead of watched keys.
            var steps: [TransactionStep] = []
            var checks: [StepCheck] = []
            steps.reserveCapacity(operations.count)
            checks.reserveCapacity(operations.count)
            let now = WallClock.milliseconds()
            let none = UnsafeRawBufferPointer(start: nil, count: 0)
            for (index, operation) in operations.enumerated() {
                if let refusal = checkKey(operation.key) { return answer((refusal.0, "operation \(index): \(refusal.1)"), id) }
                let write: StoredWrite
                var value = none
                switch operation.kind {
                case .put(let bytes, let expiry):
                    if let refusal = checkValue(bytes) { return answer((refusal.0, "operation \(index): \(refusal.1)"), id) }
                    write = .put(condition: .always, returnOld: false, deadline: DeadlineChange(expiry, now: now))
                    value = bytes
                case .delete: write = .delete(counted: false)
                case .incrBy(let delta): write = .incrBy(delta)
                }
                let key = operation.key
                steps.append(.write(.owned(OwnedBytes(byteCount: key.count + value.count, keyCount: key.count) { _ = $0.storePair(key, value) }, write),
                                    .standard))
                let check: StepCheck = switch operation.condition {
                case .none: .none
                case .absent: .absent
                case .present: .present
                case .equals(let expected): .equals(Array(expected))
                }
                checks.append(check)
            }
            let block = ExecBlock(steps: steps, condition: .checks(checks), client: CallingClient(id: 0, keyFilter: nil), context: context)
            return enqueue(.transaction(block), id)
        default:
            guard connection.pendingWrites == 0 else { return false }
            executeRead(request, id)
            return true
        }
    }

    /// A read-only replica refuses clients' writes, with RESP's READONLY text.
    private func replicaRefusal(_ command: NativeCommand) -> (Status, String)? {
        guard command.flags.contains(.write), context.batcher.replication.refusesWrites else { return nil }
        return (.permissionDenied, "READONLY You can't write against a read only replica.")
    }

    /// Replies with an error at once, if that keeps replies in order.
    private func answer(_ refusal: (Status, String), _ id: UInt32) -> Bool {
        guard connection.pendingWrites == 0 else { return false }
        ReplyWriter.error(refusal.0, refusal.1, requestID: id, into: &output)
        return true
    }

    /// Queues `write` of `key` and `value`, copied into the reactor's write arena.
    private func enqueue(_ write: StoredWrite, key: UnsafeRawBufferPointer,
                         value: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), _ id: UInt32) -> Bool {
        let queued = connection.submit(write, byteCount: key.count + value.count, keyCount: key.count,
                                       route: .native(requestID: id)) { _ = $0.storePair(key, value) }
        return queued || answer((.shuttingDown, "the server is shutting down"), id)
    }

    /// Queues a write; its reply (`writeOutcome`) carries the request's id.
    private func enqueue(_ operation: consuming WriteOperation, _ id: UInt32) -> Bool {
        if connection.submit(operation, route: .native(requestID: id)) { return true }
        return answer((.shuttingDown, "the server is shutting down"), id)
    }

    func checkKey(_ key: UnsafeRawBufferPointer) -> (Status, String)? {
        switch StoreLayout.check(key: key) {
        case nil: nil
        case .empty: (.invalidKey, "key must not be empty")
        case .tooLong(let n): (.invalidKey, "key of \(n) bytes exceeds the maximum of \(StoreLayout.maxKeySize) bytes")
        }
    }

    private func checkValue(_ value: UnsafeRawBufferPointer) -> (Status, String)? {
        let max = context.configuration.maxValueSize
        return value.count > max ? (.valueTooLarge, "value of \(value.count) bytes exceeds the maximum of \(max) bytes") : nil
    }

    /// Encodes a committed write's outcome as the reply to the request the route names (a CALL's as its
    /// RESP2 reply).
    func writeOutcome(_ outcome: WriteOutcome, _ route: ReplyRoute) {
        let requestID = route.requestID
        if route.call { return answerCall(requestID) { outcome.reply(route.shape, to: $0) } }
        switch outcome {
        case .stored: ReplyWriter.status(.ok, requestID: requestID, into: &output)
        case .deleted(let existed): ReplyWriter.deleted(existed, requestID: requestID, into: &output)
        case .integer(let n): ReplyWriter.integer(n, requestID: requestID, into: &output)
        case .conditionFailed: ReplyWriter.status(.conditionFailed, requestID: requestID, into: &output)
        case .failed(let status, let message): ReplyWriter.error(status, message, requestID: requestID, into: &output)
        case .previous(let value?, _): value.withUnsafeBytes { ReplyWriter.value($0, requestID: requestID, into: &output) }
        case .previous(nil, _): ReplyWriter.status(.notFound, requestID: requestID, into: &output)
        case .transaction(let results?): ReplyWriter.results(results.compactMap(\.conditionalValue), requestID: requestID, into: &output)
        case .conditionFailedAt(let index): ReplyWriter.conditionFailed(at: index, requestID: requestID, into: &output)
        case .transaction(nil): ReplyWriter.error(.internalError, "a RESP transaction's outcome on a native connection", requestID: requestID, into: &output)
        case .result, .blocked: ReplyWriter.error(.internalError, "a RESP command's outcome on a native connection", requestID: requestID, into: &output)
        }
    }
}

extension DeadlineChange {
    /// What a native PUT's expiry does to the deadline, a time to live counted from `now`.
    init(_ expiry: PutExpiry, now: Int64) {
        switch expiry {
        case .persistent: self = .remove
        case .keep: self = .keep
        case .after(let milliseconds): self = .at(now + Int64(milliseconds))
        }
    }
}
