import Wire

/// How a RESP connection carries out a write command's plan (`WritePlan`) outside MULTI: the write goes
/// to the writer, its reply encoded when the batch committed (`writeOutcome`); an answer known at once
/// is written in request order.
extension RESPSession {
    /// Carries out `plan`; false if its reply must wait for the connection's earlier writes (nothing
    /// was submitted or consumed then).
    /// A `blocking` command's bytes are its own (not in the reactor's write arena, which they would pin
    /// for as long as the client waits), and the connection reads no further request until it is answered.
    func carryOut(_ plan: WritePlan, _ args: RESPArguments, blocking: Bool = false) -> Bool {
        switch plan {
        case .write(let write, let bytes, let shape) where blocking:
            let size = bytes.size(args)
            let owned = OwnedBytes(byteCount: size.bytes, keyCount: size.key) { bytes.fill($0, args) }
            guard connection.submit(.owned(owned, write), route: route(shape)) else { return answer(.error("ERR the server is shutting down")) }
            connection.awaitsBlockedCommand = true
            return true
        case .write(let write, let bytes, let shape):
            if connection.submit(write, bytes, of: args, route: route(shape)) { return true }
            return answer(.error("ERR the server is shutting down"))
        case .operation(.script(let invocation)) where invocation.runsOnSnapshot:
            guard connection.pendingWrites == 0 else { return false }
            evaluate(invocation)
            return true
        case .operation(let operation):
            return submit(operation)
        case .reply(let result):
            return answer(result)
        case .read(let handle):
            guard connection.pendingWrites == 0 else { return false }
            run(handle, args)
            return true
        }
    }

    /// Runs a read-only script on this reactor's snapshot with its interpreter, as a read runs. Once
    /// busy, it serves the reactor's other connections from its count hook (`ScriptEngine.interrupt`).
    private func evaluate(_ invocation: ScriptInvocation) {
        read { reader in
            let result: CommandResult
            do {
                result = try connection.reactor.scripts.evaluate(invocation, on: reader, database: Int(connection.database),
                                                                  descriptor: connection.fd)
            } catch is ScriptStoppedForShutdown {
                result = .error("ERR Script killed by a shutdown (SHUTDOWN NOSAVE, or the daemon stopping)")
            }
            result.write(to: respReply)
        }
    }

    /// Submits `operation` to the writer (EXEC, SAVE, FLUSHDB); false as `carryOut`.
    func submit(_ operation: consuming WriteOperation) -> Bool {
        if connection.submit(operation, route: route(.standard)) { return true }
        return answer(.error("ERR the server is shutting down"))
    }

    /// Where a submitted write's reply goes: this command's counters, and silenced by CLIENT REPLY if
    /// replies are off now.
    private func route(_ shape: RESPReplyShape) -> ReplyRoute {
        .resp(shape, command: currentCommand, silent: repliesSilenced)
    }

    /// Writes `result` now if that keeps replies in order; false if it must wait.
    private func answer(_ result: CommandResult) -> Bool {
        guard connection.pendingWrites == 0 else { return false }
        result.write(to: respReply)
        return true
    }

    func wrongArity(_ args: RESPArguments) {
        wrongArity(args, args.string(0).lowercased())
    }

    /// A subcommand's arity error, named as Redis names it (`config|get`).
    func wrongArity(_ args: RESPArguments, _ name: String) {
        RESPWriter.error(RESPError.wrongArity(name).message, into: &output)
    }
}
