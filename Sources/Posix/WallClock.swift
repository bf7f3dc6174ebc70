#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time (CLOCK_REALTIME), the clock key deadlines are kept in: absolute, so that a
/// deadline means the same moment to the daemon, to a `LocalStore` in another process and after a
/// restart. It may step when the system's time is set; expiry follows it, as Redis's does.
public enum WallClock {
    /// Milliseconds since the Unix epoch; one vDSO call, about 20 ns.
    @inline(__always)
    public static func milliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Microseconds since the Unix epoch (TIME, LASTSAVE's base).
    @inline(__always)
    public static func microseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
