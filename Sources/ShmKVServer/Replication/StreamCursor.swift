/// Where a primary's link is in the primary's stream: the offset of the last byte handled, and the
/// length of the request being dispatched (a write queued now carries the offset of its end).
final class StreamCursor {
    let link: Int
    var processed: Int64
    /// Bytes of a MULTI block not yet EXECed: as Redis's replicas, the offset moves past a transaction
    /// only at its end, so that a link broken inside one resumes at its MULTI.
    var held: Int64 = 0
    var requestBytes = 0
    /// A cluster follower's migration claims, which filter the stream's RESTOREs and DELs (nil: a
    /// single primary's stream, nothing filtered).
    var claims: MigrationClaims?
    /// The end offsets of the writes queued and not yet committed, in order.
    private var queued: [Int64] = []
    private var head = 0

    init(link: Int, processed: Int64) {
        self.link = link
        self.processed = processed
    }

    /// The offset a write queued now carries: its request's end.
    var requestEnd: Int64 { processed + held + Int64(requestBytes) }

    func advance(_ consumed: Int, inTransaction: Bool) {
        if inTransaction {
            held += Int64(consumed)
        } else {
            processed += held + Int64(consumed)
            held = 0
        }
    }

    func queue(_ offset: Int64) { queued.append(offset) }

    /// The offset of the oldest queued write, which just committed.
    func committed() -> Int64? {
        guard head < queued.count else { return nil }
        let offset = queued[head]
        head += 1
        if head == queued.count || head > 1024 {
            queued.removeFirst(head)
            head = 0
        }
        return offset
    }
}
