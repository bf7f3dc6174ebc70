import Dispatch
import StoreLayout
#if canImport(Glibc)
import Glibc
#endif
import LMDB
import NotifyRing
import Posix

/// Where a change subscription starts: `.now`, `.oldest` still in the ring, or `.sequence(n)`.
public typealias ChangeStart = RingSubscriber.Start

/// Something that hands out change events one at a time, waiting when asked to.
public protocol ChangeSource: AnyObject {
    /// The next event if one is ready, without waiting.
    func poll() throws -> ChangeEvent?
    /// The next event, waiting up to `timeoutMilliseconds` (nil: for ever); nil on timeout.
    func next(timeoutMilliseconds: Int?) throws -> ChangeEvent?
}

/// Follows the daemon's notification ring directly (no socket) for keys with a prefix; for code that
/// runs on its own threads. Events come in sequence order; a `.resync` says which sequences were
/// missed (lapped, gap, or the daemon restarted with a new ring), after which you should reread from
/// LMDB what you care about. Use from one thread at a time.
///
/// A stopped daemon removes its ring; subscribing while no daemon runs waits for the next one's ring
/// (checked every 100 ms while waiting) and then delivers its changes from the first.
public final class ChangeSubscriber: ChangeSource {
    private let follower: RingFollower
    /// Only changes to keys starting with this are delivered (resyncs and clears always are).
    public let prefix: [UInt8]
    /// Only changes in this numbered database are delivered (and FLUSHALL's clear).
    public let database: UInt8

    init(ringPath: String, prefix: [UInt8], start: ChangeStart, database: UInt8 = 0) throws(ShmKVError) {
        follower = try RingFollower(ringPath: ringPath, start: start)
        self.prefix = prefix
        self.database = database
    }

    /// The epoch of the ring being followed (changes when the daemon restarts); 0 while waiting for one.
    public var epoch: UInt64 { follower.epoch }
    /// The sequence the next change is expected to carry (0 while waiting for a ring).
    public var nextSequence: UInt64 { follower.nextSequence }
    /// Whether no ring exists yet at the store's recorded path (no daemon runs on it): events come once
    /// one starts.
    public var isWaitingForRing: Bool { follower.isWaitingForRing }
    /// The ring followed (or waited for).
    public var ringPath: String { follower.ringPath }

    /// The next wanted event already in the ring, or nil at once; never blocks. Returns nil while no daemon
    /// has created the ring (retried at most every 100 ms).
    public func poll() -> ChangeEvent? { follower.poll(accept) }

    /// Waits on the ring's futex (after a short spin) until an event for `prefix` arrives or the
    /// timeout passes.
    public func next(timeoutMilliseconds: Int?) -> ChangeEvent? { follower.next(timeoutMilliseconds: timeoutMilliseconds, accept) }

    /// Changes of keys under the prefix, clears and resyncs; not messages.
    private func accept(_ event: RingEvent) -> ChangeEvent? {
        guard let event = ChangeEvent(event) else { return nil }
        guard case .change(let change) = event else { return event }
        guard change.database == database || change.database == RingLayout.allDatabases else { return nil }
        return change.kind == .clear || change.key.starts(with: prefix) ? event : nil
    }
}

/// The ring of a data directory, opened when the daemon has made it, read with a filter: what
/// `ChangeSubscriber` and `MessageSubscriber` share.
final class RingFollower {
    private var ring: RingSubscriber?
    /// The ring's path, as the store records it.
    let ringPath: String
    private var nextOpenAttempt = 0

    init(ringPath: String, start: ChangeStart) throws(ShmKVError) {
        self.ringPath = ringPath
        do { ring = try RingSubscriber(path: ringPath, start: start) } catch .system(let error) where error.errno == .noSuchFileOrDirectory {
            ring = nil
        } catch {
            throw .ring(error)
        }
    }

    var epoch: UInt64 { ring?.epoch ?? 0 }
    var nextSequence: UInt64 { ring?.nextSequence ?? 0 }
    /// Whether the ring file was missing when last looked for (no daemon runs on the store).
    var isWaitingForRing: Bool { openRing() == nil }

    /// The ring, opened once the daemon has created it (every record in it came after this follower).
    private func openRing() -> RingSubscriber? {
        if let ring { return ring }
        let now = Int(DispatchTime.now().uptimeNanoseconds / 1_000_000)
        guard now >= nextOpenAttempt else { return nil }
        nextOpenAttempt = now + 100
        ring = try? RingSubscriber(path: ringPath, start: .oldest)
        return ring
    }

