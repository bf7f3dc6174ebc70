#if canImport(Glibc)
import Glibc
#endif

/// A listening socket registered (with `EPOLLEXCLUSIVE`) in every event loop; whichever loop wakes
/// accepts, so connections spread over the loops.
public final class Listener: EventHandler, @unchecked Sendable {
    // Invariant: the descriptor is shared by loops only through epoll; `accept` is thread-safe, and the
    // accept callback is called on the accepting loop's thread.
    private let owner: OwnedDescriptor
    public var fd: Int32 { owner.fd }
    /// What this listener listens on (with the real port when asked for port 0).
    public let endpoint: Endpoint
    /// Called on the accepting loop's thread with each new non-blocking descriptor.
    public let onAccept: @Sendable (Int32, Listener, EventLoop) -> Void

    public init(fd: Int32, endpoint: Endpoint, onAccept: @escaping @Sendable (Int32, Listener, EventLoop) -> Void) {
        owner = OwnedDescriptor(fd)
        self.endpoint = endpoint
        self.onAccept = onAccept
    }

    /// Whether accepted sockets are TCP (and get `TCP_NODELAY`).
    public var isTCP: Bool { if case .tcp = endpoint { true } else { false } }

    public func handle(events: UInt32, loop: EventLoop) {
        // Accept a bounded number per wake-up so one loop cannot starve its connections.
        for _ in 0..<64 {
            switch try? Socket.accept(fd) {
            case .done(let client)?:
                if isTCP { Socket.setNoDelay(client) }
                onAccept(client, self, loop)
            case .wouldBlock?, nil:
                return
            }
        }
    }

    /// Closes the socket (and removes a Unix socket's file).
    public func close() {
        owner.close()
        if case .unix(let path) = endpoint { unlink(path) }
    }
}
