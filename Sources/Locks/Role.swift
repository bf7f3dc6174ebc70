#if canImport(Glibc)
import Glibc
#endif

/// A role that one thread at a time holds, and the state only its holder may touch: the writer role of
/// flat combining, which whichever thread has writes takes if it is free. The state is reachable only
/// inside `withRole` and `withRoleIfFree`, which hand it to a closure while the role is held. A
/// `pthread_mutex_t` for the same reason as `Locked` (ThreadSanitizer sees what it orders).
public final class ExclusiveRole<State>: @unchecked Sendable {
    // Invariant: the mutex is allocated once and never moves; `state` is touched only by the thread
    // that holds it, inside `withRole` or `withRoleIfFree`.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var state: State

    /// The role, free, with its state.
    public init(_ state: consuming sending State) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        self.state = state
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Waits until the role is free, takes it, runs `body` with the state and gives the role back.
    @inlinable
    public func withRole<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Runs `body` with the state if no thread holds the role now (taking it meanwhile); nil if another
    /// thread holds it.
    @inlinable
    public func withRoleIfFree<R>(_ body: (inout State) throws -> R) rethrows -> R? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
