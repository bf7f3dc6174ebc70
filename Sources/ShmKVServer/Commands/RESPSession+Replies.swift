import Wire

extension WriteOutcome {
    /// Answers a committed write's outcome as Redis answers its command, in the shape it asked for, into
    /// any sink (a connection's output, or a `ResultBuilder`). In EXEC's array, `onReactor` runs each
    /// step queued to run on the reactor, in its place.
    func reply(_ shape: RESPReplyShape, to sink: ReplySink, onReactor: (_ command: Int, OwnedArguments) -> Void = { _, _ in }) {
        switch self {
        case .failed(let status, let message):
            switch status {
            case .notInteger: sink.error("ERR value is not an integer or out of range")
            case .overflow: sink.error("ERR increment or decrement would overflow")
            case .wrongType: sink.error(message)
            default: sink.error("ERR \(message)")
            }
        case .stored:
            if shape == .storedAsInteger { sink.integer(1) } else { sink.ok() }
        case .conditionFailed:
            if shape == .storedAsInteger { sink.integer(0) } else { sink.null() }
        case .integer(let n):
            sink.integer(n)
        case .deleted(let existed):
            sink.integer(existed ? 1 : 0)
        case .previous(let value, _):
            if let value { sink.bulk(value) } else { sink.null() }
        case .result(let result):
            result.write(to: sink)
        case .transaction(nil), .conditionFailedAt, .blocked:
            sink.nullArray()
        case .transaction(let results?):
            sink.array(results.count)
            for result in results {
                switch result {
                case .write(let outcome, let shape): outcome.reply(shape, to: sink)
                case .result(let result): result.write(to: sink)
                case .onReactor(let index, let arguments): onReactor(index, arguments)
                }
            }
        }
    }
}

/// The reply to a committed write on a RESP connection.
extension RESPSession {
    /// Encodes a committed write's outcome; EXEC's array runs the steps queued for the reactor in their
    /// places.
    func writeOutcome(_ outcome: WriteOutcome, _ shape: RESPReplyShape) {
        outcome.reply(shape, to: respReply) { index, arguments in
            arguments.withArguments { runQueued(CommandTable.all[index], $0) }
        }
        // EXEC ends here: a CLIENT REPLY SKIP among its steps silences the command after it.
        if case .transaction = outcome, skip == .next { skip = .current }
    }

    /// A queued command that runs on the reactor at EXEC (`TransactionStep.onReactor`), its reply in
    /// its place in EXEC's array.
    private func runQueued(_ command: Command, _ args: RESPArguments) {
        guard case .immediate(let handle) = command.handler else {
            preconditionFailure("only immediate commands are queued to run on the reactor")
        }
        handle(self, args)
    }
}
