import Wire

/// The RESP encoding of what the writer answers: a committed write's outcome, and an answer computed
/// elsewhere (a queued step of MULTI).
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
        case .results(let results):
            RESPWriter.array(results.count, into: &output)
            for n in results { RESPWriter.integer(Int(n), into: &output) }
        case .transaction(let results?):
            RESPWriter.array(results.count, into: &output)
            for result in results {
                switch result {
                case .write(let outcome, let shape): writeOutcome(outcome, shape)
                case .answer(let answer): encode(answer)
                case .error(let message): RESPWriter.error(message, into: &output)
                }
            }
        }
    }

    /// An answer computed elsewhere (the writer, or a queued step), in this connection's protocol.
    func encode(_ answer: Answer) {
        switch answer {
        case .bulk(let bytes?): RESPWriter.bulk(bytes, into: &output)
        case .bulk(nil): RESPWriter.null(resp3: resp3, into: &output)
        case .integer(let n): RESPWriter.integer(Int(n), into: &output)
        case .status(let text): RESPWriter.simple(text, into: &output)
        case .array(let items):
            RESPWriter.array(items.count, into: &output)
            for item in items { encode(item) }
        }
    }
}
