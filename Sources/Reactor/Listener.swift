import Locks
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A listening socket registered (with `EPOLLEXCLUSIVE`) in every event loop; whichever loop wakes
/// accepts, so connections spread over the loops.
public final class Listener: EventHandler, @unchecked Sendable {
    // Invariant: the descriptor is shared by loops only through epoll; `accept` is thread-safe, and the
    // accept callback is called on the accepting loop's thread. `close()` runs once every loop has
    // stopped watching it (`ReactorThread.stopAccepting`).
    private let owner: Locked<Descriptor?>
    /// The listening socket's number (for epoll).
    public let fd: Int32
    /// What this listener listens on (with the real port when asked for port 0).
    public let endpoint: Endpoint
    /// Called on the accepting loop's thread with each new non-blocking connection, which it then owns.
    public let onAccept: @Sendable (consuming Descriptor, EventLoop) -> Void

    /// Takes ownership of a listening socket (`Socket.listenTCP`, `Socket.listenUnix`).
    public init(descriptor: consuming Descriptor, endpoint: Endpoint,
                onAccept: @escaping @Sendable (consuming Descriptor, EventLoop) -> Void) {
        fd = descriptor.rawValue
        owner = Locked(Optional(consume descriptor))
        // Take the spare descriptor now, while descriptors are still available.
        _ = Listener.spare.withLock { $0 }
        self.endpoint = endpoint
        self.onAccept = onAccept
    }

    /// Whether accepted sockets are TCP (and get `TCP_NODELAY`).
    public var isTCP: Bool { if case .tcp = endpoint { true } else { false } }

    /// Accepts up to 64 waiting connections (so one loop cannot starve its own), handing each to `onAccept`.
    public func handle(events: UInt32, loop: EventLoop) {
        // Accept a bounded number per wake-up so one loop cannot starve its connections.
        for _ in 0..<64 {
            do {
                switch try Socket.accept(fd) {
                case .done(let client):
                    if isTCP { Socket.setNoDelay(client) }
                    onAccept(Descriptor(adopting: client), loop)
                case .wouldBlock:
                    return
                }
            } catch where error.errno == .tooManyOpenFiles || error.errno == .tooManyOpenFilesInSystem {
                if !shedOneConnection() { backOff(in: loop) }
                return
            } catch {
                // ECONNABORTED and the like concern one connection only.
                return
            }
        }
    }

    /// Out of descriptors: the waiting connection would keep the level-triggered listener readable and
    /// the loop spinning. Free the spare descriptor, accept and close the connection (the client sees it
    /// closed at once), then take the spare back. Returns `false` if there was no spare to free, or
    /// another thread took the freed slot first.
    private func shedOneConnection() -> Bool {
        Listener.spare.withLock { spare in
            if spare < 0 { spare = open("/dev/null", O_RDONLY | O_CLOEXEC) }
            guard spare >= 0 else { return false }
            Glibc.close(spare)
            var shed = false
            if case .done(let client)? = try? Socket.accept(fd) {
                Glibc.close(client)
                shed = true
            }
            spare = open("/dev/null", O_RDONLY | O_CLOEXEC)
            return shed
        }
    }

    /// No descriptor to shed with: stop watching the listener in this loop for a moment (the connection
    /// waits in the backlog) instead of spinning, then watch it again.
    private func backOff(in loop: EventLoop) {
        loop.unregister(self)
        loop.schedule(afterMilliseconds: 100) { [weak self, unowned loop] in
            guard let self, self.isAccepting else { return }
            try? loop.register(self, events: Readiness.readable, exclusive: true)
        }
    }

    private let accepting = Atomic<Bool>(true)

    /// Whether the listener still accepts (false once `stopAccepting()` was called).
    public var isAccepting: Bool { accepting.load(ordering: .acquiring) }

    /// Marks the listener as stopping: a backed-off loop will not watch it again.
    public func stopAccepting() { accepting.store(false, ordering: .releasing) }

    /// One descriptor held in reserve for `shedOneConnection`.
    private static let spare = Locked<Int32>(open("/dev/null", O_RDONLY | O_CLOEXEC))

    /// Closes the socket (and removes a Unix socket's file); later calls do nothing.
    public func close() {
        owner.withLock { $0.take() }?.close()
        if case .unix(let path) = endpoint { unlink(path) }
    }
}
