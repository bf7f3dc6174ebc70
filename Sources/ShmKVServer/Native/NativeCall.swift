import StoreLayout
import Wire

/// CALL (opcode 0x11): a RESP command of the table run over the native protocol, answered with its RESP2
/// reply in an OK frame. The command passes the checks RESP dispatch makes (access with its own key
/// positions, name, subcommand, arity, cluster slots) and runs through the same handler: a read on the
/// reactor's snapshot, a write's plan carried out as RESP carries it out (its outcome answered through
/// the same encoder). Commands about a RESP connection or the server (PING, MULTI, CLIENT, INFO…) are not
/// available: the native protocol has its own (PING, TXN, STATS).
extension NativeSession {
    /// Runs one CALL; false if its reply must wait for the connection's earlier writes.
    func call(_ args: RESPArguments, _ id: UInt32) -> Bool {
        let entry = CommandTable.lookup(args[0]).map { $0.takeUnretainedValue() }
        let unrestricted = connection.isUnrestricted
        var admission = RESPSession.admit(entry, args, user: unrestricted ? nil : connection.user, unrestricted: unrestricted,
                                          subscribedRESP2: false)
        if admission == .run, let entry, entry.keys.hasKeys, let redirect = context.cluster?.refusal(entry, args) {
            admission = .refused(redirect)
        }
        guard admission == .run, let entry else {
            let message = RESPSession.admissionError(admission == .crossProtocolAttack ? .unknownCommand : admission, args)
            return answerCallNow(id) { $0.error(message) }
        }
        switch entry.handler {
        case .keyspace(let handle):
            return runCall(handle, args, id)
        case .write(let handle):
            switch handle(WriteCall(args: args, context: context)) {
            case .write(let write, let bytes, let shape):
                if connection.submit(write, bytes, of: args, route: .nativeCall(requestID: id, shape, command: entry.index)) { return true }
                return answerCallNow(id) { $0.error("ERR the server is shutting down") }
            case .operation(let operation):
                if connection.submit(operation, route: .nativeCall(requestID: id, .standard, command: entry.index)) { return true }
                return answerCallNow(id) { $0.error("ERR the server is shutting down") }
            case .reply(let result):
                return answerCallNow(id) { result.write(to: $0) }
            case .read(let handle):
                return runCall(handle, args, id)
            }
        case .immediate:
            return answerCallNow(id) {
                $0.error("ERR '\(entry.name)' is not available over the native protocol (use RESP, or the native PING, TXN and STATS)")
            }
        }
    }

    /// A keyspace command on the reactor's snapshot, its reply into the frame.
    private func runCall(_ handle: KeyspaceHandler, _ args: RESPArguments, _ id: UInt32) -> Bool {
        guard connection.pendingWrites == 0 else { return false }
        let start = output.count
        do {
            let reader = try connection.reactor.keyspace()
            let client = CallingClient(id: 0, keyFilter: connection.isUnrestricted ? nil : connection.user)
            try answerCall(id) { sink in
                try handle(CommandCall(args: args, keys: Keyspace(.snapshot(reader)), reply: sink, client: client, context: context))
            }
        } catch is WrongTypeError {
            output.removeSubrange(start...)
            answerCall(id) { $0.error(WrongTypeError.message) }
        } catch {
            output.removeSubrange(start...)
            ReplyWriter.error(.storageError, "\(error)", requestID: id, into: &output)
        }
        return true
    }

    /// An answer known at once, written if that keeps replies in order (false: it must wait).
    private func answerCallNow(_ id: UInt32, _ body: (ReplySink) -> Void) -> Bool {
        guard connection.pendingWrites == 0 else { return false }
        answerCall(id, body)
        return true
    }

    /// One OK frame whose body is the RESP2 reply `body` writes.
    func answerCall(_ id: UInt32, _ body: (ReplySink) throws -> Void) rethrows {
        let start = Native.beginFrame(code: Status.ok.rawValue, requestID: id, into: &output)
        try body(ReplySink(.resp(Unmanaged.passUnretained(connection), resp3: false)))
        Native.endFrame(at: start, in: &output)
    }
}
