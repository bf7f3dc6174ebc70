#if canImport(Glibc)
import Glibc
#endif

/// A role that one thread at a time holds, taken and given back explicitly, with an attempt that does
/// not wait: the writer role of flat combining, which whichever thread has writes takes if it is free.
/// A `pthread_mutex_t` for the same reason as `Locked` (ThreadSanitizer sees what it orders).
public final class ExclusiveRole: @unchecked Sendable {
    // Invariant: the mutex is allocated once and never moves.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Takes the role if no thread holds it; true if this thread holds it now.
    public func tryAcquire() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    /// Waits until the role is free and takes it.
    public func acquire() { pthread_mutex_lock(mutex) }

    /// Gives the role back (only the thread that holds it).
    public func release() { pthread_mutex_unlock(mutex) }
}
