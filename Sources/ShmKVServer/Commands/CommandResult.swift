import Wire

/// A command's reply as a value, in no protocol: what a MULTI step or (later) a script computes on the
/// writer and a reactor encodes in its connection's protocol. Handlers do not build it: they write into
/// a `ReplySink`, one of whose targets (`ResultBuilder`) makes these.
enum CommandResult: Sendable, Equatable {
    case status(String)
    /// An error with its Redis code (`ERR`, `WRONGTYPE`, `NOSCRIPT`, `READONLY`…): `line` is the whole
    /// text after the `-`, the code its first word, never prefixed again.
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    /// A missing value: RESP2 `$-1`, RESP3 `_`.
    case null
    /// A missing aggregate: RESP2 `*-1`, RESP3 `_`.
    case nullArray
    case array([CommandResult])
    /// Key, value, key, value…: RESP3 `%`, a flat array in RESP2.
    case map([CommandResult])
    case set([CommandResult])
    case double(Double)
    /// Element, value, element, value…: a flat array in RESP2, an array of pairs in RESP3 (ZPOPMIN with
    /// a count, where Redis's reply changes shape with the protocol).
    case pairs([CommandResult])
    case boolean(Bool)
    case verbatim(String)
    /// A big number (only scripts make one): RESP3 `(`, a bulk string in RESP2.
    case bigNumber(String)
    /// Not a reply: a blocking command found nothing to pop and blocks (the writer parks it; see
    /// `BlockedClients`). Never written to a client (`write` answers it as a timeout).
    case block(BlockRequest)

    /// Writes the result into `reply` (any sink: a connection's output, another builder, nothing).
    func write(to reply: ReplySink) {
        switch self {
        case .status(let text): reply.status(text)
        case .error(let line): reply.error(line)
        case .integer(let n): reply.integer(n)
        case .bulk(let bytes): reply.bulk(bytes)
        case .null: reply.null()
        case .nullArray: reply.nullArray()
        case .array(let items):
            reply.array(items.count)
            for item in items { item.write(to: reply) }
        case .map(let items):
            reply.map(items.count / 2)
            for item in items { item.write(to: reply) }
        case .set(let items):
            reply.set(items.count)
            for item in items { item.write(to: reply) }
        case .double(let d): reply.double(d)
        case .pairs(let items):
            switch reply.target {
            case .build(let builder): builder.add(self)
            case .discard: break
            case .resp(_, let resp3):
                reply.array(resp3 ? items.count / 2 : items.count)
                for (i, item) in items.enumerated() {
                    if resp3 && i % 2 == 0 { reply.array(2) }
                    item.write(to: reply)
                }
            }
        case .boolean(let b): reply.boolean(b)
        case .verbatim(let text): reply.verbatim(text)
        case .bigNumber(let text): reply.bigNumber(text)
        case .block(let request): request.timeoutResult.write(to: reply)
        }
    }
}

/// Builds `CommandResult`s from a handler's replies (the `build` target of `ReplySink`): each aggregate
/// header opens a frame that closes when its last element arrives. A class, so that the `ReplySink` values
/// handed to handlers share it; one per EXEC (or script call), never on the hot path.
final class ResultBuilder {
    private enum Kind { case array, map, set }
    private var open: [(kind: Kind, expected: Int, items: [CommandResult])] = []
    /// The finished top-level results, in order.
    private(set) var results: [CommandResult] = []

    init() {}

    /// The last finished top-level result (a handler run adds exactly one).
    func takeLast() -> CommandResult {
        precondition(open.isEmpty, "a reply's aggregate was not finished")
        return results.removeLast()
    }

    func add(_ result: CommandResult) {
        var result = result
        while true {
            guard !open.isEmpty else { return results.append(result) }
            open[open.count - 1].items.append(result)
            let top = open[open.count - 1]
            guard top.items.count == top.expected else { return }
            open.removeLast()
            result = switch top.kind {
            case .array: .array(top.items)
            case .map: .map(top.items)
            case .set: .set(top.items)
            }
        }
    }

    func beginArray(_ count: Int) { begin(.array, count) }
    func beginMap(_ pairs: Int) { begin(.map, pairs * 2) }
    func beginSet(_ count: Int) { begin(.set, count) }

    private func begin(_ kind: Kind, _ count: Int) {
        guard count > 0 else {
            return add(kind == .array ? .array([]) : kind == .map ? .map([]) : .set([]))
        }
        open.append((kind, count, []))
        open[open.count - 1].items.reserveCapacity(count)
    }
}
