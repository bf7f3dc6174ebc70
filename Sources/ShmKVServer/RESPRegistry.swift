import Locks
import Synchronization

/// What CLIENT LIST shows about one RESP connection.
struct ClientInfo: Sendable {
    let id: Int
    let address: String
    var name: String = ""
    var libraryName: String = ""
    var libraryVersion: String = ""
    var protocolVersion = 2
    /// The numbered database it has selected.
    var database = 0
    var lastCommand = "NULL"
    let connectedAt: Int
    /// The index of the reactor that serves it (CLIENT TRACKING's REDIRECT sends there).
    var reactor = 0
}

/// The RESP connections of all reactors (CLIENT LIST, INFO's connected_clients) and SCAN cursors.
final class RESPRegistry: Sendable {
    private let nextClientID = Atomic<Int>(1)
    private let clients = Locked<[Int: ClientInfo]>([:])

    /// A SCAN cursor is a number that stands for "continue after this key". Cursors are shared by all
    /// connections (clients with connection pools continue a scan on another connection); the oldest
    /// are forgotten beyond `maxCursors`.
    private struct Cursors {
        var next: UInt64 = 1
        var positions: [UInt64: [UInt8]] = [:]
        var order: [UInt64] = []
        var head = 0
    }
    private let cursors = Locked(Cursors())
    static let maxCursors = 100_000

    func register(address: String, now: Int, reactor: Int) -> Int {
        let id = nextClientID.add(1, ordering: .relaxed).oldValue
        clients.withLock { $0[id] = ClientInfo(id: id, address: address, connectedAt: now, reactor: reactor) }
        return id
    }

    func unregister(_ id: Int) { _ = clients.withLock { $0.removeValue(forKey: id) } }

    func update(_ id: Int, _ change: (inout ClientInfo) -> Void) {
        clients.withLock { all in
            if var info = all[id] {
                change(&info)
                all[id] = info
            }
        }
    }

    func info(_ id: Int) -> ClientInfo? { clients.withLock { $0[id] } }

    var all: [ClientInfo] { clients.withLock { Array($0.values) }.sorted { $0.id < $1.id } }

    var count: Int { clients.withLock { $0.count } }

    /// A new cursor that continues after `key`.
    func saveCursor(after key: [UInt8]) -> UInt64 {
        cursors.withLock { c in
            let id = c.next
            c.next += 1
            c.positions[id] = key
            c.order.append(id)
            if c.positions.count > RESPRegistry.maxCursors {
                c.positions[c.order[c.head]] = nil
                c.head += 1
                if c.head > 4096 {
                    c.order.removeFirst(c.head)
                    c.head = 0
                }
            }
            return id
        }
    }

    /// The key a cursor continues after, or nil for an unknown (or forgotten) cursor.
    func cursor(_ id: UInt64) -> [UInt8]? { cursors.withLock { $0.positions[id] } }
}
