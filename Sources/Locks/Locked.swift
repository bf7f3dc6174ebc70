#if canImport(Glibc)
import Glibc
#endif

/// A value shared by threads behind a `pthread_mutex_t`: the project's mutex.
///
/// Why not `Synchronization.Mutex`: on Linux its lock is a futex inside the Swift runtime, which is not
/// built with ThreadSanitizer's instrumentation, so TSan cannot see it order anything and reports every
/// access it protects as a race (a two-thread `withLock` counter shows it). TSan intercepts pthread
/// mutexes, so with this lock `make test-sanitize` reports only real races. Uncontended, both cost one
/// atomic operation to lock and one to unlock.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    // Invariant: `value` is touched only between `pthread_mutex_lock` and `pthread_mutex_unlock` of
    // `mutex`, inside `withLock`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Wraps `initialValue`; allocates and initialises the mutex once (it never moves, as pthread requires).
    public init(_ initialValue: consuming sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        value = initialValue
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock. Do no I/O and take no other lock inside.
    @inlinable
    public func withLock<Result: ~Copyable, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        lock()
        defer { unlock() }
        return try body(&unsafeValue)
    }

    @usableFromInline func lock() { pthread_mutex_lock(mutex) }
    @usableFromInline func unlock() { pthread_mutex_unlock(mutex) }

    @usableFromInline var unsafeValue: Value {
        _read { yield value }
        _modify { yield &value }
    }
}
