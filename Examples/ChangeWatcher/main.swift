// A program that follows every change to keys with a prefix, from the daemon's notification ring.
//
//   swift run change-watcher-example [DATA_DIR] [PREFIX] [COUNT]   (default: ./data, all keys, forever)
//
// It subscribes first, then reads the current values (so nothing is missed between the two), then
// prints each change with the new value read in place from the map. A resync means changes were
// missed (the watcher fell a whole ring behind, or the daemon restarted): it rereads the prefix.
import ShmKV

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let directory = arguments.count > 1 ? arguments[1] : "./data"
let prefix = Array((arguments.count > 2 ? arguments[2] : "").utf8)
let limit = arguments.count > 3 ? Int(arguments[3]) : nil

func show(_ key: [UInt8]) -> String { String(decoding: key, as: UTF8.self) }

/// Prints a line and flushes it (stdout may be a pipe, which C buffers fully).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

do {
    let store = try LocalStore(directory: directory)
    let changes = try store.changes(prefix: prefix)
    say("watching \(directory) for '\(show(prefix))': \(try store.scan(prefix: prefix).count) keys now")
    var seen = 0
    for try await event in changes {
        switch event {
        case .change(let change):
            let value = try store.withValue(change.key) { $0.map { String(decoding: $0.prefix(60), as: UTF8.self) } }
            say("#\(change.sequence) \(change.kind) \(show(change.key))" + (value.map { " = \($0)" } ?? ""))
        case .resync(let resync):
            say("resync (\(resync.reason.rawValue)), missed \(resync.missed): \(try store.scan(prefix: prefix).count) keys now")
        }
        seen += 1
        if let limit, seen >= limit { break }
    }
} catch {
    print("change-watcher-example: \(error)")
    exit(1)
}
