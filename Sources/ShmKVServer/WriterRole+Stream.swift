import Wire

/// What applying a command stream came to.
struct StreamApplied: Equatable, Sendable {
    /// Writes applied (a write that changed nothing, such as DEL of an absent key, counts too).
    var applied = 0
    /// Writes refused: a wrong number of arguments, an error in them, or one at the writer (not an
    /// integer…).
    var refused = 0
    /// Commands that are not writes (reads, PING, SELECT, MULTI/EXEC: the stream is one transaction
    /// anyway) and unknown ones: a replica ignores them.
    var skipped = 0
}

extension WriterRole {
    /// Applies `commands` as a replica applies its primary's stream: each through its entry in the
    /// command table, exactly as dispatch carries out a write's plan (`WritePlan`), its reply discarded.
    /// One batch of its own: one LMDB transaction and commit, its changes published on the ring like any
    /// batch's (keyspace notifications, WATCH, tracking and `LocalStore` followers see them). Runs with
    /// the role held (`WriteBatcher.applyStream`). LMDB's errors throw, and nothing of the stream is
    /// stored then.
    func applyStream(_ commands: [OwnedArguments], context: ServerContext) throws -> StreamApplied {
        var result = StreamApplied()
        let bytes = commands.reduce(0) { $0 + $1.byteCount }
        try batchOfItsOwn(keys: commands.count * 2, bytes: bytes) { keys in
            for command in commands {
                try command.withArguments { args throws in
                    guard let entry = CommandTable.lookup(args[0])?.takeUnretainedValue(), case .write(let handle) = entry.handler else {
                        result.skipped += 1
                        return
                    }
                    guard entry.accepts(argumentCount: args.count) else {
                        result.refused += 1
                        return
                    }
                    switch handle(WriteCall(args: args, context: context)).transactionStep(args) {
                    case .write(let operation, _):
                        if case .failed = try operation.apply(&keys) { result.refused += 1 } else { result.applied += 1 }
                    case .result(.error):
                        result.refused += 1
                    case .result:
                        result.applied += 1
                    case .keyspace, .onReactor:
                        result.skipped += 1
                    }
                }
            }
        }
        return result
    }
}

extension WriteBatcher {
    /// Applies a command stream as one batch (see `WriterRole.applyStream`), waiting for the writer role.
    func applyStream(_ commands: [OwnedArguments], context: ServerContext) throws -> StreamApplied {
        try withRole { try $0.applyStream(commands, context: context) }
    }
}
