#if canImport(Glibc)
import Glibc
#endif

/// The one monotonic clock of the project (CLOCK_MONOTONIC: never steps back, not wall time).
/// Each reading is one vDSO call, about 20 ns; hot paths read it once per loop turn.
public enum MonotonicClock {
    /// Nanoseconds; `coarse` uses CLOCK_MONOTONIC_COARSE (a few ms of resolution, cheaper).
    @inline(__always)
    public static func nanoseconds(coarse: Bool = false) -> Int {
        var ts = timespec()
        clock_gettime(coarse ? CLOCK_MONOTONIC_COARSE : CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }

    /// Milliseconds.
    @inline(__always)
    public static func milliseconds() -> Int { nanoseconds() / 1_000_000 }

    /// Whole seconds.
    @inline(__always)
    public static func seconds() -> Int { nanoseconds() / 1_000_000_000 }
}
