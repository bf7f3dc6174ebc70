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

    /// The one switch over the target: `resp` encodes into the connection's output (with its protocol
    /// version), `result` is what a builder keeps (made only for `build`).
    @inline(__always)
    private func emit(_ resp: (inout [UInt8], Bool) -> Void, _ result: @autoclosure () -> CommandResult) {
        switch target {
        case .resp(let connection, let resp3): connection._withUnsafeGuaranteedRef { resp(&$0.output, resp3) }
        case .build(let builder): builder.add(result())
        case .discard: break
        }
    }

    /// An aggregate's header; its elements follow.
    @inline(__always)
    private func header(_ resp: (inout [UInt8], Bool) -> Void, _ begin: (ResultBuilder) -> Void) {
        switch target {
        case .resp(let connection, let resp3): connection._withUnsafeGuaranteedRef { resp(&$0.output, resp3) }
        case .build(let builder): begin(builder)
        case .discard: break
        }
    }

    func status(_ text: StaticString) { emit({ out, _ in RESPWriter.simple(text, into: &out) }, .status(text.description)) }
    func status(_ text: String) { emit({ out, _ in RESPWriter.simple(text, into: &out) }, .status(text)) }
    func ok() { emit({ out, _ in RESPWriter.ok(into: &out) }, .status("OK")) }

    /// An error line with its code first (`ERR syntax error`, `WRONGTYPE Operation…`).
    func error(_ line: String) { emit({ out, _ in RESPWriter.error(line, into: &out) }, .error(line)) }

    func integer(_ n: Int64) { emit({ out, _ in RESPWriter.integer(Int(n), into: &out) }, .integer(n)) }
    func integer(_ n: Int) { integer(Int64(n)) }

    @inline(__always)
    func bulk(_ bytes: UnsafeRawBufferPointer) { emit({ out, _ in RESPWriter.bulk(bytes, into: &out) }, .bulk(Array(bytes))) }
    func bulk(_ bytes: [UInt8]) { emit({ out, _ in RESPWriter.bulk(bytes, into: &out) }, .bulk(bytes)) }
    func bulk(_ text: String) { bulk(Array(text.utf8)) }

    func null() { emit({ out, resp3 in RESPWriter.null(resp3: resp3, into: &out) }, .null) }
    func nullArray() { emit({ out, resp3 in RESPWriter.nullArray(resp3: resp3, into: &out) }, .nullArray) }
    /// A score as Redis replies with one (`%.17g`: a bulk string in RESP2, a double in RESP3).
    func double(_ value: Double) {
        emit({ out, resp3 in RESPWriter.double(text: RedisDouble.format(value), resp3: resp3, into: &out) }, .double(value))
    }
    func boolean(_ value: Bool) { emit({ out, resp3 in RESPWriter.boolean(value, resp3: resp3, into: &out) }, .boolean(value)) }
    func bigNumber(_ text: String) { emit({ out, resp3 in RESPWriter.bigNumber(text, resp3: resp3, into: &out) }, .bigNumber(text)) }
    func verbatim(_ text: String) { emit({ out, resp3 in RESPWriter.verbatim(text, resp3: resp3, into: &out) }, .verbatim(text)) }

    /// An array of `count` elements; they follow.
    func array(_ count: Int) { header({ out, _ in RESPWriter.array(count, into: &out) }, { $0.beginArray(count) }) }
    /// A map of `pairs` key-value pairs (a flat array in RESP2); 2 × pairs elements follow.
    func map(_ pairs: Int) { header({ out, resp3 in RESPWriter.map(pairs, resp3: resp3, into: &out) }, { $0.beginMap(pairs) }) }
    func set(_ count: Int) { header({ out, resp3 in RESPWriter.set(count, resp3: resp3, into: &out) }, { $0.beginSet(count) }) }
}

extension ReplySink {
    /// A HELP reply: one status line per entry, as Redis sends them.
    func help(_ lines: [String]) {
        array(lines.count)
        for line in lines { status(line) }
    }
}
