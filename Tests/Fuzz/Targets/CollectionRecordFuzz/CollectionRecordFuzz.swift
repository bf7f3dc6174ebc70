import FuzzReplay
import LMDB
import StoreLayout
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target: the decoders of collection records, as a reader (the daemon, LocalStore, a program
/// reading a copied data file) meets them. The input is a `__types` record — header, then packed items —
/// stored in a real LMDB environment, and then every typed read of it runs: fields, members, scores, walks
/// in order and in reverse from every kind of start, ranges by rank, score and member, scans. A damaged
/// record must throw `DamagedRecord` or read as what it says; a trap, an out-of-bounds read (ASan) or an
/// allocation the record's size does not justify is a finding. The input's tail past the header is also
/// stored as element records of the collection it names, so that large layouts decode hostile
/// elements too.
nonisolated(unsafe) private var fixture: (Environment, StoreDatabases)? = nil

private func openFixture() -> (Environment, StoreDatabases) {
    if let fixture { return fixture }
    // The directory make fuzz and the replay test give (removed after), else one of its own in /tmp.
    let base = getenv("SHMKV_FUZZ_DIR").map { String(cString: $0) } ?? "/tmp"
    mkdir(base, 0o700)
    var template = Array((base + "/records-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp in \(base) failed") }
    let path = String(cString: made)
    let environment = try! Environment(path: path, options: .init(mapSize: 256 << 20, maxDatabases: StoreLayout.maxDatabases))
    let databases = try! environment.openStoreDatabases(create: true)
    fixture = (environment, databases)
    return fixture!
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCollectionRecords(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let record = UnsafeRawBufferPointer(start: data, count: size)
    _ = CollectionHeader(record)
    _ = PackedItems.isValid(UnsafeRawBufferPointer(rebasing: record[min(size, CollectionHeader.size)...]), type: .zset, elements: size % 7)
    let (environment, databases) = openFixture()
    guard let types = databases.types, let elements = databases.elements else { return 0 }
    let key: [UInt8] = Array("k".utf8)
    try? environment.write { txn in
        try txn.clear(elements)
        try txn.put(types, key: key, value: Array(record))
        // The record's own id, with the rest of the input as element records of every kind.
        if let header = CollectionHeader(record), !header.isPacked, size > CollectionHeader.size {
            let rest = Array(record[CollectionHeader.size...])
            for tag in [ElementKey.field, ElementKey.longField, ElementKey.member, ElementKey.longMember, ElementKey.order] {
                let key = ElementKey.prefix(header.id, tag) + rest.prefix(400)
                try txn.put(elements, key: key, value: Array(rest.dropFirst(rest.count / 2)))
            }
            // A list's chunks: a count, then items, cut from the input at three positions.
            for (i, position) in [ListChunk.firstPosition, ListChunk.firstPosition + 1, 7].enumerated() {
                try txn.put(elements, key: ListChunk.key(header.id, position), value: Array(rest.dropFirst(i * rest.count / 3)))
            }
        }
    }
    try? environment.read { txn in
        let reader = try KeyspaceReader(txn, databases, clock: { 0 })
        try? key.withUnsafeBytes { k in
            try reader.withCollection(k) { view in
                guard let view else { return }
                let probe: [UInt8] = Array("m1".utf8)
                probe.withUnsafeBytes { m in
                    _ = try? view.withField(m) { $0?.count }
                    _ = try? view.contains(m)
                    _ = try? view.score(of: m)
                    for reverse in [false, true] {
                        for start: CollectionView.OrderStart in [.edge, .score(1, exclusive: reverse), .member(m)] {
                            var n = 0
                            try? view.forEachInOrder(reverse: reverse, from: start) { _, _ in n += 1; return n < 10_000 ? .proceed : .stop }
                        }
                    }
                    for range: SortedSetRange in [.rank(0, -1), .rank(-3, 2), .score(min: -.infinity, minExclusive: false, max: 2, maxExclusive: true),
                                                  .lex(min: .inclusive(probe), max: .positiveInfinity)] {
                        try? range.forEach(in: view, reverse: size % 2 == 0, offset: 1, limit: 5) { _, _ in .proceed }
                    }
                }
                var n = 0
                try? view.forEachField { _, _ in n += 1; return n < 10_000 ? .proceed : .stop }
                try? view.forEachMember { _ in n += 1; return n < 20_000 ? .proceed : .stop }
                try? view.forEachRecord(after: nil) { _, _, _ in n += 1; return n < 30_000 ? .proceed : .stop }
                _ = try? view.withRandomRecord(UInt64(size)) { _, member, _ in member.count }
                // Lists (and streams): walks from both ends with skips, and items by index.
                for reverse in [false, true] {
                    for skip in [0, 1, size % 300] {
                        var items = 0
                        try? view.forEachListItem(reverse: reverse, skip: skip) { _ in items += 1; return items < 10_000 ? .proceed : .stop }
                    }
                }
                for index in [0, -1, 1, size % 200, -(size % 200) - 1, Int.min, Int.max] {
                    _ = try? view.withListItem(at: index) { $0?.count }
                }
            }
        }
    }
    return 0
}

@main struct FuzzEntry {
    static func main() { fuzzMain { data, size in fuzzCollectionRecords(data, size) } }
}
