import LMDB
import NotifyRing
import Posix
import StoreLayout
import Wire

extension LocalStore.Snapshot {
    /// Calls `body` with the list `key` holds, or nil (a key of another type throws `.wrongType`).
    public func withList<R>(_ key: [UInt8], _ body: (LocalStore.List?) throws -> R) throws -> R {
        try withCollection(key, .list) { try body($0.map(LocalStore.List.init)) }
    }
}

extension LocalStore {
    /// A list in place: its length, an item by index (from the nearer end), and ranges.
    public struct List {
        let view: CollectionView
        /// Items (LLEN).
        public var count: Int { view.count }
        /// Calls `body` with the item at `index` (negative from the tail), or nil past either end (LINDEX).
        public func withItem<R>(at index: Int, _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
            try view.withListItem(at: index, body)
        }
        /// A copy of the item at `index`, or nil.
        public func item(at index: Int) throws -> [UInt8]? { try withItem(at: index) { $0.map { Array($0) } } }
        /// Each item in place from the head (or the tail), after `skip` items, until `body` says `.stop`.
        public func forEach(reverse: Bool = false, skip: Int = 0, _ body: (UnsafeRawBufferPointer) throws -> IterationControl) throws {
            try view.forEachListItem(reverse: reverse, skip: skip, body)
        }
        /// Copies of the items `start…stop` as LRANGE takes them (negative from the tail).
        public func range(_ start: Int, _ stop: Int) throws -> [[UInt8]] {
            let n = count
            let s = max(start < 0 ? n + start : start, 0), e = min(stop < 0 ? n + stop : stop, n - 1)
            guard s <= e, s < n else { return [] }
            var items: [[UInt8]] = []
            try forEach(skip: s) { items.append(Array($0)); return items.count < e - s + 1 ? .proceed : .stop }
            return items
        }
    }

    /// The length of the list `key` holds (0 when absent).
    public func listLength(_ key: [UInt8]) throws -> Int { try read { try $0.withList(key) { $0?.count ?? 0 } } }

    /// The items `start…stop` of the list `key` (LRANGE), from one snapshot.
    public func listRange(_ key: [UInt8], _ start: Int, _ stop: Int) throws -> [[UInt8]] {
        try read { try $0.withList(key) { try $0?.range(start, stop) ?? [] } }
    }

    /// A blocking pop for a worker on this host: the head (or tail) of the first non-empty list among
    /// `keys`, popped by the daemon through `client` (only the daemon writes: two workers never get the
    /// same item), but waited for on the notification ring — a futex in shared memory — rather than by a
    /// BLPOP round trip or a poll. One call subscribes to the ring for itself; a worker that pops again
    /// and again keeps a `ListWaiter` instead. `timeoutSeconds` nil waits for ever; nil is returned when
    /// it passes.
    public func blockingPop(_ keys: [[UInt8]], fromHead: Bool = true, timeoutSeconds: Double? = nil,
                            through client: Client) throws -> (key: [UInt8], value: [UInt8])? {
        try listWaiter(keys, fromHead: fromHead, through: client).pop(timeoutSeconds: timeoutSeconds)
    }

    /// A waiter for items of `keys` that keeps its ring subscription from pop to pop (`blockingPop`).
    public func listWaiter(_ keys: [[UInt8]], fromHead: Bool = true, through client: Client) throws -> ListWaiter {
        precondition(!keys.isEmpty, "a list waiter needs at least one key")
        return ListWaiter(store: self, keys: keys, fromHead: fromHead, client: client, subscriber: try subscribe())
    }

    /// One worker's wait for list items (`listWaiter`): while every list is empty, as this process's
    /// snapshot shows, it sleeps until the ring announces a change of one of its keys, then pops through
    /// the daemon; a pop another worker won is waited for again. Use from one thread at a time.
    public final class ListWaiter {
        let store: LocalStore
        public let keys: [[UInt8]]
        public let fromHead: Bool
        let client: Client
        let subscriber: ChangeSubscriber

        init(store: LocalStore, keys: [[UInt8]], fromHead: Bool, client: Client, subscriber: ChangeSubscriber) {
            self.store = store
            self.keys = keys
            self.fromHead = fromHead
            self.client = client
            self.subscriber = subscriber
        }

        /// The next item (and its key), or nil once `timeoutSeconds` (nil: for ever) passed without one.
        public func pop(timeoutSeconds: Double? = nil) throws -> (key: [UInt8], value: [UInt8])? {
            // One millisecond more: the clock's reading is truncated, so the wait is never shorter than asked.
            let deadline = timeoutSeconds.map { MonotonicClock.milliseconds() + Int(($0 * 1000).rounded(.up)) + 1 }
            // What the ring said before this call is stale: the snapshot below is newer.
            while subscriber.poll() != nil {}
            while true {
                let keys = self.keys
                let ready = try store.read { snapshot in try keys.contains { key in try snapshot.withList(key) { ($0?.count ?? 0) > 0 } } }
                if ready, let popped = try client.execute(.lmpop(keys, fromHead: fromHead, count: 1)) {
                    return (popped.key, popped.values[0])
                }
                // Wait for a change of one of the keys (or a resync: look again either way).
                while true {
                    var wait: Int? = nil
                    if let deadline {
                        wait = deadline - MonotonicClock.milliseconds()
                        if wait! <= 0 { return nil }
                    }
                    guard let event = subscriber.next(timeoutMilliseconds: wait) else { continue }
                    if case .change(let change) = event, change.kind != .clear, !keys.contains(change.key) { continue }
                    break
                }
            }
        }
    }
}
