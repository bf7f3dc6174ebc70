import ShmKV

#if canImport(Glibc)
import Glibc
#endif

/// An event as one line: "put SEQ KEY", "delete SEQ KEY", "clear SEQ", "resync REASON FROM UPTO".
func describe(_ event: ChangeEvent) -> String {
    switch event {
    case .change(let c): "\(c.kind) \(c.sequence) \(String(decoding: c.key, as: UTF8.self))"
    case .resync(let r): "resync \(r.reason.rawValue) \(r.missed.lowerBound) \(r.missed.upperBound)"
    }
}

/// `local-get DIR KEY`: the value through `LocalStore` as text, or "absent".
func localGet(directory: String, key: String) throws {
    let store = try LocalStore(directory: directory)
    say(try store.get(key).map { String(decoding: $0, as: UTF8.self) } ?? "absent")
}

/// `local-watch DIR PREFIX COUNT`: says "watching", then one line per event until COUNT events.
func localWatch(directory: String, prefix: String, count: Int) throws {
    let store = try LocalStore(directory: directory)
    let subscriber = try store.subscribe(prefix: Array(prefix.utf8))
    say("watching")
    for _ in 0..<count {
        guard let event = subscriber.next(timeoutMilliseconds: 20_000) else {
            say("timeout")
            return
        }
        say(describe(event))
    }
}

/// `local-hold DIR`: opens a `LocalStore` snapshot, says "holding" and sleeps inside it until killed.
func localHold(directory: String) throws {
    let store = try LocalStore(directory: directory)
    try store.read { snapshot in
        _ = try snapshot.count()
        say("holding")
        while true { sleep(60) }
    }
}

/// `local-read-loop DIR`: one `LocalStore` for the life of the process; for each key read from stdin,
/// says the value's length (or "absent", or "error: …"). Proves a long-lived reader follows map growth.
func localReadLoop(directory: String) throws {
    let store = try LocalStore(directory: directory)
    say("ready")
    while let line = readLine() {
        do { say(try store.get(line).map { String($0.count) } ?? "absent") } catch { say("error: \(error)") }
    }
}
