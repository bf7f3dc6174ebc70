import Wire

/// The RESP encoding of what the writer answers: a committed write's outcome, and EXEC's steps.
extension RESPSession {
    /// Encodes a committed write's outcome in the shape its command asked for.
    func writeOutcome(_ outcome: WriteOutcome, _ shape: RESPReplyShape) {
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
            if shape == .storedAsInteger { RESPWriter.integer(0, into: &output) } else { RESPWriter.null(resp3: resp3, into: &output) }
        case .integer(let n):
            RESPWriter.integer(Int(n), into: &output)
        case .deleted(let existed):
            RESPWriter.integer(existed ? 1 : 0, into: &output)
        case .previous(let value, _):
            if let value { RESPWriter.bulk(value, into: &output) } else { RESPWriter.null(resp3: resp3, into: &output) }
        case .transaction(nil), .conditionFailedAt:
            RESPWriter.nullArray(resp3: resp3, into: &output)
        case .transaction(let results?):
            RESPWriter.array(results.count, into: &output)
            for result in results {
                switch result {
                case .write(let outcome, let shape): writeOutcome(outcome, shape)
                case .result(let result): result.write(to: respReply)
                case .onReactor(let index, let arguments):
                    arguments.withArguments { runQueued(CommandTable.all[index], $0) }
                }
            }
            // EXEC ends here: a CLIENT REPLY SKIP among its steps silences the command after it.
            if skip == .next { skip = .current }
        }
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
