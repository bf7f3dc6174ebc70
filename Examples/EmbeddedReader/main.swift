// A program that reads a running daemon's data straight from the shared memory map, with no socket.
//
//   swift run embedded-reader-example [DATA_DIR]      (default: ./data, the daemon's default)
//
// It opens the data directory read-only with LocalStore, looks keys up in place (zero copy), reads
// several keys from one consistent snapshot, lists a prefix, reads a hash and a sorted set if the store
// has them (`redis-cli HSET profile:1 name ada`, `redis-cli ZADD board 42 ada 7 bob`), and times a loop of
// in-place reads.
// Writes still go through the daemon (Client); this process only reads.
import ShmKV

#if canImport(Glibc)
import Glibc
#endif

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "./data"
do {
    let store = try LocalStore(directory: directory)
    let stats = try store.statistics()
    print("\(directory): \(stats.keys) keys, \(stats.mapUsedBytes) bytes used of a \(stats.mapSize)-byte map, last change #\(stats.lastSequence)")

    // Zero copy: the buffer points into the map and is valid only inside the closure.
    let keys = try store.scan(prefix: [], limit: 5).map(\.key)
    for key in keys {
        let length = try store.withValue(key) { value in value?.count ?? -1 }
        print("  \(String(decoding: key, as: UTF8.self)): \(length) bytes")
    }

    // Several reads that see the store as of one commit.
    let (count, first) = try store.read { snapshot in
        (try snapshot.count(), try keys.first.flatMap { try snapshot.get($0) })
    }
    print("snapshot: \(count) keys; first value \(first.map { String(decoding: $0.prefix(40), as: UTF8.self) } ?? "(none)")")

    // Collections in place: a hash's field, a sorted set's top three (highest score first).
    try store.read { snapshot in
        if let name = try snapshot.withHash(Array("profile:1".utf8), { try $0?.field(Array("name".utf8)) }) {
            print("profile:1 name: \(String(decoding: name, as: UTF8.self))")
        }
        let top = try snapshot.withSortedSet(Array("board".utf8)) { try $0?.range(.rank(0, 2), reverse: true) } ?? []
        for (member, score) in top { print("board: \(String(decoding: member, as: UTF8.self)) \(score)") }
    }

    // A timed loop of in-place reads of the keys seen above.
    if !keys.isEmpty {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let start = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        var bytes = 0
        let rounds = 200_000
        for i in 0..<rounds {
            bytes &+= try store.withValue(keys[i % keys.count]) { $0?.count ?? 0 }
        }
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let elapsed = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 - start
        print("\(rounds) in-place reads: \(Int(Double(rounds) / elapsed)) reads/s (\(bytes) bytes seen)")
    }
} catch {
    print("embedded-reader-example: \(error)")
    exit(1)
}
