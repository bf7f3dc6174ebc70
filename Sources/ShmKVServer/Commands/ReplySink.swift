import Wire

/// Where a handler's reply goes (Redis's `addReply*` into whatever client it was given). Dispatch picks
/// the target; the handler only says what it answers:
/// - `resp`: straight into a connection's output buffer, in RESP2 or RESP3 (a GET's value is copied from
///   the map into the output once, nothing allocated);
/// - `build`: into `CommandResult` values (a MULTI step run by the writer, encoded later by the reactor);
/// - `discard`: nowhere (a replication stream's commands).
struct ReplySink {
    enum Target {
        // Invariant: the connection outlives every `ReplySink` made for it — one is made per request on the
        // connection's own reactor thread and dropped before the request's turn ends.
        case resp(Unmanaged<ServerConnection>, resp3: Bool)
        case build(ResultBuilder)
        case discard
    }

    let target: Target

    init(_ target: Target) { self.target = target }

    /// Whether RESP3 types reach the client (a handler rarely needs to know: `map`, `null`… adapt).
    var resp3: Bool {
        if case .resp(_, let resp3) = target { return resp3 }
        return true
    }

    @inline(__always)
    private func output(_ body: (inout [UInt8]) -> Void) {
        guard case .resp(let connection, _) = target else { return }
        connection._withUnsafeGuaranteedRef { body(&$0.output) }
    }

    func status(_ text: StaticString) {
        switch target {
        case .resp: output { RESPWriter.simple(text, into: &$0) }
        case .build(let builder): builder.add(.status(text.description))
        case .discard: break
        }
    }

    func status(_ text: String) {
        switch target {
        case .resp: output { RESPWriter.simple(text, into: &$0) }
        case .build(let builder): builder.add(.status(text))
        case .discard: break
        }
    }

    func ok() {
        switch target {
        case .resp: output { RESPWriter.ok(into: &$0) }
        case .build(let builder): builder.add(.status("OK"))
        case .discard: break
        }
    }

    /// An error line with its code first (`ERR syntax error`, `WRONGTYPE Operation…`).
    func error(_ line: String) {
        switch target {
        case .resp: output { RESPWriter.error(line, into: &$0) }
        case .build(let builder): builder.add(.error(line))
        case .discard: break
        }
    }

    func integer(_ n: Int64) {
        switch target {
        case .resp: output { RESPWriter.integer(Int(n), into: &$0) }
        case .build(let builder): builder.add(.integer(n))
        case .discard: break
        }
    }

    func integer(_ n: Int) { integer(Int64(n)) }

    @inline(__always)
    func bulk(_ bytes: UnsafeRawBufferPointer) {
        switch target {
        case .resp: output { RESPWriter.bulk(bytes, into: &$0) }
        case .build(let builder): builder.add(.bulk(Array(bytes)))
        case .discard: break
        }
    }

    func bulk(_ bytes: [UInt8]) {
        switch target {
        case .resp: output { RESPWriter.bulk(bytes, into: &$0) }
        case .build(let builder): builder.add(.bulk(bytes))
        case .discard: break
        }
    }

    func bulk(_ text: String) { bulk(Array(text.utf8)) }

    func null() {
        switch target {
        case .resp(_, let resp3): output { RESPWriter.null(resp3: resp3, into: &$0) }
        case .build(let builder): builder.add(.null)
        case .discard: break
        }
    }

    func nullArray() {
        switch target {
        case .resp(_, let resp3): output { RESPWriter.nullArray(resp3: resp3, into: &$0) }
        case .build(let builder): builder.add(.nullArray)
        case .discard: break
        }
    }

    /// An array of `count` elements; they follow.
    func array(_ count: Int) {
        switch target {
        case .resp: output { RESPWriter.array(count, into: &$0) }
        case .build(let builder): builder.beginArray(count)
        case .discard: break
        }
    }

    /// A map of `pairs` key-value pairs (a flat array in RESP2); 2 × pairs elements follow.
    func map(_ pairs: Int) {
        switch target {
        case .resp(_, let resp3): output { RESPWriter.map(pairs, resp3: resp3, into: &$0) }
        case .build(let builder): builder.beginMap(pairs)
        case .discard: break
        }
    }

    func set(_ count: Int) {
        switch target {
        case .resp(_, let resp3): output { RESPWriter.set(count, resp3: resp3, into: &$0) }
        case .build(let builder): builder.beginSet(count)
        case .discard: break
        }
    }

    func double(_ value: Double) {
        switch target {
        case .resp(_, let resp3): output { RESPWriter.double(value, resp3: resp3, into: &$0) }
        case .build(let builder): builder.add(.double(value))
        case .discard: break
        }
    }

    func boolean(_ value: Bool) {
        switch target {
        case .resp(_, let resp3): output { RESPWriter.boolean(value, resp3: resp3, into: &$0) }
        case .build(let builder): builder.add(.boolean(value))
        case .discard: break
        }
    }

    func verbatim(_ text: String) {
        switch target {
        case .resp(_, let resp3): output { RESPWriter.verbatim(text, resp3: resp3, into: &$0) }
        case .build(let builder): builder.add(.verbatim(text))
        case .discard: break
        }
    }

    /// Where the output stands now, and `rewind(to:)` to take back what a failed handler wrote.
    var mark: Int {
        switch target {
        case .resp(let connection, _): connection._withUnsafeGuaranteedRef { $0.output.count }
        default: 0
        }
    }

    func rewind(to mark: Int) {
        switch target {
        case .resp(let connection, _): connection._withUnsafeGuaranteedRef { $0.output.removeSubrange(mark...) }
        case .build(let builder): builder.discardOpen()
        case .discard: break
        }
    }
}

extension ReplySink {
    /// A HELP reply: one status line per entry, as Redis sends them.
    func help(_ lines: [String]) {
        array(lines.count)
        for line in lines { status(line) }
    }
}