    /// The next event `accept` takes among those already in the ring, or nil at once.
    func poll<E>(_ accept: (RingEvent) -> E?) -> E? {
        guard let ring = openRing() else { return nil }
        while let event = ring.poll() {
            if let taken = accept(event) { return taken }
        }
        return nil
    }

    /// Waits (futex, after a short spin) until `accept` takes an event or the timeout passes.
    func next<E>(timeoutMilliseconds: Int?, _ accept: (RingEvent) -> E?) -> E? {
        let deadline = timeoutMilliseconds.map { DispatchTime.now().uptimeNanoseconds + UInt64(max(0, $0)) * 1_000_000 }
        while true {
            var left: Int? = nil
            if let deadline {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { return nil }
                left = Int((deadline - now + 999_999) / 1_000_000)
            }
            guard let ring = openRing() else {
                // No daemon yet: look again in 100 ms (or at the deadline).
                usleep(UInt32(min(left ?? 100, 100)) * 1000)
                continue
            }
            guard let event = ring.next(timeoutMilliseconds: left) else { return nil }
            if let taken = accept(event) { return taken }
        }
    }
}

extension LocalStore {
    /// The ring the daemon publishes to, as recorded in the data directory.
    public func ringPath() throws(ShmKVError) -> String {
        let path: String?
        do {
            path = try withTransaction { txn in
                try txn.get(meta, key: StoreLayout.MetaKey.ringPath).map(MetaValue.text)
            }
        } catch let error as ShmKVError {
            throw error
        } catch let error as LMDBError {
            throw .storage(error)
        } catch {
            throw .notADataDirectory("\(error)")
        }
        guard let path else { throw .notADataDirectory("\(directory) has no ring recorded: no daemon has run on it") }
        return path
    }

    /// A blocking subscriber to changes of keys starting with `prefix`.
    public func subscribe(prefix: [UInt8] = [], from start: ChangeStart = .now) throws(ShmKVError) -> ChangeSubscriber {
        try ChangeSubscriber(ringPath: try ringPath(), prefix: prefix, start: start, database: UInt8(database))
    }

    /// Changes of keys starting with `prefix`, as an `AsyncSequence` (`for try await event in …`).
    /// Subscribing happens here, so nothing published after this call is missed; read the current
    /// values after subscribing to start consistent. Waiting happens on a dispatch queue of its own,
    /// never on a Swift concurrency thread; a cancelled task ends the sequence within 200 ms.
    public func changes(prefix: [UInt8] = [], from start: ChangeStart = .now) throws(ShmKVError) -> ChangeStream {
        ChangeStream(source: try subscribe(prefix: prefix, from: start))
    }
}

/// Change events as an `AsyncSequence` (`LocalStore.changes`, `Client.watch(…).events`).
public typealias ChangeStream = EventStream<ChangeEvent>

extension EventStream where Element == ChangeEvent {
    init(source: ChangeSource) {
        self.init(poll: { try source.poll() }, next: { try source.next(timeoutMilliseconds: $0) })
    }
}

/// An `AsyncSequence` over a blocking event source (a local ring follower or a socket stream).
public struct EventStream<Element: Sendable>: AsyncSequence, Sendable {
    private let box: SourceBox

    init(poll: @escaping () throws -> Element?, next: @escaping (Int?) throws -> Element?) {
        box = SourceBox(poll: poll, next: next)
    }

    /// One iterator per stream: the source has a single cursor.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(box: box) }

    /// Polls the source, then waits up to 200 ms at a time on the stream's own dispatch queue.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let box: SourceBox

        /// The next event; nil once the task is cancelled (within 200 ms). Throws what the source throws.
        public mutating func next() async throws -> Element? {
            while !Task.isCancelled {
                if let event = try box.poll() { return event }
                let waited: Result<Element?, any Error> = await withCheckedContinuation { continuation in
                    let box = self.box
                    box.queue.async {
                        continuation.resume(returning: Result { try box.next(200) })
                    }
                }
                if let event = try waited.get() { return event }
            }
            return nil
        }
    }

    /// The source and the queue its blocking waits run on.
    final class SourceBox: @unchecked Sendable {
        // Invariant: the source is used by one `next()` at a time — either directly or on `queue`, never
        // both, because `next()` awaits the queued wait before it returns.
        let poll: () throws -> Element?
        let next: (Int?) throws -> Element?
        let queue = DispatchQueue(label: "shmkv.events")
        init(poll: @escaping () throws -> Element?, next: @escaping (Int?) throws -> Element?) {
            self.poll = poll
            self.next = next
        }
    }
}
