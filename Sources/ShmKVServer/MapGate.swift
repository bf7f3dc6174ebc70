#if canImport(Glibc)
import Locks
import Glibc
#endif

/// Lets the writer grow the LMDB map while the reactors read: `mdb_env_set_mapsize` may only run when
/// no transaction of this process is active. A reactor holds the gate (shared) from renewing its read
/// transaction to resetting it — one loop iteration, never across a wait — and the writer closes the
/// gate, waits until no reactor holds it, resizes, and opens it again. Resizes are rare (the map
/// doubles each time), so both sides simply poll while they wait.
final class MapGate: Sendable {
    private struct State {
        var closing = false
        var holders = 0
    }

    private let state = Locked(State())

    /// Called by a reactor before it renews its read transaction; waits while a resize is under way.
    func enter() {
        while true {
            let entered = state.withLock { s in
                if s.closing { return false }
                s.holders += 1
                return true
            }
            if entered { return }
            usleep(100)
        }
    }

    /// Called by a reactor after it reset its read transaction.
    func leave() {
        state.withLock { $0.holders -= 1 }
    }

    /// Runs `body` (the resize) once no reactor holds the gate; `wake` is called while waiting so that
    /// reactors finish their iteration promptly. While `yielding()` says a holder will not leave soon (a
    /// read-only script runs on its snapshot), the gate opens again between looks, so that the other
    /// reactors keep serving (SCRIPT KILL among what they serve) rather than wait at `enter`.
    func closed<T>(wake: () -> Void, yielding: () -> Bool = { false }, _ body: () throws -> T) rethrows -> T {
        state.withLock { $0.closing = true }
        defer { state.withLock { $0.closing = false } }
        while state.withLock({ $0.holders }) > 0 {
            wake()
            if yielding() {
                state.withLock { $0.closing = false }
                usleep(1000)
                state.withLock { $0.closing = true }
            } else {
                usleep(50)
            }
        }
        return try body()
    }
}
