// A small program that embeds the ShmKV client library.
//
//   swift run kv-client-example [SOCKET]       (default: ./data/shmkvd.sock, the daemon's default)
//
// It stores a few keys, reads them back, counts with INCRBY, pipelines a batch, scans by prefix, and
// finishes with a short timed loop of GETs and PUTs over the Unix socket.
import ShmKV

#if canImport(Glibc)
import Glibc
#endif

func seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let socketPath = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "./data/shmkvd.sock"
do {
    let client = try Client(socketPath: socketPath, timeoutSeconds: 10)
    defer { client.close() }

    // Writes return once committed.
    try client.put("greeting", "hello from ShmKV")
    print("greeting =", String(decoding: try client.get("greeting") ?? [], as: UTF8.self))

    // Conditional put: only the first writer of a key wins.
    let first = try client.put("owner", "example", condition: .ifAbsent)
    print("claimed owner:", first)

    print("visits =", try client.incr(Array("example:visits".utf8)))

    // One round trip for many requests; replies come back in order.
    let replies = try client.pipeline((0..<5).map { .put(key: Array("example:item:\($0)".utf8), value: Array("\($0 * $0)".utf8), condition: .always) })
    print("pipelined puts:", replies.map(\.status.description).joined(separator: " "))

    for try await entry in client.scan(prefix: Array("example:item:".utf8)) {
        print(" ", String(decoding: entry.key, as: UTF8.self), "=", String(decoding: entry.value, as: UTF8.self))
    }

    // A first figure: sequential round trips from one client.
    let n = 10_000
    var start = seconds()
    for i in 0..<n { _ = try client.get(Array("example:item:\(i % 5)".utf8)) }
    let getRate = Double(n) / (seconds() - start)
    start = seconds()
    for i in 0..<2_000 { try client.put(Array("example:loop:\(i)".utf8), Array("v".utf8)) }
    let putRate = 2_000 / (seconds() - start)
    print("sequential: \(Int(getRate)) GET/s, \(Int(putRate)) PUT/s (one client, one request in flight)")
} catch {
    print("error:", error)
    exit(2)
}
