import StoreLayout
import Wire

/// What write handlers call: queue a write for the writer (or, inside MULTI, as a step), answer at
/// once in request order, check keys and values.
extension RESPSession {
    /// Queues a write whose reply `writeOutcome` encodes after the commit (inside MULTI: a step of the
    /// transaction, answered +QUEUED).
    func enqueue(_ operation: consuming WriteOperation, _ shape: RESPReplyShape = .standard) -> Bool {
        if queueing { return queued(.write(operation, shape)) }
        if connection.submit(operation, route: .resp(shape, command: currentCommand, silent: repliesSilenced)) { return true }
        return replyError("ERR the server is shutting down")
    }

    /// Queues `write` of `key` and `value` (see the next).
    func enqueue(_ write: StoredWrite, key: UnsafeRawBufferPointer,
                 value: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                 _ shape: RESPReplyShape = .standard) -> Bool {
        enqueue(write, byteCount: key.count + value.count, keyCount: key.count, shape) { _ = $0.storePair(key, value) }
    }

    /// Queues `write` whose bytes `fill` lays out (`byteCount`, the first `keyCount` the key): outside
    /// MULTI into the reactor's write arena (no allocation; released when the outcome comes back),
    /// inside MULTI into an array of the queued step's own.
    func enqueue(_ write: StoredWrite, byteCount: Int, keyCount: Int, _ shape: RESPReplyShape = .standard,
                 fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        if queueing { return queued(.write(.owned(OwnedBytes(byteCount: byteCount, keyCount: keyCount, fill), write), shape)) }
        if connection.submit(write, byteCount: byteCount, keyCount: keyCount, route: .resp(shape, command: currentCommand, silent: repliesSilenced), fill) {
            return true
        }
        return replyError("ERR the server is shutting down")
    }

    /// SET and its relatives.
    func enqueuePut(_ args: RESPArguments, key: Int, value: Int, condition: PutCondition, returnOld: Bool = false,
                    deadline: DeadlineChange = .remove, _ shape: RESPReplyShape = .standard) -> Bool {
        enqueue(.put(condition: condition, returnOld: returnOld, deadline: deadline), key: args[key], value: args[value], shape)
    }

    /// Writes an error now, if that keeps replies in order (else the command waits). Inside MULTI the
    /// error becomes the step's result at EXEC, as Redis reports a command's own errors.
    func replyError(_ message: String) -> Bool {
        if queueing { return queued(.result(.error(message))) }
        guard connection.pendingWrites == 0 else { return false }
        RESPWriter.error(message, into: &output)
        return true
    }

    /// Writes an answer a write handler knows at once (inside MULTI: the step's result at EXEC).
    func reply(_ result: CommandResult) -> Bool {
        if queueing { return queued(.result(result)) }
        guard connection.pendingWrites == 0 else { return false }
        result.write(to: respReply)
        return true
    }

    func wrongArity(_ args: RESPArguments) -> Bool {
        replyError("ERR wrong number of arguments for '\(args.string(0).lowercased())' command")
    }

    /// A subcommand's arity error, named as Redis names it (`config|get`).
    func wrongArity(_ args: RESPArguments, _ name: String) -> Bool {
        replyError("ERR wrong number of arguments for '\(name)' command")
    }

    func keyProblem(_ key: UnsafeRawBufferPointer) -> String? {
        switch StoreLayout.check(key: key) {
        case nil: nil
        case .empty: "ERR empty keys are not supported by ShmKV"
        case .tooLong(let n): "ERR key of \(n) bytes exceeds the maximum of \(StoreLayout.maxKeySize) bytes"
        }
    }

    func valueProblem(_ value: UnsafeRawBufferPointer) -> String? {
        let max = context.configuration.maxValueSize
        return value.count > max ? "ERR value of \(value.count) bytes exceeds the maximum of \(max) bytes" : nil
    }
}
